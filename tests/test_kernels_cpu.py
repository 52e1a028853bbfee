"""/cpu:0 with the host kernels: the same results and errors as the NumPy reference, whatever path runs."""

from __future__ import annotations

import numpy as np
import pytest

from gpuvars import errors, kernels
from gpuvars.backends import cpu as cpu_module
from gpuvars.backends import reference
from gpuvars.backends.cpu import CpuBackend


@pytest.fixture(scope="module")
def cpu():
    if kernels.cpu_kernels() is None:
        pytest.skip("host kernels unavailable (no compiler or GPUVARS_HOST_KERNELS=0)")
    return CpuBackend(0)


@pytest.fixture
def launches(monkeypatch):
    """Names of the host kernels launched during a test."""
    seen: list[str] = []
    host = kernels.cpu_kernels()
    original = host.library.launch

    def spy(name, grid, block, args):
        seen.append(name)
        return original(name, grid, block, args)

    monkeypatch.setattr(host.library, "launch", spy)
    return seen


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16, np.int32, np.uint8, np.complex64])
@pytest.mark.parametrize("op", ["update", "add", "sub", "mul", "div", "min", "max"])
def test_large_scatters_use_the_owner_kernel_and_match_numpy(cpu, launches, dtype, op):
    if op in ("min", "max") and np.dtype(dtype).kind == "c":
        return
    rng = np.random.default_rng(0)
    if np.dtype(dtype).kind in "fc":
        ref = rng.standard_normal((300, 16)).astype(dtype)
        upd = rng.standard_normal((5000, 16)).astype(dtype)
    else:
        ref = rng.integers(1, 50, (300, 16)).astype(dtype)
        upd = rng.integers(1, 3, (5000, 16)).astype(dtype)
    idx = (rng.zipf(1.3, 5000) - 1) % 300
    expected = ref.copy()
    with np.errstate(all="ignore"):
        reference.scatter(op, expected, idx, upd)
        cpu.scatter(op, ref, idx, upd, locked=op == "update", deterministic=False)
    assert ref.tobytes() == expected.tobytes()
    assert any(n.startswith("gv_owner_") for n in launches)


def test_small_and_one_dimensional_scatters_stay_on_numpy(cpu, launches):
    ref = np.zeros(1000, np.float32)
    cpu.scatter("add", ref, np.arange(5000) % 1000, np.ones(5000, np.float32), locked=False, deterministic=False)
    small = np.zeros((10, 4), np.float32)
    cpu.scatter("add", small, np.array([1, 1]), np.ones((2, 4), np.float32), locked=False, deterministic=False)
    assert launches == [] and ref.sum() == 5000 and small.sum() == 8


def test_integer_division_always_uses_the_exact_kernel(cpu, launches):
    ref = np.array([2**62 + 1, -7, 9], np.int64)
    cpu.scatter("div", ref, np.array([0, 1, 2]), np.array([3, 2, 0], np.int64), locked=False, deterministic=False)
    assert ref.tolist() == [(2**62 + 1) // 3, -3, 0] and launches


def test_out_of_range_errors_match_the_reference(cpu):
    ref = np.zeros((6, 200), np.float32)
    idx = np.array([0, 1, 6, 2, 9] * 10)
    upd = np.ones((50, 200), np.float32)
    with pytest.raises(errors.InvalidArgumentError) as ours:
        cpu.scatter("add", ref, idx, upd, locked=False, deterministic=False)
    with pytest.raises(errors.InvalidArgumentError) as theirs:
        reference.scatter("add", ref.copy(), idx, upd)
    assert str(ours.value) == str(theirs.value) == "indices[2] = 6 is not in [0, 6)"
    assert not ref.any()


def test_scatter_nd_and_unsupported_ops_fall_back(cpu, launches):
    ref = np.zeros((4, 5, 300), np.float32)
    idx = np.array([[0, 1], [3, 4], [0, 1], [2, 2]])
    upd = np.ones((4, 300), np.float32)  # 1200 elements: the kernel path
    cpu.scatter_nd("add", ref, idx, upd, locked=False, deterministic=False)
    assert ref[0, 1].tolist() == [2.0] * 300 and ref[3, 4].tolist() == [1.0] * 300 and ref.sum() == 1200
    assert "gv_nd_linearize_i64" in launches
    flags = np.zeros((100, 50), bool)
    cpu.scatter("update", flags, np.arange(100), np.ones((100, 50), bool), locked=True, deterministic=False)
    assert flags.all()


def test_large_dense_updates_use_both_threads_and_match_numpy(cpu, launches):
    n = cpu_module._DENSE_MIN_BYTES // 4 + 3
    rng = np.random.default_rng(1)
    a = rng.standard_normal(n).astype(np.float32)
    b = rng.standard_normal(n).astype(np.float32)
    x = a.copy()
    cpu.assign_add(x, b)
    assert x.tobytes() == (a + b).tobytes()
    cpu.assign_sub(x, np.float32(1))
    assert x.tobytes() == ((a + b) - np.float32(1)).tobytes()
    cpu.assign(x, b.astype(np.float64))
    assert x.tobytes() == b.tobytes()
    assert {"gv_add_f32", "gv_sub_f32", "gv_cast_f32_f64"} <= set(launches)
    tiny = np.zeros(4, np.float32)
    launches.clear()
    cpu.assign_add(tiny, np.ones(4, np.float32))
    assert launches == [] and tiny.tolist() == [1.0] * 4
