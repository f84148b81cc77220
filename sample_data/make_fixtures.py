"""Write a small synthetic stack and its ground truth as TIFFs (regenerable, seeded)."""

from __future__ import annotations

from pathlib import Path

import tifffile

from napari_greentea.sample import synthetic_membranes

here = Path(__file__).parent
image, labels = synthetic_membranes((4, 256, 256), seed=0)
tifffile.imwrite(here / "synthetic.tif", image, imagej=True)
tifffile.imwrite(here / "synthetic-labels.tif", labels, imagej=True)
