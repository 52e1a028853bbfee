"""Emulated GPUs: host-memory devices that run the real CUDA kernels (SPEC §1).

``GPUVARS_EMULATED_GPUS=N`` (or ``gpuvars.config.set_emulated_gpus(N)``)
makes ``/gpu:0 .. /gpu:N-1`` instances of ``EmulatedGpuBackend``. Their
buffers are ``DeviceArray``s (host memory tagged with the device name, so
the transfer layer treats each as a separate device), and every kernel hook
runs the kernels of ``kernels/*.cu`` compiled for the CPU with the host shim:
the same kernel choices, bounds flags and atomics as on a real GPU (see
``gpuvars.kernels.KernelBackend``), so CI without a GPU tests the GPU paths.

Ordering is a GPU's too (``ordered``): every mutation waits for the
buffer's last event and records a new one, exactly where ``CudaBackend``
waits and records CUDA events, and the transfer layer waits before copying
out of a buffer and records after copying into one. Kernels run to completion
before returning, so the events are complete when made; what the bookkeeping
buys is that tests see every record and wait (``Backend.ordering``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gpuvars.backends.base import DeviceArray
from gpuvars.kernels import HostKernels, HostLibrary

__all__ = ["EmulatedGpuBackend"]


class EmulatedGpuBackend(HostKernels):
    """One emulated GPU, ``/device:GPU:<index>``.

    Construction builds (or loads from the cache) the host kernel library.

    Raises:
      CompilerNotFoundError (a RuntimeError): no C++ compiler; the message says how to install one.
      KernelBuildError (a RuntimeError): the kernels did not compile.

    Example:
      >>> gpu = EmulatedGpuBackend(0)                      # doctest: +SKIP
      >>> x = gpu.from_host(np.zeros(4, np.float32))       # doctest: +SKIP
      >>> gpu.scatter("add", x, np.array([1, 1]), np.ones(2, np.float32), locked=False, deterministic=False)
    """

    kind = "emulated_gpu"
    device_type = "GPU"
    ordered = True
    memory_bytes = None

    def __init__(self, index: int = 0, library: HostLibrary | None = None):
        super().__init__(index, library, owner_computes=False)

    def empty(self, shape: tuple[int, ...], dtype: np.dtype) -> DeviceArray:
        a = np.empty(shape, dtype).view(DeviceArray)
        a._gv_device = self.name
        return a

    def from_host(self, array: np.ndarray) -> DeviceArray:
        src = np.asarray(array)
        a = self.empty(src.shape, src.dtype)
        np.copyto(a, src)
        return a

    def to_host(self, array: Any) -> np.ndarray:
        return np.array(array, copy=True, subok=False)

    def copy(self, array: Any) -> DeviceArray:
        out = self.empty(array.shape, array.dtype)
        self.assign(out, array)
        return out

    def owns(self, array: Any) -> bool:
        return isinstance(array, DeviceArray) and array._gv_device == self.name

    def _before_mutation(self, ref: Any) -> None:
        self.wait(ref)

    def _after_mutation(self, ref: Any) -> None:
        self.record(ref)
