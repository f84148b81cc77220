"""OpenCL platform/device discovery and the per-device context cache.

Devices are numbered across all platforms in enumeration order (as caffe's
greentea did). The automatic choice scores GPUs above CPUs, then by global
memory (pyclesperanto's ``score_device``). ``cl.create_some_context`` is
never used because it may block on a stdin prompt.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._context import CLContext

log = logging.getLogger(__name__)

INSTALL_HINT = "pyopencl not installed: pip install 'napari-greentea[opencl]'"
ICD_HINT = (
    "no OpenCL platform/ICD found: on Debian/Ubuntu apt-get install pocl-opencl-icd "
    "(CPU) or your GPU vendor's OpenCL driver"
)


@dataclass(frozen=True)
class CLDevice:
    """One OpenCL device with the facts ``greentea info`` shows."""

    index: int
    name: str
    type: str
    memory_bytes: int
    platform: str
    driver: str
    handle: Any = None

    def describe(self) -> str:
        gib = self.memory_bytes / 2**30
        return f"[{self.index}] {self.name} ({self.type}, {gib:.1f} GiB, {self.platform})"


def _type_name(cl: Any, dev: Any) -> str:
    if dev.type & cl.device_type.GPU:
        return "gpu"
    if dev.type & cl.device_type.CPU:
        return "cpu"
    if dev.type & cl.device_type.ACCELERATOR:
        return "accelerator"
    return "other"


@functools.cache
def list_devices() -> tuple[CLDevice, ...]:
    """All OpenCL devices on all platforms; raises ``RuntimeError`` if none.

    The result is cached because enumeration is slow on some drivers and the
    device set does not change while the process runs.
    """
    from ...caches import prepare_opencl_caches

    prepare_opencl_caches()  # PoCL finds no platform when its cache folder is unwritable
    import pyopencl as cl

    try:
        platforms = cl.get_platforms()
    except cl.Error as err:
        raise RuntimeError(f"{ICD_HINT} ({err})") from err
    found: list[CLDevice] = []
    for plat in platforms:
        try:
            devices = plat.get_devices()
        except cl.Error as err:  # a broken ICD should not hide the others
            log.warning("OpenCL platform %s: cannot list devices: %s", plat.name, err)
            continue
        for dev in devices:
            found.append(
                CLDevice(
                    index=len(found),
                    name=dev.name.strip(),
                    type=_type_name(cl, dev),
                    memory_bytes=int(dev.global_mem_size),
                    platform=f"{plat.name.strip()} {plat.version.strip()}",
                    driver=dev.driver_version.strip(),
                    handle=dev,
                )
            )
    if not found:
        raise RuntimeError(ICD_HINT)
    return tuple(found)


def _score(dev: CLDevice) -> tuple[int, int]:
    return (1 if dev.type == "gpu" else 0, dev.memory_bytes)


def select_device(choice: int | str | None = None) -> CLDevice:
    """The device for ``choice``: ``None``/"auto" (best score), an index or a
    name substring (case-insensitive; "gpu"/"cpu" pick by type).

    Raises ``ValueError`` listing the present devices when nothing matches,
    so a typo in a config shows what could have been meant.
    """
    devices = list_devices()
    if choice is None or (isinstance(choice, str) and choice.lower() in ("", "auto")):
        return max(devices, key=_score)
    if isinstance(choice, int) or (isinstance(choice, str) and choice.strip().isdigit()):
        idx = int(choice)
        if 0 <= idx < len(devices):
            return devices[idx]
    else:
        want = str(choice).lower()
        typed = [d for d in devices if d.type == want]
        if typed:
            return max(typed, key=_score)
        named = [d for d in devices if want in d.name.lower() or want in d.platform.lower()]
        if named:
            return max(named, key=_score)
    listing = "; ".join(d.describe() for d in devices)
    raise ValueError(f"OpenCL device {choice!r} not found; present: {listing}")


@functools.cache
def context_for(index: int) -> CLContext:
    """The context of device ``index`` (with its queue and programs): one per device."""
    from ._context import CLContext

    dev = list_devices()[index]
    return CLContext(dev.handle, f"{dev.name}|{dev.platform}|{dev.driver}")


def opencl_available() -> tuple[bool, str]:
    """(usable, reason or device description); never raises."""
    from ...caches import prepare_opencl_caches

    try:
        prepare_opencl_caches()
    except OSError as err:
        return False, f"OpenCL kernel caches unusable: {err}"
    try:
        import pyopencl  # noqa: F401
    except ImportError:
        return False, INSTALL_HINT
    except Exception as err:  # noqa: BLE001 - a broken install must not crash callers
        return False, f"pyopencl failed to import: {err}"
    try:
        best = select_device(None)
    except Exception as err:  # noqa: BLE001
        msg = str(err)
        return False, msg if "OpenCL" in msg else f"{ICD_HINT} ({msg})"
    return True, best.describe()


def has_gpu() -> bool:
    """Whether any OpenCL GPU is present (never raises)."""
    ok, _ = opencl_available()
    return ok and any(d.type == "gpu" for d in list_devices())
