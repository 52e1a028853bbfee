"""gpuvars.partitioning: TF's partitioner tables, argument errors, shard geometry."""

from __future__ import annotations

import numpy as np
import pytest

from gpuvars import partitioning as gp
from gpuvars.tensor import TensorShape

SHAPE = (4, 8, 16, 32)  # float32: 16384 / 8192 / 4096 / 2048 bytes per slice along axes 0..3


# -- TF's tables (partitioned_variables_test.py) ---------------------------------------------------------------
@pytest.mark.parametrize(
    "axis, max_shard_bytes, max_shards, expected",
    [
        (0, 131072, None, [1, 1, 1, 1]),  # v0: no need to slice
        (1, 65536, None, [1, 1, 1, 1]),  # v1: exactly one shard's worth
        (2, 32768, None, [1, 1, 2, 1]),  # v2
        (3, 2048, None, [1, 1, 1, 32]),  # v3a: one slice per shard
        (3, 1024, None, [1, 1, 1, 32]),  # v3b: a slice is bigger than a shard
        (3, 1024, 33, [1, 1, 1, 32]),  # v3c: max_shards above the count
        (3, 1024, 2, [1, 1, 1, 2]),  # v3d: max_shards caps the count
    ],
)
def test_variable_axis_size_partitioner_table(axis, max_shard_bytes, max_shards, expected):
    p = gp.variable_axis_size_partitioner(max_shard_bytes=max_shard_bytes, axis=axis, max_shards=max_shards)
    assert p(shape=TensorShape(SHAPE), dtype="float32") == expected
    assert p(SHAPE, np.float32) == expected


def test_variable_axis_size_partitioner_strings_use_the_estimate():
    p = gp.variable_axis_size_partitioner(max_shard_bytes=32768, axis=3, bytes_per_string_element=8)
    assert p(shape=SHAPE, dtype=object) == [1, 1, 1, 4]  # v3str
    assert p(shape=SHAPE, dtype="U") == [1, 1, 1, 4]


@pytest.mark.parametrize(
    "max_partitions, axis, min_slice_size, shape, expected",
    [
        (100, 0, 2 << 10, [2048], [4]),  # v0_0
        (100, 0, 256 << 10, [2048, 1024], [32, 1]),  # v0
        (16, 0, 256 << 10, [2048, 1024], [16, 1]),  # v1_max
        (1, 0, 256 << 10, [2048, 1024], [1, 1]),  # v2_max
        (100, 0, 128 << 10, [2048, 1024], [64, 1]),  # v3_slice
        (100, 0, 512 << 10, [2048, 1024], [16, 1]),  # v4_slice
        (100, 1, 256 << 10, [64, 1024, 1, 3], [1, 3, 1, 1]),  # v5_axis
        (100, 3, 256 << 10, [64, 1024, 1, 3], [1, 1, 1, 3]),  # v6_axis
        (100, 0, 256 << 10, [16, 128, 1024], [16, 1, 1]),  # v7_shape
        (100, 0, 256 << 10, [4, 512, 1024], [4, 1, 1]),  # v8_shape
    ],
)
def test_min_max_variable_partitioner_table(max_partitions, axis, min_slice_size, shape, expected):
    p = gp.min_max_variable_partitioner(max_partitions=max_partitions, axis=axis, min_slice_size=min_slice_size)
    assert p(shape=TensorShape(shape), dtype="float32") == expected


def test_min_max_default_is_256k_per_slice_and_one_partition():
    assert gp.min_max_variable_partitioner()([1024, 1024], "float32") == [1, 1]
    assert gp.min_max_variable_partitioner(max_partitions=64)([1024, 1024], "float32") == [16, 1]
    assert gp.min_max_variable_partitioner(max_partitions=64)([1024, 1024], "float64") == [32, 1]
    assert gp.min_max_variable_partitioner(max_partitions=64)([10], "float32") == [1]


@pytest.mark.parametrize(
    "num_shards, axis, shape, expected",
    [
        (4, 0, [10, 3], [4, 1]),
        (20, 0, [10], [10]),
        (3, 1, [2, 7], [1, 3]),
        (1, 0, [5, 5], [1, 1]),
        (2, -1, [4, 6], [1, 2]),
    ],
)
def test_fixed_size_partitioner(num_shards, axis, shape, expected):
    assert gp.fixed_size_partitioner(num_shards, axis=axis)(shape=shape, dtype="float32") == expected
    assert gp.fixed_size_partitioner(num_shards, axis=axis)(TensorShape(shape)) == expected


# -- argument errors ------------------------------------------------------------------------------------------
def test_variable_axis_size_partitioner_argument_errors():
    with pytest.raises(
        ValueError,
        match="Both max_shard_bytes and bytes_per_string_element must be positive. "
        "Currently, max_shard_bytes is 0 and bytes_per_string_element is 16",
    ):
        gp.variable_axis_size_partitioner(0)
    with pytest.raises(ValueError, match="bytes_per_string_element is 0"):
        gp.variable_axis_size_partitioner(10, bytes_per_string_element=0)
    with pytest.raises(ValueError, match="max_shards must be positive."):
        gp.variable_axis_size_partitioner(10, max_shards=-1)
    # As TF: max_shards=0 means no limit.
    assert gp.variable_axis_size_partitioner(4, max_shards=0)([8], "float32") == [8]


def test_partitioners_reject_unknown_shapes_and_axes():
    p = gp.variable_axis_size_partitioner(1024)
    with pytest.raises(ValueError, match=r"shape is not fully defined: \(\?, 3\)"):
        p(TensorShape([None, 3]), "float32")
    with pytest.raises(ValueError, match="shape is not fully defined"):
        gp.fixed_size_partitioner(2)(TensorShape(None))
    with pytest.raises(ValueError, match=r"Cannot partition variable along axis 2 when shape is only \(4, 8\)"):
        gp.min_max_variable_partitioner(axis=2)([4, 8], "float32")
    with pytest.raises(ValueError, match="Cannot partition variable along axis 5"):
        gp.fixed_size_partitioner(2, axis=5)([4, 8])
    with pytest.raises(ValueError, match="min_slice_size must be positive"):
        gp.min_max_variable_partitioner(min_slice_size=0)


# -- checking a partitioner's answer -------------------------------------------------------------------------
def test_call_partitioner_checks_as_tf():
    assert gp.call_partitioner(gp.fixed_size_partitioner(3), [10, 4], "float32") == [3, 1]
    with pytest.raises(ValueError, match="Partitioner must be callable, but received: 3"):
        gp.call_partitioner(3, [10], "float32")
    with pytest.raises(ValueError, match=r"must be fully defined, but instead was \(\?, 4\)"):
        gp.call_partitioner(gp.fixed_size_partitioner(2), TensorShape([None, 4]), "float32")
    with pytest.raises(ValueError, match=r"A partitioned Variable must have rank at least 1, shape: \(\)"):
        gp.call_partitioner(gp.fixed_size_partitioner(2), [], "float32")
    with pytest.raises(ValueError, match="Partitioner returned zero partitions for some axes: \\[0, 1\\]"):
        gp.call_partitioner(gp.fixed_size_partitioner(0), [10, 4], "float32")
    with pytest.raises(ValueError, match="Partitioner must return a sequence, but saw: 2"):
        gp.call_partitioner(lambda shape, dtype: 2, [10], "float32")


@pytest.mark.parametrize(
    "shape, partitions, message",
    [
        ([10], [1, 1], r"does not match the Variable's rank: \[1, 1\] vs. \(10,\)"),
        ([10, 20], [1], "does not match the Variable's rank"),
        ([10, 43], [1, 2, 3], "does not match the Variable's rank"),
        ([10, 43], [2, 2], r"Can only slice a variable along one dimension: shape: \(10, 43\), partitioning: \[2, 2\]"),
        ([10, 43], [0, 1], "zero partitions"),
        ([10, 43], [11, 1], "Cannot split axis 0 of length 10 into 11 partitions"),
        ([10, 43], [1, 50], "Cannot split axis 1 of length 43 into 50 partitions"),
    ],
)
def test_validate_partitions_errors(shape, partitions, message):
    with pytest.raises(ValueError, match=message):
        gp.validate_partitions(shape, partitions)


def test_slice_dim_and_num_slices():
    assert gp.slice_dim_and_num_slices([1, 3, 1]) == (1, 3)
    assert gp.slice_dim_and_num_slices([1, 1]) == (0, 1)


# -- shard geometry (TF's save-slice specs) ---------------------------------------------------------------
@pytest.mark.parametrize(
    "k, columns",
    [
        (1, [(0, 43)]),
        (2, [(0, 22), (22, 21)]),
        (3, [(0, 15), (15, 14), (29, 14)]),
        (4, [(0, 11), (11, 11), (22, 11), (33, 10)]),
        (5, [(0, 9), (9, 9), (18, 9), (27, 8), (35, 8)]),
    ],
)
def test_shard_slices_uneven_partitions_as_tf(k, columns):
    # TF's testRandomInitUnevenPartitions: "20 43 0,20:<offset>,<length>".
    assert gp.shard_slices([20, 43], [1, k]) == [((0, o), (20, n)) for o, n in columns]


def test_shard_slices_row_slices_as_tf():
    assert gp.shard_slices([13, 5], [3, 1]) == [((0, 0), (5, 5)), ((5, 0), (4, 5)), ((9, 0), (4, 5))]
    assert gp.shard_slices([10, 43], [10, 1]) == [((i, 0), (1, 43)) for i in range(10)]
    assert gp.shard_slices([4], [4]) == [((i,), (1,)) for i in range(4)]
    assert gp.shard_slices(TensorShape([10, 43]), (1, 1)) == [((0, 0), (10, 43))]


def test_shard_slices_tile_the_variable():
    rng = np.random.default_rng(0)
    for _ in range(200):
        rank = int(rng.integers(1, 4))
        shape = [int(d) for d in rng.integers(1, 30, size=rank)]
        axis = int(rng.integers(rank))
        k = int(rng.integers(1, shape[axis] + 1))
        parts = [1] * rank
        parts[axis] = k
        slices = gp.shard_slices(shape, parts)
        assert len(slices) == k
        lengths = [s[axis] for _, s in slices]
        assert sum(lengths) == shape[axis]
        assert lengths == sorted(lengths, reverse=True) and lengths[0] - lengths[-1] <= 1
        assert lengths.count(shape[axis] // k + 1) == (shape[axis] % k if shape[axis] % k else 0)
        offsets = [o[axis] for o, _ in slices]
        assert offsets == list(np.cumsum([0] + lengths[:-1]))
        for o, s in slices:
            assert all(o[d] == 0 and s[d] == shape[d] for d in range(rank) if d != axis)
