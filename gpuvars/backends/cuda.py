"""Real CUDA GPUs through CuPy: ``/gpu:N`` when CuPy sees a GPU (SPEC §1, §8).

Thin glue: buffers are CuPy arrays on device N, and every kernel hook is
``gpuvars.kernels.KernelBackend``'s (the same code the emulated GPUs run in
CI), launching the kernels of ``kernels/*.cu`` compiled by NVRTC into one
``RawModule`` per file and device. What is CUDA-specific lives here:

* every call runs under ``cupy.cuda.Device(n)``;
* a per-buffer CUDA event is recorded after each mutation, and the next
  mutation of that buffer, from any thread or stream, first waits for it
  (``record``/``wait``): with the variable's lock, that orders
  ``use_locking=True`` ops across streams;
* out-of-range indices: the validation kernel's flag gates the update kernel
  on the device, so no host sync is needed; the error is raised at the next
  host synchronization that involves the buffer (``to_host``, ``check``,
  ``synchronize``), and the buffer is unchanged either way.

Importing this module does not import CuPy; constructing a backend does.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from gpuvars import kernels
from gpuvars.kernels import NO_ERROR, KernelBackend

__all__ = ["CudaBackend", "device_count"]


def device_count() -> int:
    """Number of CUDA devices CuPy sees (0 when there is no driver or GPU)."""
    import cupy

    try:
        return int(cupy.cuda.runtime.getDeviceCount())
    except cupy.cuda.runtime.CUDARuntimeError:
        return 0


class CudaBackend(KernelBackend):
    """CUDA device ``index`` through CuPy.

    Raises:
      ImportError: CuPy is not installed.
      cupy.cuda.runtime.CUDARuntimeError: no such device.

    Example:
      >>> gpu = CudaBackend(0)                                    # doctest: +SKIP
      >>> x = gpu.from_host(np.zeros(4, np.float32))              # doctest: +SKIP
      >>> gpu.scatter("add", x, np.array([1, 1]), np.ones(2, np.float32), locked=False, deterministic=False)
    """

    kind = "cuda"
    device_type = "GPU"

    def __init__(self, index: int = 0):
        import cupy

        super().__init__(index)
        self.xp = cupy
        self._cp = cupy
        self._device = cupy.cuda.Device(index)
        with self._device:
            self.memory_bytes = int(cupy.cuda.runtime.memGetInfo()[1])
        self._functions: dict[str, Any] = {}
        self._events: dict[int, Any] = {}
        self._pending: dict[int, list[tuple[Any, Callable[[int], Exception]]]] = {}
        self._lock = threading.Lock()

    # -- buffers ---------------------------------------------------------------
    def empty(self, shape: tuple[int, ...], dtype: np.dtype) -> Any:
        with self._device:
            return self._cp.empty(shape, dtype)

    def from_host(self, array: Any) -> Any:
        with self._device:
            return self._cp.array(array, copy=True, order="C")

    def to_host(self, array: Any) -> np.ndarray:
        self.check(array)
        with self._device:
            self.wait(array)
            return self._cp.asnumpy(array)

    def copy(self, array: Any) -> Any:
        out = self.empty(array.shape, array.dtype)
        self.assign(out, array)
        return out

    def owns(self, array: Any) -> bool:
        return isinstance(array, self._cp.ndarray) and array.device.id == self.index

    def synchronize(self) -> None:
        """Wait for every kernel queued on this device; raise a deferred index error, if any."""
        with self._device:
            self._device.synchronize()
        self.check(None)

    # -- ordering and deferred errors ----------------------------------------------
    @staticmethod
    def _key(buf: Any) -> int:
        return int(buf.data.mem.ptr)  # the allocation, so views share their base's event

    def record(self, buf: Any) -> None:
        """Record an event on the current stream after the work queued so far on ``buf``."""
        with self._device:
            event = self._cp.cuda.Event(block=False, disable_timing=True)
            event.record()
        with self._lock:
            self._events[self._key(buf)] = event

    def wait(self, buf: Any) -> None:
        """Make the current stream wait for the last recorded mutation of ``buf`` (from any stream)."""
        event = self._events.get(self._key(buf))
        if event is not None:
            with self._device:
                self._cp.cuda.get_current_stream().wait_event(event)

    def check(self, buf: Any | None) -> None:
        """Raise the first deferred out-of-range error of ``buf`` (``None``: of every buffer); syncs if any is pending."""
        with self._lock:
            if buf is None:
                pending = [p for items in self._pending.values() for p in items]
                self._pending.clear()
            else:
                pending = self._pending.pop(self._key(buf), [])
        first: Exception | None = None
        for flag, make_error in pending:
            pos = int(self._cp.asnumpy(flag)[0])
            if pos != NO_ERROR and first is None:
                first = make_error(pos)
        if first is not None:
            raise first

    # -- KernelBackend hooks ---------------------------------------------------------
    def _pointer(self, a: Any) -> int:
        return int(a.data.ptr)

    def _launch(self, name: str, grid: int, block: int, args: Sequence[Any]) -> None:
        fn = self._functions.get(name)
        if fn is None:
            fn = kernels.cuda_module(kernels.kernel_file(name), self.index).get_function(name)
            self._functions[name] = fn
        with self._device:
            fn((grid,), (block,), tuple(args))

    def _finish(self, ref: Any, flag: Any, make_error: Callable[[int], Exception]) -> None:
        with self._lock:
            self._pending.setdefault(self._key(ref), []).append((flag, make_error))

    def _stable_argsort(self, keys: Any) -> Any:
        with self._device:
            return self._cp.argsort(keys)  # CuPy's sort is always stable

    def _before_mutation(self, ref: Any) -> None:
        self.wait(ref)

    def _after_mutation(self, ref: Any) -> None:
        self.record(ref)

    def _upload(self, host: np.ndarray) -> Any:
        with self._device:
            return self._cp.asarray(host)

    def _read_back(self, buf: Any) -> np.ndarray:
        with self._device:
            return self._cp.asnumpy(buf)
