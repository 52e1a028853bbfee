"""Real CUDA GPUs through CuPy: ``/gpu:N`` when CuPy sees a GPU (SPEC §1, §8).

Thin glue: buffers are CuPy arrays on device N, and every kernel hook is
``gpuvars.kernels.KernelBackend``'s (the same code the emulated GPUs run in
CI), launching the kernels of ``kernels/*.cu`` compiled by NVRTC into one
``RawModule`` per file and device. What is CUDA-specific lives here:

* every call runs under ``cupy.cuda.Device(n)``;
* a per-buffer CUDA event is recorded after each mutation, and the next
  mutation of that buffer, from any thread or stream, first waits for it
  (``record``/``wait``, the ``Backend`` ordering API): with the variable's
  lock, that orders ``use_locking=True`` ops across streams, and the
  transfer layer waits for it before copying the buffer out, so a read on
  another stream sees the last write;
* device-to-device copies go directly between GPUs that allow peer access
  (``copy_from_device``; access enabled once per pair), else through host
  memory (the transfer layer stages them);
* host copies of ``PINNED_MIN_BYTES`` or more go in chunks through two
  pinned host buffers, so the host-side memcpy of one chunk overlaps the DMA
  of the other (``chunk_bounds``, ``staged_upload``, ``staged_download``: pure
  functions, tested on the host); smaller ones are one CuPy copy;
* out-of-range indices: the validation kernel's flag gates the update kernel
  on the device, so no host sync is needed; the error is raised at the next
  host synchronization that involves the buffer (``to_host``, ``check``,
  ``synchronize``), and the buffer is unchanged either way.

Importing this module does not import CuPy; constructing a backend does.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Hashable, Sequence
from typing import Any, Protocol

import numpy as np

from gpuvars import kernels
from gpuvars.backends.base import Backend, Event
from gpuvars.kernels import NO_ERROR, KernelBackend

__all__ = [
    "CudaBackend",
    "device_count",
    "chunk_bounds",
    "staged_upload",
    "staged_download",
    "PINNED_MIN_BYTES",
    "PINNED_CHUNK_BYTES",
]

logger = logging.getLogger(__name__)

#: Host<->device copies of at least this many bytes go through pinned staging buffers. NOT MEASURED:
#: no GPU was available when this was written. What to measure (``bench/transfer.py`` on the target
#: GPU): H2D and D2H GB/s for 1 MiB .. 1 GiB, from pageable NumPy arrays, with this threshold at 0
#: and at infinity; set it where the staged copy starts to win (pageable cudaMemcpy already stages
#: internally; the gain is overlapping our memcpy into pinned memory with the DMA), or to a huge
#: value if it never does.
PINNED_MIN_BYTES = 32 << 20
#: Size of each of the two pinned staging buffers (the largest chunk): 8 MiB keeps the pipeline
#: four chunks deep at the threshold, and is large enough to amortize a copy's ~10 us launch.
PINNED_CHUNK_BYTES = 8 << 20
#: Chunk boundaries fall on multiples of this (a page), which the DMA engines prefer.
CHUNK_ALIGN = 4096

_CUDA_ERROR_PEER_ACCESS_ALREADY_ENABLED = 704  # cudaErrorPeerAccessAlreadyEnabled (not exported by CuPy)

# Peer access is a property of the process's CUDA contexts, not of a backend object:
# (device, peer) -> whether copies from peer to device go directly. Decided once per pair.
_peer_access: dict[tuple[int, int], bool] = {}
_peer_lock = threading.Lock()


def chunk_bounds(nbytes: int, chunk_bytes: int = PINNED_CHUNK_BYTES, align: int = CHUNK_ALIGN) -> list[tuple[int, int]]:
    """Byte ranges ``[start, stop)`` that cover ``nbytes`` in order, each at most ``chunk_bytes``.

    The chunks are as even as the alignment allows (no tiny last chunk that
    would leave the pipeline idle), and every start is a multiple of ``align``.

    Raises:
      ValueError: a negative size, or a chunk size that is not a positive multiple of ``align``.

    Example:
      >>> chunk_bounds(20 << 20, 8 << 20)     # three chunks of ~6.7 MiB, not 8 + 8 + 4
      [(0, 6991872), (6991872, 13983744), (13983744, 20971520)]
    """
    if nbytes < 0:
        raise ValueError(f"Argument `nbytes` must be >= 0. Received: {nbytes}")
    if align <= 0 or chunk_bytes <= 0 or chunk_bytes % align:
        raise ValueError(
            f"Argument `chunk_bytes` must be a positive multiple of `align` ({align}). Received: {chunk_bytes}"
        )
    if nbytes == 0:
        return []
    n = -(-nbytes // chunk_bytes)
    # Deal the aligned units out evenly: chunks differ by at most one unit (the last may be clipped), and
    # ceil(units / n) units never exceed chunk_bytes because chunk_bytes is a whole number of units.
    units = -(-nbytes // align)
    base, extra = divmod(units, n)
    bounds = []
    start = 0
    for i in range(n):
        stop = min(start + (base + (i < extra)) * align, nbytes)
        bounds.append((start, stop))
        start = stop
    return bounds


class _Completion(Protocol):
    def synchronize(self) -> None: ...


def staged_upload(src: np.ndarray, bounds: Sequence[tuple[int, int]], staging: Sequence[np.ndarray],
                  issue: Callable[[np.ndarray, int, int], _Completion]) -> None:
    """Copy the bytes ``src`` (1-D uint8) to a device through the staging buffers, chunk by chunk.

    ``issue(chunk, start, stop)`` queues an asynchronous copy of ``chunk``
    (a prefix of one staging buffer) to device bytes ``[start, stop)`` and
    returns something whose ``synchronize()`` waits for that copy. With two
    buffers, filling one overlaps the copy out of the other; a buffer is
    refilled only after its previous copy finished. Returns when every copy
    finished, so the staging buffers may be reused and ``src`` changed.
    """
    pending: list[_Completion | None] = [None] * len(staging)
    for i, (start, stop) in enumerate(bounds):
        slot = i % len(staging)
        done = pending[slot]
        if done is not None:
            done.synchronize()
        chunk = staging[slot][: stop - start]
        chunk[...] = src[start:stop]
        pending[slot] = issue(chunk, start, stop)
    for done in pending:
        if done is not None:
            done.synchronize()


def staged_download(dst: np.ndarray, bounds: Sequence[tuple[int, int]], staging: Sequence[np.ndarray],
                    issue: Callable[[np.ndarray, int, int], _Completion]) -> None:
    """Copy device bytes into ``dst`` (1-D uint8) through the staging buffers, chunk by chunk.

    ``issue(chunk, start, stop)`` queues an asynchronous copy of device bytes
    ``[start, stop)`` into ``chunk`` and returns something whose
    ``synchronize()`` waits for it. Chunk i+1 is in flight while chunk i is
    copied from its staging buffer into ``dst``; a buffer is read only after
    its copy finished and refilled only after it was read.
    """
    nslots = len(staging)
    if nslots < 2 and len(bounds) > 1:
        raise ValueError("staged_download needs two staging buffers to pipeline more than one chunk.")
    previous: tuple[_Completion, np.ndarray, int, int] | None = None
    for i, (start, stop) in enumerate(bounds):
        chunk = staging[i % nslots][: stop - start]
        done = issue(chunk, start, stop)
        if previous is not None:
            _drain(dst, *previous)
        previous = (done, chunk, start, stop)
    if previous is not None:
        _drain(dst, *previous)


def _drain(dst: np.ndarray, done: _Completion, chunk: np.ndarray, start: int, stop: int) -> None:
    done.synchronize()
    dst[start:stop] = chunk


def _as_bytes(a: np.ndarray) -> np.ndarray:
    return a.reshape(-1).view(np.uint8)  # a is C-contiguous: a view, never a copy


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
    ordered = True

    def __init__(self, index: int = 0):
        import cupy

        super().__init__(index)
        self.xp = cupy
        self._cp = cupy
        self._device = cupy.cuda.Device(index)
        with self._device:
            self.memory_bytes = int(cupy.cuda.runtime.memGetInfo()[1])
        self._functions: dict[str, Any] = {}
        self._pending: dict[int, list[tuple[Any, Callable[[int], Exception]]]] = {}
        self._lock = threading.Lock()

    # -- buffers ---------------------------------------------------------------
    def empty(self, shape: tuple[int, ...], dtype: np.dtype) -> Any:
        with self._device:
            return self._cp.empty(shape, dtype)

    def from_host(self, array: Any) -> Any:
        """A new device buffer holding a copy of a host array (chunked through pinned memory when large)."""
        host = np.asarray(array)
        with self._device:
            if host.nbytes < PINNED_MIN_BYTES:
                return self._cp.array(host, copy=True, order="C")
            host = np.ascontiguousarray(host)
            out = self._cp.empty(host.shape, host.dtype)
            stream = self._cp.cuda.get_current_stream()

            def issue(chunk: np.ndarray, start: int, stop: int) -> Any:
                (out.data + start).copy_from_host_async(chunk.ctypes.data, stop - start, stream)
                return stream.record()

            staged_upload(_as_bytes(host), chunk_bounds(host.nbytes, PINNED_CHUNK_BYTES), self._staging(), issue)
            return out

    def to_host(self, array: Any) -> np.ndarray:
        """A host copy, after the buffer's last recorded mutation (chunked through pinned memory when large).

        Raises:
          InvalidArgumentError: a deferred out-of-range error of an earlier scatter into ``array``.
        """
        self.check(array)
        with self._device:
            self.wait(array)
            if array.nbytes < PINNED_MIN_BYTES:
                return self._cp.asnumpy(array)
            src = self._cp.ascontiguousarray(array)
            out = np.empty(src.shape, src.dtype)
            stream = self._cp.cuda.get_current_stream()

            def issue(chunk: np.ndarray, start: int, stop: int) -> Any:
                (src.data + start).copy_to_host_async(chunk.ctypes.data, stop - start, stream)
                return stream.record()

            staged_download(_as_bytes(out), chunk_bounds(src.nbytes, PINNED_CHUNK_BYTES), self._staging(), issue)
            return out

    def _staging(self) -> list[np.ndarray]:
        import cupyx

        # From CuPy's pinned memory pool: after the first large copy these cost a dict lookup. They go
        # back to the pool only after the staged copy synchronized, so no copy still reads them.
        return [cupyx.empty_pinned((PINNED_CHUNK_BYTES,), np.uint8) for _ in range(2)]

    def copy_from_device(self, array: Any, src: Backend) -> Any | None:
        """A direct copy of a buffer of another CUDA GPU when the two allow peer access, else None.

        None sends the copy through host memory (the transfer layer stages
        it), as for sources that are not CuPy arrays and for non-contiguous
        views (rare: variables' buffers are contiguous). The copy runs on this
        device's current stream after the source's last recorded mutation; the
        source's next mutation, and the source device's current stream, wait
        for the copy, so neither overwrites what it still reads.
        """
        cp = self._cp
        if (not isinstance(src, CudaBackend) or src.index == self.index or not isinstance(array, cp.ndarray)
                or not array.flags.c_contiguous or not self._peer_ok(src.index)):
            return None
        with self._device:
            stream = cp.cuda.get_current_stream()
            src.wait(array, stream)
            out = cp.empty(array.shape, array.dtype)
            out.data.copy_from_device_async(array.data, array.nbytes, stream)
            done = stream.record()
        with src._device:
            cp.cuda.get_current_stream().wait_event(done)
        src._remember(array, Event(done))
        return out

    def _peer_ok(self, peer: int) -> bool:
        """Whether this device reads ``peer``'s memory directly; enables the access on first use."""
        pair = (self.index, peer)
        ok = _peer_access.get(pair)
        if ok is not None:
            return ok
        runtime = self._cp.cuda.runtime
        with _peer_lock:
            ok = _peer_access.get(pair)
            if ok is None:
                ok = bool(runtime.deviceCanAccessPeer(self.index, peer))
                if ok:
                    with self._device:  # enables access FROM the current device TO peer
                        try:
                            runtime.deviceEnablePeerAccess(peer)
                        except runtime.CUDARuntimeError as e:
                            if e.status != _CUDA_ERROR_PEER_ACCESS_ALREADY_ENABLED:  # e.g. too many peers
                                logger.warning("Peer access %d -> %d unavailable (%s); copies go through the host.",
                                               self.index, peer, e)
                                ok = False
                _peer_access[pair] = ok
        return ok

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

    def _order_key(self, buf: Any) -> Hashable:
        return self._key(buf)

    def _order_owner(self, buf: Any) -> Any:
        # CuPy's memory objects take no weak references: an entry stays until its address is reused
        # (the memory pool reuses addresses, so the table stays about as large as the pool).
        return None

    def record(self, buf: Any) -> Event:
        """Record a CUDA event on the current stream after the work queued so far on ``buf``."""
        with self._device:
            native = self._cp.cuda.Event(block=False, disable_timing=True)
            native.record()
        return self._remember(buf, Event(native))

    def wait(self, buf: Any, stream: Any = None) -> Event | None:
        """Make ``stream`` (default: this device's current one) wait for ``buf``'s last recorded event.

        The event may come from any stream or thread, and ``stream`` may
        belong to another device (a peer copy waits on the destination's).
        """
        event = self._last_for_wait(buf)
        if event is not None:
            if stream is None:
                with self._device:
                    self._cp.cuda.get_current_stream().wait_event(event.native)
            else:
                stream.wait_event(event.native)
        return event

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
