"""Where caches go: the user's cache folder, or a temporary one when that is not writable.

Three caches exist: the ``auto`` backend verdict (ours), PoCL's compiled
kernels and pyopencl's program cache. PoCL and pyopencl put theirs under
``$XDG_CACHE_HOME`` (default ``~/.cache``); PoCL also honours
``POCL_CACHE_DIR``. When those folders cannot be written (read-only or
missing HOME), PoCL fails to create a platform at all and pyopencl raises
while building a program. :func:`prepare_opencl_caches` therefore points
both at a writable temporary folder *before* pyopencl loads PoCL, and says
so once.
"""

from __future__ import annotations

import functools
import logging
import os
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)

#: Why the last fallback happened, for ``greentea info``; empty when none did.
FALLBACK_REASONS: list[str] = []


def _writable(folder: Path) -> str | None:
    """None if files can be created in ``folder`` (made if missing), else why not."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".greentea-probe"):
            pass
    except OSError as err:
        return f"{folder}: {err.strerror or err}"
    return None


def user_cache_home() -> Path:
    """``$XDG_CACHE_HOME`` or ``~/.cache`` (not checked)."""
    xdg = os.environ.get("XDG_CACHE_HOME")
    return Path(xdg) if xdg else Path.home() / ".cache"


def _temporary_cache_home() -> Path:
    return Path(tempfile.gettempdir()) / f"napari-greentea-cache-{os.getuid()}"


def _fallback(what: str, wanted: Path, why: str) -> Path:
    spare = _temporary_cache_home()
    problem = _writable(spare)
    if problem:
        raise OSError(f"no writable cache folder for {what}: {why}; {problem}")
    message = f"cache folder {wanted} is not writable ({why}); using {spare} for {what}"
    first = not FALLBACK_REASONS
    FALLBACK_REASONS.append(message)
    log.log(logging.WARNING if first else logging.DEBUG, "%s", message)  # one warning a run
    return spare


def greentea_cache_dir() -> Path:
    """Our own cache folder: ``$GREENTEA_CACHE_DIR`` or ``<cache home>/napari-greentea``."""
    explicit = os.environ.get("GREENTEA_CACHE_DIR")
    wanted = Path(explicit) if explicit else user_cache_home() / "napari-greentea"
    return _checked_dir("napari-greentea", str(wanted))


@functools.cache
def _checked_dir(what: str, wanted: str) -> Path:
    why = _writable(Path(wanted))
    if why is None:
        return Path(wanted)
    spare = _fallback(what, Path(wanted), why) / what
    spare.mkdir(parents=True, exist_ok=True)
    return spare


@functools.cache
def prepare_opencl_caches() -> None:
    """Make PoCL's and pyopencl's caches writable; call before importing pyopencl.

    Sets ``XDG_CACHE_HOME`` (pyopencl, PoCL) and ``POCL_CACHE_DIR`` (PoCL,
    only if it was set) to a temporary folder when the configured ones
    cannot be written. Changes nothing when they can.
    """
    home = user_cache_home()
    why = _writable(home)
    if why is not None:
        os.environ["XDG_CACHE_HOME"] = str(_fallback("OpenCL kernel caches", home, why))
    pocl = os.environ.get("POCL_CACHE_DIR")
    if pocl:
        why = _writable(Path(pocl))
        if why is not None:
            spare = _fallback("PoCL kernels", Path(pocl), why) / "pocl"
            spare.mkdir(parents=True, exist_ok=True)
            os.environ["POCL_CACHE_DIR"] = str(spare)
