"""Process-wide settings: read from the environment once, changed by setters.

``GPUVARS_EMULATED_GPUS=N`` asks for N emulated GPUs (SPEC §1); it is read the
first time the device registry starts, and ``set_emulated_gpus`` overrides it
as long as no variable exists yet.
"""

from __future__ import annotations

import os
import threading

__all__ = [
    "set_emulated_gpus",
    "get_emulated_gpus",
    "set_soft_device_placement",
    "get_soft_device_placement",
    "set_deterministic",
    "is_deterministic",
]

_lock = threading.Lock()
_emulated_gpus: int | None = None  # None: not read from the environment yet
_soft_placement = True
_deterministic = False
# Set by the registry once a device has been handed out; freezes the device set.
_devices_frozen = False


def _env_int(name: str) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return 0
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(
            f"Environment variable {name} must be a non-negative integer. Received: {raw!r}"
        ) from None
    if value < 0:
        raise ValueError(f"Environment variable {name} must be a non-negative integer. Received: {raw!r}")
    return value


def get_emulated_gpus() -> int:
    """Number of emulated GPUs (from ``GPUVARS_EMULATED_GPUS`` unless set)."""
    global _emulated_gpus
    with _lock:
        if _emulated_gpus is None:
            _emulated_gpus = _env_int("GPUVARS_EMULATED_GPUS")
        return _emulated_gpus


def set_emulated_gpus(n: int) -> None:
    """Use ``n`` host-memory GPUs running the real kernels (SPEC §1).

    Must be called while no variable lives on a GPU (variables of a graph
    dropped by ``reset_default_graph`` do not count); emulated GPUs replace
    real ones as ``/gpu:0 .. /gpu:n-1``. ``n=0`` turns them off.

    Raises:
      ValueError: ``n`` is negative or not an int.
      RuntimeError: a live variable is placed on a GPU.
    """
    global _emulated_gpus
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"Argument `n` must be a non-negative int. Received: {n!r}")
    from gpuvars import devices

    with _lock:
        if _emulated_gpus == n:
            return
        if devices._registry_in_use():
            raise RuntimeError(
                "set_emulated_gpus() must be called before any variable is placed on a GPU; "
                f"live variables are on GPUs now. Received n={n}. Call it at program start (or after "
                "reset_default_graph() has dropped them), or set GPUVARS_EMULATED_GPUS before importing gpuvars."
            )
        _emulated_gpus = n
    devices._reset_registry()


def set_soft_device_placement(enabled: bool) -> None:
    """Soft placement (default on): an unknown device falls back to /cpu:0 with a warning."""
    global _soft_placement
    _soft_placement = bool(enabled)


def get_soft_device_placement() -> bool:
    return _soft_placement


def set_deterministic(enabled: bool) -> None:
    """Make scatter_* bit-identical to the sequential loop on every device (SPEC §8)."""
    global _deterministic
    _deterministic = bool(enabled)


def is_deterministic() -> bool:
    return _deterministic
