"""napari-greentea: pixelwise classification networks (Tschopp 2015) for napari.

Importing this package is cheap: it does not import torch, pyopencl, zarr
or Qt. The core API lives in submodules (``models``, ``predict``,
``train``, ``backend``); the napari widgets in ``widgets``.
"""

__version__ = "0.1.0"
