"""A minimal loss-curve widget drawn with QPainter.

matplotlib is not a dependency, and a full plotting library is overkill
for one polyline; painting is cheap and happens only on Qt's paint event,
so adding points from the worker's ``yielded`` handler never blocks.
"""

from __future__ import annotations

from typing import Any

from qtpy.QtCore import QPointF, Qt
from qtpy.QtGui import QColor, QPainter, QPen, QPolygonF
from qtpy.QtWidgets import QSizePolicy, QWidget

MAX_POINTS = 2000


class LossPlot(QWidget):
    """Loss versus iteration (auto-scaled) and held-out accuracy (0-1 axis, orange)."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.points: list[tuple[int, float]] = []
        self.validation: list[tuple[int, float]] = []
        self.setMinimumHeight(110)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def add(self, iteration: int, loss: float) -> None:
        self.points.append((iteration, loss))
        if len(self.points) > MAX_POINTS:  # keep painting O(1): decimate old points
            self.points = self.points[::2]
        self.update()

    def add_validation(self, iteration: int, accuracy: float) -> None:
        self.validation.append((iteration, accuracy))
        if len(self.validation) > MAX_POINTS:
            self.validation = self.validation[::2]
        self.update()

    def clear(self) -> None:
        self.points.clear()
        self.validation.clear()
        self.update()

    def paintEvent(self, event: Any) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        w, h, pad = self.width(), self.height(), 6
        p.fillRect(0, 0, w, h, QColor(30, 30, 36))
        p.setPen(QColor(200, 200, 200))
        if not self.points:
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "loss (starts with training)")
            return
        xs = [pt[0] for pt in self.points]
        ys = [pt[1] for pt in self.points]
        x0, x1 = min(xs), max(max(xs), min(xs) + 1)
        y0, y1 = min(ys), max(max(ys), min(ys) + 1e-9)
        poly = QPolygonF([
            QPointF(pad + (x - x0) / (x1 - x0) * (w - 2 * pad),
                    h - pad - (y - y0) / (y1 - y0) * (h - 2 * pad - 14))
            for x, y in self.points
        ])
        p.setPen(QPen(QColor(120, 220, 120), 1.5))
        p.drawPolyline(poly)
        p.setPen(QColor(220, 220, 220))
        p.drawText(pad, 12, f"loss {ys[-1]:.4f}  (it {xs[-1]}; range {y0:.3f}-{y1:.3f})")
        if self.validation:
            v0 = min(min(a for _, a in self.validation), 0.5)
            p.setPen(QPen(QColor(255, 170, 60), 1.5))
            p.drawPolyline(QPolygonF([
                QPointF(pad + (min(max(x, x0), x1) - x0) / (x1 - x0) * (w - 2 * pad),
                        h - pad - (a - v0) / (1 - v0 + 1e-9) * (h - 2 * pad - 28))
                for x, a in self.validation
            ]))
            best = max(a for _, a in self.validation)
            p.drawText(pad, 26, f"held-out strokes {self.validation[-1][1]:.3f} (best {best:.3f})")
