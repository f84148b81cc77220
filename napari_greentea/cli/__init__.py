"""``greentea`` command line; :func:`main` is the entry point.

The commands live in modules by job (``predict``, ``train``, ``commands`` for the
rest), ``parser`` builds the argument parser and ``_common`` holds what they share.
"""

from __future__ import annotations

import logging
import sys

from ..interrupt import EXIT_INTERRUPTED, stop_requests
from ._common import Interrupted, Progress, log, slice_range
from ._common import _spec as _spec  # tests build specs from parsed arguments
from .parser import build_parser
from .train import run_training

__all__ = ["main", "build_parser", "run_training", "slice_range", "Progress", "Interrupted"]


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # our messages at INFO; other libraries (dask, numba...) only from WARNING up
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    log.setLevel(logging.DEBUG if args.verbose else logging.INFO)
    try:
        with stop_requests() as args.stop:
            code = int(args.func(args) or 0)
        if args.stop.is_set() and code == 0:
            raise Interrupted("interrupted after the work was done; the output is complete")
        return code
    except Interrupted as stop:
        print(f"greentea {args.command}: {stop}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:
        print(f"greentea {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (ValueError, FileNotFoundError, OSError, RuntimeError, ConnectionError) as err:
        print(f"greentea {args.command}: error: {err}", file=sys.stderr)
        return 2
