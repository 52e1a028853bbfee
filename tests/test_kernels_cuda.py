"""The same kernels on a real GPU through CuPy (skipped without CuPy and a CUDA device).

Each test compares the CUDA backend with the NumPy reference and with an
emulated GPU running the host build of the same sources, bit for bit where
SPEC §6/§8 promise it.
"""

from __future__ import annotations

import numpy as np
import pytest

from gpuvars import errors, kernels
from gpuvars.backends import reference

pytestmark = pytest.mark.gpu


@pytest.fixture(scope="module")
def cuda():
    pytest.importorskip("cupy")
    from gpuvars.backends.cuda import CudaBackend, device_count

    if device_count() < 1:
        pytest.skip("no CUDA device")
    return CudaBackend(0)


@pytest.fixture(scope="module")
def emu():
    from gpuvars.backends.emulated import EmulatedGpuBackend

    try:
        return EmulatedGpuBackend(0)
    except kernels.CompilerNotFoundError as e:
        pytest.skip(str(e))


def test_buffers(cuda):
    import cupy

    x = cuda.from_host(np.arange(6, dtype=np.float32).reshape(2, 3))
    assert isinstance(x, cupy.ndarray) and cuda.owns(x) and x.device.id == 0
    assert cuda.to_host(x).tolist() == [[0, 1, 2], [3, 4, 5]]
    assert cuda.memory_bytes and cuda.memory_bytes > 0
    assert cuda.kind == "cuda" and cuda.name == "/device:GPU:0"


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.int8, np.int64, np.uint16, np.complex64,
                                   np.complex128])
def test_dense_bit_identical_to_emulated(cuda, emu, dtype):
    rng = np.random.default_rng(0)
    a = (rng.standard_normal(100_003) * 20).astype(dtype)
    b = (rng.standard_normal(100_003) * 20).astype(dtype)
    for op in ("assign", "assign_add", "assign_sub"):
        x, y = cuda.from_host(a), emu.from_host(a)
        getattr(cuda, op)(x, cuda.from_host(b))
        getattr(emu, op)(y, emu.from_host(b))
        assert cuda.to_host(x).tobytes() == emu.to_host(y).tobytes(), op
    x = cuda.from_host(np.zeros(1000, np.float32))
    cuda.assign(x, cuda.from_host(np.arange(1000, dtype=np.float64)))  # cast kernel
    assert cuda.to_host(x).tolist() == list(range(1000))


def test_group_update(cuda):
    rng = np.random.default_rng(1)
    hs = [rng.integers(-5, 5, n).astype(np.float32) for n in (1, 100, 70_000, 200_003, 7)]
    ds = [cuda.from_host(h) for h in hs]
    cuda.group_update("add", ds, [cuda.from_host(np.ones_like(h)) for h in hs])
    for d, h in zip(ds, hs):
        assert cuda.to_host(d).tolist() == (h + 1).tolist()


OPS = ["add", "sub", "mul", "div", "min", "max", "update"]


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.int8, np.int32, np.int64, np.uint32,
                                   np.complex64, np.complex128])
@pytest.mark.parametrize("mode", ["atomic", "locked", "deterministic"])
def test_scatter_family(cuda, dtype, mode):
    rng = np.random.default_rng(2)
    for op in OPS:
        if op in ("min", "max") and np.dtype(dtype).kind == "c":
            continue
        if np.dtype(dtype).kind == "c":
            pick = np.array([1, -1, 1j, 2, 0.5j], dtype)
        elif np.dtype(dtype).kind == "f":
            pick = np.array([1, -1, 2, 0.5, -4], dtype)
        else:
            pick = np.array([1, 2, 3], dtype)
        ref = pick[rng.integers(0, len(pick), (40, 8))]
        idx = rng.integers(0, 40, 5000)
        upd = pick[rng.integers(0, len(pick), (5000, 8))]
        expected = ref.copy()
        with np.errstate(all="ignore"):
            reference.scatter(op, expected, idx, upd)
        x = cuda.from_host(ref)
        cuda.scatter(op, x, cuda.from_host(idx), cuda.from_host(upd), locked=mode == "locked",
                     deterministic=mode == "deterministic")
        got = cuda.to_host(x)
        if op == "update" and mode == "atomic":
            continue  # some occurrence wins
        if op in ("mul", "div") and np.dtype(dtype).kind in "fc" and mode == "atomic":
            assert np.allclose(got, expected, equal_nan=True)  # products overflow differently per order
        else:
            assert got.tobytes() == expected.tobytes(), op


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.complex64, np.complex128])
def test_deterministic_bit_identical_to_numpy_and_emulated(cuda, emu, dtype):
    rng = np.random.default_rng(3)
    ref = rng.standard_normal((500, 16)).astype(dtype)
    upd = rng.standard_normal((100_000, 16)).astype(dtype)
    idx = (rng.zipf(1.2, 100_000) - 1) % 500
    expected = ref.copy()
    np.add.at(expected, idx, upd)
    x = cuda.from_host(ref)
    cuda.scatter("add", x, cuda.from_host(idx), cuda.from_host(upd), locked=False, deterministic=True)
    y = emu.from_host(ref)
    emu.scatter("add", y, emu.from_host(idx), emu.from_host(upd), locked=False, deterministic=True)
    assert cuda.to_host(x).tobytes() == expected.tobytes() == emu.to_host(y).tobytes()


def test_locked_update_last_wins(cuda):
    idx = np.random.default_rng(4).integers(0, 5, 20_000)
    upd = np.repeat(np.arange(20_000, dtype=np.float32)[:, None], 300, axis=1)
    x = cuda.from_host(np.zeros((5, 300), np.float32))
    cuda.scatter("update", x, cuda.from_host(idx), cuda.from_host(upd), locked=True, deterministic=False)
    got = cuda.to_host(x)
    for r in range(5):
        assert (got[r] == np.flatnonzero(idx == r).max()).all()


def test_out_of_range_is_deferred_to_the_next_sync_and_leaves_ref_unchanged(cuda):
    ref = np.arange(12, dtype=np.float32).reshape(6, 2)
    x = cuda.from_host(ref)
    cuda.scatter("add", x, cuda.from_host(np.array([0, 5, 6])), cuda.from_host(np.ones((3, 2), np.float32)),
                 locked=False, deterministic=False)  # no host sync: no error yet
    with pytest.raises(errors.InvalidArgumentError, match=r"indices\[2\] = 6 is not in \[0, 6\)"):
        cuda.to_host(x)
    assert cuda.to_host(x).tobytes() == ref.tobytes()  # reported once, variable unchanged
    cuda.scatter_nd("add", x, cuda.from_host(np.array([[7, 0]])), cuda.from_host(np.ones(1, np.float32)),
                    locked=False, deterministic=False)
    with pytest.raises(errors.InvalidArgumentError, match=r"indices\[0\] = \[7, 0\] does not index into shape \[6,2\]"):
        cuda.synchronize()


def test_count_up_to_and_random(cuda, emu):
    c = cuda.from_host(np.array(0, np.int64))
    assert [cuda.count_up_to(c, 2) for _ in range(2)] == [0, 1]
    with pytest.raises(errors.OutOfRangeError, match="Reached limit of 2"):
        cuda.count_up_to(c, 2)
    for kind, dtype in [("bits", np.uint32), ("uniform", np.float32), ("uniform", np.float64),
                        ("uniform", np.float16)]:
        a = cuda.to_host(cuda.random(kind, (1001,), dtype, (7, 8), 3))
        b = emu.to_host(emu.random(kind, (1001,), dtype, (7, 8), 3))
        assert a.tobytes() == b.tobytes(), (kind, dtype)
    for kind in ("normal", "truncated_normal"):
        a = cuda.to_host(cuda.random(kind, (1001,), np.float64, (7, 8), 3))
        b = emu.to_host(emu.random(kind, (1001,), np.float64, (7, 8), 3))
        assert (np.abs(a - b) <= 2 * np.spacing(np.maximum(np.abs(a), np.abs(b)))).all()


def test_events_order_mutations_across_streams(cuda):
    import cupy

    x = cuda.from_host(np.zeros(1 << 20, np.float32))
    one = cuda.from_host(np.ones(1 << 20, np.float32))
    streams = [cupy.cuda.Stream(non_blocking=True) for _ in range(4)]
    for _ in range(25):
        for s in streams:
            with s:
                cuda.assign_add(x, one)  # waits for the buffer's last event, then records its own
    cuda.synchronize()
    assert float(cuda.to_host(x).min()) == 100.0
