"""Print the table "case -> message the user sees" of docs/reliability.md from real runs.

Every row runs the real ``greentea`` command (in this process, or as a
subprocess where a signal or another HOME is needed) on small files made
here, and shows the last line it printed to stderr.

    python scripts/reliability_messages.py [folder] > table.md
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import tifffile

ROOT = Path(__file__).resolve().parents[1]
FAST = ["--arch", "sk", "--block", "32"]


def in_process(*args: object) -> tuple[int, str]:
    import contextlib
    import io

    from napari_greentea.cli import main

    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main([str(a) for a in args])
        except SystemExit as stop:  # argparse
            code = int(stop.code or 0)
    return code, err.getvalue()


def subprocess_run(*args: object, signal_after: str | None = None, env: dict | None = None,
                   wait_for: Path | None = None) -> tuple[int, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GREENTEA_BACKEND": "torch-cpu", **(env or {})}
    proc = subprocess.Popen([sys.executable, "-m", "napari_greentea.cli", *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    if signal_after:
        while wait_for is not None and not wait_for.exists() and proc.poll() is None:
            time.sleep(0.05)
        time.sleep(0.5)
        proc.send_signal(getattr(signal, signal_after))
    _, err = proc.communicate(timeout=600)
    return proc.returncode, err


def last(err: str, contains: str = "") -> str:
    lines = [line for line in err.strip().splitlines() if contains in line]
    return lines[-1] if lines else "(nothing)"


def main(folder: Path) -> None:
    import zarr

    from napari_greentea.checkpoint import Checkpoint
    from napari_greentea.models import dense_graph, preset
    from napari_greentea.sample import synthetic_membranes
    from napari_greentea.weights import init_weights

    os.chdir(folder)
    rng = np.random.default_rng(0)
    stack = (rng.random((3, 64, 80)) * 255).astype(np.uint8)
    tifffile.imwrite("a.tif", stack, imagej=True)
    tifffile.imwrite("b.tif", stack[::-1].copy(), imagej=True)
    tifffile.imwrite("big.tif", (rng.random((12, 192, 192)) * 255).astype(np.uint8), imagej=True)
    image, labels = synthetic_membranes((64, 64), seed=1)
    tifffile.imwrite("img.tif", image)
    tifffile.imwrite("lab.tif", labels)
    tifffile.imwrite("isbi.tif", np.where(labels == 2, 255, 0).astype(np.uint8))
    tifffile.imwrite("flat.tif", np.full((64, 64), 7, np.uint8))
    spec = preset("sk")
    Checkpoint(spec=spec, weights=init_weights(dense_graph(spec), 0)).save("m.npz")
    data = Path("m.npz").read_bytes()
    Path("cut.npz").write_bytes(data[: len(data) // 2])
    Path("noise.npz").write_bytes(rng.bytes(4000))
    tif = Path("a.tif").read_bytes()
    Path("cut.tif").write_bytes(tif[: len(tif) // 2])
    z = zarr.create_array("in.zarr", shape=(3, 64, 80), chunks=(1, 32, 32), dtype="uint8")
    z[...] = stack
    with open("in.zarr/c/1/0/1", "r+b") as fh:
        fh.write(b"\x00garbage\xff" * 4)
    Path("notes.zarr/thesis").mkdir(parents=True)
    Path("a_file").write_text("")

    rows: list[tuple[str, str]] = []

    sys.stdout.write("| case | message the user sees |\n|---|---|\n")

    def row(case: str, result: tuple[int, str], contains: str = "") -> None:
        code, err = result
        message = f"`{last(err, contains)}` (exit {code})".replace("|", "/")
        rows.append((case, message))
        sys.stdout.write(f"| {case} | {message} |\n")
        sys.stdout.flush()

    in_process("predict", "a.tif", "p.zarr", *FAST)
    row("1 resume into a store of another image", in_process("predict", "b.tif", "p.zarr", *FAST))
    row("1 resume with another model", in_process("predict", "a.tif", "p.zarr", *FAST,
                                                   "--seed", "5"))
    Path("p.zarr/analysis.csv").write_text("x")
    row("3 --overwrite of our store holding a foreign file",
        in_process("predict", "a.tif", "p.zarr", *FAST, "--overwrite"))
    os.remove("p.zarr/analysis.csv")
    row("1/8 resume of an interrupted run (stderr)",
        in_process("predict", "a.tif", "p.zarr", *FAST), "resuming")
    row("2 output = input with --overwrite",
        in_process("predict", "in.zarr", "in.zarr", *FAST, "--overwrite"))
    row("3 --overwrite of a foreign folder named *.zarr",
        in_process("predict", "a.tif", "notes.zarr", *FAST, "--overwrite"))
    row("4 Ctrl-C during train", subprocess_run(
        "train", "img.tif", "lab.tif", "--output", "t.npz", "--arch", "sk", "--patch", "16",
        "--iterations", "100000", "--checkpoint-every", "5", signal_after="SIGINT",
        wait_for=Path("t.npz")))
    row("4 SIGTERM during predict", subprocess_run(
        "predict", "big.tif", "big.zarr", *FAST, signal_after="SIGTERM",
        wait_for=Path("big.zarr/done/c")))
    row("4 rerun after the interruption (stderr)",
        subprocess_run("predict", "big.tif", "big.zarr", *FAST), "resuming")
    row("5 truncated TIFF stack", in_process("predict", "cut.tif", "o.tif", *FAST))
    row("6 --block 0", in_process("predict", "a.tif", "o.zarr", "--block", "0"))
    row("6 --arch with --checkpoint",
        in_process("predict", "a.tif", "o.tif", "--checkpoint", "m.npz", "--arch", "u"))
    row("6 --slices on a 2-D image", in_process("train", "img.tif", "lab.tif", "--output",
                                                 "s.npz", "--slices", "0:10"))
    row("6 --device cuda:3 with torch-cpu", in_process(
        "predict", "a.tif", "o.tif", *FAST, "--backend", "torch-cpu", "--device", "cuda:3"))
    row("6 --last-class-only with .zarr output",
        in_process("predict", "a.tif", "o.zarr", *FAST, "--last-class-only"))
    row("6 --workers with --scheduler", in_process(
        "predict", "a.tif", "o.zarr", *FAST, "--workers", "2", "--scheduler", "tcp://h:8786"))
    row("7 truncated .npz checkpoint",
        in_process("predict", "a.tif", "o.tif", "--checkpoint", "cut.npz"))
    home = {"HOME": str(Path("a_file/home").resolve()), "XDG_CACHE_HOME": ""}
    row("7 unwritable HOME (`greentea info`, stderr)", subprocess_run("info", env=home))
    row("7 unwritable HOME + POCL_CACHE_DIR, opencl predict (stderr)", subprocess_run(
        "predict", "a.tif", "ocl.tif", "--arch", "sk", "--backend", "opencl",
        env={**home, "POCL_CACHE_DIR": str(Path("pocl").resolve())}), "not writable")
    row("8 random bytes named .npz",
        in_process("predict", "a.tif", "o.tif", "--checkpoint", "noise.npz"))
    row("8 ISBI 0/255 labels without --isbi-labels",
        in_process("train", "img.tif", "isbi.tif", "--output", "i.npz"))
    row("8 damaged chunk in an input store", in_process("predict", "in.zarr", "o.tif", *FAST))
    chunk = Path("p.zarr/prob/c/0/1/0/1")
    chunk.write_bytes(b"\x00garbage" + chunk.read_bytes()[8:])
    row("8 damaged chunk in the output store (stderr, then recomputed)",
        in_process("predict", "a.tif", "p.zarr", *FAST), "damaged")
    row("9 failed predict (constant image), no store left",
        in_process("predict", "flat.tif", "flat.zarr", *FAST))
    row("9 TIFF output into a folder that cannot exist (before predicting)",
        in_process("predict", "a.tif", "a_file/out.tif", *FAST))



if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp())
    target.mkdir(parents=True, exist_ok=True)
    main(target.resolve())
