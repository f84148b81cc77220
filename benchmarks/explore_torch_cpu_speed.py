"""Two torch CPU speed-ups for training: the channels-last layout and ``torch.compile``.

The shipped starter's depth-4 U-Net, batch 2 of 132-px output patches, bf16
autocast, Adam (the dense-label recipe's step): iterations per second of the
eager NCHW module, the same with ``channels_last`` weights and input, and
``torch.compile`` of the module (its compile time is printed apart). Arms
alternate in rounds of 30 steps, so drift of this VM's speed hits them alike.

``--trainer S``: the core ``Trainer`` itself (patch sampling, weight average,
held-out validation included) from the shipped starter on ISBI 2012, with
``CHANNELS_LAST_ON_CPU`` off and on, ``S`` seconds per arm and round,
alternating: the stroke recipe (2 % strokes on slices 0-4, float32) and the
dense-label recipe (dense labels of slices 0-19, bf16).

Usage: python benchmarks/explore_torch_cpu_speed.py [--rounds 4] [--threads 2]
       python benchmarks/explore_torch_cpu_speed.py --trainer 20 --rounds 3
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from napari_greentea.backend.torch._module import build_module
from napari_greentea.models import dense_graph
from napari_greentea.starters import starter

DATA = Path(os.environ.get("GREENTEA_DATA_DIR", Path(__file__).resolve().parents[2]
                           / "shared" / "data" / "isbi2012"))


def trainer_rates(seconds: float, rounds: int) -> None:
    """Iterations per second of the core Trainer with each layout, per recipe."""
    import tifffile

    from napari_greentea.backend.torch import _train
    from napari_greentea.data.scribbles import scribbles_from_ground_truth
    from napari_greentea.recipes import recipe
    from napari_greentea.sample import isbi_labels_to_classes
    from napari_greentea.train import LabeledImage, Trainer
    from napari_greentea.transfer import starting_checkpoint

    raw = tifffile.imread(DATA / "train-volume.tif")
    gt = isbi_labels_to_classes(tifffile.imread(DATA / "train-labels.tif"))
    start = starting_checkpoint(starter("em-membranes").load())
    cases = {
        "strokes, float32": (raw[:5], scribbles_from_ground_truth(
            gt[:5], fraction=0.02, brush=3, seed=0), False, False),
        "dense labels, bf16": (raw[:20], gt[:20], True, True),
    }
    for name, (images, labels, dense, bf16) in cases.items():
        train, loss = recipe("interactive", train={"iterations": 10**9, "seconds": seconds,
                                                   "bf16": bf16},
                             from_model=True, dense_labels=dense)
        rates: dict[bool, list[float]] = {False: [], True: []}
        for _ in range(rounds):
            for channels_last in (False, True):
                _train.CHANNELS_LAST_ON_CPU = channels_last
                trainer = Trainer(start.spec, [LabeledImage(images, labels)], train=train,
                                  loss=loss, preprocess=start.preprocess, backend="torch-cpu",
                                  init_from=start)
                for _event in trainer.run():
                    pass
                rates[channels_last].append(trainer.iteration / seconds)
        for channels_last, values in rates.items():
            print(f"{name}, {'channels_last' if channels_last else 'NCHW'}: "
                  f"{sum(values) / len(values):.1f} it/s "
                  f"({', '.join(f'{v:.1f}' for v in values)})", flush=True)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=4)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--trainer", type=float, metavar="S",
                   help="time the core Trainer for S seconds per arm and round instead")
    args = p.parse_args()
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(args.threads)
    if args.trainer:
        trainer_rates(args.trainer, args.rounds)
        return
    model = starter("em-membranes").load()
    graph = dense_graph(model.spec)
    geometry = graph.patch_geometry(128)
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(2, 1, geometry.input_size, geometry.input_size, generator=generator)
    target = torch.randint(0, 2, (2, geometry.output_size, geometry.output_size),
                           generator=generator)

    def arm(memory_format=None, compiled=False):
        memory_format = memory_format or torch.contiguous_format
        module = build_module(graph, model.weights).train().to(memory_format=memory_format)
        optimizer = torch.optim.Adam(list(module.weight_dict().values()), lr=3e-4)
        run = torch.compile(module) if compiled else module
        return run, optimizer, x.contiguous(memory_format=memory_format)

    def step(run, optimizer, batch) -> None:
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            logits = run(batch, logits=True)
        F.cross_entropy(logits.float(), target).backward()
        optimizer.step()

    arms = {"eager NCHW": arm(), "channels_last": arm(torch.channels_last)}
    start = time.perf_counter()
    arms["torch.compile"] = arm(compiled=True)
    step(*arms["torch.compile"])
    print(f"torch.compile: first step (compiling) {time.perf_counter() - start:.1f} s")
    for name in arms:
        for _ in range(5):
            step(*arms[name])
    rates: dict[str, list[float]] = {name: [] for name in arms}
    for _ in range(args.rounds):
        for name, parts in arms.items():
            start = time.perf_counter()
            for _ in range(30):
                step(*parts)
            rates[name].append(30 / (time.perf_counter() - start))
    for name, values in rates.items():
        print(f"{name}: {sum(values) / len(values):.1f} it/s "
              f"({', '.join(f'{v:.1f}' for v in values)})")


if __name__ == "__main__":
    main()
