"""The CUDA kernels, run on an emulated GPU (host build), against the NumPy references.

Data for the non-deterministic (atomic) paths is chosen so that every order
of combining gives the same bits (small integers, powers of two), so those
tests demand exact equality too.
"""

from __future__ import annotations

import numpy as np
import pytest

from gpuvars import errors, kernels
from gpuvars.backends import reference
from gpuvars.backends.base import DeviceArray

pytest.importorskip("gpuvars.backends.emulated")
from gpuvars.backends.emulated import EmulatedGpuBackend  # noqa: E402

ARITH = [np.float16, np.float32, np.float64, np.int8, np.int16, np.int32, np.int64,
         np.uint8, np.uint16, np.uint32, np.uint64, np.complex64, np.complex128]
REAL = [t for t in ARITH if np.dtype(t).kind != "c"]
ALL = ARITH + [np.bool_]
COMPLEX = (np.complex64, np.complex128)


@pytest.fixture(scope="module")
def gpu() -> EmulatedGpuBackend:
    try:
        return EmulatedGpuBackend(0)
    except kernels.CompilerNotFoundError as e:  # pragma: no cover - CI has g++
        pytest.skip(str(e))


@pytest.fixture(scope="module")
def gpu1(gpu) -> EmulatedGpuBackend:
    return EmulatedGpuBackend(1, gpu.library)


def exact_values(dtype, shape, rng, *, nonzero=False):
    """Values whose sums, products and quotients are exact in every dtype."""
    dt = np.dtype(dtype)
    if dt.kind == "b":
        return rng.integers(0, 2, shape).astype(dt)
    if dt.kind == "c":
        choices = np.array([1, -1, 1j, -1j, 2, 0.5, 1 + 1j, -2j], dtype=dt)
        return choices[rng.integers(0, len(choices), shape)]
    if dt.kind == "f":
        choices = np.array([1, -1, 2, -2, 0.5, 4, -0.25, 3], dtype=dt)
        return choices[rng.integers(0, len(choices), shape)]
    lo = 1 if nonzero else (-3 if dt.kind == "i" else 0)
    v = rng.integers(lo, 4, shape).astype(dt)
    if nonzero and dt.kind == "i":
        v = np.where(rng.integers(0, 2, shape) == 1, v, (-v).astype(dt)).astype(dt)
    return v


def ref_scatter(op, ref, idx, upd):
    out = ref.copy()
    with np.errstate(all="ignore"):
        reference.scatter(op, out, idx, upd)
    return out


def same_bits(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


# -- buffers ------------------------------------------------------------------------------------------------
def test_buffers_are_tagged_device_arrays(gpu, gpu1):
    x = gpu.from_host(np.arange(5.0))
    assert isinstance(x, DeviceArray) and x._gv_device == "/device:GPU:0"
    assert gpu.owns(x) and not gpu1.owns(x) and not gpu.owns(np.arange(3.0))
    assert gpu.owns(x[1:]) and gpu.owns(x + 1)  # views and results stay on the device
    h = gpu.to_host(x)
    assert type(h) is np.ndarray and h.tolist() == [0, 1, 2, 3, 4]
    c = gpu.copy(x)
    assert gpu.owns(c) and c.tolist() == x.tolist() and c.ctypes.data != x.ctypes.data
    assert gpu.kind == "emulated_gpu" and gpu.device_type == "GPU" and gpu.memory_bytes is None
    assert gpu1.name == "/device:GPU:1"


# -- dense --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ALL)
@pytest.mark.parametrize("n", [0, 1, 3, 17, 1001, 300_003])
def test_assign_same_dtype(gpu, dtype, n):
    rng = np.random.default_rng(n)
    src = exact_values(dtype, n, rng)
    dst = gpu.from_host(np.zeros(n, dtype))
    gpu.assign(dst, gpu.from_host(src))
    assert same_bits(gpu.to_host(dst), src)


_CAST_PAIRS = [(s, d) for s in ALL for d in ALL if s != d and np.can_cast(s, d, "same_kind")]


@pytest.mark.parametrize(("src_t", "dst_t"), _CAST_PAIRS, ids=[f"{np.dtype(s)}->{np.dtype(d)}" for s, d in _CAST_PAIRS])
def test_assign_casts_like_numpy(gpu, src_t, dst_t):
    rng = np.random.default_rng(7)
    if np.dtype(src_t).kind in "fc":
        src = (rng.standard_normal(257) * 1000).astype(src_t)
        if np.dtype(src_t).kind == "c":
            src = src + (1j * rng.standard_normal(257) * 1000).astype(src_t)
        with np.errstate(over="ignore"):
            src[:4] = [0.1, -2.5e-8, 7e4, np.inf]  # subnormal/overflow/rounding cases for float16
    elif np.dtype(src_t).kind == "b":
        src = rng.integers(0, 2, 257).astype(src_t)
    else:
        info = np.iinfo(src_t)
        src = rng.integers(info.min, info.max, 257, dtype=src_t, endpoint=True)
    expected = np.zeros(257, dst_t)
    with np.errstate(all="ignore"):
        np.copyto(expected, src, casting="same_kind")
    dst = gpu.from_host(np.zeros(257, dst_t))
    gpu.assign(dst, gpu.from_host(src))
    assert same_bits(gpu.to_host(dst), expected)


def test_assign_rejects_unsafe_cast(gpu):
    dst = gpu.from_host(np.zeros(3, np.int32))
    with pytest.raises(TypeError, match="same_kind"):
        gpu.assign(dst, gpu.from_host(np.ones(3, np.float32)))
    assert gpu.to_host(dst).tolist() == [0, 0, 0]


@pytest.mark.parametrize("dtype", ALL)
def test_assign_broadcasts_a_scalar_and_rows(gpu, dtype):
    dst = gpu.from_host(np.zeros((3, 5), dtype))
    one = np.ones((), dtype)
    gpu.assign(dst, gpu.from_host(one))
    assert same_bits(gpu.to_host(dst), np.ones((3, 5), dtype))
    row = np.arange(5).astype(dtype)
    gpu.assign(dst, gpu.from_host(row[None, :]))
    assert same_bits(gpu.to_host(dst), np.broadcast_to(row, (3, 5)).copy())
    with pytest.raises(ValueError, match=r"\(3, 5\).*\(4,\)"):
        gpu.assign(dst, gpu.from_host(np.zeros(4, dtype)))


@pytest.mark.parametrize("op", ["add", "sub"])
@pytest.mark.parametrize("dtype", ARITH)
@pytest.mark.parametrize("n", [1, 15, 16, 33, 4099, 300_001])
def test_assign_add_sub_same_dtype(gpu, op, dtype, n):
    rng = np.random.default_rng(n)
    a, b = exact_values(dtype, n, rng), exact_values(dtype, n, rng)
    dst = gpu.from_host(a)
    getattr(gpu, f"assign_{op}")(dst, gpu.from_host(b))
    expected = a.copy()
    with np.errstate(all="ignore"):
        getattr(reference, f"assign_{op}")(expected, b)
    assert same_bits(gpu.to_host(dst), expected)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.complex64])
def test_assign_add_random_floats_bit_identical(gpu, dtype):
    rng = np.random.default_rng(3)
    a = rng.standard_normal(10_007).astype(dtype)
    b = rng.standard_normal(10_007).astype(dtype)
    dst = gpu.from_host(a)
    gpu.assign_add(dst, gpu.from_host(b))
    assert same_bits(gpu.to_host(dst), a + b)


@pytest.mark.parametrize(("dst_t", "src_t"), [
    (np.float32, np.float64), (np.float32, np.int32), (np.float16, np.float32), (np.float16, np.int16),
    (np.complex64, np.float64), (np.int8, np.uint8), (np.int64, np.int8), (np.float64, np.bool_),
])
def test_assign_add_promotes_like_numpy(gpu, dst_t, src_t):
    rng = np.random.default_rng(5)
    a = (rng.standard_normal(1000) * 50).astype(dst_t)
    b = (rng.standard_normal(1000) * 50).astype(src_t)
    expected = a.copy()
    with np.errstate(all="ignore"):
        np.add(expected, b, out=expected, casting="same_kind")
    dst = gpu.from_host(a)
    gpu.assign_add(dst, gpu.from_host(b))
    assert same_bits(gpu.to_host(dst), expected)


def test_assign_add_type_errors(gpu):
    with pytest.raises(TypeError, match="float64.*int64|int64.*float64"):
        gpu.assign_add(gpu.from_host(np.zeros(2, np.int64)), gpu.from_host(np.ones(2, np.uint64)))
    with pytest.raises(TypeError, match="bool"):
        gpu.assign_add(gpu.from_host(np.zeros(2, bool)), gpu.from_host(np.ones(2, bool)))


def test_dense_misaligned_views(gpu):
    rng = np.random.default_rng(11)
    base = gpu.from_host(rng.standard_normal(1000).astype(np.float32))
    other = gpu.from_host(rng.standard_normal(1000).astype(np.float32))
    expected = gpu.to_host(base)
    for dst_off, src_off in [(1, 1), (1, 2), (0, 3), (5, 0)]:
        n = 900
        dst, src = base[dst_off:dst_off + n], other[src_off:src_off + n]
        assert dst.ctypes.data % 16 or src.ctypes.data % 16
        e = expected[dst_off:dst_off + n] + gpu.to_host(src)
        gpu.assign_add(dst, src)
        expected[dst_off:dst_off + n] = e
        assert same_bits(gpu.to_host(base), expected)
    # A non-contiguous destination goes through a contiguous temporary.
    strided = base[::3]
    e = gpu.to_host(strided) - 1
    gpu.assign_sub(strided, np.float32(1))
    assert same_bits(gpu.to_host(base[::3]), e)


# -- fused group updates ----------------------------------------------------------------------------------
@pytest.mark.parametrize("op", ["assign", "add", "sub"])
def test_group_update_matches_a_loop(gpu, op):
    rng = np.random.default_rng(21)
    sizes = [1, 5, 16, 100, 3, 70_000, 0, 200_003, 7]
    dtypes = [np.float32, np.float64, np.int32, np.float16, np.complex64]
    dsts, srcs, expected = [], [], []
    for i, n in enumerate(sizes * 3):
        dt = dtypes[i % len(dtypes)]
        a, b = exact_values(dt, n, rng), exact_values(dt, n, rng)
        if i % 7 == 3:
            b = exact_values(dt, (), rng)  # a scalar value, broadcast
        if i % 11 == 5 and np.dtype(dt) == np.float32:
            b = b.astype(np.float64)  # needs a cast: single-buffer path
        e = a.copy()
        with np.errstate(all="ignore"):
            {"assign": reference.assign, "add": reference.assign_add, "sub": reference.assign_sub}[op](e, b)
        dsts.append(gpu.from_host(a))
        srcs.append(gpu.from_host(np.asarray(b)))
        expected.append(e)
    gpu.group_update(op, dsts, srcs)
    for d, e in zip(dsts, expected):
        assert same_bits(gpu.to_host(d), e)


def test_group_update_chunk_table_splits_large_buffers(gpu):
    d = [gpu.from_host(np.zeros(kernels.GROUP_CHUNK * 2 + 5, np.float32))]
    s = [gpu.from_host(np.ones(kernels.GROUP_CHUNK * 2 + 5, np.float32))]
    table = gpu._group_table(d, s, [1], 4)
    assert table.shape == (3, 4)
    assert table[:, 2].tolist() == [kernels.GROUP_CHUNK, kernels.GROUP_CHUNK, 5]
    assert table[1, 0] - table[0, 0] == kernels.GROUP_CHUNK * 4
    with pytest.raises(ValueError, match="2 variables, 1 values"):
        gpu.group_update("add", d * 2, s)
    with pytest.raises(ValueError, match="'assign', 'add' or 'sub'"):
        gpu.group_update("mul", d, s)


# -- scatter ---------------------------------------------------------------------------------------------
def _scatter_case(dtype, op, rng, *, dim0=37, row_shape=(5,), n=300, index_dtype=np.int64):
    ref = exact_values(dtype, (dim0, *row_shape), rng, nonzero=True)
    idx = rng.integers(0, dim0, n).astype(index_dtype)
    idx[: n // 10] = idx[0]  # many duplicates of one row
    upd = exact_values(dtype, (n, *row_shape), rng, nonzero=op == "div")
    return ref, idx, upd


OPS_BY_DTYPE = [(op, t) for t in ARITH for op in ("add", "sub", "mul", "div", "min", "max", "update")
                if not (op in ("min", "max") and np.dtype(t).kind == "c")] + [("update", np.bool_)]


@pytest.mark.parametrize(("op", "dtype"), OPS_BY_DTYPE, ids=[f"{o}-{np.dtype(t)}" for o, t in OPS_BY_DTYPE])
@pytest.mark.parametrize("mode", ["atomic", "locked", "deterministic"])
def test_scatter_matches_reference(gpu, op, dtype, mode):
    rng = np.random.default_rng(abs(hash((op, np.dtype(dtype).name, mode))) % 2**32)
    for index_dtype, row_shape, n in [(np.int64, (5,), 300), (np.int32, (3, 4), 41), (np.int32, (), 1000)]:
        ref, idx, upd = _scatter_case(dtype, op, rng, row_shape=row_shape, n=n, index_dtype=index_dtype)
        x = gpu.from_host(ref)
        gpu.scatter(op, x, gpu.from_host(idx), gpu.from_host(upd), locked=mode == "locked",
                    deterministic=mode == "deterministic")
        got = gpu.to_host(x)
        if op == "update" and mode == "atomic":
            # Unlocked: some occurrence wins each element.
            for r in np.unique(idx):
                cands = upd[idx == r]
                assert all((cands[:, ...] == got[r]).reshape(len(cands), -1).any(axis=0)) if got[r].ndim else \
                    got[r] in cands
            untouched = np.setdiff1d(np.arange(ref.shape[0]), idx)
            assert same_bits(got[untouched], ref[untouched])
        else:
            assert same_bits(got, ref_scatter(op, ref, idx, upd)), (op, dtype, mode, index_dtype)


@pytest.mark.parametrize("row", [1, 3, 64, 255, 256, 1000])
def test_scatter_row_vectorization_shapes(gpu, row):
    rng = np.random.default_rng(row)
    ref = rng.integers(-5, 5, (20, row)).astype(np.float32)
    idx = rng.integers(0, 20, 111)
    upd = rng.integers(-5, 5, (111, row)).astype(np.float32)
    x = gpu.from_host(ref)
    gpu.scatter("add", x, gpu.from_host(idx), gpu.from_host(upd), locked=False, deterministic=False)
    assert same_bits(gpu.to_host(x), ref_scatter("add", ref, idx, upd))


def test_scatter_large_parallel_launch(gpu):
    # Enough threads that the launch runs on all OpenMP threads: atomics must not lose updates.
    rng = np.random.default_rng(2)
    ref = np.zeros((100, 64), np.float32)
    idx = rng.integers(0, 100, 20_000)
    upd = np.ones((20_000, 64), np.float32)
    x = gpu.from_host(ref)
    gpu.scatter("add", x, gpu.from_host(idx), gpu.from_host(upd), locked=False, deterministic=False)
    assert same_bits(gpu.to_host(x), ref_scatter("add", ref, idx, upd))
    ref16 = np.zeros(1, np.int16)
    x16 = gpu.from_host(ref16)
    gpu.scatter("add", x16, gpu.from_host(np.zeros(50_000, np.int64)), gpu.from_host(np.ones(50_000, np.int16)),
                locked=False, deterministic=False)
    assert int(x16[0]) == np.int16(50_000 - 65536)  # wraps like NumPy, every update counted


def test_locked_update_last_occurrence_wins_whole_rows(gpu):
    rng = np.random.default_rng(4)
    n, row = 5000, 33
    idx = rng.integers(0, 7, n)
    upd = np.repeat(np.arange(n, dtype=np.float64)[:, None], row, axis=1)  # row p is all p
    x = gpu.from_host(np.full((7, row), -1.0))
    gpu.scatter("update", x, gpu.from_host(idx), gpu.from_host(upd), locked=True, deterministic=False)
    got = gpu.to_host(x)
    for r in range(7):
        assert (got[r] == np.flatnonzero(idx == r).max()).all()


@pytest.mark.parametrize("mode", ["atomic", "locked", "deterministic"])
@pytest.mark.parametrize("op", ["add", "update", "div", "min"])
def test_scatter_out_of_range_leaves_ref_unchanged(gpu, mode, op):
    ref = np.arange(12, dtype=np.float32).reshape(6, 2)
    idx = np.array([0, 5, 6, 1, -1, 9])
    x = gpu.from_host(ref)
    with pytest.raises(errors.InvalidArgumentError, match=r"^indices\[2\] = 6 is not in \[0, 6\)$"):
        gpu.scatter(op, x, gpu.from_host(idx), gpu.from_host(np.ones((6, 2), np.float32)),
                    locked=mode == "locked", deterministic=mode == "deterministic")
    assert same_bits(gpu.to_host(x), ref)
    with pytest.raises(errors.InvalidArgumentError, match=r"indices\[0\] = -3 is not in \[0, 6\)"):
        gpu.scatter(op, x, gpu.from_host(np.array([-3], np.int32)), gpu.from_host(np.ones((1, 2), np.float32)),
                    locked=False, deterministic=False)
    assert same_bits(gpu.to_host(x), ref)


def test_scatter_edge_cases(gpu):
    x = gpu.from_host(np.ones((4, 3), np.float32))
    gpu.scatter("add", x, gpu.from_host(np.zeros(0, np.int64)), gpu.from_host(np.zeros((0, 3), np.float32)),
                locked=False, deterministic=False)
    assert gpu.to_host(x).tolist() == [[1.0] * 3] * 4
    empty_rows = gpu.from_host(np.zeros((4, 0), np.float32))
    gpu.scatter("add", empty_rows, gpu.from_host(np.array([1, 2])), gpu.from_host(np.zeros((2, 0), np.float32)),
                locked=False, deterministic=False)
    with pytest.raises(errors.InvalidArgumentError, match="indices.1. = 4"):
        gpu.scatter("add", empty_rows, gpu.from_host(np.array([1, 4])), gpu.from_host(np.zeros((2, 0), np.float32)),
                    locked=False, deterministic=False)
    with pytest.raises(TypeError, match="bool"):
        gpu.scatter("add", gpu.from_host(np.zeros(3, bool)), np.array([0]), np.array([True]),
                    locked=False, deterministic=False)
    with pytest.raises(TypeError, match="complex"):
        gpu.scatter("max", gpu.from_host(np.zeros(3, np.complex64)), np.array([0]), np.ones(1, np.complex64),
                    locked=False, deterministic=False)
    with pytest.raises(ValueError, match="op"):
        gpu.scatter("pow", x, np.array([0]), np.ones((1, 3), np.float32), locked=False, deterministic=False)
    with pytest.raises(TypeError, match="int32 or int64"):
        gpu.scatter("add", x, np.array([0.0]), np.ones((1, 3), np.float32), locked=False, deterministic=False)


def test_scatter_integer_division_truncates_and_survives_zero(gpu):
    ref = np.array([7, -7, 7, -7, 5, np.iinfo(np.int32).min], np.int32)
    upd = np.array([2, 2, -2, -2, 0, -1], np.int32)
    x = gpu.from_host(ref)
    gpu.scatter("div", x, gpu.from_host(np.arange(6)), gpu.from_host(upd), locked=False, deterministic=False)
    assert gpu.to_host(x).tolist() == [3, -3, -3, 3, 0, np.iinfo(np.int32).min]


# -- deterministic mode ------------------------------------------------------------------------------------
_DET_CASES = [(op, t) for t in (np.float16, np.float32, np.float64, np.complex64, np.complex128)
              for op in ("add", "sub", "mul", "div", "min", "max") if not (op in ("min", "max") and t in COMPLEX)]


@pytest.mark.parametrize(("op", "dtype"), _DET_CASES, ids=[f"{o}-{np.dtype(t)}" for o, t in _DET_CASES])
def test_deterministic_is_bit_identical_to_numpy_and_cpu(gpu, dtype, op):
    cpu = kernels.cpu_kernels()
    rng = np.random.default_rng(99)

    def draw(shape):
        v = rng.standard_normal(shape)
        if np.dtype(dtype).kind == "c":
            v = v + 1j * rng.standard_normal(shape)
        return (v * 1.3).astype(dtype)

    ref, upd = draw((64, 9)), draw((3000, 9))
    idx = rng.zipf(1.3, 3000) % 64
    expected = ref_scatter(op, ref, idx, upd)
    for _ in range(2):  # and from run to run
        x = gpu.from_host(ref)
        gpu.scatter(op, x, gpu.from_host(idx), gpu.from_host(upd), locked=False, deterministic=True)
        assert same_bits(gpu.to_host(x), expected)
    if cpu is not None:
        y = ref.copy()
        cpu.scatter(op, y, idx, upd, locked=False, deterministic=True)
        assert same_bits(y, expected)


# -- scatter_nd -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("op", ["update", "add", "sub"])
@pytest.mark.parametrize(("shape", "k"), [((6,), 1), ((6, 4), 1), ((6, 4), 2), ((3, 4, 5), 2), ((2, 3), 0)])
@pytest.mark.parametrize("deterministic", [False, True])
def test_scatter_nd_matches_reference(gpu, op, shape, k, deterministic):
    rng = np.random.default_rng(len(shape) * 10 + k)
    n = 50
    ref = exact_values(np.float32, shape, rng)
    idx = np.stack([rng.integers(0, shape[j], n) for j in range(k)] or [np.zeros((n, 0))], axis=-1)
    idx = idx.reshape(n, k).astype(np.int32)
    upd = exact_values(np.float32, (n, *shape[k:]), rng)
    expected = ref.copy()
    if k == 0:
        expected = {"update": lambda: np.broadcast_to(upd[-1], shape).copy(),
                    "add": lambda: ref + upd.sum(0), "sub": lambda: ref - upd.sum(0)}[op]()
    else:
        reference.scatter_nd(op, expected, idx, upd)
    x = gpu.from_host(ref)
    gpu.scatter_nd(op, x, gpu.from_host(idx), gpu.from_host(upd), locked=True, deterministic=deterministic)
    assert same_bits(gpu.to_host(x), expected)


def test_scatter_nd_out_of_range(gpu):
    x = gpu.from_host(np.zeros(6, np.float32))
    with pytest.raises(errors.InvalidArgumentError, match=r"^indices\[1\] = \[6\] does not index into shape \[6\]$"):
        gpu.scatter_nd("add", x, gpu.from_host(np.array([[0], [6], [7]])), gpu.from_host(np.ones(3, np.float32)),
                       locked=False, deterministic=False)
    y = gpu.from_host(np.zeros((3, 4), np.float32))
    with pytest.raises(errors.InvalidArgumentError, match=r"indices\[2\] = \[1, 4\] does not index into shape \[3,4\]"):
        gpu.scatter_nd("update", y, np.array([[0, 0], [2, 3], [1, 4]]), np.ones(3, np.float32),
                       locked=True, deterministic=False)
    assert not gpu.to_host(x).any() and not gpu.to_host(y).any()
    with pytest.raises(ValueError, match="rank"):
        gpu.scatter_nd("add", y, np.zeros((1, 3), np.int64), np.ones(1, np.float32), locked=False, deterministic=False)


# -- count_up_to ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_count_up_to(gpu, dtype):
    x = gpu.from_host(np.array(3, dtype))
    assert [gpu.count_up_to(x, 5) for _ in range(2)] == [3, 4]
    with pytest.raises(errors.OutOfRangeError, match="^Reached limit of 5$"):
        gpu.count_up_to(x, 5)
    assert int(x) == 5
    with pytest.raises(TypeError, match="int32 or int64"):
        gpu.count_up_to(gpu.from_host(np.array(1.0)), 5)


# -- kernel inventory ----------------------------------------------------------------------------------------
def test_every_exported_kernel_maps_to_its_file(gpu):
    import re
    import subprocess

    out = subprocess.run(["nm", "-D", "--defined-only", str(gpu.library.path)], capture_output=True, text=True)
    if out.returncode != 0:
        pytest.skip("nm not available")
    names = sorted(set(re.findall(r"\b(gv_\w+)_launch\b", out.stdout)))
    assert len(names) > 300
    suffix = re.compile(r"(_(f16|f32|f64|i8|i16|i32|i64|u8|u16|u32|u64|c64|c128|b8|s1|s2|s4|s8|s16))+$")
    for name in names:
        src = (kernels.kernel_dir() / kernels.kernel_file(name)).read_text()
        words = suffix.sub("", name).split("_")[1:]
        assert all(w in src for w in words), name
    # Exactly the launchers are exported (visibility=hidden), plus the library's helpers.
    exported = set(re.findall(r" [TW] (\w+)", out.stdout))
    helpers = {"gv_host_num_threads", "gv_host_has_cuda_fp16", "gv_host_ilp", "gv_host_data_pointers"}
    assert exported == {n + "_launch" for n in names} | helpers


def test_launch_dimensions():
    assert kernels._lg_threads_per_row(1) == 0 and kernels._lg_threads_per_row(64) == 6
    assert kernels._lg_threads_per_row(65) == 7 and kernels._lg_threads_per_row(10**6) == 8
    assert kernels._dims(0) == (1, 32) and kernels._dims(33) == (1, 64) and kernels._dims(256) == (1, 256)
    assert kernels._dims(257) == (2, 256) and kernels._dims(1 << 40) == ((1 << 31) - 1, 256)
