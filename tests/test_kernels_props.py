"""Property tests: the scatter family on an emulated GPU (and /cpu:0's host kernels) vs the NumPy reference.

Random shapes, dtypes, index dtypes, duplicate and out-of-range indices,
every strategy (atomic, locked, deterministic). Values are exact in every
order of combination, so even the atomic paths must match bit for bit.
"""

from __future__ import annotations

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from gpuvars import errors, kernels  # noqa: E402
from gpuvars.backends import reference  # noqa: E402

EmulatedGpuBackend = pytest.importorskip("gpuvars.backends.emulated").EmulatedGpuBackend

DTYPES = ["float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
          "complex64", "complex128", "bool"]
OPS = ["update", "add", "sub", "mul", "div", "min", "max"]

_backends: dict[str, object] = {}


def backend(which: str):
    if which not in _backends:
        try:
            _backends["gpu"] = EmulatedGpuBackend(0)
        except kernels.CompilerNotFoundError as e:  # pragma: no cover
            pytest.skip(str(e))
        _backends["cpu"] = kernels.cpu_kernels()
    if _backends[which] is None:
        pytest.skip("no host kernels for /cpu:0")
    return _backends[which]


def values(dtype: np.dtype, shape, rng, nonzero=False):
    if dtype.kind == "b":
        return rng.integers(0, 2, shape).astype(dtype)
    if dtype.kind == "c":
        return np.array([1, -1, 1j, 2, 0.5j], dtype)[rng.integers(0, 5, shape)]
    if dtype.kind == "f":
        return np.array([1, -1, 2, 0.5, -4, 3], dtype)[rng.integers(0, 6, shape)]
    lo = 1 if nonzero else 0
    return rng.integers(lo, 4, shape).astype(dtype)


@st.composite
def scatter_cases(draw):
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    ops = ["update"] if dtype.kind == "b" else [o for o in OPS if not (dtype.kind == "c" and o in ("min", "max"))]
    op = draw(st.sampled_from(ops))
    dim0 = draw(st.integers(1, 12))
    row_shape = tuple(draw(st.lists(st.integers(0, 5), max_size=2)))
    n_shape = tuple(draw(st.lists(st.integers(0, 6), min_size=1, max_size=2)))
    seed = draw(st.integers(0, 2**32 - 1))
    bad = draw(st.sampled_from([False, False, True]))
    index_dtype = np.dtype(draw(st.sampled_from(["int32", "int64"])))
    mode = draw(st.sampled_from(["atomic", "locked", "deterministic"]))
    return dtype, op, dim0, row_shape, n_shape, seed, bad, index_dtype, mode


@settings(max_examples=120, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=scatter_cases(), where=st.sampled_from(["gpu", "cpu"]))
def test_scatter_family_matches_reference(case, where):
    dtype, op, dim0, row_shape, n_shape, seed, bad, index_dtype, mode = case
    dev = backend(where)
    rng = np.random.default_rng(seed)
    ref = values(dtype, (dim0, *row_shape), rng, nonzero=True)
    idx = rng.integers(0, dim0, n_shape).astype(index_dtype)
    if bad and idx.size:
        pos = rng.integers(0, idx.size)
        idx.reshape(-1)[pos] = rng.choice([-1, dim0, dim0 + 5, -7])
    upd = values(dtype, (*n_shape, *row_shape), rng, nonzero=op == "div")
    n = idx.size
    x = dev.from_host(ref)
    flat_idx = dev.from_host(idx.reshape(-1))
    flat_upd = dev.from_host(upd.reshape((n, *row_shape)))
    expected = ref.copy()
    try:
        with np.errstate(all="ignore"):
            reference.scatter(op, expected, idx.reshape(-1), upd.reshape((n, *row_shape)))
    except errors.InvalidArgumentError as e:
        with pytest.raises(errors.InvalidArgumentError) as got:
            dev.scatter(op, x, flat_idx, flat_upd, locked=mode == "locked", deterministic=mode == "deterministic")
        assert str(got.value) == str(e)
        assert dev.to_host(x).tobytes() == ref.tobytes()
        return
    dev.scatter(op, x, flat_idx, flat_upd, locked=mode == "locked", deterministic=mode == "deterministic")
    got = dev.to_host(x)
    if op == "update" and mode == "atomic" and where == "gpu":
        # Unlocked update: each element comes from some occurrence of its row.
        flat_i, flat_u = idx.reshape(-1), upd.reshape((n, *row_shape))
        for r in range(dim0):
            cands = flat_u[flat_i == r]
            if len(cands) == 0:
                assert got[r].tobytes() == ref[r].tobytes()
            else:
                assert (cands == got[r]).reshape(len(cands), -1).any(axis=0).all()
    else:
        assert got.tobytes() == expected.tobytes()


@st.composite
def nd_cases(draw):
    shape = tuple(draw(st.lists(st.integers(1, 5), min_size=1, max_size=3)))
    k = draw(st.integers(1, len(shape)))
    n = draw(st.integers(0, 12))
    return shape, k, n, draw(st.sampled_from(["update", "add", "sub"])), draw(st.integers(0, 2**32 - 1)), \
        draw(st.booleans()), draw(st.booleans())


@settings(max_examples=60, deadline=None, database=None)
@given(case=nd_cases())
def test_scatter_nd_matches_reference(case):
    shape, k, n, op, seed, bad, deterministic = case
    dev = backend("gpu")
    rng = np.random.default_rng(seed)
    ref = values(np.dtype(np.float32), shape, rng)
    idx = np.stack([rng.integers(0, shape[j], n) for j in range(k)], axis=-1).reshape(n, k)
    if bad and n:
        idx[rng.integers(0, n), rng.integers(0, k)] = shape[0] + 1 if rng.integers(0, 2) else -1
    upd = values(np.dtype(np.float32), (n, *shape[k:]), rng)
    expected = ref.copy()
    x = dev.from_host(ref)
    try:
        reference.scatter_nd(op, expected, idx, upd)
    except errors.InvalidArgumentError as e:
        with pytest.raises(errors.InvalidArgumentError) as got:
            dev.scatter_nd(op, x, dev.from_host(idx), dev.from_host(upd), locked=True, deterministic=deterministic)
        assert str(got.value) == str(e)
        assert dev.to_host(x).tobytes() == ref.tobytes()
        return
    dev.scatter_nd(op, x, dev.from_host(idx), dev.from_host(upd), locked=True, deterministic=deterministic)
    assert dev.to_host(x).tobytes() == expected.tobytes()
