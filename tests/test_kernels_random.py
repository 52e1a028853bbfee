"""kernels/philox.cu on an emulated GPU vs a self-contained NumPy Philox4x32-10 and gpuvars.random."""

from __future__ import annotations

import numpy as np
import pytest

from gpuvars import kernels

EmulatedGpuBackend = pytest.importorskip("gpuvars.backends.emulated").EmulatedGpuBackend

M0, M1, W0, W1 = 0xD2511F53, 0xCD9E8D57, 0x9E3779B9, 0xBB67AE85


def philox(c0, c1, c2, c3, k0, k1):
    """Random123's philox4x32_R(10, ...), on uint64 arrays holding 32-bit words (written from the paper)."""
    c = [np.asarray(v, np.uint64) & np.uint64(0xFFFFFFFF) for v in (c0, c1, c2, c3)]
    for r in range(10):
        if r:
            k0, k1 = (k0 + W0) & 0xFFFFFFFF, (k1 + W1) & 0xFFFFFFFF
        p0, p1 = np.uint64(M0) * c[0], np.uint64(M1) * c[2]
        c = [(p1 >> np.uint64(32)) ^ c[1] ^ np.uint64(k0), p1 & np.uint64(0xFFFFFFFF),
             (p0 >> np.uint64(32)) ^ c[3] ^ np.uint64(k1), p0 & np.uint64(0xFFFFFFFF)]
    return c


def blocks(nblocks, key, counter, attempt=0):
    b = np.arange(nblocks, dtype=np.uint64)
    return philox(b & np.uint64(0xFFFFFFFF), b >> np.uint64(32), counter, attempt, *key)


def u53(a, b):
    return ((a >> np.uint64(5)).astype(np.float64) * 67108864.0 + (b >> np.uint64(6)).astype(np.float64)) * 2.0**-53


@pytest.fixture(scope="module")
def gpu():
    try:
        return EmulatedGpuBackend(0)
    except kernels.CompilerNotFoundError as e:  # pragma: no cover
        pytest.skip(str(e))


@pytest.mark.parametrize(("ctr", "key", "expected"), [
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF,) * 4, (0xFFFFFFFF, 0xFFFFFFFF), (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
     (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
])
def test_reference_philox_known_answers(ctr, key, expected):
    # Random123's kat_vectors for philox4x32_10.
    assert tuple(int(w) for w in philox(*ctr, *key)) == expected


def test_kernel_known_answer(gpu):
    out = gpu.to_host(gpu.random("bits", (4,), np.uint32, (0, 0), 0))
    assert out.tolist() == [0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8]


@pytest.mark.parametrize("n", [1, 3, 4, 5, 1001, 70_003])
@pytest.mark.parametrize("counter", [0, 7, 2**32 + 5])
def test_bits_and_uniform_bit_identical(gpu, n, counter):
    key = (0x12345678, 0x9ABCDEF0)
    x = blocks((n + 3) // 4, key, counter & 0xFFFFFFFF)
    bits = np.stack(x, axis=1).reshape(-1)[:n].astype(np.uint32)
    assert np.array_equal(gpu.to_host(gpu.random("bits", (n,), np.uint32, key, counter)), bits)
    u32 = (bits >> np.uint32(8)).astype(np.float32) * np.float32(2.0**-24)
    got32 = gpu.to_host(gpu.random("uniform", (n,), np.float32, key, counter))
    assert got32.tobytes() == u32.tobytes()
    got16 = gpu.to_host(gpu.random("uniform", (n,), np.float16, key, counter))
    assert got16.tobytes() == u32.astype(np.float16).tobytes()
    y = blocks((n + 1) // 2, key, counter & 0xFFFFFFFF)
    u64 = np.stack([u53(y[0], y[1]), u53(y[2], y[3])], axis=1).reshape(-1)[:n]
    got64 = gpu.to_host(gpu.random("uniform", (n,), np.float64, key, counter))
    assert got64.tobytes() == u64.tobytes()
    assert 0.0 <= got64.min() and got64.max() < 1.0


def _normal(n, key, counter, attempt=0):
    y = blocks((n + 1) // 2, key, counter, attempt)
    r = np.sqrt(-2.0 * np.log(1.0 - u53(y[0], y[1])))
    t = 6.283185307179586 * u53(y[2], y[3])
    return np.stack([r * np.cos(t), r * np.sin(t)], axis=1).reshape(-1)[:n]


def ulps(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return np.abs(a - b) / np.spacing(np.maximum(np.abs(a), np.abs(b)))


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16])
def test_normal_within_two_ulp(gpu, dtype):
    key, n = (3, 4), 20_001
    expected = _normal(n, key, 11).astype(dtype)
    got = gpu.to_host(gpu.random("normal", (n,), dtype, key, 11))
    assert got.dtype == dtype and got.shape == (n,)
    assert ulps(got.astype(dtype), expected).max() <= 2
    assert abs(float(got.astype(np.float64).mean())) < 0.05 and abs(float(got.astype(np.float64).std()) - 1) < 0.05


def test_truncated_normal_retries_per_element(gpu):
    key, n = (5, 6), 30_000
    z = _normal(n, key, 2)
    for attempt in range(1, 64):
        bad = np.abs(z) > 2.0
        if not bad.any():
            break
        z = np.where(bad, _normal(n, key, 2, attempt), z)
    got = gpu.to_host(gpu.random("truncated_normal", (n,), np.float64, key, 2))
    assert np.abs(got).max() <= 2.0
    assert ulps(got, z).max() <= 2
    assert (np.abs(_normal(n, key, 2)) > 2).sum() > 1000  # the retry path really ran


def test_matches_gpuvars_random_reference(gpu):
    random = pytest.importorskip("gpuvars.random")
    ref = getattr(random, "philox_reference", None)
    if ref is None:
        pytest.skip("gpuvars.random.philox_reference not available")
    key = random.key_from_seeds(1, 2) if hasattr(random, "key_from_seeds") else (1, 2)
    for kind, dtype in [("bits", np.uint32), ("uniform", np.float32), ("uniform", np.float64),
                        ("uniform", np.float16)]:
        got = gpu.to_host(gpu.random(kind, (3, 333), dtype, key, 9))
        assert got.tobytes() == ref(kind, (3, 333), dtype, key, 9).tobytes(), (kind, dtype)
    for kind in ("normal", "truncated_normal"):
        for dtype in (np.float64, np.float32):
            got = gpu.to_host(gpu.random(kind, (1000,), dtype, key, 4))
            assert ulps(got, ref(kind, (1000,), dtype, key, 4)).max() <= 2


def test_random_shapes_and_errors(gpu):
    out = gpu.random("uniform", (2, 0, 3), np.float32, (1, 1), 0)
    assert out.shape == (2, 0, 3) and gpu.owns(out)
    with pytest.raises(ValueError, match="kind"):
        gpu.random("poisson", (3,), np.float32, (1, 1), 0)
    with pytest.raises(ValueError, match="uint32"):
        gpu.random("bits", (3,), np.int32, (1, 1), 0)
    with pytest.raises(ValueError, match="int32"):
        gpu.random("normal", (3,), np.int32, (1, 1), 0)
    with pytest.raises(TypeError, match="scale"):
        gpu.random("normal", (3,), np.float32, (1, 1), 0, stddev=2.0)
    a = gpu.to_host(gpu.random("uniform", (10,), np.float32, (1, 1), 0))
    b = gpu.to_host(gpu.random("uniform", (10,), np.float32, (1, 1), 1))
    c = gpu.to_host(gpu.random("uniform", (10,), np.float32, (1, 2), 0))
    assert not np.array_equal(a, b) and not np.array_equal(a, c)
