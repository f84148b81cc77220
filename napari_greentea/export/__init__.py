"""Models leaving and entering the plugin in the field's formats.

``bioimageio``: export a checkpoint as a bioimage.io model package (rdf,
TorchScript, ONNX, torch state dict, test tensors, cover). ``package``: read
such a package back into a :class:`~napari_greentea.checkpoint.Checkpoint`.
The heavy libraries (torch, bioimageio.spec, onnx) load inside the functions.
"""
