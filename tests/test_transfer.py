"""The transfer layer: counters, device_put, guards, caching_device, ordering, chunked and peer copies (SPEC §9).

Everything runs on two emulated GPUs; the ``gpu``/``multi_gpu`` tests at the
end repeat the CUDA-specific parts on real GPUs through CuPy (skipped here).
"""

from __future__ import annotations

import logging
import threading
import weakref

import numpy as np
import pytest

import gpuvars as tf
from gpuvars import config, devices, errors, transfer
from gpuvars.backends import cuda as cuda_mod
from gpuvars.backends.base import Backend, BufferOrder, Event

CPU, G0, G1 = "/device:CPU:0", "/device:GPU:0", "/device:GPU:1"


@pytest.fixture(autouse=True)
def _devices(request):
    """Two emulated GPUs; for ``gpu``/``multi_gpu`` tests, the real ones (emulated GPUs off)."""
    if request.node.get_closest_marker("gpu") or request.node.get_closest_marker("multi_gpu"):
        devices._reset_registry()
        config._emulated_gpus = 0  # the conftest restores the setting after the test
        devices._reset_registry()
    else:
        request.getfixturevalue("emulated_gpus")
    tf.reset_transfer_stats()
    yield


def var_on(device, value, **kwargs):
    with tf.device(device):
        v = tf.Variable(value, **kwargs)
    v.initializer.run()
    tf.reset_transfer_stats()
    return v


def test_device_put_counts_every_direction():
    x = np.arange(10, dtype=np.float32)
    on0 = tf.device_put(x, "/gpu:0")
    assert transfer.device_of(on0) == G0
    on1 = tf.device_put(on0, "/gpu:1")
    back = tf.device_put(on1, "/cpu:0")
    assert transfer.device_of(on1) == G1 and transfer.device_of(back) == CPU
    np.testing.assert_array_equal(back, x)
    assert tf.transfer_stats() == {
        (CPU, G0): {"copies": 1, "bytes": 40},
        (G0, G1): {"copies": 1, "bytes": 40},
        (G1, CPU): {"copies": 1, "bytes": 40},
    }
    tf.reset_transfer_stats()
    assert tf.transfer_stats() == {}


def test_device_put_same_device_returns_input():
    x = np.ones(3)
    assert tf.device_put(x, "/cpu:0") is x
    y = tf.device_put(x, "/gpu:1")
    assert tf.device_put(y, "/device:GPU:1") is y
    assert tf.transfer_stats() == {(CPU, G1): {"copies": 1, "bytes": 24}}


def test_device_put_of_variable_copies_its_value():
    v = var_on("/gpu:0", np.arange(4.0))
    out = tf.device_put(v, "/gpu:1")
    v.assign_add(np.ones(4))
    np.testing.assert_array_equal(tf.device_put(out, "/cpu:0"), np.arange(4.0))
    assert tf.transfer_stats()[(G0, G1)]["copies"] == 1


def test_implicit_operand_transfer_is_counted():
    v = var_on("/gpu:0", np.zeros(8, np.float32))
    v.assign_add(np.ones(8, np.float32))
    assert tf.transfer_stats() == {(CPU, G0): {"copies": 1, "bytes": 32}}
    w = var_on("/gpu:1", np.ones(8, np.float32))
    v.assign_add(w)
    assert tf.transfer_stats() == {(G1, G0): {"copies": 1, "bytes": 32}}
    np.testing.assert_array_equal(v.numpy(), np.full(8, 2.0))


GUARDS = [
    (tf.transfer_guard, ("host_to_device", "device_to_device", "device_to_host")),
    (tf.transfer_guard_host_to_device, ("host_to_device",)),
    (tf.transfer_guard_device_to_device, ("device_to_device",)),
    (tf.transfer_guard_device_to_host, ("device_to_host",)),
]


def _implicit(direction):
    """Run one implicit transfer of the given direction; return the variable updated."""
    if direction == "host_to_device":
        v = var_on("/gpu:0", np.zeros(4, np.float32))
        v.assign_add(np.ones(4, np.float32))
    elif direction == "device_to_device":
        v = var_on("/gpu:0", np.zeros(4, np.float32))
        w = var_on("/gpu:1", np.ones(4, np.float32))
        v.assign_add(w)
    else:
        v = var_on("/cpu:0", np.zeros(4, np.float32))
        w = var_on("/gpu:1", np.ones(4, np.float32))
        v.assign_add(w)
    return v


@pytest.mark.parametrize("guard,directions", GUARDS)
@pytest.mark.parametrize("direction", ["host_to_device", "device_to_device", "device_to_host"])
def test_disallow_per_direction(guard, directions, direction):
    if direction in directions:
        with guard("disallow"):
            with pytest.raises(errors.InvalidArgumentError) as info:
                _implicit(direction)
        msg = str(info.value)
        assert "16 bytes" in msg and "device_put" in msg
    else:
        with guard("disallow"):
            v = _implicit(direction)
        np.testing.assert_array_equal(v.numpy(), np.ones(4))


def test_disallowed_update_leaves_variable_unchanged():
    v = var_on("/gpu:0", np.zeros(4, np.float32))
    with tf.transfer_guard("disallow"):
        with pytest.raises(errors.InvalidArgumentError, match=f"{CPU} to {G0}"):
            v.assign_add(np.ones(4, np.float32))
        # explicit transfers are always allowed
        d = tf.device_put(np.ones(4, np.float32), "/gpu:0")
        v.assign_add(d)
        assert v.numpy().tolist() == [1.0] * 4
    np.testing.assert_array_equal(v.numpy(), np.ones(4))


def test_log_level_logs_and_allows(caplog):
    v = var_on("/gpu:0", np.zeros(4, np.float32))
    with caplog.at_level(logging.WARNING, logger="gpuvars.transfer"):
        with tf.transfer_guard("log"):
            v.assign_add(np.ones(4, np.float32))
    assert any("host-to-device" in r.getMessage() and "16 bytes" in r.getMessage() for r in caplog.records)
    np.testing.assert_array_equal(v.numpy(), np.ones(4))


def test_guard_levels_validated_and_thread_local():
    with pytest.raises(ValueError, match="allow"):
        with tf.transfer_guard("sometimes"):
            pass
    v = var_on("/gpu:0", np.zeros(4, np.float32))
    failures = []

    def other_thread():
        try:
            v.assign_add(np.ones(4, np.float32))
        except errors.InvalidArgumentError as e:
            failures.append(e)

    with tf.transfer_guard("disallow"):
        t = threading.Thread(target=other_thread)
        t.start()
        t.join()
    assert failures == []


def test_caching_device_reads_cost_one_transfer_between_updates():
    v = var_on("/gpu:0", np.arange(1000, dtype=np.float32), caching_device="/gpu:1")
    assert v.caching_device == G1 and v.device == G0
    for _ in range(5):
        value = v.value()
        assert transfer.device_of(value) == G1
        _ = v + 1.0
    assert tf.transfer_stats() == {(G0, G1): {"copies": 1, "bytes": 4000}}
    v.assign_add(np.ones(1000, np.float32))
    tf.reset_transfer_stats()
    for _ in range(5):
        np.testing.assert_array_equal(np.asarray(v.value()), np.arange(1000) + 1.0)
    assert tf.transfer_stats()[(G0, G1)]["copies"] == 1


MUTATIONS = {
    "assign": lambda v: v.assign(np.full(6, 3.0, np.float32)),
    "assign_add": lambda v: v.assign_add(tf.device_put(np.ones(6, np.float32), "/gpu:0")),
    "assign_sub": lambda v: v.assign_sub(tf.device_put(np.ones(6, np.float32), "/gpu:0")),
    "scatter_add": lambda v: tf.scatter_add(v, [1, 1], [1.0, 2.0]),
    "scatter_update": lambda v: v.scatter_update(tf.IndexedSlices(np.array([9.0], np.float32), [0])),
    "group_assign_add": lambda v: tf.group_assign_add([v], [np.ones(6, np.float32)]),
    "initializer": lambda v: v.initializer.run(),
    "load": lambda v: v.load(np.zeros(6, np.float32)),
}


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_every_mutation_invalidates_the_cache(name):
    v = var_on("/gpu:0", np.arange(6, dtype=np.float32), caching_device="/gpu:1")
    before = np.asarray(v.value()).copy()
    MUTATIONS[name](v)
    after = np.asarray(v.value())
    np.testing.assert_array_equal(after, v.numpy())
    if name != "initializer":
        assert not np.array_equal(before, after)
    copies = tf.transfer_stats()[(G0, G1)]["copies"]
    v.value()
    assert tf.transfer_stats()[(G0, G1)]["copies"] == copies  # a cache hit now


def test_caching_device_function_and_mutation_device():
    v = var_on("/gpu:0", np.zeros(3, np.float32), caching_device=lambda op: "/gpu:1")
    assert v.caching_device == G1
    v.assign_add(tf.device_put(np.ones(3, np.float32), "/gpu:0"))
    assert transfer.device_of(v._buf) == G0  # mutations run on the variable's own device


def test_cache_is_freed_with_the_variable():
    g = tf.Graph()  # the graph's collections hold its variables, as in TF
    with g.as_default():
        v = var_on("/gpu:0", np.zeros(3, np.float32), caching_device="/gpu:1")
    ref = weakref.ref(v.value())
    del v, g
    import gc

    gc.collect()
    assert ref() is None


def test_counters_are_thread_safe():
    x = np.ones(16, np.float32)
    n_threads, per_thread = 8, 200

    def worker():
        for _ in range(per_thread):
            tf.device_put(x, "/gpu:1")

    ts = [threading.Thread(target=worker) for _ in range(n_threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert tf.transfer_stats() == {(CPU, G1): {"copies": n_threads * per_thread, "bytes": n_threads * per_thread * 64}}


def test_cached_reads_under_concurrent_locked_writers_are_never_torn():
    v = var_on("/gpu:0", np.zeros(4096, np.float32), caching_device="/gpu:1")
    stop = threading.Event()
    torn = []

    def writer(k):
        i = 0
        while not stop.is_set():
            i += 1
            v.assign(np.full(4096, float(k * 100000 + i), np.float32), use_locking=True)

    def reader():
        for _ in range(300):
            snap = np.asarray(v.value())
            if not (snap == snap[0]).all():
                torn.append(snap)

    writers = [threading.Thread(target=writer, args=(k,)) for k in range(2)]
    readers = [threading.Thread(target=reader) for _ in range(3)]
    for t in writers + readers:
        t.start()
    for t in readers:
        t.join()
    stop.set()
    for t in writers:
        t.join()
    assert torn == []


def test_operators_across_devices_move_the_operand():
    a = var_on("/gpu:0", np.ones(4, np.float32))
    b = var_on("/gpu:1", np.full(4, 2.0, np.float32))
    out = a + b
    assert transfer.device_of(out) == G0
    np.testing.assert_array_equal(np.asarray(out), np.full(4, 3.0))
    assert tf.transfer_stats() == {(G1, G0): {"copies": 1, "bytes": 16}}


# -- ordering: record/wait on every backend ------------------------------------------------------------------
def backend(name):
    return devices.backend_for_name(name)


ORDERED_MUTATIONS = {
    "assign": lambda v: v.assign(np.full(6, 3.0, np.float32)),
    "assign_add": lambda v: v.assign_add(tf.device_put(np.ones(6, np.float32), "/gpu:0")),
    "assign_sub": lambda v: v.assign_sub(np.ones(6, np.float32)),
    "scatter_update_locked": lambda v: tf.scatter_update(v, [0, 0], [1.0, 2.0], use_locking=True),
    "scatter_update": lambda v: tf.scatter_update(v, [0, 2], [1.0, 2.0], use_locking=False),
    "scatter_add": lambda v: tf.scatter_add(v, [1, 1], [1.0, 2.0]),
    "scatter_sub": lambda v: tf.scatter_sub(v, [1], [1.0]),
    "scatter_mul": lambda v: tf.scatter_mul(v, [1], [2.0]),
    "scatter_div": lambda v: tf.scatter_div(v, [1], [2.0]),
    "scatter_min": lambda v: tf.scatter_min(v, [5], [-1.0]),
    "scatter_max": lambda v: tf.scatter_max(v, [0], [9.0]),
    "scatter_nd_update": lambda v: tf.scatter_nd_update(v, [[1]], [7.0]),
    "scatter_nd_add": lambda v: tf.scatter_nd_add(v, [[1], [1]], [1.0, 1.0]),
    "scatter_nd_sub": lambda v: tf.scatter_nd_sub(v, [[2]], [1.0]),
    "group_assign": lambda v: tf.group_assign([v], [np.zeros(6, np.float32)]),
    "group_assign_add": lambda v: tf.group_assign_add([v], [np.ones(6, np.float32)]),
    "group_assign_sub": lambda v: tf.group_assign_sub([v], [np.ones(6, np.float32)]),
    "load": lambda v: v.load(np.zeros(6, np.float32)),
    "initializer": lambda v: v.initializer.run(),
}


@pytest.mark.parametrize("deterministic", [False, True])
@pytest.mark.parametrize("name", sorted(ORDERED_MUTATIONS))
def test_every_mutation_waits_then_records_on_emulated_gpus(name, deterministic):
    config.set_deterministic(deterministic)
    v = var_on("/gpu:0", np.arange(6, dtype=np.float32))
    b = backend(G0)
    assert b.ordered
    old_buf = v._buf
    before = b.ordering(old_buf)
    assert before.records >= 1  # the initializer's assign recorded
    ORDERED_MUTATIONS[name](v)
    after = b.ordering(v._buf)
    assert after.recorded > before.recorded
    if v._buf is old_buf:  # an in-place update waited for the previous write first, then recorded once
        assert after.waited == before.recorded
        assert after.records == before.records + 1


def test_count_up_to_records():
    v = var_on("/gpu:0", np.int64(0))
    b = backend(G0)
    before = b.ordering(v._buf)
    assert v.count_up_to(3) == 0
    after = b.ordering(v._buf)
    assert (after.records, after.waited) == (before.records + 1, before.recorded)


def _copy_device_put_gpu(v):
    return tf.device_put(v, "/gpu:1")


def _copy_device_put_cpu(v):
    return tf.device_put(v, "/cpu:0")


def _copy_numpy(v):
    return v.numpy()


def _copy_implicit_operand(v):
    w = var_on("/gpu:1", np.zeros(6, np.float32))
    w.assign_add(v)
    return w.value()


def _copy_operator(v):
    w = var_on("/gpu:1", np.zeros(6, np.float32))
    return w + v


def _copy_cpu_variable_operand(v):
    w = var_on("/cpu:0", np.zeros(6, np.float32))
    w.assign_add(v)
    return w.value()


COPIES = [_copy_device_put_gpu, _copy_device_put_cpu, _copy_numpy, _copy_implicit_operand, _copy_operator,
          _copy_cpu_variable_operand]


@pytest.mark.parametrize("copy", COPIES, ids=lambda f: f.__name__[len("_copy_"):])
def test_every_copy_out_of_a_buffer_waits_for_its_last_record(copy):
    v = var_on("/gpu:0", np.zeros(6, np.float32))
    v.assign_add(np.ones(6, np.float32))
    b0 = backend(G0)
    before = b0.ordering(v._buf)
    out = copy(v)
    after = b0.ordering(v._buf)
    assert after.waited == before.recorded and after.waits == before.waits + 1
    assert after.records == before.records  # a read is not a mutation
    np.testing.assert_array_equal(np.asarray(transfer.to_host(out)), np.ones(6))


def test_copies_into_a_gpu_record_on_the_new_buffer():
    x = np.arange(6, dtype=np.float32)
    on0 = tf.device_put(x, "/gpu:0")
    assert backend(G0).ordering(on0).records == 1
    on1 = tf.device_put(on0, "/gpu:1")
    order1 = backend(G1).ordering(on1)
    assert order1.records == 1 and order1.recorded > backend(G0).ordering(on0).recorded
    host = tf.device_put(on1, "/cpu:0")
    # /cpu:0 is synchronous: its buffers are never recorded or waited for.
    assert backend(CPU).ordering(host) == BufferOrder(0, 0, 0, 0)


def test_caching_device_refresh_waits_for_the_last_write():
    v = var_on("/gpu:0", np.zeros(8, np.float32), caching_device="/gpu:1")
    b0, b1 = backend(G0), backend(G1)
    v.assign_add(tf.device_put(np.ones(8, np.float32), "/gpu:0"))
    written = b0.ordering(v._buf)
    cached = v.value()
    refreshed = b0.ordering(v._buf)
    assert refreshed.waited == written.recorded and refreshed.waits == written.waits + 1
    assert b1.ordering(cached).records == 1  # the cache copy itself is recorded on the caching device
    for _ in range(3):
        assert v.value() is cached
    assert b0.ordering(v._buf).waits == refreshed.waits  # cache hits copy nothing, so wait for nothing
    tf.scatter_add(v, [0], [5.0])
    v.value()
    assert b0.ordering(v._buf).waited == b0.ordering(v._buf).recorded


def test_cpu_backend_has_the_api_without_bookkeeping_on_its_hot_path():
    v = var_on("/cpu:0", np.zeros(4, np.float32))
    cpu = backend(CPU)
    assert not cpu.ordered
    for _ in range(3):
        v.assign_add(np.ones(4, np.float32))
    assert cpu.ordering(v._buf) == BufferOrder(0, 0, 0, 0)
    event = cpu.record(v._buf)
    assert isinstance(event, Event) and event.native is None and event.query()
    event.synchronize()  # complete already: returns at once
    assert cpu.wait(v._buf) is event
    assert cpu.ordering(v._buf) == BufferOrder(event.seq, event.seq, 1, 1)


def test_views_share_their_buffer_events_and_entries_die_with_the_buffer():
    import gc

    b = backend(G0)
    buf = b.from_host(np.zeros((4, 4), np.float32))
    e1 = b.record(buf[1:, ::2])
    assert b.ordering(buf).recorded == e1.seq
    assert b.wait(buf[2]) is e1 and b.ordering(buf).waited == e1.seq
    e2 = b.record(buf)
    assert e2.seq > e1.seq and b.ordering(buf.reshape(-1)).recorded == e2.seq
    key = b._order_key(buf)
    assert key in b._orders
    del buf
    gc.collect()
    assert key not in b._orders  # freed with the buffer: the table does not grow with dead buffers
    assert b.wait(np.zeros(3)) is None  # nothing recorded on a buffer: nothing to wait for


def test_concurrent_records_and_waits_are_all_counted():
    b = backend(G1)
    buf = b.from_host(np.zeros(4, np.float32))
    n_threads, per_thread = 8, 300

    def worker():
        for _ in range(per_thread):
            b.record(buf)
            b.wait(buf)

    ts = [threading.Thread(target=worker) for _ in range(n_threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    order = b.ordering(buf)
    assert order.records == n_threads * per_thread and order.waits == n_threads * per_thread


# -- device-to-device through a backend's direct path ----------------------------------------------------
class FakePeerGpu(Backend):
    """A GPU-like backend with a direct device-to-device path (what CudaBackend does with peer access)."""

    kind = "fake_gpu"
    device_type = "GPU"
    ordered = True

    def __init__(self, direct):
        super().__init__(7)
        self.direct = direct
        self.direct_calls = []
        self.from_host_calls = 0

    def from_host(self, array):
        self.from_host_calls += 1
        return np.array(array, copy=True)

    def to_host(self, array):
        return np.array(array, copy=True)

    def owns(self, array):
        return False

    def copy_from_device(self, array, src):
        self.direct_calls.append(src.name)
        if not self.direct:
            return None
        src.wait(array)
        return np.array(array, copy=True)


@pytest.mark.parametrize("direct", [True, False])
def test_device_to_device_uses_the_direct_path_when_the_backend_has_one(direct):
    v = var_on("/gpu:0", np.arange(5, dtype=np.float64))
    v.assign_add(np.ones(5))
    b0 = backend(G0)
    written = b0.ordering(v._buf)
    fake = FakePeerGpu(direct)
    tf.reset_transfer_stats()
    out = transfer.to_backend(v.value(), fake, explicit=True)
    np.testing.assert_array_equal(out, np.arange(5) + 1.0)
    assert fake.direct_calls == [G0]
    assert fake.from_host_calls == (0 if direct else 1)  # staged through the host otherwise
    read = b0.ordering(v._buf)
    assert read.waited == written.recorded and read.waits == written.waits + 1  # exactly one wait either way
    assert fake.ordering(out).records == 1
    assert tf.transfer_stats() == {(G0, "/device:GPU:7"): {"copies": 1, "bytes": 40}}


def test_host_memory_backends_take_no_direct_path():
    emu = backend(G1)
    assert emu.copy_from_device(np.zeros(3), backend(G0)) is None


# -- chunked copies through pinned buffers: the arithmetic and the pipelines ----------------------------------
MiB = 1 << 20


@pytest.mark.parametrize("nbytes,chunk,align,expected", [
    (0, 8 * MiB, 4096, []),
    (1, 8 * MiB, 4096, [(0, 1)]),
    (8 * MiB, 8 * MiB, 4096, [(0, 8 * MiB)]),
    (8 * MiB + 1, 8 * MiB, 4096, [(0, 4 * MiB + 4096), (4 * MiB + 4096, 8 * MiB + 1)]),
    (20 * MiB, 8 * MiB, 4096, [(0, 6991872), (6991872, 13983744), (13983744, 20 * MiB)]),
    (32 * MiB, 8 * MiB, 4096, [(i * 8 * MiB, (i + 1) * 8 * MiB) for i in range(4)]),
    (10, 4, 2, [(0, 4), (4, 8), (8, 10)]),
    (10, 4, 4, [(0, 4), (4, 8), (8, 10)]),
    (9, 6, 2, [(0, 6), (6, 9)]),
])
def test_chunk_bounds_table(nbytes, chunk, align, expected):
    assert cuda_mod.chunk_bounds(nbytes, chunk, align) == expected


def test_chunk_bounds_properties():
    rng = np.random.default_rng(0)
    sizes = [int(s) for s in rng.integers(1, 1 << 31, 300)] + [cuda_mod.PINNED_MIN_BYTES + k for k in (-1, 0, 1)]
    for nbytes in sizes:
        chunk = int(rng.choice([1, 2, 8, 16])) * MiB
        bounds = cuda_mod.chunk_bounds(nbytes, chunk)
        assert bounds[0][0] == 0 and bounds[-1][1] == nbytes
        assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:]))  # contiguous, in order
        sizes_ = [stop - start for start, stop in bounds]
        assert len(bounds) == -(-nbytes // chunk)  # as few chunks as the staging size allows
        assert max(sizes_) <= chunk and min(sizes_) > 0
        assert all(start % cuda_mod.CHUNK_ALIGN == 0 for start, _ in bounds)
        assert max(sizes_) - min(sizes_) < 2 * cuda_mod.CHUNK_ALIGN  # even: no straggler leaves the pipeline idle


@pytest.mark.parametrize("nbytes,chunk", [(-1, 4096), (10, 0), (10, 4097)])
def test_chunk_bounds_rejects_bad_arguments(nbytes, chunk):
    with pytest.raises(ValueError):
        cuda_mod.chunk_bounds(nbytes, chunk)


class LazyDma:
    """An in-order copy queue that runs a copy only when someone synchronizes on it (the worst legal timing)."""

    def __init__(self):
        self.queue = []
        self.max_in_flight = 0

    def issue(self, copy):
        self.queue.append(copy)
        self.max_in_flight = max(self.max_in_flight, len(self.queue))
        return _Done(self, copy)

    def run_through(self, copy):
        while copy in self.queue:
            self.queue.pop(0)()


class _Done:
    def __init__(self, dma, copy):
        self.dma, self.copy = dma, copy

    def synchronize(self):
        self.dma.run_through(self.copy)


@pytest.mark.parametrize("nbytes", [0, 1, 4096, 4097, 3 * 4096 + 5, 9 * 4096])
@pytest.mark.parametrize("slots", [1, 2, 3])
def test_staged_upload_round_trips_and_never_refills_a_busy_buffer(nbytes, slots):
    rng = np.random.default_rng(nbytes)
    src = rng.integers(0, 256, nbytes, dtype=np.uint8)
    device = np.zeros(nbytes, np.uint8)
    dma = LazyDma()
    staging = [np.empty(4096, np.uint8) for _ in range(slots)]

    def issue(chunk, start, stop):
        assert chunk.size == stop - start and any(np.shares_memory(chunk, s) for s in staging)
        return dma.issue(lambda: device.__setitem__(slice(start, stop), chunk))

    cuda_mod.staged_upload(src, cuda_mod.chunk_bounds(nbytes, 4096, 1024), staging, issue)
    assert dma.queue == []  # every copy finished before returning
    np.testing.assert_array_equal(device, src)
    assert dma.max_in_flight <= slots


@pytest.mark.parametrize("nbytes", [0, 1, 4096, 4097, 3 * 4096 + 5, 9 * 4096])
@pytest.mark.parametrize("slots", [2, 3])
def test_staged_download_round_trips_and_reads_a_buffer_only_after_its_copy(nbytes, slots):
    rng = np.random.default_rng(nbytes + 1)
    device = rng.integers(0, 256, nbytes, dtype=np.uint8)
    dst = np.zeros(nbytes, np.uint8)
    dma = LazyDma()
    staging = [np.full(4096, 0xEE, np.uint8) for _ in range(slots)]

    def issue(chunk, start, stop):
        return dma.issue(lambda: chunk.__setitem__(slice(None), device[start:stop]))

    cuda_mod.staged_download(dst, cuda_mod.chunk_bounds(nbytes, 4096, 1024), staging, issue)
    assert dma.queue == []
    np.testing.assert_array_equal(dst, device)
    assert dma.max_in_flight <= 2


def test_staged_download_needs_two_buffers_for_several_chunks():
    with pytest.raises(ValueError, match="two staging buffers"):
        cuda_mod.staged_download(np.zeros(10, np.uint8), [(0, 5), (5, 10)], [np.empty(5, np.uint8)],
                                 lambda chunk, start, stop: None)


# -- the same on real GPUs (skipped without CuPy and a CUDA device) --------------------------------------------
def _cupy():
    return pytest.importorskip("cupy")


@pytest.mark.gpu
def test_cuda_counts_and_bytes_per_direction():
    _cupy()
    v = var_on("/gpu:0", np.zeros(1000, np.float32))
    x = np.arange(1000, dtype=np.float32)
    marker = Event().seq  # CUDA's ordering table is keyed by address, which the memory pool reuses
    on0 = tf.device_put(x, "/gpu:0")
    assert transfer.device_of(on0) == G0 and backend(G0).kind == "cuda"
    assert backend(G0).ordering(on0).recorded > marker  # the copy into the GPU recorded
    np.testing.assert_array_equal(tf.device_put(on0, "/cpu:0"), x)
    v.assign_add(x)  # implicit host-to-device
    np.testing.assert_array_equal(v.numpy(), x)
    assert tf.transfer_stats() == {(CPU, G0): {"copies": 2, "bytes": 8000}, (G0, CPU): {"copies": 2, "bytes": 8000}}


def _settle(cupy, *device_ids):
    # The kernel hooks wait for the last write of the buffer they update, not of their operands (an open
    # item in gpuvars/kernels.py): finish the setup copies before switching to non-blocking streams.
    for d in device_ids:
        cupy.cuda.Device(d).synchronize()


@pytest.mark.gpu
@pytest.mark.parametrize("n", [1 << 18, 1 << 24])  # the plain copy, and the chunked one through pinned buffers
def test_cuda_read_on_another_stream_sees_the_last_write(n):
    cupy = _cupy()
    v = var_on("/gpu:0", np.zeros(n, np.float32))
    one = tf.device_put(np.ones(n, np.float32), "/gpu:0")
    _settle(cupy, 0)
    with cupy.cuda.Device(0):
        writer = cupy.cuda.Stream(non_blocking=True)
        reader = cupy.cuda.Stream(non_blocking=True)  # no implicit sync with the writer or the default stream
        with writer:
            for _ in range(20):  # enough queued work that an unordered read would overtake it
                v.assign_add(one)
        with reader:
            host = tf.device_put(v, "/cpu:0")
    assert (host == 20.0).all()


@pytest.mark.gpu
def test_cuda_chunked_pinned_copies_round_trip(monkeypatch):
    cupy = _cupy()
    gpu = backend(G0)
    monkeypatch.setattr(cuda_mod, "PINNED_MIN_BYTES", 1 << 20)
    monkeypatch.setattr(cuda_mod, "PINNED_CHUNK_BYTES", 1 << 18)
    rng = np.random.default_rng(0)
    for shape, dtype in [(((1 << 20) + 12345,), np.uint8), ((700, 900), np.float64), (((3 << 18) + 1,), np.int16)]:
        host = rng.integers(0, 100, shape).astype(dtype)
        on = gpu.from_host(host)
        assert isinstance(on, cupy.ndarray)
        np.testing.assert_array_equal(cupy.asnumpy(on), host)
        np.testing.assert_array_equal(gpu.to_host(on), host)
    fortran = np.asfortranarray(rng.standard_normal((1024, 300)))
    np.testing.assert_array_equal(gpu.to_host(gpu.from_host(fortran)), fortran)
    view = gpu.from_host(rng.standard_normal((2048, 300)))[::2, 1:]
    np.testing.assert_array_equal(gpu.to_host(view), cupy.asnumpy(view))


@pytest.mark.gpu
def test_cuda_large_copies_round_trip_at_the_default_threshold():
    _cupy()
    x = np.random.default_rng(1).standard_normal(cuda_mod.PINNED_MIN_BYTES // 8 + 777)
    on = tf.device_put(x, "/gpu:0")
    np.testing.assert_array_equal(tf.device_put(on, "/cpu:0"), x)


@pytest.mark.multi_gpu(2)
@pytest.mark.parametrize("peer", [True, False])
def test_cuda_device_to_device_peer_or_staged(monkeypatch, peer):
    cupy = _cupy()
    if peer and not cupy.cuda.runtime.deviceCanAccessPeer(1, 0):
        pytest.skip("GPU 1 cannot access GPU 0's memory")
    if not peer:
        monkeypatch.setitem(cuda_mod._peer_access, (1, 0), False)
    n = 1 << 22
    v = var_on("/gpu:0", np.zeros(n, np.float32))
    one = tf.device_put(np.ones(n, np.float32), "/gpu:0")
    _settle(cupy, 0)
    with cupy.cuda.Device(0):
        writer = cupy.cuda.Stream(non_blocking=True)
        with writer:
            for _ in range(10):
                v.assign_add(one)
    b0, b1 = backend(G0), backend(G1)
    staged = []
    monkeypatch.setattr(b1, "from_host", lambda a, f=b1.from_host: staged.append(a.nbytes) or f(a))
    tf.reset_transfer_stats()
    marker = Event().seq
    with cupy.cuda.Device(1), cupy.cuda.Stream(non_blocking=True):
        out = tf.device_put(v, "/gpu:1")
    assert out.device.id == 1
    assert staged == ([] if peer else [4 * n])  # a staged copy goes through the host
    assert cuda_mod._peer_access[(1, 0)] is peer
    assert tf.transfer_stats() == {(G0, G1): {"copies": 1, "bytes": 4 * n}}
    # The source's next write must wait for a peer copy still reading it: the copy is its last event.
    assert (b0.ordering(v._buf).recorded > marker) is peer
    assert b1.ordering(out).recorded > marker
    np.testing.assert_array_equal(tf.device_put(out, "/cpu:0"), np.full(n, 10.0, np.float32))


def test_math_ops_move_operands_through_the_transfer_layer():
    a = var_on("/gpu:0", np.ones((2, 2), np.float32))
    b = var_on("/gpu:1", np.full((2, 2), 2.0, np.float32))
    out = tf.add_n([a, b])
    assert transfer.device_of(out) == G0 and np.asarray(out).tolist() == [[3.0, 3.0], [3.0, 3.0]]
    assert tf.transfer_stats() == {(G1, G0): {"copies": 1, "bytes": 16}}
    np.testing.assert_array_equal(np.asarray(tf.matmul(a, b)), np.full((2, 2), 4.0))
    rows = tf.gather(a, np.array([1, 0]))
    assert transfer.device_of(rows) == G0
    with tf.transfer_guard("disallow"):
        with pytest.raises(errors.InvalidArgumentError):
            tf.matmul(a, b)
