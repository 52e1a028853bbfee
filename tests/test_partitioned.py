"""Partitioned variables (SPEC §7): shards, names, collections, values, routing of updates, TF's errors."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import gpuvars as tf
from gpuvars import errors, init_ops, state_ops, transfer
from gpuvars.graph import GraphKeys
from gpuvars.partitioned import PartitionedVariable, SaveSliceInfo
from gpuvars.partitioning import fixed_size_partitioner, variable_axis_size_partitioner
from gpuvars.scopes import AUTO_REUSE, get_variable, variable_scope

P3 = fixed_size_partitioner(3)


def table(name="t", shape=(10, 4), partitioner=P3, **kwargs):
    return get_variable(name, list(shape), partitioner=partitioner, **kwargs)


def arange_table(shape=(10, 4), partitioner=P3, name="t"):
    value = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
    pv = get_variable(name, initializer=value, partitioner=partitioner)
    pv.initializer.run()
    return pv, value.copy()


def slices(rows, cols):
    return state_ops.IndexedSlices(np.asarray(rows, np.float32), np.asarray(cols))


# -- shards, names, geometry ---------------------------------------------------------------------------------

def test_shards_names_shapes_and_slice_info():
    with variable_scope("emb"):
        pv = table(initializer=init_ops.zeros_initializer())
    assert isinstance(pv, PartitionedVariable)
    assert pv.name == "emb/t" and pv.shape == (10, 4) and pv.get_shape() == (10, 4) and pv.dtype == np.float32
    assert len(pv) == 3 and pv._get_partitions() == [3, 1]
    shards = list(pv)
    assert [v.name for v in shards] == ["emb/t/part_0:0", "emb/t/part_1:0", "emb/t/part_2:0"]
    # TF's rule: the first dim % k shards get one extra row.
    assert [v.shape.as_list() for v in shards] == [[4, 4], [3, 4], [3, 4]]
    assert [v._save_slice_info.spec for v in shards] == ["10 4 0,4:0,4", "10 4 4,3:0,4", "10 4 7,3:0,4"]
    info = shards[1]._save_slice_info
    assert (info.full_name, info.full_shape, info.var_offset, info.var_shape) == ("emb/t", [10, 4], [4, 0], [3, 4])
    assert all(v._partitioned is pv for v in shards)
    assert pv._get_variable_list() == shards


def test_partitioning_along_the_second_axis():
    pv = get_variable("q", [7, 5], partitioner=fixed_size_partitioner(2, axis=1))
    assert [v._save_slice_info.spec for v in pv] == ["7 5 0,7:0,3", "7 5 0,7:3,2"]
    assert [v._save_slice_info.var_offset for v in pv] == [[0, 0], [0, 3]]


def test_collections_hold_the_shards():
    pv = table()
    local = get_variable("loc", [6, 2], partitioner=fixed_size_partitioner(2), trainable=False,
                         collections=[GraphKeys.LOCAL_VARIABLES])
    shards = list(pv)
    assert tf.global_variables() == shards and tf.trainable_variables() == shards
    assert tf.local_variables() == list(local)
    assert pv not in tf.global_variables()


def test_shards_go_through_the_device_scopes():
    placed = []

    def device_fn(op):
        placed.append(op.name)
        return "/cpu:0"

    with tf.device(device_fn):
        pv = table()
    assert placed == ["t/part_0", "t/part_1", "t/part_2"]
    assert {v.device for v in pv} == {"/device:CPU:0"}


def test_scalars_ignore_the_partitioner():
    s = get_variable("s", [], partitioner=P3)
    c = get_variable("c", initializer=3.0, partitioner=P3)
    with variable_scope("scope", partitioner=P3):
        inner = get_variable("inner", [])
        pv = get_variable("table", [6, 2])
    assert isinstance(s, tf.Variable) and isinstance(c, tf.Variable) and isinstance(inner, tf.Variable)
    assert isinstance(pv, PartitionedVariable) and pv.name == "scope/table"


def test_a_single_shard_is_still_a_partitioned_variable():
    pv = table(shape=(3, 2), partitioner=fixed_size_partitioner(1))
    assert len(pv) == 1 and [v.name for v in pv] == ["t/part_0:0"]
    pv.initializer.run()
    assert pv.as_tensor().shape == (3, 2)


# -- values ----------------------------------------------------------------------------------------------------

def test_value_is_the_concatenated_shards():
    pv, value = arange_table()
    np.testing.assert_array_equal(pv.as_tensor(), value)
    np.testing.assert_array_equal(pv.value(), value)
    np.testing.assert_array_equal(pv.numpy(), value)
    np.testing.assert_array_equal(np.asarray(pv), value)
    np.testing.assert_array_equal(list(pv)[1].numpy(), value[4:7])
    with tf.Session() as sess:
        np.testing.assert_array_equal(sess.run(pv), value)
    np.testing.assert_array_equal(tf.matmul(pv, np.eye(4, dtype=np.float32)), value)
    np.testing.assert_array_equal(pv * 2.0, value * 2.0)
    np.testing.assert_array_equal(pv[3:5], value[3:5])


def test_value_along_the_second_axis():
    pv, value = arange_table(shape=(3, 7), partitioner=fixed_size_partitioner(3, axis=1))
    assert [v.shape.as_list() for v in pv] == [[3, 3], [3, 2], [3, 2]]
    np.testing.assert_array_equal(pv.numpy(), value)


def test_tensor_initializer_is_sliced_per_shard():
    pv = get_variable("c", initializer=tf.constant(np.arange(6.0).reshape(3, 2)), partitioner=fixed_size_partitioner(2))
    assert pv.dtype == np.float64 and pv.shape == (3, 2)
    assert [v.shape.as_list() for v in pv] == [[2, 2], [1, 2]]
    pv.initializer.run()
    np.testing.assert_array_equal(pv.numpy(), np.arange(6.0).reshape(3, 2))


def test_reading_an_uninitialized_shard_raises():
    pv = table()
    list(pv)[0].initializer.run()
    with pytest.raises(errors.FailedPreconditionError, match="uninitialized value t/part_1"):
        pv.as_tensor()
    assert not tf.is_variable_initialized(pv)
    tf.variables_initializer([pv]).run()
    assert tf.is_variable_initialized(pv) and pv.is_initialized()


def test_global_initializer_initializes_every_shard():
    pv = table(initializer=init_ops.ones_initializer())
    tf.global_variables_initializer().run()
    assert pv.numpy().sum() == 40.0
    assert pv.initializer.name == "t/Initializer"


# -- initializers per shard -----------------------------------------------------------------------------------------

def test_seeded_initializer_gives_equal_shards_of_equal_shape_as_tf():
    # TF calls the initializer once per shard with the shard's shape: the same seed gives the same values.
    pv = get_variable("r", [6, 2], partitioner=fixed_size_partitioner(2),
                      initializer=init_ops.random_uniform_initializer(seed=3))
    pv.initializer.run()
    a, b = (v.numpy() for v in pv)
    np.testing.assert_array_equal(a, b)
    unseeded = get_variable("u", [6, 2], partitioner=fixed_size_partitioner(2),
                            initializer=init_ops.random_uniform_initializer())
    unseeded.initializer.run()
    a, b = (v.numpy() for v in unseeded)
    assert not np.array_equal(a, b)


def test_initializers_receive_partition_info():
    seen = []

    def init(shape, dtype=None, partition_info=None):
        seen.append((list(shape), partition_info.full_shape, partition_info.var_offset))
        return np.zeros(shape)

    pv = get_variable("p", [5, 2], partitioner=fixed_size_partitioner(2), initializer=init)
    pv.initializer.run()
    assert seen == [([3, 2], [5, 2], [0, 0]), ([2, 2], [5, 2], [3, 0])]


def test_default_glorot_initializer_scales_by_the_full_shape():
    pv = get_variable("g", [400, 100], partitioner=fixed_size_partitioner(4))
    pv.initializer.run()
    limit = np.sqrt(6.0 / (400 + 100))  # not the shard's 100 x 100
    values = pv.numpy()
    assert np.abs(values).max() <= limit and np.abs(values).max() > 0.9 * limit


def test_regularizer_applies_per_shard_as_tf():
    pv = get_variable("r", [4, 1], partitioner=fixed_size_partitioner(2), regularizer=lambda w: w * 2.0,
                      initializer=init_ops.ones_initializer())
    losses = tf.get_collection(GraphKeys.REGULARIZATION_LOSSES)
    assert len(losses) == 2
    pv.initializer.run()
    assert sum(float(np.asarray(loss).sum()) for loss in losses) == 8.0


# -- dense updates ----------------------------------------------------------------------------------------------------

def test_assign_splits_a_full_value():
    pv = table()
    value = np.arange(40, dtype=np.float32).reshape(10, 4)
    assert pv.assign(value) is pv  # assign initializes, as for a Variable
    np.testing.assert_array_equal(pv.numpy(), value)
    np.testing.assert_array_equal(list(pv)[2].numpy(), value[7:])
    pv.assign(np.full((10, 4), 1.5))
    assert (pv.numpy() == 1.5).all()
    pv.assign_add(np.ones((10, 4)))
    pv.assign_sub(np.full((10, 4), 0.5))
    assert (pv.numpy() == 2.0).all()
    with pytest.raises(ValueError, match=r"\[10, 4\].*\[\]"):
        pv.assign(1.5)  # a scalar is a shape mismatch, as for a Variable
    assert (pv.numpy() == 2.0).all()


def test_assign_accepts_one_value_per_shard_and_partitioned_variables():
    pv = table(shape=(5, 2), partitioner=fixed_size_partitioner(2))
    pv.assign([np.zeros((3, 2)), np.ones((2, 2))])
    np.testing.assert_array_equal(pv.numpy()[:, 0], [0, 0, 0, 1, 1])
    other = table(name="other", shape=(5, 2), partitioner=fixed_size_partitioner(2))
    other.assign(pv)
    np.testing.assert_array_equal(other.numpy(), pv.numpy())
    pv.assign([[1, 2], [3, 4], [5, 6], [7, 8], [9, 10]])  # a nested list of the full shape is the whole value
    assert pv.numpy()[4].tolist() == [9, 10]


def test_assign_of_a_wrong_shape_changes_no_shard():
    pv, value = arange_table()
    with pytest.raises(errors.InvalidArgumentError, match=r"has shape \[10, 4\] but the value has shape \[10, 3\]"):
        pv.assign(np.zeros((10, 3), np.float32))
    with pytest.raises(errors.InvalidArgumentError):
        pv.assign([np.zeros((4, 4)), np.zeros((3, 4)), np.zeros((2, 4))])  # last shard wrong
    with pytest.raises(TypeError):
        pv.assign(np.zeros((10, 4), np.complex64))
    with pytest.raises(ValueError, match="Cannot assign PartitionedVariable"):
        pv.assign(table(name="u", shape=(10, 4), partitioner=fixed_size_partitioner(2)))
    np.testing.assert_array_equal(pv.numpy(), value)


def test_assign_add_needs_every_shard_initialized():
    pv = table()
    list(pv)[0].initializer.run()
    before = list(pv)[0].numpy()
    with pytest.raises(errors.FailedPreconditionError):
        pv.assign_add(np.ones((10, 4)))
    np.testing.assert_array_equal(list(pv)[0].numpy(), before)


# -- sparse updates ---------------------------------------------------------------------------------------------------

def test_scatter_add_routes_rows_to_their_shards():
    pv, value = arange_table()
    pv.scatter_add(slices(np.ones((4, 4)), [0, 5, 9, 5]))
    value[[0, 9]] += 1
    value[5] += 2  # duplicates combine, across the call
    np.testing.assert_array_equal(pv.numpy(), value)


@pytest.mark.parametrize("op", ["update", "add", "sub", "mul", "div", "min", "max"])
def test_every_scatter_method_matches_numpy(op):
    pv, value = arange_table()
    value += 1.0
    pv.assign(value)
    rows = np.array([9, 0, 4, 3, 7])
    updates = np.random.default_rng(0).uniform(1, 5, size=(5, 4)).astype(np.float32)
    getattr(pv, f"scatter_{op}")(slices(updates, rows))
    ufunc = {"update": None, "add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide,
             "min": np.minimum, "max": np.maximum}[op]
    if ufunc is None:
        value[rows] = updates
    else:
        ufunc.at(value, rows, updates)
    np.testing.assert_allclose(pv.numpy(), value, rtol=1e-6)


def test_scatter_update_last_duplicate_wins_across_shards():
    pv, value = arange_table()
    pv.scatter_update(slices([[1] * 4, [2] * 4, [3] * 4], [8, 1, 8]), use_locking=True)
    assert pv.numpy()[8].tolist() == [3, 3, 3, 3] and pv.numpy()[1].tolist() == [2, 2, 2, 2]


def test_module_scatter_functions_accept_a_partitioned_variable():
    pv, value = arange_table()
    tf.scatter_add(pv, [2, 7], np.ones((2, 4), np.float32))
    tf.scatter_update(pv, np.array([[3], [6]]), np.zeros((2, 1, 4), np.float32))  # higher-rank indices
    tf.scatter_sub(pv, [0, 9], 1.0)  # a scalar update is broadcast
    value[[2, 7]] += 1
    value[[3, 6]] = 0
    value[[0, 9]] -= 1
    np.testing.assert_array_equal(pv.numpy(), value)


def test_scatter_along_a_partitioned_second_axis():
    pv, value = arange_table(shape=(4, 6), partitioner=fixed_size_partitioner(2, axis=1))
    upd = np.arange(12, dtype=np.float32).reshape(2, 6)
    pv.scatter_add(slices(upd, [3, 1]))
    value[[3, 1]] += upd
    np.testing.assert_array_equal(pv.numpy(), value)


def test_out_of_range_index_names_the_full_dimension_and_changes_nothing():
    pv, value = arange_table(shape=(50, 2), partitioner=fixed_size_partitioner(5))
    with pytest.raises(errors.InvalidArgumentError, match=r"^indices\[2\] = 60 is not in \[0, 50\)"):
        pv.scatter_add(slices(np.ones((3, 2)), [0, 12, 60]))
    with pytest.raises(errors.InvalidArgumentError, match=r"indices\[0\] = -1 is not in \[0, 50\)"):
        tf.scatter_update(pv, [-1], np.ones((1, 2), np.float32))
    np.testing.assert_array_equal(pv.numpy(), value)


def test_bad_updates_change_nothing():
    pv, value = arange_table()
    with pytest.raises(errors.InvalidArgumentError, match=r"updates.shape \[2, 3\].*params.shape \[10, 4\]"):
        pv.scatter_add(slices(np.ones((2, 3)), [0, 9]))
    with pytest.raises(TypeError):
        pv.scatter_add(state_ops.IndexedSlices(np.ones((2, 4), np.complex64), [0, 9]))
    with pytest.raises(TypeError, match="int32 or int64"):
        pv.scatter_add(state_ops.IndexedSlices(np.ones((2, 4), np.float32), np.array([0.0, 9.0])))
    with pytest.raises(TypeError, match="sparse_delta is not IndexedSlices"):
        pv.scatter_add((np.ones((2, 4)), [0, 9]))
    np.testing.assert_array_equal(pv.numpy(), value)


def test_scatter_into_an_uninitialized_shard_changes_nothing():
    pv = table(initializer=init_ops.zeros_initializer())
    list(pv)[0].initializer.run()
    with pytest.raises(errors.FailedPreconditionError, match="uninitialized value t/part_1"):
        pv.scatter_add(slices(np.ones((2, 4)), [0, 9]))
    assert list(pv)[0].numpy().sum() == 0


def test_scatter_nd_is_not_supported():
    pv, _ = arange_table()
    with pytest.raises(TypeError, match="scatter_nd_\\* on a PartitionedVariable is not supported"):
        tf.scatter_nd_add(pv, [[0, 1]], [1.0])


# -- reuse and TF's errors ---------------------------------------------------------------------------------------------

def test_reuse_without_a_partitioner_returns_the_same_partitioned_variable():
    with variable_scope("emb"):
        pv = table()
    with variable_scope("emb", reuse=True):
        assert get_variable("t") is pv
        assert get_variable("t", [10, 4], partitioner=P3) is pv
    with variable_scope("emb", reuse=AUTO_REUSE):
        assert get_variable("t", [10, 4], partitioner=P3) is pv
        assert get_variable("t") is pv


def test_reuse_with_a_partitioner_and_no_shape_uses_the_existing_shape():
    pv = table()
    with variable_scope("", reuse=True):
        assert get_variable("t", partitioner=P3) is pv


def test_reuse_with_different_partitions_shape_or_dtype():
    with variable_scope("emb"):
        table()
    with variable_scope("emb", reuse=True):
        with pytest.raises(ValueError) as info:
            get_variable("t", [10, 4], partitioner=fixed_size_partitioner(2))
        assert str(info.value) == (
            "Trying to reuse partitioned variable emb/t, but specified partitions [2, 1] and found partitions [3, 1]."
        )
        with pytest.raises(ValueError) as info:
            get_variable("t", [10, 5], partitioner=P3)
        assert str(info.value) == (
            "Trying to reuse partitioned variable emb/t, but specified shape (10, 5) and found shape (10, 4)."
        )
        with pytest.raises(ValueError) as info:
            get_variable("t", [10, 4], dtype=tf.float64, partitioner=P3)
        assert str(info.value) == (
            "Trying to reuse partitioned variable emb/t, but specified dtype float64 and found dtype float32."
        )
        with pytest.raises(ValueError) as info:
            get_variable("u", [10, 4], partitioner=P3)
        assert str(info.value) == (
            "PartitionedVariable emb/u does not exist, or was not created with get_variable(). Did you mean to set "
            "reuse=False or reuse=AUTO_REUSE in VarScope?"
        )


def test_creating_twice_without_reuse():
    with variable_scope("emb"):
        table()
        with pytest.raises(ValueError) as info:
            table()
        assert str(info.value) == (
            "Partitioned variable with name emb/t already exists. Did you mean to set reuse=True or "
            "reuse=AUTO_REUSE in VarScope?"
        )
        with pytest.raises(ValueError, match=r"^No partitioner was provided, but a partitioned version of the "
                                             r"variable was found: emb/t/part_0\. Perhaps a variable of the same "
                                             r"name was already created with partitioning\?$"):
            get_variable("t", [10, 4])


def test_partitioner_on_an_unpartitioned_variable():
    get_variable("w", [4, 3])
    with pytest.raises(ValueError, match=r"^A partitioner was provided, but an unpartitioned version of the "
                                         r"variable was found: w\.  Perhaps a variable of the same name was already "
                                         r"created without partitioning\?$"):
        get_variable("w", [4, 3], partitioner=P3)


def test_partitions_that_disagree_with_existing_shards():
    get_variable("t/part_0", [4, 4])
    with pytest.raises(ValueError, match="Partitioner returned a different partitioning than what was already found"):
        table()


@pytest.mark.parametrize("partitioner, shape, message", [
    (P3, [None, 3], r"Shape of a new partitioned variable must be fully defined, but instead was \(\?, 3\)\."),
    (lambda shape, dtype: [2], [4, 3],
     r"Partitioner returned a partition list that does not match the Variable's rank: \[2\] vs\. \(4, 3\)"),
    (lambda shape, dtype: [2, 2], [4, 3],
     r"Can only slice a variable along one dimension: shape: \(4, 3\), partitioning: \[2, 2\]"),
    (lambda shape, dtype: [0, 1], [4, 3], r"Partitioner returned zero partitions for some axes: \[0, 1\]"),
    (lambda shape, dtype: 2, [4, 3], r"Partitioner must return a sequence, but saw: 2"),
    ("not callable", [4, 3], r"Partitioner must be callable, but received: not callable"),
])
def test_partitioner_errors(partitioner, shape, message):
    with pytest.raises(ValueError, match=message):
        get_variable("bad", shape, partitioner=partitioner)
    assert tf.global_variables() == []


def test_constant_initializer_with_and_without_shape():
    with pytest.raises(ValueError, match="Shape of a new partitioned variable must be fully defined"):
        get_variable("n", partitioner=P3, initializer=lambda: np.zeros(3))
    with pytest.raises(ValueError, match=r"Shapes \(5,\) and \(3,\) are not compatible"):
        get_variable("m", [5], partitioner=P3, initializer=np.zeros(3, np.float32))
    # With a partitioner a constant may come with its shape (TF slices it for the shards), or without.
    a = get_variable("a", [3], partitioner=fixed_size_partitioner(2), initializer=[1.0, 2.0, 3.0])
    b = get_variable("b", partitioner=fixed_size_partitioner(2), initializer=np.array([4, 5, 6]))
    tf.global_variables_initializer().run()
    assert a.numpy().tolist() == [1.0, 2.0, 3.0] and a.dtype == np.float32
    assert b.numpy().tolist() == [4, 5, 6] and b.dtype == np.int64


def test_partitioner_sees_a_fully_defined_shape_and_the_dtype():
    seen = []

    def partitioner(shape, dtype):
        seen.append((shape.as_list(), np.dtype(dtype).name))
        return [2, 1]

    get_variable("p", [4, 3], dtype=tf.float64, partitioner=partitioner)
    assert seen == [([4, 3], "float64")]


def test_variable_axis_size_partitioner_end_to_end():
    pv = get_variable("big", [1000, 8], partitioner=variable_axis_size_partitioner(8 * 4 * 300))
    assert len(pv) == 4 and [v.shape[0] for v in pv] == [250, 250, 250, 250]


# -- the class itself ----------------------------------------------------------------------------------------------------

def test_save_slice_info_round_trip():
    info = SaveSliceInfo("emb/t", [10, 4], [4, 0], [3, 4])
    assert info.spec == "10 4 4,3:0,4"
    assert SaveSliceInfo.from_dict(info.to_dict()) == info
    assert "emb/t" in repr(info)


def test_constructor_checks_its_arguments():
    with pytest.raises(ValueError, match="non-empty"):
        PartitionedVariable("x", [2], tf.float32, [], [1])
    with pytest.raises(TypeError, match="Not all entries in variable_list are variables"):
        PartitionedVariable("x", [2], tf.float32, ["a"], [1])
    v = tf.Variable([1.0, 2.0])
    with pytest.raises(ValueError, match="save_slice_info"):
        PartitionedVariable("x", [2], tf.float32, [v], [1])
    v._save_slice_info = SaveSliceInfo("x", [2], [0], [2])
    with pytest.raises(ValueError, match="Expected 2 shards"):
        PartitionedVariable("x", [2], tf.float32, [v], [2])
    pv = PartitionedVariable("x", [2], tf.float32, [v], [1])
    assert pv == pv and pv != PartitionedVariable("x", [2], tf.float32, [v], [1])
    assert "PartitionedVariable 'x'" in repr(pv)


# -- shards on emulated GPUs -------------------------------------------------------------------------------------------

def round_robin(devices):
    counter = itertools.count()

    def device_fn(op):
        return devices[next(counter) % len(devices)]

    return device_fn


def test_shards_placed_round_robin_on_emulated_gpus(emulated_gpus):
    with tf.device(round_robin(["/gpu:0", "/gpu:1"])):
        pv = get_variable("t", [9, 3], partitioner=P3, initializer=init_ops.random_uniform_initializer(seed=1))
    assert [v.device for v in pv] == ["/device:GPU:0", "/device:GPU:1", "/device:GPU:0"]
    pv.initializer.run()
    full = pv.as_tensor()
    assert transfer.device_of(full) == "/device:GPU:0"  # concatenated on the first shard's device
    host = pv.numpy()
    np.testing.assert_array_equal(host[3:6], list(pv)[1].numpy())
    pv.scatter_add(slices(np.ones((3, 3)), [0, 4, 8]))
    expected = host.copy()
    expected[[0, 4, 8]] += 1
    np.testing.assert_allclose(pv.numpy(), expected)
    pv.assign(np.zeros((9, 3), np.float32))
    assert not pv.numpy().any()


def test_partitioned_values_do_not_depend_on_placement(emulated_gpus):
    init = init_ops.random_normal_initializer(seed=5)
    with tf.device(round_robin(["/gpu:0", "/gpu:1", "/cpu:0"])):
        on_devices = get_variable("a", [6, 4], partitioner=P3, initializer=init)
    with tf.device("/cpu:0"):
        on_cpu = get_variable("b", [6, 4], partitioner=P3, initializer=init)
    tf.global_variables_initializer().run()
    np.testing.assert_allclose(on_devices.numpy(), on_cpu.numpy(), rtol=1e-6)
