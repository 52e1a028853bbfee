"""Every copy between devices happens here, and is counted (SPEC §9).

``device_put`` is the explicit verb. Implicit transfers — an operand on
another device than the variable it updates — go through ``to_backend(...,
explicit=False)`` and obey the thread-local ``transfer_guard`` levels
(``allow``/``log``/``disallow``, JAX's semantics: explicit transfers are never
blocked). ``transfer_stats()`` reports copies and bytes per
``(source, destination)`` pair of canonical device names; a NumPy array from
the user counts as ``/device:CPU:0``.

Ordering (SPEC §9): a copy out of a buffer of an ``ordered`` backend (CUDA,
emulated GPUs) first waits for the buffer's last recorded event (its last
mutation), on the stream that copies; a copy into an ordered backend records
an event on the new buffer. So a read on another CUDA stream sees the last
write. ``/cpu:0`` is synchronous (nothing is ever in flight there), so its
buffers are neither waited for nor recorded.

Paths: host→device is the destination's ``from_host``; device→device is the
destination's ``copy_from_device`` where it has a direct path (CUDA peers),
else a plain host copy between host-memory devices, else staged through host
memory (``to_host`` then ``from_host``); device→host is ``to_host``. Large
CUDA host copies are chunked through pinned buffers inside the backend.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np

from gpuvars import errors
from gpuvars.backends.base import Backend, DeviceArray

__all__ = [
    "device_put",
    "transfer_stats",
    "reset_transfer_stats",
    "transfer_guard",
    "transfer_guard_host_to_device",
    "transfer_guard_device_to_device",
    "transfer_guard_device_to_host",
    "device_of",
]

logger = logging.getLogger(__name__)

CPU = "/device:CPU:0"
_LEVELS = ("allow", "log", "disallow")
_DIRECTIONS = ("host_to_device", "device_to_device", "device_to_host")

_stats_lock = threading.Lock()
_stats: dict[tuple[str, str], list[int]] = {}


class _GuardState(threading.local):
    def __init__(self) -> None:
        self.levels = dict.fromkeys(_DIRECTIONS, "allow")


_guard = _GuardState()


def device_of(x: Any) -> str | None:
    """Canonical device of an array (None for Python scalars, which need no copy)."""
    if isinstance(x, DeviceArray):
        return x._gv_device
    if isinstance(x, np.ndarray):
        return CPU
    if hasattr(x, "_gv_read_for_conversion"):  # a Variable
        return x.device
    mod = type(x).__module__
    if mod.startswith("cupy"):
        return f"/device:GPU:{x.device.id}"
    return None


def _is_host_memory(b: Backend) -> bool:
    return b.kind in ("cpu", "emulated_gpu")


def _direction(src: str, dst: str) -> str:
    src_host = src == CPU
    dst_host = dst == CPU
    if src_host and not dst_host:
        return "host_to_device"
    if dst_host and not src_host:
        return "device_to_host"
    return "device_to_device"


def _count(src: str, dst: str, nbytes: int) -> None:
    with _stats_lock:
        entry = _stats.get((src, dst))
        if entry is None:
            _stats[(src, dst)] = [1, nbytes]
        else:
            entry[0] += 1
            entry[1] += nbytes


def _check_guard(src: str, dst: str, nbytes: int) -> None:
    direction = _direction(src, dst)
    level = _guard.levels[direction]
    if level == "allow":
        return
    what = f"{direction.replace('_', '-')} transfer from {src} to {dst} of {nbytes} bytes"
    if level == "log":
        logger.warning("Implicit %s", what)
        return
    raise errors.InvalidArgumentError(
        None, None,
        f"Disallowed implicit {what}. Move the operand explicitly with gpuvars.device_put(x, '{dst}'), "
        "or allow it with gpuvars.transfer_guard('allow').",
    )


def _backend(name: str) -> Backend:
    from gpuvars.devices import backend_for_name

    return backend_for_name(name)


def _copy(x: Any, src: str, dst_backend: Backend) -> Any:
    """``x`` (on ``src``, another device than ``dst_backend``'s) copied after its last recorded mutation."""
    if src == CPU:
        return dst_backend.from_host(np.asarray(x))
    src_backend = _backend(src)
    direct = dst_backend.copy_from_device(x, src_backend)  # waits for x on the stream that copies
    if direct is not None:
        return direct
    if src_backend.ordered:
        src_backend.wait(x)
    if _is_host_memory(src_backend) and _is_host_memory(dst_backend):
        return dst_backend.from_host(np.asarray(x))
    host = src_backend.to_host(x)
    return host if dst_backend.kind == "cpu" else dst_backend.from_host(host)


def to_backend(x: Any, backend: Backend, *, explicit: bool) -> Any:
    """``x`` as an array on ``backend``'s device: the input itself when already there.

    Python scalars and lists are converted on the host first and count as
    coming from ``/device:CPU:0`` when the target is another device.
    """
    src = device_of(x)
    if src is None:
        if backend.kind == "cpu":
            return np.asarray(x)
        x = np.asarray(x)
        src = CPU
    dst = backend.name
    if src == dst:
        return x
    nbytes = int(x.nbytes)
    if not explicit:
        _check_guard(src, dst, nbytes)
    out = _copy(x, src, backend)
    if backend.ordered:
        backend.record(out)
    _count(src, dst, nbytes)
    return out


def to_host(x: Any) -> np.ndarray:
    """A host NumPy copy of an array on any device (an explicit transfer)."""
    src = device_of(x)
    if src is None:
        return np.asarray(x)
    if src == CPU:
        return np.array(x, copy=True)
    backend = _backend(src)
    if backend.ordered:
        backend.wait(x)
    out = backend.to_host(x)
    _count(src, CPU, int(out.nbytes))
    return np.asarray(out)


def device_put(x: Any, device: Any) -> Any:
    """Copy ``x`` to ``device`` (explicit: never blocked by a transfer guard).

    Args:
      x: a NumPy/CuPy array, a value on an emulated GPU, a Python number or
        list, or a Variable (its current value is copied).
      device: a device string or ``DeviceSpec`` (``"/gpu:1"``).

    Returns:
      An array on ``device``: the input itself when it already lives there.

    Example:
      >>> y = gpuvars.device_put(np.ones(3), "/gpu:0")
    """
    from gpuvars.devices import resolve

    backend = resolve(device)
    if hasattr(x, "_gv_read_for_conversion"):
        x = x._gv_read_for_conversion()
    return to_backend(x, backend, explicit=True)


def transfer_stats() -> dict[tuple[str, str], dict[str, int]]:
    """``{(source, destination): {"copies": n, "bytes": b}}`` since the last reset."""
    with _stats_lock:
        return {k: {"copies": v[0], "bytes": v[1]} for k, v in _stats.items()}


def reset_transfer_stats() -> None:
    with _stats_lock:
        _stats.clear()


def _check_level(level: str) -> str:
    if level not in _LEVELS:
        raise ValueError(f"Transfer guard level must be one of {_LEVELS}. Received: {level!r}")
    return level


@contextlib.contextmanager
def _guarding(directions: tuple[str, ...], level: str) -> Iterator[None]:
    _check_level(level)
    old = dict(_guard.levels)
    for d in directions:
        _guard.levels[d] = level
    try:
        yield
    finally:
        _guard.levels = old


def transfer_guard(level: str):
    """Govern implicit transfers in every direction in this thread (``allow``/``log``/``disallow``).

    Example:
      >>> with gpuvars.transfer_guard("disallow"):
      ...     v.assign_add(np.ones(3))   # v on /gpu:0: InvalidArgumentError
    """
    return _guarding(_DIRECTIONS, level)


def transfer_guard_host_to_device(level: str):
    return _guarding(("host_to_device",), level)


def transfer_guard_device_to_device(level: str):
    return _guarding(("device_to_device",), level)


def transfer_guard_device_to_host(level: str):
    return _guarding(("device_to_host",), level)
