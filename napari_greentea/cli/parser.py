"""The ``greentea`` argument parser: every subcommand with its options and help text."""

from __future__ import annotations

import argparse

from ..config import CLASS_BALANCES
from ..segment import BOUNDARY_CHANNEL, DEFAULT_MIN_SIZE
from ..starters import STARTERS
from ._common import COUNT, POSITIVE_FLOAT, POSITIVE_INT, _threads_arg
from .commands import cmd_demo, cmd_evaluate, cmd_export, cmd_gui, cmd_info, cmd_segment
from .predict import cmd_predict
from .train import cmd_pretrain, cmd_train

#: The top-level ``greentea --help`` text.
DESCRIPTION = """\
``greentea`` command line: info, predict, pretrain, train, evaluate, segment, export, demo, gui.

Every command prints one clear line and exits with status 2 on bad input
(wrong file, unknown preset, mismatching checkpoint) instead of a traceback,
and with status 130 when stopped by Ctrl-C/SIGTERM (training saves first).
"""


def _arch_args(p: argparse.ArgumentParser, random_model: bool = False) -> None:
    """--arch, --preset and --knob, with choices from the architecture registry.

    For ``random_model`` (predict, evaluate) they describe the model used
    without --checkpoint, and default to None so that giving them together
    with a checkpoint is noticed instead of silently ignored.
    """
    from ..models import architecture_names, preset_names

    what = "random model: " if random_model else ""
    p.add_argument("--arch", choices=architecture_names(), default=None if random_model else "u",
                   help=f"{what}architecture (u)")
    p.add_argument("--preset", choices=preset_names(),
                   default=None if random_model else "interactive", help=f"{what}preset "
                   "(interactive)")
    p.add_argument("--knob", action="append", metavar="NAME=VALUE",
                   help="change an architecture knob (e.g. base_fmaps=32, depth=3); repeatable")
    p.add_argument("--fmaps", type=int, help="feature maps (the Train widget's fmaps knob)")
    p.add_argument("--depth", type=int, help="U-Net depth (the Train widget's depth knob)")


def _model_args(p: argparse.ArgumentParser) -> None:
    from ..predict import DEFAULT_BLOCK

    p.add_argument("--checkpoint", "--model", dest="checkpoint",
                   help="trained model (.npz) or exported bioimage.io package (.zip); "
                   "else random weights")
    _arch_args(p, random_model=True)
    p.add_argument("--seed", type=int, help="random model: weight seed (0)")
    p.add_argument("--backend", default=None, help="auto, torch, torch-cpu, torch-cuda, opencl")
    p.add_argument("--device", default=None, help="device within the backend")
    p.add_argument("--block", type=POSITIVE_INT, default=DEFAULT_BLOCK,
                   help="output block edge (pixels)")
    _channel_args(p)


def _channel_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--channel-axis", type=int, metavar="N",
                   help="axis of the image holding channels (default: from OME-Zarr "
                   "metadata; RGB(A) colour is recognised)")
    p.add_argument("--channels", metavar="I,J,...",
                   help="channels to use, 0-based along the channel axis (default: all; for "
                   "predict: those the model was trained on)")


def build_parser() -> argparse.ArgumentParser:
    from ..losses import loss_names

    parser = argparse.ArgumentParser(prog="greentea", description=DESCRIPTION)
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("info", help="backends, devices, versions").set_defaults(func=cmd_info)

    p = sub.add_parser("predict", help="tiled prediction of an image or stack, or of many")
    p.add_argument("paths", nargs="+", metavar="PATH",
                   help="INPUT OUTPUT: one image (or container with dataset key: "
                   "stack.h5:/volumes/raw) into out.zarr (chunked, resumable) or out.tif; "
                   "with --out: [MODEL.npz] INPUT... where each INPUT is an image, a folder "
                   "or a quoted glob ('raw/*.tif')")
    p.add_argument("--out", metavar="FOLDER",
                   help="predict every INPUT into FOLDER/<name>.zarr and write "
                   "FOLDER/summary.json; a rerun skips complete outputs and resumes partial ones")
    p.add_argument("--key", help="dataset inside a zarr/HDF5/N5 input (or path:/key)")
    _model_args(p)
    p.add_argument("--overwrite", action="store_true",
                   help="replace the output (only a prediction store this tool wrote)")
    p.add_argument("--dtype", choices=("float32", "uint8"), default="float32")
    p.add_argument("--tta", action="store_true",
                   help="test-time augmentation: average the 8 flips/rotations (8x slower)")
    p.add_argument("--bf16", action="store_true",
                   help="torch only (OpenCL is refused): bfloat16 autocast, for GPUs/CPUs "
                   "with bfloat16 units; probabilities stay float32 (or --dtype uint8) and "
                   "differ from float32 inference by up to ~2e-2; a store resumes only with "
                   "the same flag")
    p.add_argument("--last-class-only", action="store_true", help="TIFF: last class only")
    p.add_argument("--preview", help="also write a PNG preview here")
    p.add_argument("--scheduler", help="dask scheduler address (tcp://host:8786)")
    p.add_argument("--workers", type=POSITIVE_INT,
                   help="start a LocalCluster with N worker processes")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("train", help="train on an image and its labels, or on a project")
    p.add_argument("image", nargs="?")
    p.add_argument("labels", nargs="?",
                   help="0 = unlabeled, 1..K classes (or ISBI with --isbi-labels)")
    p.add_argument("--project", help="a project saved by the Train widget (name.greentea): "
                   "its image, labels, network and settings; the checkpoint goes into the project "
                   "unless --output is given; schedule and loss options given here override "
                   "its settings (--arch/--preset/--knob do not apply)")
    p.add_argument("--image-key", help="dataset inside a zarr/HDF5/N5 image (or path:/key)")
    p.add_argument("--labels-key", help="dataset inside a zarr/HDF5/N5 labels file")
    p.add_argument("--output", help="checkpoint path (.npz); required without --project")
    _arch_args(p)
    p.add_argument("--loss", choices=loss_names(), help="default: the preset's recipe")
    p.add_argument("--balance", choices=CLASS_BALANCES, help="default: the preset's recipe")
    p.add_argument("--optimizer", choices=("adam", "sgd"), default="adam")
    p.add_argument("--iterations", type=POSITIVE_INT,
                   help="iteration limit (default 200, or none with --seconds/--minutes)")
    p.add_argument("--seconds", type=POSITIVE_FLOAT, help="train for this many seconds")
    p.add_argument("--minutes", type=POSITIVE_FLOAT, help="train for this many minutes")
    p.add_argument("--lr", type=POSITIVE_FLOAT)
    p.add_argument("--batch", type=POSITIVE_INT)
    p.add_argument("--patch", type=POSITIVE_INT, help="output patch edge")
    p.add_argument("--holdout", type=float,
                   help="share of the strokes held out to keep the best weights (0 = off)")
    p.add_argument("--average", type=float,
                   help="EMA decay of the weights that predict (0 = off)")
    p.add_argument("--anchor-decay", type=float,
                   help="after each step move the weights this share back toward the start "
                        "weights (--init's pretrained ones; 0 = off)")
    p.add_argument("--validate-every", type=COUNT, help="validate every N iterations")
    p.add_argument("--bf16", action="store_true",
                   help="bfloat16 autocast in training, torch only (auto then picks torch; "
                   "OpenCL is refused); faster or slower depending on the CPU and network")
    p.add_argument("--threads", type=_threads_arg,
                   help="torch CPU threads for training: N, or 'auto' to measure whether all "
                        "cores or one fewer train faster (default: one per core)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--checkpoint-every", type=COUNT, default=0)
    p.add_argument("--backend", default=None)
    p.add_argument("--isbi-labels", action="store_true", help="labels are 0/255 ISBI masks")
    p.add_argument("--slices", help="use slices lo:hi of a stack")
    p.add_argument("--init", metavar="WEIGHTS.npz|STARTER",
                   help="start from greentea pretrain's weights (every layer but the "
                   "classifier), from a trained checkpoint, e.g. a model of another "
                   "labeled stack (every layer; the classifier afresh if the class count "
                   "differs), or from a shipped starter model by name ("
                   + "; ".join(f"{s.name}: {s.summary}" for s in STARTERS.values())
                   + "); a trained model brings its network, which "
                   "--arch/--preset/--knob/--fmaps/--depth may only name again")
    _channel_args(p)
    # None: not given (u / interactive then, unless --init brings a trained network)
    p.set_defaults(func=cmd_train, arch=None, preset=None)

    p = sub.add_parser("pretrain", help="pretrain a network on an image alone (no labels), "
                       "for train --init")
    p.add_argument("image")
    p.add_argument("--image-key", help="dataset inside a zarr/HDF5/N5 image (or path:/key)")
    p.add_argument("--output", required=True, help="pretrained weights (.npz)")
    _arch_args(p)
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--seconds", type=POSITIVE_FLOAT,
                        help="time budget, the filter responses included (default 300)")
    budget.add_argument("--minutes", type=POSITIVE_FLOAT, help="time budget in minutes")
    budget.add_argument("--iterations", type=POSITIVE_INT,
                        help="iteration limit instead of a time budget")
    p.add_argument("--lr", type=POSITIVE_FLOAT)
    p.add_argument("--batch", type=POSITIVE_INT)
    p.add_argument("--patch", type=POSITIVE_INT, help="output patch edge")
    p.add_argument("--threads", type=_threads_arg, help="as for train")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--backend", default=None)
    _channel_args(p)
    p.set_defaults(func=cmd_pretrain)

    p = sub.add_parser("evaluate", help="V_rand, V_info, pixel error (ISBI protocol)")
    p.add_argument("--gt", required=True, help="ground truth (nonzero = cell interior)")
    p.add_argument("--prob", help="cell-probability TIFF/zarr (last class used)")
    p.add_argument("--image", help="or: image to predict with --checkpoint")
    p.add_argument("--slices", help="evaluate slices lo:hi of the ground truth")
    _model_args(p)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("export", help="write a checkpoint as a bioimage.io model package")
    p.add_argument("checkpoint", help="trained model (.npz)")
    p.add_argument("output", help="package path (.zip)")
    p.add_argument("--sample", help="image for the test tensor and cover (default: synthetic)")
    p.add_argument("--name")
    p.add_argument("--description")
    p.add_argument("--author", action="append", help="repeat for several authors")
    p.add_argument("--license", default="CC-BY-4.0", help="SPDX identifier")
    p.add_argument("--allow-missing-preprocessing", action="store_true",
                   help="export a CLAHE model; the package says CLAHE must be applied first")
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("segment", help="cell instances from a probability map (watershed)")
    p.add_argument("prob", help="class probabilities from predict (.tif/.zarr)")
    p.add_argument("output", help="instance labels (.tif or .zarr, uint32); "
                   "PROB.zarr/labels/NAME adds them to the prediction store (OME-Zarr labels)")
    p.add_argument("--method", choices=("watershed", "threshold"), default="watershed")
    p.add_argument("--seeds", choices=("distance", "hminima"), default="distance")
    p.add_argument("--min-size", type=int, default=DEFAULT_MIN_SIZE,
                   help="merge (watershed) or drop (threshold) smaller objects, pixels")
    p.add_argument("--threshold", type=float, default=0.5, help="cell iff 1 - boundary > T")
    p.add_argument("--seed-depth", type=float, help="distance: peak/saddle ratio; hminima: h")
    p.add_argument("--channel", type=int, default=BOUNDARY_CHANNEL,
                   help="boundary (membrane) channel of PROB, 0-based")
    p.add_argument("--cell-map", action="store_true",
                   help="PROB is one cell-probability map (predict --last-class-only)")
    p.add_argument("--gt", help="ground truth: print instance V_rand / V_info, merges, splits")
    p.add_argument("--isbi-labels", action="store_true", help="--gt is a 0/255 ISBI mask")
    p.add_argument("--slices", help="compare with slices lo:hi of --gt")
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=cmd_segment)

    p = sub.add_parser("demo", help="headless annotate -> train -> predict on the sample")
    p.add_argument("--out", default="greentea-demo")
    p.add_argument("--seconds", type=POSITIVE_FLOAT, default=60.0)
    p.add_argument("--backend", default=None)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("gui", help="open napari with the Greentea widgets and a sample")
    p.add_argument("--sample", choices=("auto", "synthetic", "isbi"), default="auto")
    p.set_defaults(func=cmd_gui)
    return parser
