"""``/cpu:0``: NumPy buffers, NumPy reference kernels."""

from __future__ import annotations

from typing import Any

import numpy as np

from gpuvars.backends import reference
from gpuvars.backends.base import Backend, DeviceArray

__all__ = ["CpuBackend"]


class CpuBackend(Backend):
    kind = "cpu"
    device_type = "CPU"

    def empty(self, shape, dtype):
        return np.empty(shape, dtype)

    def from_host(self, array):
        return np.array(array, copy=True, order="C")

    def to_host(self, array):
        return np.array(array, copy=True)

    def owns(self, array: Any) -> bool:
        return isinstance(array, np.ndarray) and not isinstance(array, DeviceArray)

    assign = staticmethod(reference.assign)
    assign_add = staticmethod(reference.assign_add)
    assign_sub = staticmethod(reference.assign_sub)

    def scatter(self, op, ref, indices, updates, *, locked, deterministic):
        reference.scatter(op, ref, indices, updates)

    def scatter_nd(self, op, ref, indices, updates, *, locked, deterministic):
        reference.scatter_nd(op, ref, indices, updates)

    def count_up_to(self, ref, limit):
        return reference.count_up_to(ref, limit)
