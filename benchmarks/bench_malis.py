"""Time the MALIS loss + gradient on a 256x256 patch (target: <= 50 ms).

Usage: ``python benchmarks/bench_malis.py [--size 256] [--repeats 7]``.
The probabilities are uniform noise (the worst case for Kruskal, since no
structure makes merges cheap) and the segments come from a synthetic Voronoi
label image with 1-px boundaries.
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def voronoi_labels(size: int, n_cells: int, rng: np.random.Generator) -> np.ndarray:
    """Labels in the package convention: 1 = membrane, 2 = cell interior."""
    from scipy import ndimage

    seeds = np.zeros((size, size), dtype=np.int32)
    pts = rng.integers(0, size, size=(n_cells, 2))
    seeds[pts[:, 0], pts[:, 1]] = np.arange(1, n_cells + 1)
    _, (iy, ix) = ndimage.distance_transform_edt(seeds == 0, return_indices=True)
    cells = seeds[iy, ix]
    boundary = np.zeros_like(cells, dtype=bool)
    boundary[:, :-1] |= cells[:, :-1] != cells[:, 1:]
    boundary[:-1, :] |= cells[:-1, :] != cells[1:, :]
    return np.where(boundary, 1, 2).astype(np.int64)


def _median_ms(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1e3 * float(np.median(times))


def main() -> None:
    import torch

    from napari_greentea.losses.malis import (
        _segments_from_labels,
        affinities_2d,
        malis_loss_torch,
        malis_weights,
    )

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--cells", type=int, default=80)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    labels = voronoi_labels(args.size, args.cells, rng)
    prob = rng.random((args.size, args.size))
    aff = affinities_2d(prob)
    seg = _segments_from_labels(labels)

    def torch_step() -> None:
        p = torch.tensor(prob[None], dtype=torch.float32, requires_grad=True)
        malis_loss_torch(p, labels[None]).backward()

    rows = []
    for constrained in (True, False):
        for loss in ("hinge", "square"):
            malis_weights(aff, seg, loss=loss, constrained=constrained)  # JIT warm-up
            ms = _median_ms(
                lambda c=constrained, lo=loss: malis_weights(aff, seg, loss=lo, constrained=c),
                args.repeats,
            )
            rows.append((f"malis_weights {loss}, constrained={constrained}", ms))
    default_threads = torch.get_num_threads()
    for threads in sorted({default_threads, 1}, reverse=True):
        # Tiny element-wise torch ops suffer from OpenMP spin-waiting on a busy
        # machine, so the single-threaded number is reported as well.
        torch.set_num_threads(threads)
        torch_step()
        name = f"malis_loss_torch fwd+bwd (hinge, constrained), {threads} thr"
        rows.append((name, _median_ms(torch_step, args.repeats)))
    torch.set_num_threads(default_threads)

    print(f"MALIS on {args.size}x{args.size}, median of {args.repeats} runs")
    print(f"{'case':<58} {'ms':>8}")
    for name, ms in rows:
        print(f"{name:<58} {ms:8.1f}")


if __name__ == "__main__":
    main()
