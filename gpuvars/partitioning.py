"""Partitioners and shard geometry, as TensorFlow 1.x's ``partitioned_variables`` (SPEC §7).

A partitioner is called as ``partitioner(shape=shape, dtype=dtype)`` and
returns one partition count per dimension, at most one of them above 1.
``call_partitioner`` runs one and checks its answer with TF's messages;
``shard_slices`` turns the answer into each shard's offset and shape, with
TF's rule: along the split axis the first ``dim % k`` shards get one extra row.

The partitioners give the same counts as TF for the same inputs (the tables of
TF's ``partitioned_variables_test.py`` are in ``tests/test_partitioning.py``).
Differences, all for inputs TF does not handle: ``shape`` may be a list or
tuple as well as a ``TensorShape``; an ``axis`` outside the shape is a
``ValueError`` for every partitioner (TF: ``IndexError`` for two of them); a
zero-length axis gives one partition (TF: ``ZeroDivisionError`` in
``variable_axis_size_partitioner``); ``min_slice_size`` must be positive.

Example:
  >>> p = fixed_size_partitioner(3)
  >>> shard_slices([10, 4], call_partitioner(p, [10, 4], "float32"))
  [((0, 0), (4, 4)), ((4, 0), (3, 4)), ((7, 0), (3, 4))]
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from gpuvars import dtypes
from gpuvars.init_ops import PartitionInfo

__all__ = [
    "PartitionInfo",
    "Partitioner",
    "call_partitioner",
    "fixed_size_partitioner",
    "min_max_variable_partitioner",
    "shard_slices",
    "slice_dim_and_num_slices",
    "validate_partitions",
    "variable_axis_size_partitioner",
]

#: ``partitioner(shape=..., dtype=...) -> list[int]``.
Partitioner = Callable[..., Sequence[int]]


def _dims(shape: Any) -> list[int | None] | None:
    """The dimensions of a TensorShape, list or tuple; None for an unknown rank."""
    if shape is None:
        return None
    if hasattr(shape, "as_list"):
        if getattr(shape, "ndims", 0) is None:
            return None
        shape = shape.as_list()
    return [None if d is None else operator.index(d) for d in shape]


def _shape_str(dims: list[int | None] | None) -> str:
    if dims is None:
        return "<unknown>"
    return "(" + ", ".join("?" if d is None else str(d) for d in dims) + ("," if len(dims) == 1 else "") + ")"


def _fully_defined(dims: list[int | None] | None) -> list[int]:
    if dims is None or any(d is None for d in dims):
        raise ValueError(f"shape is not fully defined: {_shape_str(dims)}")
    return [int(d) for d in dims]  # type: ignore[arg-type]


def _element_size(dtype: Any, bytes_per_string_element: int) -> int:
    np_dtype = np.dtype(getattr(dtype, "as_numpy_dtype", dtype))
    if np_dtype.kind in "OSU":  # TF's string dtype: use the estimate
        return bytes_per_string_element
    return dtypes.as_dtype(np_dtype).itemsize


def _axis_index(axis: int, dims: Sequence[int | None]) -> int:
    if not -len(dims) <= axis < len(dims):
        raise ValueError(f"Cannot partition variable along axis {axis} when shape is only {_shape_str(list(dims))}")
    return axis % len(dims)


def variable_axis_size_partitioner(
    max_shard_bytes: int, axis: int = 0, bytes_per_string_element: int = 16, max_shards: int | None = None
) -> Partitioner:
    """A partitioner that keeps shards below ``max_shard_bytes``, splitting one axis.

    Shards along ``axis`` hold as many whole slices as fit in
    ``max_shard_bytes`` (at least one); when one slice is already larger, every
    slice becomes a shard. ``max_shards`` caps the count and takes precedence.
    ``(64 << 20) - 1`` keeps shards under the old 64 MB protobuf limit.

    Args:
      max_shard_bytes: the most bytes a shard should hold.
      axis: the axis to split.
      bytes_per_string_element: the estimated size of a string element.
      max_shards: the most shards to make, or None for no limit.

    Returns:
      ``partitioner(shape, dtype) -> list[int]``.

    Raises:
      ValueError: ``max_shard_bytes`` or ``bytes_per_string_element`` below 1,
        or ``max_shards`` below 1 (TF's messages). The partitioner raises
        ``ValueError`` for a shape that is not fully defined or an axis outside it.

    Example:
      >>> variable_axis_size_partitioner(32768, axis=2)((4, 8, 16, 32), "float32")
      [1, 1, 2, 1]
    """
    if max_shard_bytes < 1 or bytes_per_string_element < 1:
        raise ValueError(
            "Both max_shard_bytes and bytes_per_string_element must be positive. "
            f"Currently, max_shard_bytes is {max_shard_bytes} and "
            f"bytes_per_string_element is {bytes_per_string_element}"
        )
    if max_shards and max_shards < 1:
        raise ValueError(f"max_shards must be positive. Received: {max_shards}")

    def _partitioner(shape: Any, dtype: Any = dtypes.float32, **unused: Any) -> list[int]:
        dims = _fully_defined(_dims(shape))
        ax = _axis_index(axis, dims)
        element_size = _element_size(dtype, bytes_per_string_element)
        partitions = [1] * len(dims)
        if dims[ax] == 0:
            return partitions
        # TF's float arithmetic, step by step, so the counts agree at the boundaries.
        bytes_per_slice = 1.0 * (math.prod(dims) / dims[ax]) * element_size
        slices_per_shard = max(1, math.floor(max_shard_bytes / bytes_per_slice))
        axis_shards = int(math.ceil(1.0 * dims[ax] / slices_per_shard))
        if max_shards:
            axis_shards = min(max_shards, axis_shards)
        partitions[ax] = axis_shards
        return partitions

    return _partitioner


def min_max_variable_partitioner(
    max_partitions: int = 1, axis: int = 0, min_slice_size: int = 256 << 10, bytes_per_string_element: int = 16
) -> Partitioner:
    """A partitioner that gives each shard at least ``min_slice_size`` bytes, with at most ``max_partitions``.

    The count is ``ceil(total_bytes / min_slice_size)``, capped by
    ``max_partitions`` and by the length of ``axis``, and at least 1. For a
    float32 ``[1024, 1024]`` variable and the default 256 KB, that is 16.

    Args:
      max_partitions: the most partitions.
      axis: the axis to split.
      min_slice_size: the fewest bytes per shard.
      bytes_per_string_element: the estimated size of a string element.

    Returns:
      ``partitioner(shape, dtype) -> list[int]``.

    Raises:
      ValueError: ``min_slice_size`` below 1. The partitioner raises
        ``ValueError`` "Cannot partition variable along axis …" for an axis
        outside the shape, and for a shape that is not fully defined.

    Example:
      >>> min_max_variable_partitioner(max_partitions=100)([2048, 1024], "float32")
      [32, 1]
    """
    if min_slice_size < 1:
        raise ValueError(f"min_slice_size must be positive. Received: {min_slice_size}")

    def _partitioner(shape: Any, dtype: Any = dtypes.float32, **unused: Any) -> list[int]:
        known = _dims(shape)
        if known is not None:
            _axis_index(axis, known)  # TF checks the axis first
        dims = _fully_defined(known)
        ax = _axis_index(axis, dims)
        bytes_per_element = _element_size(dtype, bytes_per_string_element)
        total_size_bytes = math.prod(dims) * bytes_per_element
        partitions = total_size_bytes / min_slice_size
        partitions_list = [1] * len(dims)
        # Never more partitions than the axis has rows or max_partitions allows.
        partitions_list[ax] = max(1, min(dims[ax], max_partitions, int(math.ceil(partitions))))
        return partitions_list

    return _partitioner


def fixed_size_partitioner(num_shards: int, axis: int = 0) -> Partitioner:
    """A partitioner that splits ``axis`` into ``num_shards`` shards (fewer when the axis is shorter).

    Args:
      num_shards: the number of shards.
      axis: the axis to split.

    Returns:
      ``partitioner(shape, dtype=None) -> list[int]``.

    Raises:
      ValueError: (from the partitioner) an axis outside the shape, or a shape
        that is not fully defined. ``num_shards`` below 1 is reported by
        ``call_partitioner``, as TF reports it ("Partitioner returned zero partitions …").

    Example:
      >>> fixed_size_partitioner(4)([10, 3])
      [4, 1]
    """

    def _partitioner(shape: Any, dtype: Any = None, **unused: Any) -> list[int]:
        dims = _fully_defined(_dims(shape))
        ax = _axis_index(axis, dims)
        partitions_list = [1] * len(dims)
        partitions_list[ax] = min(num_shards, dims[ax])
        return partitions_list

    return _partitioner


def validate_partitions(shape: Any, partitions: Any) -> list[int]:
    """Check a partition list against a shape, with TF's messages.

    Args:
      shape: the full shape (list, tuple or TensorShape), fully defined, rank ≥ 1.
      partitions: one count per dimension.

    Returns:
      The partitions as a list of ints.

    Raises:
      ValueError: the shape is not fully defined or is a scalar; ``partitions``
        is not a sequence, has another length than the rank, has a count below
        1, splits more than one axis, or splits an axis into more shards than
        it has rows.

    Example:
      >>> validate_partitions([10, 4], (1, 2))
      [1, 2]
    """
    dims = _dims(shape)
    if dims is None or any(d is None for d in dims):
        raise ValueError(
            f"Shape of a new partitioned variable must be fully defined, but instead was {_shape_str(dims)}."
        )
    if len(dims) < 1:
        raise ValueError(f"A partitioned Variable must have rank at least 1, shape: {_shape_str(dims)}")
    if not isinstance(partitions, Sequence) or isinstance(partitions, str):
        raise ValueError(f"Partitioner must return a sequence, but saw: {partitions}")
    if len(partitions) != len(dims):
        raise ValueError(
            "Partitioner returned a partition list that does not match the Variable's rank: "
            f"{list(partitions)} vs. {_shape_str(dims)}"
        )
    parts = [operator.index(p) for p in partitions]
    if any(p < 1 for p in parts):
        raise ValueError(f"Partitioner returned zero partitions for some axes: {parts}")
    if sum(p > 1 for p in parts) > 1:
        raise ValueError(
            f"Can only slice a variable along one dimension: shape: {_shape_str(dims)}, partitioning: {parts}"
        )
    for axis, (p, d) in enumerate(zip(parts, dims)):
        if p > 1 and p > d:  # type: ignore[operator]
            # TF fails here too, later, when it builds the empty shard's PartitionInfo.
            raise ValueError(
                f"Cannot split axis {axis} of length {d} into {p} partitions: shape: {_shape_str(dims)}, "
                f"partitioning: {parts}"
            )
    return parts


def call_partitioner(partitioner: Partitioner, shape: Any, dtype: Any) -> list[int]:
    """Run a partitioner as ``get_variable`` does and check its answer (TF's ``_call_partitioner``).

    Args:
      partitioner: a callable taking ``shape=`` and ``dtype=`` keywords.
      shape: the full shape of the variable.
      dtype: its dtype.

    Returns:
      The partitions, a list of ints with at most one above 1.

    Raises:
      ValueError: a partitioner that is not callable, or any problem
        ``validate_partitions`` reports.

    Example:
      >>> call_partitioner(fixed_size_partitioner(2), [6, 3], "float32")
      [2, 1]
    """
    if not callable(partitioner):
        raise ValueError(f"Partitioner must be callable, but received: {partitioner}")
    dims = _dims(shape)
    if dims is None or any(d is None for d in dims):
        raise ValueError(
            f"Shape of a new partitioned variable must be fully defined, but instead was {_shape_str(dims)}."
        )
    if len(dims) < 1:
        raise ValueError(f"A partitioned Variable must have rank at least 1, shape: {_shape_str(dims)}")
    return validate_partitions(dims, partitioner(shape=shape, dtype=dtype))


def slice_dim_and_num_slices(partitions: Sequence[int]) -> tuple[int, int]:
    """The split axis and the shard count of a partition list; ``(0, 1)`` when nothing is split.

    Example:
      >>> slice_dim_and_num_slices([1, 3, 1])
      (1, 3)
    """
    for slice_dim, num_slices in enumerate(partitions):
        if num_slices > 1:
            return slice_dim, int(num_slices)
    return 0, 1


def shard_slices(full_shape: Any, partitions: Any) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    """Each shard's ``(offset, shape)`` in the full variable, in offset order.

    Along the split axis of length ``d`` into ``k`` shards, the first ``d % k``
    shards are ``d // k + 1`` long and the rest ``d // k`` (TF's ``_iter_slices``).

    Args:
      full_shape: the full shape.
      partitions: one count per dimension (checked by ``validate_partitions``).

    Returns:
      A list of ``(offset, shape)`` tuples of ints, one per shard.

    Raises:
      ValueError: see ``validate_partitions``.

    Example:
      >>> shard_slices([5, 2], [2, 1])
      [((0, 0), (3, 2)), ((3, 0), (2, 2))]
    """
    parts = validate_partitions(full_shape, partitions)
    dims = [int(d) for d in _dims(full_shape)]  # type: ignore[union-attr, arg-type]
    slice_dim, num_slices = slice_dim_and_num_slices(parts)
    num_slices_with_excess = dims[slice_dim] % num_slices
    min_slice_len = dims[slice_dim] // num_slices
    offset = [0] * len(dims)
    out = []
    for i in range(num_slices):
        shape = list(dims)
        shape[slice_dim] = min_slice_len + int(i < num_slices_with_excess)
        out.append((tuple(offset), tuple(shape)))
        offset[slice_dim] += shape[slice_dim]
    return out
