"""``/cpu:0``: NumPy buffers; NumPy kernels, or the host-compiled CUDA kernels where those are faster.

Measured on a 2-core machine (``bench/scatter.py``, ``bench/dense.py``):

* scatter_* into rows (a variable of rank >= 2): the "owner computes" kernel
  (``kernels/owner.cu``: each thread owns a block of the variable and
  applies, in order, the updates that land in it) is ~10-25x faster than
  ``np.add.at`` and about 2x faster than ``torch.index_add_``; and it is
  deterministic, bit-identical to the sequential loop, so deterministic mode
  costs nothing here. It runs from ``_SCATTER_MIN_ELEMENTS`` updated
  elements; below that a call costs more in ctypes than NumPy spends. For a
  1-D variable NumPy's own ``ufunc.at`` fast path is faster (5 ms against 8
  for 1e6 updates) and runs.
* assign/assign_add/assign_sub on large buffers: two threads with 16-byte
  vector loops beat NumPy's single thread; below ``_DENSE_MIN_BYTES`` NumPy.

Without a C++ compiler (or with ``GPUVARS_HOST_KERNELS=0``) everything runs
on NumPy (``gpuvars.backends.reference``); results are the same.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from gpuvars import kernels
from gpuvars.backends import reference
from gpuvars.backends.base import Backend, DeviceArray

__all__ = ["CpuBackend"]

# Below these sizes NumPy wins (measured; see the module docstring).
_SCATTER_MIN_ELEMENTS = 1024
_SCATTER_MIN_ROW = 2
_DENSE_MIN_BYTES = 1 << 22

_NO_HOST_KERNELS = object()


class CpuBackend(Backend):
    """The host CPU, ``/device:CPU:0``: plain NumPy arrays."""

    kind = "cpu"
    device_type = "CPU"

    def __init__(self, index: int = 0):
        super().__init__(index)
        self._host: Any = None  # HostKernels, or _NO_HOST_KERNELS; looked up on first large update

    def _kernels(self) -> kernels.HostKernels | None:
        host = self._host
        if host is None:
            host = kernels.cpu_kernels() or _NO_HOST_KERNELS
            self._host = host
        return None if host is _NO_HOST_KERNELS else host

    def empty(self, shape, dtype):
        return np.empty(shape, dtype)

    def from_host(self, array):
        return np.array(array, copy=True, order="C")

    def to_host(self, array):
        return np.array(array, copy=True)

    def owns(self, array: Any) -> bool:
        return isinstance(array, np.ndarray) and not isinstance(array, DeviceArray)

    def assign(self, dst, src):
        if dst.nbytes >= _DENSE_MIN_BYTES and (host := self._kernels()) is not None:
            host.assign(dst, src)
        else:
            reference.assign(dst, src)

    def assign_add(self, dst, src):
        # bool stays on NumPy (logical or) at every size, so the size never changes the result.
        if dst.nbytes >= _DENSE_MIN_BYTES and dst.dtype.kind != "b" and (host := self._kernels()) is not None:
            host.assign_add(dst, src)
        else:
            reference.assign_add(dst, src)

    def assign_sub(self, dst, src):
        if dst.nbytes >= _DENSE_MIN_BYTES and dst.dtype.kind != "b" and (host := self._kernels()) is not None:
            host.assign_sub(dst, src)
        else:
            reference.assign_sub(dst, src)

    def _scatter_host(self, op: str, ref: np.ndarray, updates: Any, row: int) -> kernels.HostKernels | None:
        # The kernels only take what they support, so small and large calls raise the same errors. Integer
        # division always runs there: exact truncation (NumPy's reference divides in float64).
        if not kernels.KernelBackend.supports_scatter(op, ref.dtype):
            return None
        if not (op == "div" and ref.dtype.kind in "iu"):
            if row < _SCATTER_MIN_ROW or getattr(updates, "size", 0) < _SCATTER_MIN_ELEMENTS:
                return None
        return self._kernels()

    def scatter(self, op, ref, indices, updates, *, locked, deterministic):
        host = self._scatter_host(op, ref, updates, math.prod(ref.shape[1:]))
        if host is None:
            reference.scatter(op, ref, indices, updates)
        else:
            host.scatter(op, ref, indices, updates, locked=locked, deterministic=deterministic)

    def scatter_nd(self, op, ref, indices, updates, *, locked, deterministic):
        k = indices.shape[-1] if getattr(indices, "ndim", 0) else 0
        host = self._scatter_host(op, ref, updates, math.prod(ref.shape[k:]))
        if host is None:
            reference.scatter_nd(op, ref, indices, updates)
        else:
            host.scatter_nd(op, ref, indices, updates, locked=locked, deterministic=deterministic)

    def count_up_to(self, ref, limit):
        return reference.count_up_to(ref, limit)
