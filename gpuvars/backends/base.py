"""The backend interface: buffers on one device and the update kernels.

A backend owns the buffers of one device. Callers (``gpuvars.variables``,
``gpuvars.state_ops``) validate shapes and dtypes and move operands to the
backend's device through ``gpuvars.transfer`` *before* calling a kernel hook,
so every hook may assume: operands live on this device, shapes agree, and
``indices`` are 1-D (or ``(N, K)`` for ``scatter_nd``) int32/int64 arrays.
Hooks that find an out-of-range index raise ``InvalidArgumentError`` with
TensorFlow's message and leave ``ref`` unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import ModuleType
from typing import Any, ClassVar

import numpy as np

from gpuvars import errors

__all__ = ["Backend", "DeviceArray", "SCATTER_OPS", "index_error", "nd_index_error"]

#: Operations of the scatter family, as named in the kernel entry points.
SCATTER_OPS = ("update", "add", "sub", "mul", "div", "min", "max")


class DeviceArray(np.ndarray):
    """A NumPy array that lives on a host-memory device other than /cpu:0.

    Emulated GPUs keep their buffers in host memory; the tag tells the
    transfer layer which device an array belongs to. Views and ufunc results
    keep the tag, so ``v.value() + 1`` stays "on" the variable's device.
    """

    _gv_device: str = "/device:CPU:0"

    def __array_finalize__(self, obj: Any) -> None:
        if obj is not None:
            self._gv_device = getattr(obj, "_gv_device", "/device:CPU:0")

    def __reduce__(self):  # pickles (and copies to other processes) as plain arrays
        return np.asarray(self).__reduce__()


def index_error(position: int, value: int, dim0: int) -> errors.InvalidArgumentError:
    """TensorFlow's out-of-range message for scatter_* (SPEC §8)."""
    return errors.InvalidArgumentError(
        None, None, f"indices[{position}] = {value} is not in [0, {dim0})"
    )


def nd_index_error(position: int, index: Sequence[int], shape: Sequence[int]) -> errors.InvalidArgumentError:
    """TensorFlow's out-of-range message for scatter_nd_* (SPEC §8)."""
    idx = "[" + ", ".join(str(int(i)) for i in index) + "]"
    shp = "[" + ",".join(str(int(s)) for s in shape) + "]"
    return errors.InvalidArgumentError(
        None, None, f"indices[{position}] = {idx} does not index into shape {shp}"
    )


class Backend:
    """Hooks every device backend fills in.

    Attributes:
      kind: ``"cpu"``, ``"emulated_gpu"``, ``"cuda"`` or ``"ps"``.
      device_type: ``"CPU"`` or ``"GPU"``.
      index: the device index.
      name: canonical device name, ``/device:GPU:1``.
      xp: the array module (``numpy`` or ``cupy``).
      memory_bytes: device memory, or None where unknown.
    """

    kind: ClassVar[str] = ""
    device_type: ClassVar[str] = "CPU"
    xp: ModuleType = np
    memory_bytes: int | None = None

    def __init__(self, index: int = 0):
        self.index = index
        self.name = f"/device:{self.device_type}:{index}"

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"

    # -- buffers ---------------------------------------------------------
    def empty(self, shape: tuple[int, ...], dtype: np.dtype) -> Any:
        """A new uninitialized buffer on this device."""
        raise NotImplementedError

    def from_host(self, array: np.ndarray) -> Any:
        """A new buffer on this device holding a copy of a host array."""
        raise NotImplementedError

    def to_host(self, array: Any) -> np.ndarray:
        """A new host NumPy array holding a copy of a buffer of this device."""
        raise NotImplementedError

    def copy(self, array: Any) -> Any:
        """A same-device copy."""
        return array.copy()

    def owns(self, array: Any) -> bool:
        """Whether ``array`` lives on this device."""
        raise NotImplementedError

    def synchronize(self) -> None:
        """Wait for every queued kernel on this device (no-op on the host)."""

    # -- kernels -----------------------------------------------------------
    def assign(self, dst: Any, src: Any) -> None:
        """``dst[...] = src`` with a "same_kind" cast; ``src`` may be 0-d."""
        raise NotImplementedError

    def assign_add(self, dst: Any, src: Any) -> None:
        raise NotImplementedError

    def assign_sub(self, dst: Any, src: Any) -> None:
        raise NotImplementedError

    def group_update(self, op: str, dsts: Sequence[Any], srcs: Sequence[Any]) -> None:
        """Fused ``assign``/``add``/``sub`` over many buffers (one launch where possible)."""
        fn = {"assign": self.assign, "add": self.assign_add, "sub": self.assign_sub}[op]
        for d, s in zip(dsts, srcs):
            fn(d, s)

    def scatter(self, op: str, ref: Any, indices: Any, updates: Any, *, locked: bool, deterministic: bool) -> None:
        """``ref[indices[i]] op= updates[i]`` for every i (duplicates combine).

        ``op`` is one of ``SCATTER_OPS``; ``updates.shape == indices.shape +
        ref.shape[1:]`` with ``indices`` 1-D, ``updates.dtype == ref.dtype``.
        ``locked`` asks for last-writer-wins whole rows for ``update``;
        ``deterministic`` for the exact sequential-loop result.
        """
        raise NotImplementedError

    def scatter_nd(self, op: str, ref: Any, indices: Any, updates: Any, *, locked: bool, deterministic: bool) -> None:
        """``ref[tuple(indices[i])] op= updates[i]``; ``indices`` is ``(N, K)``, ``op`` update/add/sub."""
        raise NotImplementedError

    def count_up_to(self, ref: Any, limit: int) -> int:
        """Increment a scalar integer buffer; return the old value.

        Raises ``OutOfRangeError("Reached limit of <limit>")`` and leaves the
        buffer unchanged when the old value is already ``>= limit``.
        """
        raise NotImplementedError

    def random(self, kind: str, shape: tuple[int, ...], dtype: np.dtype, key: tuple[int, int], counter: int,
               **params: float) -> Any:
        """Counter-based (Philox 4x32-10) draws on this device (see ``gpuvars.random``)."""
        raise NotImplementedError


def check_indices(indices: np.ndarray, dim0: int) -> None:
    """Raise TF's out-of-range error for the first bad index of a host array."""
    if indices.size == 0:
        return
    bad = (indices < 0) | (indices >= dim0)
    if bad.any():
        pos = int(np.argmax(bad.ravel()))
        raise index_error(pos, int(indices.ravel()[pos]), dim0)


def check_nd_indices(indices: np.ndarray, shape: Sequence[int]) -> None:
    """Raise TF's scatter_nd out-of-range error for the first bad index row."""
    if indices.size == 0:
        return
    k = indices.shape[-1]
    flat = indices.reshape(-1, k)
    limits = np.asarray(shape[:k], dtype=np.int64)
    bad = ((flat < 0) | (flat >= limits)).any(axis=1)
    if bad.any():
        pos = int(np.argmax(bad))
        raise nd_index_error(pos, flat[pos], shape)
