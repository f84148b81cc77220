"""Export a checkpoint as a bioimage.io model package (spec 0.5, validated).

The package holds the weights three ways (torch state dict with this
package's graph interpreter as architecture, TorchScript, ONNX), a test
input and the output our torch model gives for it, a cover made from that
prediction, and the preprocessing expressed in the spec's operations:

* ``minmax`` -> ``scale_range`` 0-100 % over (y, x), then ``scale_linear``
  ``2x - 1``: our per-slice map to [-1, 1] (the spec adds ``eps=1e-6`` to the
  range).
* ``percentile`` -> the same with our percentiles. We estimate percentiles on
  a subsample for slices above 4 Mpx; bioimage.io tools use all pixels.
* CLAHE has no bioimage.io operation: export refuses it unless
  ``allow_missing_preprocessing`` is set, and then says in the description
  that users must apply it themselves.

The network uses valid convolutions: the output is ``context`` pixels
smaller than the input, documented as the output size offset.
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..channels import as_channels, channel_planes, model_input
from ..checkpoint import FORMAT, Checkpoint
from ..graph import Graph
from ..models import dense_graph
from ..preprocess import preprocess_channels

log = logging.getLogger(__name__)

CONFIG_KEY = "napari-greentea"
INPUT_ID = "raw"
OUTPUT_ID = "probabilities"
TEST_OUTPUT_EDGE = 96

CITATIONS = (
    (
        ("Tschopp, F. (2015). Efficient convolutional neural networks for pixelwise "
        "classification on heterogeneous hardware systems. arXiv:1509.03371."),
        "10.48550/arXiv.1509.03371",
    ),
    (
        ("Arganda-Carreras, I. et al. (2015). Crowdsourcing the creation of image "
        "segmentation algorithms for connectomics. Front. Neuroanat. 9:142."),
        "10.3389/fnana.2015.00142",
    ),
)


class ExportError(ValueError):
    """The checkpoint cannot be expressed as a valid bioimage.io package."""


@dataclass(frozen=True)
class ExportOptions:
    """Descriptive fields of the package; defaults are explicit placeholders."""

    name: str = ""
    description: str = ""
    authors: tuple[str, ...] = ("napari-greentea user",)
    license: str = "CC-BY-4.0"
    tags: tuple[str, ...] = ()
    allow_missing_preprocessing: bool = False
    extra_cite: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class ExportReport:
    """Where the package went and how well each weights format agreed."""

    path: Path
    errors: dict[str, float]
    status: str
    input_size: int
    output_size: int


def input_axes_size(graph: Graph) -> tuple[int, int]:
    """(min, step) of the valid input edges, checked to be exactly ``min + n*step``.

    ``step`` is the pooling stride factor; the check guards the claim the
    package makes to every consumer.
    """
    smallest = graph.smallest_valid_input()
    step = graph.stride_factor
    probe = range(smallest, smallest + 8 * step + 1)
    valid = [s for s in probe if graph.is_valid_input(s)]
    if valid != list(range(smallest, smallest + 8 * step + 1, step)):
        raise ExportError(
            f"valid input sizes of {graph.description} are not min + n*step "
            f"(min {smallest}, step {step}, found {valid[:8]})"
        )
    return smallest, step


def _test_input(graph: Graph, sample: Any) -> np.ndarray:
    """A (1, C, S, S) float32 centre crop of ``sample`` with S valid (default: synthetic
    data, one synthetic image per channel).

    ``sample`` (grey, or a ``channels.ChannelImage`` for a multi-channel
    model) may be lazy (zarr, HDF5): only the crop of its middle slice is read.
    """
    if sample is None:
        from ..sample import synthetic_membranes

        edge = graph.input_size_for(TEST_OUTPUT_EDGE)
        planes = [synthetic_membranes((edge, edge), seed=c)[0]
                  for c in range(graph.in_channels)]
    else:
        planes = channel_planes(sample)
    crops = []
    for plane in planes:
        while len(plane.shape) > 2:
            plane = plane[plane.shape[0] // 2]
        limit = min(plane.shape)
        edge = graph.input_size_for(min(TEST_OUTPUT_EDGE, max(1, limit - graph.context)))
        if edge > limit:
            raise ExportError(f"sample image {tuple(plane.shape)} is smaller than the smallest "
                              f"valid input {edge}")
        y0, x0 = (plane.shape[0] - edge) // 2, (plane.shape[1] - edge) // 2
        crops.append(np.asarray(plane[y0 : y0 + edge, x0 : x0 + edge], np.float32))
    return np.ascontiguousarray(np.stack(crops))[None]


def _input_names(ckpt: Checkpoint) -> list[Any]:
    """``raw`` for a grey model, else ``channel<i>`` per channel index it reads."""
    from bioimageio.spec.model import v0_5 as bio

    if ckpt.spec.in_channels == 1 and not ckpt.preprocess.channels:
        return [bio.Identifier("raw")]
    indices = ckpt.preprocess.channels or tuple(range(ckpt.spec.in_channels))
    return [bio.Identifier(f"channel{c}") for c in indices]


def _preprocessing(ckpt: Checkpoint, options: ExportOptions) -> tuple[list[Any], str]:
    """The spec's preprocessing steps and a sentence on what they do not cover."""
    from bioimageio.spec.model import v0_5 as bio

    pre = ckpt.preprocess
    low, high = (0.0, 100.0) if pre.normalize == "minmax" else pre.percentiles
    steps: list[Any] = [
        bio.EnsureDtypeDescr(kwargs=bio.EnsureDtypeKwargs(dtype="float32")),
        bio.ScaleRangeDescr(
            kwargs=bio.ScaleRangeKwargs(
                axes=[bio.AxisId("y"), bio.AxisId("x")],
                min_percentile=low,
                max_percentile=high,
            )
        ),
        bio.ScaleLinearDescr(kwargs=bio.ScaleLinearKwargs(gain=2.0, offset=-1.0)),
    ]
    note = (
        f"Preprocessing: each 2-D image is mapped to [-1, 1] by its {low:g}th and "
        f"{high:g}th percentiles (napari-greentea '{pre.normalize}')."
    )
    if pre.clahe:
        if not options.allow_missing_preprocessing:
            raise ExportError(
                "the model was trained with CLAHE, which bioimage.io preprocessing cannot "
                "express; export anyway with allow_missing_preprocessing "
                "(--allow-missing-preprocessing) and apply CLAHE before the model"
            )
        log.warning("CLAHE is not part of the exported preprocessing; users must apply it")
        note += (
            f" NOT INCLUDED: the model was trained on CLAHE-equalised images (scikit-image "
            f"equalize_adapthist, clip_limit {pre.clahe_clip}, on the min-max scaled slice); "
            "apply it before this model or results degrade."
        )
    return steps, note


def _weights(module: Any, ckpt: Checkpoint, test_in: np.ndarray, folder: Path) -> tuple[
    Any, dict[str, float]
]:
    """Write the three weights files; check TorchScript and ONNX against eager torch."""
    import torch
    from bioimageio.spec.model import v0_5 as bio

    from .torch_formats import (
        ONNX_OPSET,
        check_agreement,
        run_onnx,
        run_torchscript,
        save_onnx,
        save_torchscript,
    )

    state = folder / "weights.pt"
    torch.save(module.state_dict(), state)
    script = save_torchscript(module, test_in, folder / "weights_torchscript.pt")
    onnx = save_onnx(module, test_in, folder / "weights.onnx", INPUT_ID, OUTPUT_ID)
    with torch.no_grad():
        reference = module(torch.as_tensor(test_in)).numpy()
    errors = check_agreement(
        reference,
        {"torchscript": run_torchscript(script, test_in), "onnx": run_onnx(onnx, test_in)},
    )
    version = torch.__version__.split("+")[0]
    architecture = bio.ArchitectureFromLibraryDescr(
        callable=bio.Identifier("greentea_network"),
        import_from="napari_greentea.export.architecture",
        kwargs={"spec": ckpt.spec.to_dict()},
    )
    weights = bio.WeightsDescr(
        pytorch_state_dict=bio.PytorchStateDictWeightsDescr(
            source=state, architecture=architecture, pytorch_version=bio.Version(version),
        ),
        torchscript=bio.TorchscriptWeightsDescr(
            source=script, pytorch_version=bio.Version(version), parent="pytorch_state_dict",
        ),
        onnx=bio.OnnxWeightsDescr(
            source=onnx, opset_version=ONNX_OPSET, parent="pytorch_state_dict",
        ),
    )
    return weights, errors


def _documentation(folder: Path, name: str, description: str, graph: Graph) -> Path:
    doc = folder / "README.md"
    doc.write_text(
        f"# {name}\n\n{description}\n\n"
        f"Network: {graph.description}, {graph.num_parameters():,} parameters, "
        f"context {graph.context} px (output = input - {graph.context} per axis; "
        f"output pixel (0, 0) lies under input pixel ({graph.context // 2}, "
        f"{graph.context // 2})).\n\n"
        "## Validation\n\nThe test tensors hold a crop of the export sample and the "
        "class probabilities napari-greentea's torch backend computed for it; the "
        "TorchScript and ONNX weights reproduce them within 1e-4. Validate on your own "
        "data with held-out labels (e.g. `greentea evaluate`).\n",
        encoding="utf-8",
    )
    return doc


def _cover(folder: Path, test_in: np.ndarray, prob: np.ndarray, lo: int) -> Path:
    """Input (cropped to the predicted region) beside the last class's probability."""
    from ..io import write_png_preview

    out = prob.shape[-1]
    region = test_in[0, 0, lo : lo + out, lo : lo + out]
    return write_png_preview(folder / "cover.png", region, prob[0, -1])


def _require_formats_extra() -> None:
    import importlib.util

    missing = [m for m in ("bioimageio.spec", "onnx", "onnxruntime")
               if importlib.util.find_spec(m.split(".")[0]) is None
               or importlib.util.find_spec(m) is None]
    if missing:
        raise RuntimeError(
            f"bioimage.io export needs {', '.join(missing)}: "
            "pip install 'napari-greentea[formats]'"
        )


def export_bioimageio(
    checkpoint: Checkpoint | str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    sample: Any = None,
    options: ExportOptions | None = None,
    overwrite: bool = False,
) -> ExportReport:
    """Write ``checkpoint`` as a bioimage.io model package zip at ``output``.

    ``sample``: a 2-D image (or a stack; its middle slice is used) from which
    the test tensor and the cover are cut; default the synthetic membranes.
    For a multi-channel model it has a channel axis (``channels.ChannelImage``,
    or RGB colour) and the model's channels are read, as in prediction.
    Raises :class:`ExportError` when the model cannot be described faithfully
    and :class:`~.torch_formats.ExportMismatch` when an exported format does
    not reproduce the torch output.
    """
    _require_formats_extra()
    import torch
    from bioimageio.spec import save_bioimageio_package
    from bioimageio.spec.model import v0_5 as bio

    from ..backend.torch import build_module

    options = options or ExportOptions()
    ckpt = checkpoint if isinstance(checkpoint, Checkpoint) else Checkpoint.load(checkpoint)
    final = Path(output)
    if final.suffix != ".zip":
        raise ExportError(f"bioimage.io packages are zip files; give a path ending in .zip, "
                          f"not {final.name}")
    if final.exists() and not overwrite:
        raise ExportError(f"{final} exists; pass overwrite (--overwrite) to replace it")
    graph = dense_graph(ckpt.spec)
    smallest, step = input_axes_size(graph)
    module = build_module(graph, ckpt.weights).eval()
    if sample is not None:
        sample = model_input(sample, graph.in_channels, ckpt.preprocess.channels)
    raw = _test_input(graph, sample)
    normalised = preprocess_channels(as_channels(raw[0], axis=0), ckpt.preprocess)[None]
    with torch.no_grad():
        prob = module(torch.as_tensor(normalised)).numpy()
    steps, pre_note = _preprocessing(ckpt, options)
    arch = ckpt.spec.kind.upper()
    name = options.name or f"Greentea {arch}-Net {graph.num_classes}-class pixel classifier"
    classes = ", ".join(ckpt.class_names) or f"{graph.num_classes} classes"
    description = (
        options.description
        or f"{arch}-Net (Tschopp 2015) trained with napari-greentea for {ckpt.iteration} "
        f"iterations; outputs softmax probabilities of {classes}."
    ) + " " + pre_note + (
        f" Valid convolutions: each output axis is {graph.context} px shorter than the input."
    )
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        np.save(folder / "test_input.npy", raw)
        np.save(folder / "test_output.npy", prob)
        weights, errors = _weights(module, ckpt, normalised, folder)
        channel_names = [bio.Identifier(n.replace(" ", "_")) for n in ckpt.class_names]
        if len(channel_names) != graph.num_classes:
            channel_names = [bio.Identifier(f"class{i}") for i in range(graph.num_classes)]
        size = bio.ParameterizedSize(min=smallest, step=step)
        descr = bio.ModelDescr(
            name=name,
            description=description[:1024],
            authors=[bio.Author(name=a) for a in options.authors],
            cite=[bio.CiteEntry(text=t, doi=bio.Doi(d)) for t, d in
                  (*CITATIONS, *options.extra_cite)],
            license=bio.LicenseId(options.license),
            tags=["napari-greentea", "pixel-classification", "semantic-segmentation", "2d",
                  f"{ckpt.spec.kind}-net", *options.tags],
            covers=[bio.FileDescr(source=_cover(folder, raw, prob, graph.context // 2))],
            documentation=bio.FileDescr(
                source=_documentation(folder, name, description, graph)),
            inputs=[bio.InputTensorDescr(
                id=bio.TensorId(INPUT_ID),
                description="raw intensities of one 2-D image per batch element",
                axes=[bio.BatchAxis(), bio.ChannelAxis(channel_names=_input_names(ckpt)),
                      bio.SpaceInputAxis(id=bio.AxisId("y"), size=size),
                      bio.SpaceInputAxis(id=bio.AxisId("x"), size=size)],
                test_tensor=bio.FileDescr(source=folder / "test_input.npy"),
                data=bio.IntervalOrRatioDataDescr(type="float32"),
                preprocessing=steps,
            )],
            outputs=[bio.OutputTensorDescr(
                id=bio.TensorId(OUTPUT_ID),
                description="softmax class probabilities (valid region only)",
                axes=[bio.BatchAxis(), bio.ChannelAxis(channel_names=channel_names),
                      *(bio.SpaceOutputAxis(id=bio.AxisId(a), size=bio.SizeReference(
                          tensor_id=bio.TensorId(INPUT_ID), axis_id=bio.AxisId(a),
                          offset=-graph.context)) for a in ("y", "x"))],
                test_tensor=bio.FileDescr(source=folder / "test_output.npy"),
                data=bio.IntervalOrRatioDataDescr(type="float32", range=(0.0, 1.0)),
            )],
            weights=weights,
            config=bio.Config(**{CONFIG_KEY: {
                "format": FORMAT,
                "spec": ckpt.spec.to_dict(),
                "preprocess": ckpt.preprocess.to_dict(),
                "class_names": list(ckpt.class_names),
                "iteration": ckpt.iteration,
                "context": graph.context,
                "output_offset": graph.context // 2,
            }}),
        )
        final.parent.mkdir(parents=True, exist_ok=True)
        partial = final.with_name(f".{final.name}.partial.zip")
        save_bioimageio_package(descr, output_path=partial)
        os.replace(partial, final)
    status = validate_package(final)
    return ExportReport(final, errors, status, raw.shape[-1], prob.shape[-1])


def validate_package(path: str | os.PathLike[str]) -> str:
    """Run the bioimage.io format validator; raise with its summary on failure.

    Runs offline: with ``perform_io_checks`` the validator hashes the package's
    own files and would only reach the network for URLs or GitHub user names,
    which our packages do not contain.
    """
    from bioimageio.spec import load_description

    descr = load_description(Path(path), perform_io_checks=True)
    summary = descr.validation_summary
    if summary.status == "failed":
        raise ExportError(f"bioimage.io validation of {path} failed:\n{summary.display()}")
    return str(summary.status)
