"""The transfer layer: counters, device_put, guards, caching_device (SPEC §9)."""

from __future__ import annotations

import logging
import threading
import weakref

import numpy as np
import pytest

import gpuvars as tf
from gpuvars import errors, transfer

CPU, G0, G1 = "/device:CPU:0", "/device:GPU:0", "/device:GPU:1"


@pytest.fixture(autouse=True)
def _two_gpus(emulated_gpus):
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
