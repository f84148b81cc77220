"""The architecture registry: kind -> builder, presets, display name, knobs.

The config validates ``ModelSpec.kind`` against it, the CLI takes its
``--arch`` and ``--preset`` choices from it and the Train widget fills its
architecture combo and knob spin boxes from it; none of them holds a list
of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..config import ModelSpec
    from ..graph import Graph


@dataclass(frozen=True)
class Knob:
    """One integer a user may change in the Train widget.

    ``read(spec)`` shows the value of a preset; ``overrides(spec, value)``
    returns the :class:`ModelSpec` fields that set it.
    """

    name: str
    label: str
    minimum: int
    maximum: int
    read: Callable[[ModelSpec], int]
    overrides: Callable[[ModelSpec, int], dict[str, Any]]
    tooltip: str = ""

    @classmethod
    def spec_field(
        cls, name: str, label: str, minimum: int, maximum: int, tooltip: str = ""
    ) -> Knob:
        """A knob that is one :class:`ModelSpec` field."""
        return cls(
            name,
            label,
            minimum,
            maximum,
            read=lambda spec: getattr(spec, name),
            overrides=lambda spec, value: {name: value},
            tooltip=tooltip,
        )


@dataclass(frozen=True)
class Architecture:
    """One network family.

    ``presets`` maps a preset name (``interactive``, ``paper``...) to the
    :class:`ModelSpec` fields it sets. ``dense`` maps a spec to the spec
    that computes the same function densely (SW -> SK); None when the
    network is dense already.
    """

    kind: str
    display_name: str
    builder: Callable[[ModelSpec], Graph]
    presets: Mapping[str, Mapping[str, Any]]
    knobs: tuple[Knob, ...] = ()
    dense: Callable[[ModelSpec], ModelSpec] | None = None
    paper_tile: int | None = field(default=None)


ARCHITECTURES: dict[str, Architecture] = {}


def register_architecture(arch: Architecture) -> None:
    """Make ``arch`` known to the config, the CLI and the Train widget."""
    ARCHITECTURES[arch.kind] = arch


def architecture_names() -> tuple[str, ...]:
    return tuple(ARCHITECTURES)


def architecture(kind: str) -> Architecture:
    try:
        return ARCHITECTURES[kind]
    except KeyError:
        raise ValueError(
            f"unknown architecture {kind!r}; accepted: {', '.join(ARCHITECTURES)}"
        ) from None


def preset_names() -> tuple[str, ...]:
    """Every preset name offered by at least one architecture, in first-seen order."""
    names: dict[str, None] = {}
    for arch in ARCHITECTURES.values():
        names.update(dict.fromkeys(arch.presets))
    return tuple(names)
