"""``bench_scribbles.py`` with the interactive U-Net's encoder frozen (torch only), to
try an idea before it goes into the core.

``conv1``-``conv6`` keep their pretrained weights; only the decoder and the
classifier train: fewer free weights and a third more iterations per second
(back-propagation stops at the skip connections). Measured in phase 9 of
``results/scribbles_explore.md`` (``proto_freeze``); not kept.

The other phase-9 prototype, a pull back to the start weights, is the core's
``TrainConfig.anchor_decay`` now: ``bench_scribbles.py --train-extra
'{"anchor_decay": 3e-3}'`` repeats ``proto_l2sp3``. Those ``proto_*`` runs
predate the recipe's own ``anchor_decay``; to repeat ``proto_freeze`` add
``--train-extra '{"anchor_decay": 0}'``.

Usage: python benchmarks/explore_training_variants.py <bench_scribbles.py arguments>
(results as ``bench_scribbles.py --tag`` writes them).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

ENCODER = {f"conv{i}" for i in range(1, 7)}


def freeze_encoder() -> None:
    """Patch the torch trainer so the encoder's weights get no gradient."""
    from napari_greentea.backend.torch import _train

    init = _train.TorchTrainable.__init__

    def patched_init(self, *args, **kwargs):
        init(self, *args, **kwargs)
        for key, p in self.module.weight_dict().items():
            if key.split(".")[0] in ENCODER:
                p.requires_grad_(False)

    _train.TorchTrainable.__init__ = patched_init


def main() -> None:
    freeze_encoder()
    import bench_scribbles

    bench_scribbles.main()


if __name__ == "__main__":
    main()
