"""``bench_scribbles.py`` with a torch-only training variant patched in, to try an
idea before it goes into the core.

Variants (``--variant``):

* ``freeze``: the encoder (``conv1``-``conv6`` of the interactive U-Net) keeps its
  pretrained weights; only the decoder and the classifier train. Fewer free
  weights and a third more iterations per second.
* ``l2sp``: after every step each weight moves ``--lam`` of the way back to the
  weights training started from (decoupled L2-SP). This is what became the
  core's ``TrainConfig.anchor_decay``; the core version is measured with
  ``bench_scribbles.py`` itself.

Usage: python benchmarks/explore_training_variants.py --variant freeze [--lam 1e-3]
-- <bench_scribbles.py arguments> (results as ``bench_scribbles.py --tag`` writes them).
The ``proto_*`` results ran before the interactive recipe had ``anchor_decay``;
to repeat them add ``--train-extra '{"anchor_decay": 0}'``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

ENCODER = {f"conv{i}" for i in range(1, 7)}


def patch(variant: str, lam: float) -> None:
    import torch

    from napari_greentea.backend.torch import _train

    init, step = _train.TorchTrainable.__init__, _train.TorchTrainable.train_step

    def patched_init(self, *args, **kwargs):
        init(self, *args, **kwargs)
        params = self.module.weight_dict()
        if variant == "freeze":
            for key, p in params.items():
                if key.split(".")[0] in ENCODER:
                    p.requires_grad_(False)
        self._start = {k: p.detach().clone() for k, p in params.items()}

    def patched_step(self, images, batch, lr):
        value = step(self, images, batch, lr)
        if variant == "l2sp":
            with torch.no_grad():
                for key, p in self.module.weight_dict().items():
                    p.sub_(lam * (p - self._start[key]))
        return value

    _train.TorchTrainable.__init__, _train.TorchTrainable.train_step = patched_init, patched_step


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--variant", choices=("freeze", "l2sp"), required=True)
    p.add_argument("--lam", type=float, default=1e-3, help="l2sp: pull per iteration")
    args, rest = p.parse_known_args()
    patch(args.variant, args.lam)
    import bench_scribbles

    sys.argv = ["bench_scribbles.py", *[a for a in rest if a != "--"]]
    bench_scribbles.main()


if __name__ == "__main__":
    main()
