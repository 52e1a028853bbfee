"""Kernels under many Python threads: ctypes drops the GIL, so these races are real.

The launcher keeps CUDA's built-in variables (threadIdx, ...) per host
thread; atomics must not lose updates; count_up_to must hand out distinct
values; locked scatter_update must never tear a row.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

from gpuvars import errors, kernels

EmulatedGpuBackend = pytest.importorskip("gpuvars.backends.emulated").EmulatedGpuBackend

THREADS = 8


@pytest.fixture(scope="module")
def gpu():
    try:
        return EmulatedGpuBackend(0)
    except kernels.CompilerNotFoundError as e:  # pragma: no cover
        pytest.skip(str(e))


def run_threads(fn, n=THREADS):
    barrier = threading.Barrier(n)
    failures: list[BaseException] = []

    def body(i):
        try:
            barrier.wait()
            fn(i)
        except BaseException as e:  # reported in the main thread
            failures.append(e)

    threads = [threading.Thread(target=body, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        raise failures[0]


@pytest.mark.parametrize("dtype", [np.float32, np.int64, np.int8, np.float16, np.complex128])
def test_concurrent_unlocked_scatter_add_loses_nothing(gpu, dtype):
    # Atomic kernels: no lock needed for scatter_add to combine every update.
    rows, row, reps, n = 10, 8, 20, 64
    x = gpu.from_host(np.zeros((rows, row), dtype))
    idx = gpu.from_host(np.arange(n) % rows)
    ones = gpu.from_host(np.ones((n, row), dtype))

    def work(_):
        for _ in range(reps):
            gpu.scatter("add", x, idx, ones, locked=False, deterministic=False)

    run_threads(work)
    total = THREADS * reps * (n // rows + (np.arange(rows) < n % rows))
    expected = np.repeat(total[:, None], row, axis=1).astype(dtype)
    assert np.array_equal(gpu.to_host(x), expected)


def test_concurrent_large_scatters_use_every_core_and_stay_exact(gpu):
    x = gpu.from_host(np.zeros((50, 64), np.float32))
    rng = np.random.default_rng(0)
    idx = gpu.from_host(rng.integers(0, 50, 4000))
    ones = gpu.from_host(np.ones((4000, 64), np.float32))
    run_threads(lambda _: gpu.scatter("add", x, idx, ones, locked=False, deterministic=False), 4)
    assert np.array_equal(gpu.to_host(x).sum(axis=0), np.full(64, 4 * 4000, np.float32))


def test_concurrent_independent_kernels_are_isolated(gpu):
    # Each thread updates its own buffers with every kind of launch: a shared
    # threadIdx/blockIdx would make them write each other's elements.
    def work(i):
        rng = np.random.default_rng(i)
        a = rng.integers(-9, 9, 30_001).astype(np.float64)
        b = rng.integers(-9, 9, 30_001).astype(np.float64)
        ref = rng.integers(-9, 9, (40, 7)).astype(np.int32)
        idx = rng.integers(0, 40, 500)
        upd = rng.integers(-9, 9, (500, 7)).astype(np.int32)
        for _ in range(5):
            x = gpu.from_host(a)
            gpu.assign_add(x, gpu.from_host(b))
            assert np.array_equal(gpu.to_host(x), a + b)
            y = gpu.from_host(ref)
            gpu.scatter("add", y, gpu.from_host(idx), gpu.from_host(upd), locked=False, deterministic=True)
            e = ref.copy()
            np.add.at(e, idx, upd)
            assert np.array_equal(gpu.to_host(y), e)

    run_threads(work)


def test_locked_assign_add_under_a_lock_is_exact(gpu):
    # use_locking=True holds the variable's lock around the kernel (Variable's job); the kernel
    # must be a complete read-modify-write by the time the call returns.
    x = gpu.from_host(np.zeros(1000, np.float32))
    lock = threading.Lock()
    one = gpu.from_host(np.ones(1000, np.float32))

    def work(_):
        for _ in range(50):
            with lock:
                gpu.assign_add(x, one)

    run_threads(work)
    assert np.array_equal(gpu.to_host(x), np.full(1000, THREADS * 50, np.float32))


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_count_up_to_hands_out_distinct_values(gpu, dtype):
    x = gpu.from_host(np.array(0, dtype))
    got: list[int] = []
    limited = []
    lock = threading.Lock()

    def work(_):
        for _ in range(40):
            try:
                v = gpu.count_up_to(x, 250)
            except errors.OutOfRangeError:
                with lock:
                    limited.append(1)
            else:
                with lock:
                    got.append(v)

    run_threads(work)
    assert sorted(got) == list(range(250))
    assert len(limited) == THREADS * 40 - 250
    assert int(x) == 250


def test_locked_scatter_update_never_tears_rows(gpu):
    rows, row = 4, 256
    x = gpu.from_host(np.zeros((rows, row), np.float32))
    lock = threading.Lock()

    def work(i):
        rng = np.random.default_rng(i)
        for k in range(20):
            idx = rng.integers(0, rows, 64)
            val = np.float32(i * 1000 + k)
            upd = np.repeat((val + np.arange(64, dtype=np.float32))[:, None], row, axis=1)
            with lock:
                gpu.scatter("update", x, gpu.from_host(idx), gpu.from_host(upd), locked=True, deterministic=False)

    run_threads(work)
    got = gpu.to_host(x)
    for r in range(rows):
        assert (got[r] == got[r, 0]).all(), "a row mixes two updates"


def test_unlocked_concurrent_updates_never_corrupt(gpu):
    # Hogwild: updates may be lost, but every element holds a value some writer wrote.
    x = gpu.from_host(np.zeros((8, 64), np.float32))

    def work(i):
        vals = np.full((16, 64), float(i + 1), np.float32)
        for _ in range(30):
            gpu.scatter("update", x, gpu.from_host(np.arange(16) % 8), gpu.from_host(vals),
                        locked=False, deterministic=False)

    run_threads(work)
    assert set(np.unique(gpu.to_host(x)).tolist()) <= {float(i + 1) for i in range(THREADS)}
