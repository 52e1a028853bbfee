"""gpuvars.random: Philox4x32-10 known answers, the element contract, distributions, seeds."""

from __future__ import annotations

import math
import threading

import numpy as np
import pytest
from conftest import TaggedBackend

from gpuvars import errors
from gpuvars import random as gr
from gpuvars.backends.cpu import CpuBackend
from gpuvars.graph import Graph

KEY = (0x12345678, 0x9ABCDEF0)


@pytest.fixture
def graph():
    with Graph().as_default() as g:
        yield g


# -- Philox known answers (Random123 kat_vectors, philox4x32_10) --------------------------------------------
@pytest.mark.parametrize(
    "counter, key, expected",
    [
        ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
        ((0xFFFFFFFF,) * 4, (0xFFFFFFFF, 0xFFFFFFFF), (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
        (
            (0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344),
            (0xA4093822, 0x299F31D0),
            (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1),
        ),
    ],
)
def test_philox_known_answers(counter, key, expected):
    out = gr.philox4x32(counter, key)
    assert tuple(int(w) for w in out) == expected
    assert all(w.dtype == np.uint32 for w in out)


def test_philox_vectorized_matches_scalar_calls():
    c0 = np.array([0, 1, 0xFFFFFFFF, 7], dtype=np.uint64)
    vec = gr.philox4x32((c0, 5, 6, 7), KEY)
    for i, c in enumerate(c0):
        one = gr.philox4x32((int(c), 5, 6, 7), KEY)
        assert [int(w[i]) for w in vec] == [int(w) for w in one]


# -- the element contract shared with kernels/philox.cu ------------------------------------------------------
def _block(b, counter, attempt=0, key=KEY):
    """The four output words of block b, computed independently of the reference's layout code."""
    return [int(w) for w in gr.philox4x32((b & 0xFFFFFFFF, b >> 32, counter & 0xFFFFFFFF, attempt), key)]


def _u53(a, b):
    return ((a >> 5) * 67108864.0 + (b >> 6)) * 2.0**-53


def test_bits_layout_block_and_lane():
    bits = gr.philox_reference("bits", (3, 7), "uint32", KEY, 9).reshape(-1)
    assert bits.dtype == np.uint32
    for i in range(bits.size):
        assert int(bits[i]) == _block(i // 4, 9)[i % 4]


def test_counter_uses_its_low_32_bits():
    a = gr.philox_reference("bits", (8,), "uint32", KEY, 5)
    b = gr.philox_reference("bits", (8,), "uint32", KEY, 5 + 2**32)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, gr.philox_reference("bits", (8,), "uint32", KEY, 6))


def test_uniform_float32_is_top_24_bits():
    bits = gr.philox_reference("bits", (1001,), "uint32", KEY, 3)
    u = gr.philox_reference("uniform", (1001,), "float32", KEY, 3)
    assert u.dtype == np.float32
    np.testing.assert_array_equal(u, (bits >> 8).astype(np.float64) * 2.0**-24)


def test_uniform_float64_uses_two_lanes_per_element():
    u = gr.philox_reference("uniform", (9,), "float64", KEY, 4)
    for i in range(9):
        x = _block(i // 2, 4)
        lane = 2 * (i % 2)
        assert u[i] == _u53(x[lane], x[lane + 1])


def test_uniform_extremes_stay_below_one():
    assert _u53(0xFFFFFFFF, 0xFFFFFFFF) == 1.0 - 2.0**-53
    assert (0xFFFFFFFF >> 8) * 2.0**-24 == 1.0 - 2.0**-24


def test_normal_is_box_muller_on_float64_uniforms():
    z = gr.philox_reference("normal", (7,), "float64", KEY, 2)
    expected = []
    for i in range(7):
        x = _block(i // 2, 2)
        u1, u2 = _u53(x[0], x[1]), _u53(x[2], x[3])
        r = math.sqrt(-2.0 * math.log(1.0 - u1))
        t = 6.283185307179586 * u2
        expected.append(r * math.cos(t) if i % 2 == 0 else r * math.sin(t))
    np.testing.assert_array_max_ulp(z, np.array(expected), maxulp=2)


def test_normal_float32_is_rounded_float64():
    z64 = gr.philox_reference("normal", (101,), "float64", KEY, 2)
    z32 = gr.philox_reference("normal", (101,), "float32", KEY, 2)
    np.testing.assert_array_equal(z32, z64.astype(np.float32))


def test_truncated_normal_retries_with_the_attempt_word():
    n = 4000
    z0 = gr.philox_reference("normal", (n,), "float64", KEY, 1)
    t = gr.philox_reference("truncated_normal", (n,), "float64", KEY, 1)
    keep = np.abs(z0) <= 2.0
    np.testing.assert_array_equal(t[keep], z0[keep])
    rejected = np.flatnonzero(~keep)
    assert rejected.size > 100  # about 4.55% of n
    for i in rejected[:20]:
        for attempt in range(1, 64):
            x = _block(i // 2, 1, attempt)
            u1, u2 = _u53(x[0], x[1]), _u53(x[2], x[3])
            r = math.sqrt(-2.0 * math.log(1.0 - u1))
            th = 6.283185307179586 * u2
            z = r * math.cos(th) if i % 2 == 0 else r * math.sin(th)
            if abs(z) <= 2.0:
                break
        np.testing.assert_array_max_ulp(t[i], z, maxulp=2)


@pytest.mark.parametrize(
    "kind, dtype",
    [
        ("bits", "uint32"),
        ("uniform", "float32"),
        ("uniform", "float64"),
        ("normal", "float32"),
        ("truncated_normal", "float64"),
    ],
)
def test_element_values_do_not_depend_on_size_or_chunking(monkeypatch, kind, dtype):
    full = gr.philox_reference(kind, (37,), dtype, KEY, 8)
    prefix = gr.philox_reference(kind, (10,), dtype, KEY, 8)
    np.testing.assert_array_equal(full[:10], prefix)
    monkeypatch.setattr(gr, "_CHUNK", 8)
    np.testing.assert_array_equal(gr.philox_reference(kind, (37,), dtype, KEY, 8), full)
    np.testing.assert_array_equal(gr.philox_reference(kind, (37,), dtype, KEY, 8), full.reshape(37))


def test_shapes_are_c_order_views_of_the_flat_draw():
    flat = gr.philox_reference("normal", (24,), "float32", KEY, 0)
    np.testing.assert_array_equal(gr.philox_reference("normal", (2, 3, 4), "float32", KEY, 0), flat.reshape(2, 3, 4))
    assert gr.philox_reference("uniform", (0, 5), "float32", KEY, 0).shape == (0, 5)
    assert gr.philox_reference("normal", (), "float64", KEY, 0).shape == ()


def test_reference_rejects_bad_kinds_and_dtypes():
    with pytest.raises(ValueError, match="Argument `kind` must be one of"):
        gr.philox_reference("poisson", (2,), "float32", KEY, 0)
    with pytest.raises(ValueError, match="expected to be floating point"):
        gr.philox_reference("normal", (2,), "int32", KEY, 0)
    with pytest.raises(ValueError, match="uint32"):
        gr.philox_reference("bits", (2,), "int64", KEY, 0)


# -- distributions --------------------------------------------------------------------------------------------
N = 200_000


def test_uniform_moments_and_range():
    u = gr.philox_reference("uniform", (N,), "float64", KEY, 0)
    assert u.min() >= 0.0 and u.max() < 1.0
    assert abs(u.mean() - 0.5) < 5 * math.sqrt(1 / 12 / N)
    assert abs(u.var() - 1 / 12) < 0.002
    counts = np.histogram(u, bins=20, range=(0, 1))[0]
    assert counts.min() > N / 20 * 0.95 and counts.max() < N / 20 * 1.05


def test_normal_moments():
    z = gr.philox_reference("normal", (N,), "float64", KEY, 0)
    assert abs(z.mean()) < 5 / math.sqrt(N)
    assert abs(z.var() - 1.0) < 0.02
    assert abs(np.mean(z**3)) < 0.03
    assert abs(np.mean(z**4) - 3.0) < 0.1
    # Two sigma tails: 4.55% of the mass.
    assert abs(np.mean(np.abs(z) > 2.0) - 0.0455) < 0.003


def test_truncated_normal_bounds_and_variance():
    z = gr.philox_reference("truncated_normal", (N,), "float64", KEY, 0)
    assert np.abs(z).max() <= 2.0
    assert abs(z.mean()) < 0.01
    # The variance of a standard normal truncated at +-2 (TF's 0.8796... correction, squared).
    assert abs(z.var() - 0.87962566103423978**2) < 0.01


def test_draw_applies_uniform_parameters_in_dtype():
    raw = gr.philox_reference("uniform", (500,), "float32", KEY, 7)
    x = gr.draw("uniform", (500,), "float32", key=KEY, counter=7, minval=-3.0, maxval=5.0)
    assert x.dtype == np.float32
    np.testing.assert_array_equal(x, raw * np.float32(8.0) + np.float32(-3.0))
    assert x.min() >= -3.0 and x.max() < 5.0
    np.testing.assert_array_equal(gr.draw("uniform", (500,), "float32", key=KEY, counter=7), raw)


def test_draw_applies_normal_parameters_in_dtype():
    raw = gr.philox_reference("normal", (500,), "float64", KEY, 7)
    x = gr.draw("normal", (500,), "float64", key=KEY, counter=7, mean=2.0, stddev=0.5)
    np.testing.assert_array_equal(x, raw * 0.5 + 2.0)
    t = gr.draw("truncated_normal", (500,), "float32", key=KEY, counter=7, mean=-1.0, stddev=3.0)
    assert np.abs(t + 1.0).max() <= 6.0 + 1e-5


def test_half_precision_uniform_stays_below_one():
    raw = gr.philox_reference("uniform", (1 << 16,), "float16", KEY, 0)
    assert raw.max() == 1.0  # float32 draws within 2**-12 of 1 round up to 1.0 in float16
    u = gr.draw("uniform", (1 << 16,), "float16", key=KEY, counter=0)
    assert u.dtype == np.float16
    assert u.max() == np.float16(1 - 2.0**-11)
    np.testing.assert_array_equal(u[raw < 1], raw[raw < 1])


def test_integer_uniform_is_minval_plus_bits_mod_range():
    bits = gr.philox_reference("bits", (2000,), "uint32", KEY, 1)
    x = gr.draw("uniform", (2000,), "int32", key=KEY, counter=1, minval=-5, maxval=7)
    assert x.dtype == np.int32
    np.testing.assert_array_equal(x, (bits.astype(np.int64) % 12) - 5)
    assert set(np.unique(x)) == set(range(-5, 7))
    small = gr.draw("uniform", (100,), "uint8", key=KEY, counter=1, minval=250, maxval=256)
    assert small.dtype == np.uint8 and small.min() >= 250


def test_integer_uniform_wide_ranges_use_two_words():
    words = gr.philox_reference("bits", (20,), "uint32", KEY, 0).astype(np.uint64)
    x64 = words[0::2] | (words[1::2] << np.uint64(32))
    lo, hi = -(2**62), 2**62
    x = gr.draw("uniform", (10,), "int64", key=KEY, counter=0, minval=lo, maxval=hi)
    assert [int(v) for v in x] == [lo + int(w) % (hi - lo) for w in x64]
    full = gr.draw("uniform", (10,), "uint64", key=KEY, counter=0, minval=0, maxval=2**64)
    np.testing.assert_array_equal(full, x64)
    signed = gr.draw("uniform", (10,), "int64", key=KEY, counter=0, minval=-(2**63), maxval=2**63)
    assert [int(v) for v in signed] == [int(w) - 2**63 for w in x64]


def test_integer_uniform_errors():
    with pytest.raises(ValueError, match="Must specify maxval for integer dtype int32"):
        gr.draw("uniform", (3,), "int32", key=KEY, counter=0)
    with pytest.raises(errors.InvalidArgumentError, match="Need minval < maxval, got 5 >= 5"):
        gr.draw("uniform", (3,), "int32", key=KEY, counter=0, minval=5, maxval=5)
    with pytest.raises(ValueError, match="must fit in int8"):
        gr.draw("uniform", (3,), "int8", key=KEY, counter=0, minval=0, maxval=300)
    with pytest.raises(ValueError, match="Argument `dtype` got invalid value bool"):
        gr.draw("uniform", (3,), "bool", key=KEY, counter=0)
    with pytest.raises(TypeError, match="Expected int32, but got 0.5 of type 'float'."):
        gr.draw("uniform", (3,), "int32", key=KEY, counter=0, minval=0.5, maxval=3)
    # Whole floats are taken as integers (TF rejects them, even RandomUniform's default minval=0.0).
    x = gr.draw("uniform", (3,), "int32", key=KEY, counter=0, minval=0.0, maxval=3)
    np.testing.assert_array_equal(x, gr.draw("uniform", (3,), "int32", key=KEY, counter=0, minval=0, maxval=3))


def test_draw_errors():
    with pytest.raises(ValueError, match="expected to be floating point"):
        gr.draw("normal", (3,), "int32", key=KEY, counter=0)
    with pytest.raises(ValueError, match=r"Unexpected parameters for 'normal' draws: \['minval'\]"):
        gr.draw("normal", (3,), "float32", key=KEY, counter=0, minval=1)
    with pytest.raises(ValueError, match="Argument `kind` must be one of"):
        gr.draw("gamma", (3,), "float32", key=KEY, counter=0)


# -- backends ------------------------------------------------------------------------------------------------
class _KernelBackend(TaggedBackend):
    """A backend with its own ``random`` hook (records the calls)."""

    def __init__(self, index=0):
        super().__init__(index)
        self.calls = []

    def random(self, kind, shape, dtype, key, counter, **params):
        self.calls.append((kind, shape, np.dtype(dtype), key, counter))
        return self.from_host(gr.philox_reference(kind, shape, dtype, key, counter))


@pytest.mark.parametrize(
    "kind, dtype, params",
    [
        ("uniform", "float32", {"minval": -1.0, "maxval": 2.0}),
        ("uniform", "float16", {}),
        ("uniform", "int64", {"minval": 0, "maxval": 10}),
        ("normal", "float64", {"mean": 1.0}),
        ("truncated_normal", "float32", {"stddev": 2.0}),
        ("bits", "uint32", {}),
    ],
)
def test_draw_lands_on_the_backend_and_matches_the_host(kind, dtype, params):
    host = gr.draw(kind, (4, 5), dtype, key=KEY, counter=3, **params)
    fallback = TaggedBackend(1)  # random() raises NotImplementedError: the reference is copied over
    kernel = _KernelBackend(2)
    for backend in (fallback, kernel):
        x = gr.draw(kind, (4, 5), dtype, backend=backend, key=KEY, counter=3, **params)
        assert backend.owns(x), type(x)
        np.testing.assert_array_equal(np.asarray(x), host)
    assert kernel.calls and all(c[3] == KEY and c[4] == 3 for c in kernel.calls)


def test_cpu_backend_falls_back_to_the_reference():
    x = gr.draw("normal", (6,), "float32", backend=CpuBackend(0), key=KEY, counter=0)
    np.testing.assert_array_equal(x, gr.philox_reference("normal", (6,), "float32", KEY, 0))
    assert type(x) is np.ndarray


# -- seeds ---------------------------------------------------------------------------------------------------
def test_get_seed_op_seed_only_uses_the_default_graph_seed(graph):
    assert gr.get_seed(42, graph) == (gr.DEFAULT_GRAPH_SEED, 42)


def test_get_seed_graph_seed_takes_op_seeds_from_the_graph(graph):
    graph.seed = 7
    first = [gr.get_seed(None, graph) for _ in range(3)]
    assert all(g == 7 for g, _ in first)
    assert len({o for _, o in first}) == 3
    with Graph().as_default() as fresh:
        fresh.seed = 7
        assert [gr.get_seed(None, fresh) for _ in range(3)] == first
    assert gr.get_seed(5, graph) == (7, 5)


def test_get_seed_truncates_and_maps_zero_pair(graph):
    graph.seed = 0
    assert gr.get_seed(0, graph) == (0, 2**31 - 1)
    assert gr.get_seed(2**31 - 1 + 5, graph) == (0, 5)
    graph.seed = -1
    assert gr.get_seed(3, graph) == ((-1) % (2**31 - 1), 3)


def test_get_seed_unseeded_is_fresh_each_time(graph):
    pairs = {gr.get_seed(None, graph) for _ in range(5)}
    assert len(pairs) == 5


def test_get_seed_uses_the_default_graph(graph):
    graph.seed = 11
    assert gr.get_seed(3) == (11, 3)


def test_get_seed_rejects_non_integers(graph):
    with pytest.raises(TypeError, match="must be an integer"):
        gr.get_seed(1.5, graph)


def test_set_random_seed_sets_the_default_graph_seed(graph):
    gr.set_random_seed(123)
    assert graph.seed == 123
    gr.set_random_seed(None)
    assert graph.seed is None
    with pytest.raises(TypeError, match="must be an integer"):
        gr.set_random_seed("1")


def test_key_from_seeds_is_pinned_and_injective():
    # Pinned: changing the derivation changes every seeded initialization users have.
    assert gr._splitmix64(0) == 0xE220A8397B1DCDAF  # the first output of splitmix64 seeded with 0
    assert gr.key_from_seeds(87654321, 7) == (0xEF8765B1, 0x8EF9881B)
    keys = {gr.key_from_seeds(g, o) for g in range(40) for o in range(40)}
    assert len(keys) == 1600
    assert all(0 <= k < 2**32 for pair in keys for k in pair)


# -- streams -------------------------------------------------------------------------------------------------
def test_stream_draws_anew_and_replays_with_the_same_seeds(graph):
    s = gr.RandomStream.from_seed(5, graph)
    a, b = s.next("uniform", (8,), "float32"), s.next("uniform", (8,), "float32")
    assert not np.array_equal(a, b)
    assert s.counter == 2
    t = gr.RandomStream.from_seed(5, graph)
    np.testing.assert_array_equal(t.next("uniform", (8,), "float32"), a)
    np.testing.assert_array_equal(t.next("uniform", (8,), "float32"), b)
    assert s.key == gr.key_from_seeds(gr.DEFAULT_GRAPH_SEED, 5)
    assert not np.array_equal(gr.RandomStream.from_seed(6, graph).next("uniform", (8,), "float32"), a)


def test_stream_counter_is_thread_safe():
    s = gr.RandomStream(KEY)
    seen = []
    lock = threading.Lock()

    def work():
        for _ in range(50):
            x = s.next("bits", (4,), "uint32")
            with lock:
                seen.append(tuple(int(v) for v in x))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert s.counter == 400
    assert len(set(seen)) == 400


def test_stream_rejects_bad_keys():
    with pytest.raises(ValueError, match=r"two integers in \[0, 2\*\*32\)"):
        gr.RandomStream((2**32, 0))
