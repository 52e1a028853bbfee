"""The backend interface: buffers on one device and the update kernels.

A backend owns the buffers of one device. Callers (``gpuvars.variables``,
``gpuvars.state_ops``) validate shapes and dtypes and move operands to the
backend's device through ``gpuvars.transfer`` *before* calling a kernel hook,
so every hook may assume: operands live on this device, shapes agree, and
``indices`` are 1-D (or ``(N, K)`` for ``scatter_nd``) int32/int64 arrays.
Hooks that find an out-of-range index raise ``InvalidArgumentError`` with
TensorFlow's message and leave ``ref`` unchanged.

Ordering (SPEC §8, §9): ``record(buf)`` marks the point after the work queued
so far on a buffer, ``wait(buf)`` makes later work wait for that point. On
CUDA the point is a CUDA event and the wait is ``cudaStreamWaitEvent``, so a
copy or update on another stream sees the last write. Host-memory devices run
every kernel to completion before returning, so their events are complete
when made; the API still keeps, per buffer, the last event recorded and the
last one waited for (``ordering(buf)``), so tests on emulated GPUs observe
that every mutation records and every copy waits. Backends whose class sets
``ordered`` record after every mutation; ``/cpu:0`` does not (its updates are
synchronous NumPy calls on the caller's thread, nothing is ever in flight,
and its per-call hot path stays free of bookkeeping): there ``record``/``wait``
work but nothing calls them.
"""

from __future__ import annotations

import itertools
import threading
import weakref
from collections.abc import Hashable, Sequence
from types import ModuleType
from typing import Any, ClassVar, NamedTuple

import numpy as np

from gpuvars import errors

__all__ = ["Backend", "BufferOrder", "DeviceArray", "Event", "SCATTER_OPS", "index_error", "nd_index_error"]

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


_event_seq = itertools.count(1)  # next() on a count is atomic under the GIL


class Event:
    """A point in a device's work queue: everything queued on a buffer before ``record`` returned it.

    Attributes:
      seq: a process-wide increasing number (later events have larger ones); tests compare them.
      native: the device's own event (a ``cupy.cuda.Event``), or None on host-memory devices,
        whose kernels have finished when ``record`` runs: a host event is complete when made.

    Example:
      >>> e = backend.record(buf)     # after queuing an update of buf
      >>> e.synchronize()             # the host waits until the update is done
    """

    __slots__ = ("seq", "native")

    def __init__(self, native: Any = None) -> None:
        self.seq = next(_event_seq)
        self.native = native

    def query(self) -> bool:
        """Whether the work before the event is done (never blocks)."""
        return self.native is None or bool(self.native.done)

    def synchronize(self) -> None:
        """Block the calling thread until the work before the event is done."""
        if self.native is not None:
            self.native.synchronize()

    def __repr__(self) -> str:
        return f"<Event {self.seq}{'' if self.native is None else ' cuda'}>"


class BufferOrder(NamedTuple):
    """What ``Backend.ordering(buf)`` reports for one buffer (its allocation, so views share it).

    ``recorded``/``waited``: ``seq`` of the last event recorded on the buffer and of the last one a
    ``wait`` on it covered (0: none); ``records``/``waits``: how many of each since the buffer's first.
    """

    recorded: int
    waited: int
    records: int
    waits: int


class _Order:
    __slots__ = ("event", "waited", "records", "waits", "ref")

    def __init__(self) -> None:
        self.event: Event | None = None
        self.waited = 0
        self.records = 0
        self.waits = 0
        self.ref: Any = None  # a weak reference to the allocation's owner: the entry dies with it


def _host_owner(buf: Any) -> Any:
    # The array that owns the memory: views (and DeviceArray views of it) share its events.
    while isinstance(buf.base, np.ndarray):
        buf = buf.base
    return buf


class Backend:
    """Hooks every device backend fills in.

    Attributes:
      kind: ``"cpu"``, ``"emulated_gpu"``, ``"cuda"`` or ``"ps"``.
      device_type: ``"CPU"`` or ``"GPU"``.
      index: the device index.
      name: canonical device name, ``/device:GPU:1``.
      xp: the array module (``numpy`` or ``cupy``).
      memory_bytes: device memory, or None where unknown.
      ordered: whether the kernel hooks record an event on every buffer they write (and wait for its
        previous one first); the transfer layer then waits before copying out of a buffer of this
        device and records after copying into one.
    """

    kind: ClassVar[str] = ""
    device_type: ClassVar[str] = "CPU"
    ordered: ClassVar[bool] = False
    xp: ModuleType = np
    memory_bytes: int | None = None

    def __init__(self, index: int = 0):
        self.index = index
        self.name = f"/device:{self.device_type}:{index}"
        self._orders: dict[Hashable, _Order] = {}
        # Reentrant: a garbage collection inside a locked section may free a buffer, whose callback locks.
        self._orders_lock = threading.RLock()

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

    def copy_from_device(self, array: Any, src: Backend) -> Any | None:
        """A copy of ``array`` (a buffer of backend ``src``, another device) made without the host, or None.

        None (the default) tells the transfer layer to stage the copy through
        host memory. An implementation waits for ``array``'s last recorded
        mutation on the stream that copies (``src.wait(array, stream)``).
        """
        return None

    # -- ordering (see the module docstring) ---------------------------------------
    def _order_key(self, buf: Any) -> Hashable:
        """The key of ``buf``'s allocation: views share their base's entry."""
        while isinstance(buf.base, np.ndarray):
            buf = buf.base
        return id(buf)

    def _order_owner(self, buf: Any) -> Any:
        """An object that lives exactly as long as ``buf``'s allocation (its entry dies with it), or None."""
        return _host_owner(buf)

    def _remember(self, buf: Any, event: Event) -> Event:
        key = self._order_key(buf)
        with self._orders_lock:
            entry = self._orders.get(key)
            if entry is None:
                entry = self._orders[key] = _Order()
                owner = self._order_owner(buf)
                if owner is not None:
                    entry.ref = self._forget_when_freed(key, owner, entry)
            entry.event = event
            entry.records += 1
        return event

    def _forget_when_freed(self, key: Hashable, owner: Any, entry: _Order) -> Any:
        orders, lock = self._orders, self._orders_lock

        def forget(_: Any) -> None:
            with lock:
                if orders.get(key) is entry:
                    del orders[key]

        try:
            return weakref.ref(owner, forget)
        except TypeError:  # not weakly referenceable: the key (an address) is simply reused later
            return None

    def _last_for_wait(self, buf: Any) -> Event | None:
        """The event a wait on ``buf`` must cover (None: nothing recorded), noted as waited for."""
        key = self._order_key(buf)
        with self._orders_lock:
            entry = self._orders.get(key)
            if entry is None:
                return None
            entry.waits += 1
            event = entry.event
            if event is not None:
                entry.waited = event.seq
            return event

    def record(self, buf: Any) -> Event:
        """Record an event after the work queued so far on ``buf`` and remember it as ``buf``'s last.

        On host-memory devices that work has finished: the event is complete.
        """
        return self._remember(buf, Event())

    def wait(self, buf: Any, stream: Any = None) -> Event | None:
        """Order later work after ``buf``'s last recorded event; return that event (None: none recorded).

        ``stream``: the CUDA stream that must wait (default: this device's
        current stream); ignored on the host, where the event is complete.
        """
        return self._last_for_wait(buf)

    def ordering(self, buf: Any) -> BufferOrder:
        """The events recorded on and waited for on ``buf``'s allocation (for tests and debugging)."""
        key = self._order_key(buf)
        with self._orders_lock:
            entry = self._orders.get(key)
            if entry is None:
                return BufferOrder(0, 0, 0, 0)
            return BufferOrder(entry.event.seq if entry.event is not None else 0, entry.waited, entry.records,
                               entry.waits)

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
