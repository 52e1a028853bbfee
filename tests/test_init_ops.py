"""gpuvars.init_ops: TF 1.x initializer semantics, statistics, seeds, configs."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from conftest import TaggedBackend

from gpuvars import init_ops as io
from gpuvars import random as gr
from gpuvars.graph import Graph
from gpuvars.partitioning import fixed_size_partitioner, shard_slices


@pytest.fixture(autouse=True)
def graph():
    with Graph().as_default() as g:
        yield g


ALL = [
    io.zeros_initializer(),
    io.ones_initializer(),
    io.constant_initializer(3.0),
    io.constant_initializer([1.0, 2.0]),
    io.random_uniform_initializer(-1.0, 1.0, seed=1),
    io.random_normal_initializer(seed=1),
    io.truncated_normal_initializer(seed=1),
    io.uniform_unit_scaling_initializer(seed=1),
    io.variance_scaling_initializer(seed=1),
    io.glorot_uniform_initializer(seed=1),
    io.glorot_normal_initializer(seed=1),
    io.orthogonal_initializer(seed=1),
    io.identity_initializer(),
]


@pytest.mark.parametrize("init", ALL, ids=lambda i: type(i).__name__)
def test_every_initializer_lands_on_the_backend_and_matches_the_host(init):
    backend = TaggedBackend(0)
    x = init([6, 6], backend=backend)
    assert backend.owns(x)
    assert x.shape == (6, 6) and x.dtype == np.float32
    np.testing.assert_array_equal(np.asarray(x), init([6, 6]))


@pytest.mark.parametrize("init", ALL, ids=lambda i: type(i).__name__)
def test_config_round_trip(init):
    config = init.get_config()
    again = type(init).from_config(config)
    assert again.get_config() == config
    blob = json.dumps(io.serialize(init))
    back = io.deserialize(json.loads(blob))
    assert type(back) is type(init)
    np.testing.assert_array_equal(back([3, 3]), init([3, 3]))


# -- constants -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64", "int8", "int32", "uint16", "bool", "complex64"])
def test_zeros_and_ones_take_any_dtype(dtype):
    z = io.zeros_initializer()([2, 3], dtype)
    o = io.ones_initializer()([2, 3], dtype)
    assert z.dtype == np.dtype(dtype) and o.dtype == np.dtype(dtype)
    assert not z.any() and o.all()
    assert np.array_equal(o, np.ones((2, 3), dtype))


def test_zeros_default_dtype_and_shape_forms():
    assert io.zeros_initializer()(4).shape == (4,)
    assert io.zeros_initializer()((2, 2)).dtype == np.float32
    assert io.zeros_initializer(dtype="int64")([]).dtype == np.int64
    assert io.ones_initializer()([0, 3]).shape == (0, 3)
    with pytest.raises(ValueError, match="fully defined"):
        io.zeros_initializer()([None, 3])


def test_constant_scalar_list_and_padding():
    np.testing.assert_array_equal(io.constant_initializer(7)([2, 2], "int32"), np.full((2, 2), 7, np.int32))
    np.testing.assert_array_equal(io.constant_initializer([1, 2, 3])([5]), [1.0, 2.0, 3.0, 3.0, 3.0])
    np.testing.assert_array_equal(io.constant_initializer([1, 2, 3])([2, 3], "int32"), [[1, 2, 3], [3, 3, 3]])
    np.testing.assert_array_equal(io.constant_initializer(np.array([[1, 2], [3, 4]]))([5]), [1, 2, 3, 4, 4])
    np.testing.assert_array_equal(io.constant_initializer([])([2]), [0.0, 0.0])
    assert io.constant_initializer([1, 2])([0]).shape == (0,)
    assert io.constant_initializer(7)([]).shape == ()


def test_constant_too_many_elements():
    with pytest.raises(ValueError, match="Too many elements provided. Needed at most 3, but received 4."):
        io.constant_initializer([1, 2, 3, 4])([3])


def test_constant_verify_shape():
    np.testing.assert_array_equal(io.constant_initializer([1, 2, 3], verify_shape=True)([3]), [1, 2, 3])
    with pytest.raises(TypeError, match=r"Expected Tensor's shape: \(4,\), but got \(3,\)."):
        io.constant_initializer([1, 2, 3], verify_shape=True)([4])
    with pytest.raises(TypeError, match=r"Expected Tensor's shape: \(2, 2\), but got \(2,\)."):
        io.constant_initializer([1, 2])([2, 2], verify_shape=True)
    # The call's verify_shape overrides the constructor's.
    np.testing.assert_array_equal(
        io.constant_initializer([1, 2], verify_shape=True)([3], verify_shape=False), [1, 2, 2]
    )


def test_constant_dtype_compatibility_as_tf():
    with pytest.raises(TypeError, match="Expected int32, but got 1.5 of type 'float'."):
        io.constant_initializer(1.5)([2], "int32")
    with pytest.raises(TypeError, match="Expected int32, but got 2.0 of type 'float'."):
        io.constant_initializer([1, 2.0])([2], "int32")
    with pytest.raises(TypeError, match="Expected bool, but got 1 of type 'int'."):
        io.constant_initializer([1, 2])([2], "bool")
    with pytest.raises(TypeError, match=r"Expected float32, but got \(1\+2j\) of type 'complex'."):
        io.constant_initializer(1 + 2j)([2])
    # NumPy values are cast, as TF casts them; integers wrap like TF's.
    np.testing.assert_array_equal(io.constant_initializer(np.float32(1.5))([2], "int32"), [1, 1])
    np.testing.assert_array_equal(io.constant_initializer(-1)([2], "uint8"), [255, 255])
    np.testing.assert_array_equal(io.constant_initializer(True)([2], "int32"), [1, 1])
    np.testing.assert_array_equal(io.constant_initializer(1)([2], "complex64"), [1 + 0j, 1 + 0j])


def test_constant_rejects_other_types():
    with pytest.raises(TypeError, match="Invalid type for initial value=.* of type: dict"):
        io.constant_initializer({1: 2})


def test_constant_config_is_tf_s():
    assert io.constant_initializer([1, 2]).get_config() == {"value": [1, 2], "dtype": "float32"}


def test_identity_and_its_partitioned_slices():
    np.testing.assert_array_equal(io.identity_initializer(gain=2.0)([2, 3]), 2 * np.eye(2, 3, dtype=np.float32))
    full = np.eye(5, 4, dtype=np.float32)
    parts = [
        io.identity_initializer()(list(s), partition_info=io.PartitionInfo([5, 4], list(o)))
        for o, s in shard_slices([5, 4], [2, 1])
    ]
    np.testing.assert_array_equal(np.concatenate(parts), full)
    with pytest.raises(ValueError, match="must be at least two-dimensional"):
        io.identity_initializer()([3])


# -- random initializers: statistics ----------------------------------------------------------------------
def test_random_uniform_bounds_and_moments():
    x = io.random_uniform_initializer(-2.0, 4.0, seed=3)([100_000]).astype(np.float64)
    assert x.min() >= -2.0 and x.max() < 4.0
    assert abs(x.mean() - 1.0) < 0.03
    assert abs(x.var() - 36 / 12) < 0.05
    default = io.random_uniform_initializer(seed=3)([1000])
    assert default.min() >= 0.0 and default.max() < 1.0


def test_random_uniform_integers():
    x = io.random_uniform_initializer(0, 10, seed=1)([5000], "int32")
    assert x.dtype == np.int32 and set(np.unique(x)) == set(range(10))
    # The default minval is 0.0 (TF would reject it for an integer dtype; a whole float is accepted here).
    y = io.random_uniform_initializer(maxval=3, seed=1)([1000], "int64")
    assert y.dtype == np.int64 and set(np.unique(y)) == {0, 1, 2}
    with pytest.raises(ValueError, match="Must specify maxval for integer dtype int32"):
        io.random_uniform_initializer(0)([5], "int32")
    with pytest.raises(ValueError, match="Argument `dtype` got invalid value bool"):
        io.random_uniform_initializer(0, 1)([5], "bool")


def test_random_normal_moments():
    x = io.random_normal_initializer(mean=3.0, stddev=2.0, seed=4)([100_000]).astype(np.float64)
    assert abs(x.mean() - 3.0) < 0.03
    assert abs(x.std() - 2.0) < 0.03
    assert np.abs(x - 3.0).max() > 7.0  # untruncated: 3.5 sigma tails exist in 1e5 draws


def test_truncated_normal_bounds_and_moments():
    x = io.truncated_normal_initializer(mean=-1.0, stddev=0.5, seed=4)([100_000]).astype(np.float64)
    assert np.abs(x + 1.0).max() <= 1.0 + 1e-6
    assert abs(x.mean() + 1.0) < 0.01
    assert abs(x.std() - 0.5 * io.TRUNCATED_STDDEV_CORRECTION) < 0.01


@pytest.mark.parametrize("cls", [io.random_normal_initializer, io.truncated_normal_initializer])
def test_normal_initializers_need_floating_dtypes(cls):
    with pytest.raises(ValueError, match="Argument `dtype` is expected to be floating point. Received: int32."):
        cls(dtype="int32")
    with pytest.raises(ValueError, match="Argument `dtype` is expected to be floating point"):
        cls()([2], "int32")
    assert cls(seed=1)([4], "float16").dtype == np.float16
    assert cls(seed=1)([4], "float64").dtype == np.float64


def test_uniform_unit_scaling_bound_and_full_shape():
    init = io.uniform_unit_scaling_initializer(factor=1.5, seed=2)
    x = init([300, 20]).astype(np.float64)
    m = 1.5 * math.sqrt(3 / 300)
    assert np.abs(x).max() <= m and np.abs(x).max() > 0.99 * m
    assert abs(x.var() - m * m / 3) < 0.05 * m * m / 3
    # A shard uses the full shape's input size.
    info = io.PartitionInfo(full_shape=[1200, 20], var_offset=[300, 0])
    assert init.max_val([300, 20], info) == pytest.approx(1.5 * math.sqrt(3 / 1200))
    shard = init([300, 20], partition_info=info)
    assert np.abs(shard).max() <= 1.5 * math.sqrt(3 / 1200)
    assert init.max_val([7]) == pytest.approx(1.5 * math.sqrt(3))  # input size 1 for rank 1


@pytest.mark.parametrize(
    "shape, fans",
    [([], (1, 1)), ([7], (7, 7)), ([3, 5], (3, 5)), ([2, 3, 4], (6, 8)), ([3, 3, 16, 32], (144, 288))],
)
def test_compute_fans(shape, fans):
    assert io.compute_fans(shape) == fans


@pytest.mark.parametrize("mode, expected", [("fan_in", 2.0 / 144), ("fan_out", 2.0 / 288), ("fan_avg", 2.0 / 216)])
def test_variance_scaling_modes(mode, expected):
    init = io.variance_scaling_initializer(scale=2.0, mode=mode)
    assert init.effective_scale([3, 3, 16, 32]) == pytest.approx(expected)
    info = io.PartitionInfo(full_shape=[3, 3, 16, 32], var_offset=[0, 0, 0, 16])
    assert init.effective_scale([3, 3, 16, 16], info) == pytest.approx(expected)
    assert io.variance_scaling_initializer(scale=2.0, mode=mode).effective_scale([]) == 2.0


@pytest.mark.parametrize("distribution", ["truncated_normal", "untruncated_normal", "uniform"])
def test_variance_scaling_distributions_hit_the_target_variance(distribution):
    init = io.variance_scaling_initializer(scale=3.0, mode="fan_in", distribution=distribution, seed=5)
    x = init([400, 250]).astype(np.float64)
    target = 3.0 / 400
    assert abs(x.var() - target) < 0.03 * target
    assert abs(x.mean()) < 0.01 * math.sqrt(target) * 10
    if distribution == "uniform":
        assert np.abs(x).max() <= math.sqrt(3 * target)
    if distribution == "truncated_normal":
        assert np.abs(x).max() <= 2 * math.sqrt(target) / io.TRUNCATED_STDDEV_CORRECTION + 1e-6


def test_variance_scaling_normal_is_truncated_normal_and_case_folds():
    a = io.variance_scaling_initializer(distribution="normal", seed=9)([50, 50])
    b = io.variance_scaling_initializer(distribution="truncated_normal", seed=9)([50, 50])
    np.testing.assert_array_equal(a, b)
    assert io.variance_scaling_initializer(distribution="Uniform").get_config()["distribution"] == "uniform"


def test_variance_scaling_argument_errors():
    with pytest.raises(ValueError, match="Argument `scale` must be a positive float. Received: 0"):
        io.variance_scaling_initializer(scale=0)
    with pytest.raises(ValueError, match=r"Argument `mode` should be one of \('fan_in', 'fan_out', 'fan_avg'\)"):
        io.variance_scaling_initializer(mode="fan_sum")
    with pytest.raises(ValueError, match="Argument `distribution` should be one of .* Received: cauchy"):
        io.variance_scaling_initializer(distribution="cauchy")
    with pytest.raises(ValueError, match="expected to be floating point"):
        io.variance_scaling_initializer(dtype="int32")


def test_glorot_uniform_and_normal():
    u = io.glorot_uniform_initializer(seed=1)([200, 300]).astype(np.float64)
    limit = math.sqrt(6 / 500)
    assert np.abs(u).max() <= limit and np.abs(u).max() > 0.99 * limit
    assert abs(u.var() - 2 / 500) < 0.03 * 2 / 500
    n = io.glorot_normal_initializer(seed=1)([200, 300]).astype(np.float64)
    assert abs(n.var() - 2 / 500) < 0.03 * 2 / 500
    assert io.glorot_uniform_initializer(dtype="float64")([2, 2]).dtype == np.float64
    assert io.glorot_uniform_initializer().get_config() == {"seed": None, "dtype": "float32"}


def test_he_and_lecun_helpers():
    assert io.he_normal().get_config() == {
        "scale": 2.0,
        "mode": "fan_in",
        "distribution": "truncated_normal",
        "seed": None,
        "dtype": "float32",
    }
    assert io.lecun_uniform(seed=3).get_config()["distribution"] == "uniform"
    assert io.he_uniform().scale == 2.0 and io.lecun_normal().scale == 1.0


@pytest.mark.parametrize("shape", [[6, 6], [10, 4], [4, 10], [2, 3, 5], [3, 4, 2, 8]])
def test_orthogonal_rows_or_columns_are_orthonormal(shape):
    q = io.orthogonal_initializer(gain=1.0, seed=3)(shape, "float64")
    assert q.shape == tuple(shape)
    flat = q.reshape(-1, shape[-1])
    if flat.shape[0] >= flat.shape[1]:
        np.testing.assert_allclose(flat.T @ flat, np.eye(flat.shape[1]), atol=1e-12)
    else:
        np.testing.assert_allclose(flat @ flat.T, np.eye(flat.shape[0]), atol=1e-12)


def test_orthogonal_gain_sign_fix_and_errors():
    q = io.orthogonal_initializer(gain=0.5, seed=2)([5, 5], "float64")
    np.testing.assert_allclose(q.T @ q, 0.25 * np.eye(5), atol=1e-12)
    # The sign fix makes R's diagonal positive: Q^T A has a positive diagonal for the drawn A.
    a = gr.RandomStream(gr.key_from_seeds(*gr.get_seed(2))).next("normal", (5, 5), "float64")
    assert (np.diag((2 * q).T @ a) > 0).all()
    with pytest.raises(ValueError, match=r"must be at least two-dimensional. Received shape=\[5\]"):
        io.orthogonal_initializer()([5])
    with pytest.raises(ValueError, match="expected to be floating point"):
        io.orthogonal_initializer()([2, 2], "int32")


# -- seeds and reruns ------------------------------------------------------------------------------------
SEEDED = [
    io.random_uniform_initializer(seed=11),
    io.random_normal_initializer(seed=11),
    io.truncated_normal_initializer(seed=11),
    io.glorot_uniform_initializer(seed=11),
    io.orthogonal_initializer(seed=11),
]


@pytest.mark.parametrize("init", SEEDED, ids=lambda i: type(i).__name__)
def test_seeded_initializers_reproduce_across_graphs(init):
    a = init([8, 8])
    with Graph().as_default():
        b = init([8, 8])
    np.testing.assert_array_equal(a, b)
    other = type(init).from_config({**init.get_config(), "seed": 12})([8, 8])
    assert not np.array_equal(a, other)


@pytest.mark.parametrize("init", SEEDED, ids=lambda i: type(i).__name__)
def test_rerunning_an_init_op_draws_anew(init):
    op = init.bind([8, 8])
    first, second = op(), op()
    assert not np.array_equal(first, second)
    # A fresh op with the same seeds replays the same sequence.
    again = init.bind([8, 8])
    np.testing.assert_array_equal(again(), first)
    np.testing.assert_array_equal(again(), second)


def test_unseeded_initializers_differ_call_to_call():
    init = io.random_normal_initializer()
    assert not np.array_equal(init([20]), init([20]))


def test_graph_seed_alone_reproduces_in_a_fresh_graph(graph):
    gr.set_random_seed(1234)
    init = io.random_uniform_initializer()
    a1, a2 = init([10]), init([10])
    assert not np.array_equal(a1, a2)  # each call is a new op with the graph's next op seed
    with Graph().as_default():
        gr.set_random_seed(1234)
        np.testing.assert_array_equal(init([10]), a1)
        np.testing.assert_array_equal(init([10]), a2)
    with Graph().as_default():
        gr.set_random_seed(4321)
        assert not np.array_equal(init([10]), a1)


def test_graph_seed_and_op_seed_together(graph):
    a = io.random_uniform_initializer(seed=5)([10])
    gr.set_random_seed(99)
    b = io.random_uniform_initializer(seed=5)([10])
    assert not np.array_equal(a, b)  # the graph seed changed from the default 87654321
    with Graph().as_default():
        gr.set_random_seed(99)
        np.testing.assert_array_equal(io.random_uniform_initializer(seed=5)([10]), b)


def _shards(init, full_shape, num_shards):
    out = []
    for offset, shape in shard_slices(full_shape, fixed_size_partitioner(num_shards)(full_shape)):
        out.append(init(list(shape), partition_info=io.PartitionInfo(list(full_shape), list(offset))))
    return out


def test_partitioned_shards_match_tf_seeded_identical_unseeded_different():
    # TF: a seeded initializer gives every shard of the same shape the same values.
    s0, s1 = _shards(io.random_uniform_initializer(seed=201), [20, 12], 2)
    np.testing.assert_array_equal(s0, s1)
    u0, u1 = _shards(io.random_uniform_initializer(), [20, 12], 2)
    assert np.linalg.norm(u0 - u1) > 1e-6


def test_bind_checks_arguments_before_running():
    with pytest.raises(ValueError, match="at least two-dimensional"):
        io.orthogonal_initializer().bind([3])
    with pytest.raises(ValueError, match="Too many elements provided"):
        io.constant_initializer([1, 2, 3]).bind([2])
    with pytest.raises(TypeError, match="unexpected call arguments"):
        io.zeros_initializer().bind([2], verify_shape=True)


def test_init_op_runs_on_the_bound_or_given_backend():
    backend = TaggedBackend(3)
    op = io.random_normal_initializer(seed=1).bind([4], backend=backend)
    assert backend.owns(op())
    other = TaggedBackend(4)
    assert other.owns(op(other))
    assert type(io.zeros_initializer().bind([2])()) is np.ndarray


# -- partition info ---------------------------------------------------------------------------------------
def test_partition_info_single_offset_and_slice_dim():
    info = io.PartitionInfo(full_shape=[10, 4], var_offset=[6, 0])
    assert info.single_slice_dim([4, 4]) == 0
    assert info.single_offset([4, 4]) == 6
    whole = io.PartitionInfo(full_shape=[10, 4], var_offset=[0, 0])
    assert whole.single_slice_dim([10, 4]) is None
    assert whole.single_offset([10, 4]) == 0


def test_partition_info_errors_as_tf():
    with pytest.raises(TypeError, match="`full_shape` must be a sequence"):
        io.PartitionInfo(full_shape=5, var_offset=[0])
    with pytest.raises(TypeError, match="`var_offset` must be a sequence"):
        io.PartitionInfo(full_shape=[5], var_offset=0)
    with pytest.raises(ValueError, match="`var_offset` is of length 2 while full_shape is of length 1"):
        io.PartitionInfo(full_shape=[5], var_offset=[0, 0])
    with pytest.raises(ValueError, match="Expected 0 <= offset < shape but found offset=5, shape=5"):
        io.PartitionInfo(full_shape=[5], var_offset=[5])
    info = io.PartitionInfo(full_shape=[10, 4], var_offset=[6, 0])
    with pytest.raises(TypeError, match="`shape` must be a sequence"):
        info.single_slice_dim(4)
    with pytest.raises(ValueError, match="Expected equal length"):
        info.single_slice_dim([4])
    with pytest.raises(ValueError, match="would exceed self.full_shape"):
        info.single_slice_dim([5, 4])
    with pytest.raises(ValueError, match="slice dim could be either dimension 1 or 0"):
        info.single_slice_dim([4, 2])


def test_deserialize_rejects_unknown_classes():
    with pytest.raises(ValueError, match="Unknown initializer class 'Bogus'"):
        io.deserialize({"class_name": "Bogus", "config": {}})

    class Mine(io.Zeros):
        pass

    with pytest.raises(ValueError, match="Cannot serialize initializer of class Mine"):
        io.serialize(Mine())


def test_uniform_unit_scaling_full_shape_argument():
    # Seed 002 / SPEC §6: uniform_unit_scaling_initializer(factor, seed, dtype, full_shape).
    init = io.uniform_unit_scaling_initializer(factor=2.0, seed=4, dtype="float64", full_shape=[1200, 20])
    limit = 2.0 * math.sqrt(3 / 1200)
    assert init.max_val([300, 20]) == pytest.approx(limit)
    x = init([300, 20])
    assert x.dtype == np.float64 and np.abs(x).max() <= limit and np.abs(x).max() > 0.9 * limit
    # full_shape, when given, wins over partition_info's; without it partition_info still counts.
    info = io.PartitionInfo(full_shape=[600, 20], var_offset=[300, 0])
    assert init.max_val([300, 20], info) == pytest.approx(limit)
    assert io.uniform_unit_scaling_initializer().max_val([300, 20], info) == pytest.approx(math.sqrt(3 / 600))
    # A TensorShape or tuple is accepted and kept as a list; the config round-trips through JSON.
    from gpuvars.tensor import TensorShape

    assert io.uniform_unit_scaling_initializer(full_shape=TensorShape([4, 5])).full_shape == [4, 5]
    config = io.uniform_unit_scaling_initializer(full_shape=(8, 3)).get_config()
    assert config == {"factor": 1.0, "seed": None, "dtype": "float32", "full_shape": [8, 3]}
    back = io.deserialize(json.loads(json.dumps(io.serialize(init))))
    assert back.full_shape == [1200, 20] and back.max_val([1, 20]) == pytest.approx(limit)
    assert io.uniform_unit_scaling_initializer().get_config()["full_shape"] is None
    with pytest.raises(ValueError, match="must be fully defined"):
        io.uniform_unit_scaling_initializer(full_shape=[None, 3])
    with pytest.raises(TypeError, match="list or tuple of integers"):
        io.uniform_unit_scaling_initializer(full_shape=object())


@pytest.mark.parametrize("name, fill, cls", [("zeros_initializer", 0, io.Zeros), ("ones_initializer", 1, io.Ones)])
def test_zeros_and_ones_initializer_seed_002_function_form(name, fill, cls):
    from gpuvars.tensor import Tensor, TensorShape

    fn = getattr(io, name)
    # Seed 002's adaptor: a shape first gives the value, a deferred Tensor (as zeros()/ones()).
    for shape in ([2, 3], (2, 3), TensorShape([2, 3])):
        t = fn(shape)
        assert isinstance(t, Tensor)
        np.testing.assert_array_equal(t.numpy(), np.full((2, 3), fill, np.float32))
    t = fn([4], dtype="int32", partition_info=None)
    assert t.numpy().dtype == np.int32 and t.numpy().tolist() == [fill] * 4
    assert fn([2], "int64").numpy().dtype == np.int64
    # TF 1.x's class form is unchanged: a Zeros/Ones initializer.
    assert type(fn()) is cls and fn().dtype == np.float32
    assert type(fn(dtype="int32")) is cls and fn(dtype="int32").dtype == np.int32
    assert fn("int16").dtype == np.int16  # positional dtype, as TF 1.x's Zeros(dtype)
    assert fn(dtype="int32")([2]).tolist() == [fill, fill]
    with pytest.raises(TypeError, match="two dtypes"):
        fn("int32", "int64")
    with pytest.raises(TypeError, match="partition_info without a shape"):
        fn(partition_info=io.PartitionInfo([4], [0]))
    with pytest.raises(TypeError):
        fn(dtype="not-a-dtype")


def test_zeros_initializer_function_form_as_a_get_variable_initializer():
    import gpuvars as tf

    with tf.Graph().as_default():
        v = tf.get_variable("v", [3], dtype=tf.int32, initializer=io.zeros_initializer)
        w = tf.get_variable("w", [2], initializer=io.ones_initializer)
        tf.global_variables_initializer().run()
        assert v.numpy().tolist() == [0, 0, 0] and v.dtype == np.int32
        assert w.numpy().tolist() == [1.0, 1.0]
