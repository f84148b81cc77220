"""Tiled prediction of large images: total time, peak RSS, halo overhead per block size.

For each image edge in --sizes (default 4096 and 16384) and each block in
--blocks, a fresh subprocess predicts a memory-mapped synthetic uint8 image
(tiles of the synthetic sample) into an on-disk zarr store with the chosen
preset, and reports wall time, throughput, peak RSS and the halo overhead
(FLOPs per output pixel of one tile / FLOPs per pixel of an infinite tile).
Usage: python benchmarks/bench_tiled.py [--arch u --preset interactive --backend torch-cpu]
Writes benchmarks/results/tiled.json and tiled.md.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results"


def make_image(path: Path, size: int) -> None:
    from napari_greentea.sample import synthetic_membranes

    tile, _ = synthetic_membranes((512, 512), seed=0)
    image = np.lib.format.open_memmap(path, mode="w+", dtype=np.uint8, shape=(size, size))
    for y in range(0, size, 512):
        image[y : y + 512] = np.tile(np.roll(tile, y // 7, axis=1), (1, size // 512))
    image.flush()


def run_case(image_path: str, out: str, arch: str, preset_name: str, block: int,
             backend: str) -> dict:
    from napari_greentea.backend import get_backend
    from napari_greentea.models import dense_graph, preset
    from napari_greentea.predict import PredictionJob
    from napari_greentea.weights import init_weights

    graph = dense_graph(preset(arch, preset_name))
    image = np.load(image_path, mmap_mode="r")
    predictor = get_backend(backend).build(graph, init_weights(graph, 0))
    tic = time.perf_counter()
    job = PredictionJob(predictor, graph, image, block=block, output=out, dtype="uint8")
    for _ in job.run():
        pass
    seconds = time.perf_counter() - tic
    geo = job.geometry
    big = graph.input_size_for(4096)
    interior = graph.flops_per_pass(big) / graph.output_size(big) ** 2
    halo = graph.flops_per_pass(geo.net_input) / geo.block**2 / interior
    return {"size": image.shape[-1], "block": geo.block, "net_input": geo.net_input,
            "seconds": seconds, "mpx_per_s": image.size / seconds / 1e6,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "halo_flop_overhead": halo, "blocks": len(job.blocks)}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--sizes", default="4096,16384")
    p.add_argument("--blocks", default="128,256,512,1024")
    p.add_argument("--arch", default="u")
    p.add_argument("--preset", default="interactive")
    p.add_argument("--backend", default="torch-cpu")
    p.add_argument("--case", nargs=6, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.case:
        img, out, arch, name, block, backend = args.case
        print(json.dumps(run_case(img, out, arch, name, int(block), backend)))
        return
    tmp = Path(tempfile.mkdtemp(prefix="greentea-tiled-"))
    rows = []
    try:
        for size in (int(s) for s in args.sizes.split(",")):
            img = tmp / f"img{size}.npy"
            make_image(img, size)
            blocks = args.blocks.split(",") if size <= 4096 else ["512"]
            for block in blocks:
                out = tmp / "out.zarr"
                res = subprocess.run(
                    [sys.executable, __file__, "--case", str(img), str(out), args.arch,
                     args.preset, block, args.backend], capture_output=True, text=True)
                row = json.loads(res.stdout.strip().splitlines()[-1]) if res.returncode == 0 \
                    else {"size": size, "block": block, "error": res.stderr[-300:]}
                print(json.dumps(row), flush=True)
                rows.append(row)
                shutil.rmtree(out, ignore_errors=True)
            img.unlink()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "tiled.json").write_text(json.dumps(
        {"arch": f"{args.arch} {args.preset}", "backend": args.backend, "rows": rows}, indent=2))
    lines = [f"Tiled prediction, {args.arch} {args.preset} on {args.backend}, uint8 zarr output",
             "", "| image | block | net input | blocks | s | Mpx/s | peak RSS MB | halo FLOP x |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['size']}² | {r['block']} | error | | | | | |")
            continue
        lines.append(f"| {r['size']}² | {r['block']} | {r['net_input']} | {r['blocks']} | "
                     f"{r['seconds']:.1f} | {r['mpx_per_s']:.2f} | {r['peak_rss_mb']:.0f} | "
                     f"{r['halo_flop_overhead']:.2f} |")
    (RESULTS / "tiled.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
