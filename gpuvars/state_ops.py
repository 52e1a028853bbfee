"""Updates as module functions: ``assign*``, the ``scatter_*`` family, fused group updates (SPEC §8).

Every function validates its operands (dtype, shape, index range) before the
kernel runs, so a failed update leaves the variable unchanged. The kernel
itself runs on the variable's device (``Backend.scatter`` and friends).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from gpuvars import config, dtypes, errors, transfer
from gpuvars.tensor import Tensor, convert_to_array
from gpuvars.variables import Variable

__all__ = [
    "IndexedSlices",
    "sparse_mask",
    "assign",
    "assign_add",
    "assign_sub",
    "count_up_to",
    "scatter_update",
    "scatter_add",
    "scatter_sub",
    "scatter_mul",
    "scatter_div",
    "scatter_min",
    "scatter_max",
    "scatter_nd_update",
    "scatter_nd_add",
    "scatter_nd_sub",
    "group_assign",
    "group_assign_add",
    "group_assign_sub",
    "synchronize",
]


class IndexedSlices:
    """A sparse set of rows: ``values[i]`` is row ``indices[i]`` of a ``dense_shape`` tensor.

    Example:
      >>> delta = gpuvars.IndexedSlices(np.ones((2, 4), np.float32), [0, 3])
      >>> table.scatter_add(delta)
    """

    def __init__(self, values: Any, indices: Any, dense_shape: Any = None):
        self._values = values if isinstance(values, Tensor) else convert_to_array(values)
        self._indices = indices if isinstance(indices, Tensor) else convert_to_array(indices)
        self._dense_shape = None if dense_shape is None else convert_to_array(dense_shape, dtypes.int64)

    @property
    def values(self) -> Any:
        return self._values

    @property
    def indices(self) -> Any:
        return self._indices

    @property
    def dense_shape(self) -> Any:
        return self._dense_shape

    @property
    def dtype(self) -> np.dtype:
        return self._values.dtype

    @property
    def device(self) -> str | None:
        return transfer.device_of(self._values)

    @property
    def shape(self) -> Any:
        return None if self._dense_shape is None else tuple(int(d) for d in self._dense_shape)

    def __repr__(self) -> str:
        return (f"IndexedSlices(indices={self._indices!r}, values={self._values!r}"
                + (f", dense_shape={self._dense_shape!r})" if self._dense_shape is not None else ")"))


def sparse_mask(a: IndexedSlices, mask_indices: Any, name: str | None = None) -> IndexedSlices:
    """The rows of ``a`` whose indices are NOT in ``mask_indices`` (TF's ``sparse_mask``)."""
    if not isinstance(a, IndexedSlices):
        raise TypeError(f"Expected `a` to be IndexedSlices. Received: {a!r:.80}")
    indices = transfer.to_host(a.indices)
    keep = ~np.isin(indices, np.asarray(transfer.to_host(convert_to_array(mask_indices))))
    values = a.values[keep] if not isinstance(a.values, Tensor) else np.asarray(a.values)[keep]
    return IndexedSlices(values, indices[keep], a.dense_shape)


# -- dense -------------------------------------------------------------------------

def _check_ref(ref: Any, fn: str) -> None:
    if not isinstance(ref, Variable) and not hasattr(ref, "_get_variable_list"):
        raise TypeError(f"{fn} expects a Variable as `ref`. Received: {ref!r:.80}")


def assign(ref: Variable, value: Any, validate_shape: bool | None = None, use_locking: bool | None = None,
           name: str | None = None) -> Variable:
    _check_ref(ref, "assign")
    if validate_shape is not None and isinstance(ref, Variable):
        # validate_shape applies to this op only, as in TF.
        return ref._assign(value, bool(use_locking), bool(validate_shape))
    return ref.assign(value, use_locking=bool(use_locking))


def assign_add(ref: Variable, value: Any, use_locking: bool | None = None, name: str | None = None) -> Variable:
    _check_ref(ref, "assign_add")
    return ref.assign_add(value, use_locking=bool(use_locking))


def assign_sub(ref: Variable, value: Any, use_locking: bool | None = None, name: str | None = None) -> Variable:
    _check_ref(ref, "assign_sub")
    return ref.assign_sub(value, use_locking=bool(use_locking))


def count_up_to(ref: Variable, limit: int, name: str | None = None) -> Any:
    _check_ref(ref, "count_up_to")
    return ref.count_up_to(limit)


# -- sparse ------------------------------------------------------------------------

def _indices_array(indices: Any, what: str = "indices") -> np.ndarray | Any:
    if isinstance(indices, Tensor):
        indices = indices._evaluate_default()
    if isinstance(indices, Variable):
        indices = indices.value()
    arr = convert_to_array(indices)
    if arr.dtype not in (dtypes.int32, dtypes.int64):
        raise TypeError(f"Expected {what} of dtype int32 or int64. Received dtype {arr.dtype.name}.")
    return arr


def _updates_array(ref: Variable, updates: Any, expected_shape: tuple[int, ...], idx_shape: tuple[int, ...]) -> Any:
    arr = ref._checked_array(updates, "updates")
    if arr.ndim == 0:
        # A scalar update is broadcast to every row, as TF does.
        arr = np.broadcast_to(transfer.to_host(arr).astype(ref.dtype), expected_shape)
    elif tuple(arr.shape) != expected_shape:
        raise errors.ShapeMismatchError(
            None, ref.op.name,
            f"Must have updates.shape = indices.shape + params.shape[1:] or updates.shape = [], got "
            f"updates.shape {list(arr.shape)}, indices.shape {list(idx_shape)} (expected updates.shape "
            f"{list(expected_shape)}) for variable {ref.op.name} of shape {ref.shape.as_list()}.",
        )
    return arr


def _to_device(ref: Variable, arr: Any, dtype: np.dtype | None = None) -> Any:
    out = transfer.to_backend(arr, ref._backend, explicit=False)
    if dtype is not None and out.dtype != dtype:
        out = out.astype(dtype)
    if not getattr(out, "flags", None) or not out.flags.c_contiguous:
        out = ref._backend.xp.ascontiguousarray(out)
    return out


def _scatter(ref: Any, op: str, indices: Any, updates: Any, use_locking: bool) -> Any:
    """Validate, then run one scatter kernel on ``ref``'s device."""
    if hasattr(ref, "_scatter_partitioned"):
        return ref._scatter_partitioned(op, indices, updates, use_locking)
    _check_ref(ref, f"scatter_{op}")
    buf = ref._buf
    if buf is None:
        raise ref._uninitialized()
    if buf.ndim == 0:
        raise ValueError(f"scatter_{op} needs a variable of rank >= 1; {ref.op.name} is a scalar.")
    idx = _indices_array(indices)
    row_shape = tuple(buf.shape[1:])
    upd = _updates_array(ref, updates, tuple(idx.shape) + row_shape, tuple(idx.shape))
    flat_idx = _to_device(ref, idx.reshape(-1))
    flat_upd = _to_device(ref, upd.reshape((-1,) + row_shape), ref.dtype)
    deterministic = config.is_deterministic()
    kernel = ref._backend.scatter
    if use_locking:
        with ref._lock:
            kernel(op, ref._buf, flat_idx, flat_upd, locked=True, deterministic=deterministic)
            ref._version += 1
    else:
        kernel(op, buf, flat_idx, flat_upd, locked=False, deterministic=deterministic)
        ref._version += 1
    return ref


def _scatter_nd(ref: Any, op: str, indices: Any, updates: Any, use_locking: bool) -> Any:
    _check_ref(ref, f"scatter_nd_{op}")
    if hasattr(ref, "_get_variable_list") and not isinstance(ref, Variable):
        raise TypeError("scatter_nd_* on a PartitionedVariable is not supported; use scatter_* with row indices.")
    buf = ref._buf
    if buf is None:
        raise ref._uninitialized()
    idx = _indices_array(indices)
    if idx.ndim < 1:
        raise ValueError(f"scatter_nd_{op}: indices must have rank >= 1. Received shape {list(idx.shape)}.")
    k = idx.shape[-1]
    if k > buf.ndim:
        raise ValueError(
            f"scatter_nd_{op}: the last dimension of indices ({k}) must be <= the rank of the variable "
            f"{ref.op.name} ({buf.ndim})."
        )
    slice_shape = tuple(buf.shape[k:])
    upd = _updates_array(ref, updates, tuple(idx.shape[:-1]) + slice_shape, tuple(idx.shape))
    flat_idx = _to_device(ref, idx.reshape(-1, k))
    flat_upd = _to_device(ref, upd.reshape((-1,) + slice_shape), ref.dtype)
    deterministic = config.is_deterministic()
    if use_locking:
        with ref._lock:
            ref._backend.scatter_nd(op, ref._buf, flat_idx, flat_upd, locked=True, deterministic=deterministic)
            ref._version += 1
    else:
        ref._backend.scatter_nd(op, buf, flat_idx, flat_upd, locked=False, deterministic=deterministic)
        ref._version += 1
    return ref


def scatter_update(ref: Any, indices: Any, updates: Any, use_locking: bool = True, name: str | None = None) -> Any:
    """``ref[indices] = updates``; with ``use_locking`` (the default) the last duplicate wins whole rows.

    Raises:
      InvalidArgumentError: an index outside ``[0, ref.shape[0])`` ("indices[2] = 6 is not in [0, 6)")
        or an ``updates`` shape other than ``indices.shape + ref.shape[1:]`` (or a scalar).
      TypeError: indices that are not int32/int64, or updates that do not cast safely.
    """
    return _scatter(ref, "update", indices, updates, use_locking)


def scatter_add(ref: Any, indices: Any, updates: Any, use_locking: bool = False, name: str | None = None) -> Any:
    """``ref[indices] += updates``, every duplicate contributing."""
    return _scatter(ref, "add", indices, updates, use_locking)


def scatter_sub(ref: Any, indices: Any, updates: Any, use_locking: bool = False, name: str | None = None) -> Any:
    return _scatter(ref, "sub", indices, updates, use_locking)


def scatter_mul(ref: Any, indices: Any, updates: Any, use_locking: bool = False, name: str | None = None) -> Any:
    return _scatter(ref, "mul", indices, updates, use_locking)


def scatter_div(ref: Any, indices: Any, updates: Any, use_locking: bool = False, name: str | None = None) -> Any:
    return _scatter(ref, "div", indices, updates, use_locking)


def scatter_min(ref: Any, indices: Any, updates: Any, use_locking: bool = False, name: str | None = None) -> Any:
    return _scatter(ref, "min", indices, updates, use_locking)


def scatter_max(ref: Any, indices: Any, updates: Any, use_locking: bool = False, name: str | None = None) -> Any:
    return _scatter(ref, "max", indices, updates, use_locking)


def scatter_nd_update(ref: Any, indices: Any, updates: Any, use_locking: bool = True, name: str | None = None) -> Any:
    """``ref[tuple(indices[i])] = updates[i]`` ("indices[1] = [6] does not index into shape [6]")."""
    return _scatter_nd(ref, "update", indices, updates, use_locking)


def scatter_nd_add(ref: Any, indices: Any, updates: Any, use_locking: bool = False, name: str | None = None) -> Any:
    return _scatter_nd(ref, "add", indices, updates, use_locking)


def scatter_nd_sub(ref: Any, indices: Any, updates: Any, use_locking: bool = False, name: str | None = None) -> Any:
    return _scatter_nd(ref, "sub", indices, updates, use_locking)


# -- fused group updates -----------------------------------------------------------------

def _group(op: str, variables: Sequence[Variable], values: Sequence[Any], use_locking: bool) -> list[Variable]:
    variables = list(variables)
    values = list(values)
    if len(variables) != len(values):
        raise ValueError(
            f"group_{op}: expected one value per variable; received {len(variables)} variables and "
            f"{len(values)} values."
        )
    for v in variables:
        if not isinstance(v, Variable):
            raise TypeError(f"group_{op} expects Variables. Received: {v!r:.80}")
        if v._buf is None:
            raise v._uninitialized()
        if op != "assign":
            v._check_arithmetic(f"group_assign_{op}")
    if len({id(v) for v in variables}) != len(variables):
        raise ValueError(f"group_{op}: a variable appears more than once; combine its values first.")
    # Validate everything before any kernel runs: a bad operand leaves every variable unchanged.
    prepared = [v._prepare(x) for v, x in zip(variables, values)]
    by_backend: dict[int, tuple[Any, list[Variable], list[Any]]] = {}
    for v, x in zip(variables, prepared):
        by_backend.setdefault(id(v._backend), (v._backend, [], []))
        by_backend[id(v._backend)][1].append(v)
        by_backend[id(v._backend)][2].append(x)
    locks = sorted(variables, key=id) if use_locking else []
    for v in locks:
        v._lock.acquire()
    try:
        for backend, vs, xs in by_backend.values():
            backend.group_update(op, [v._buf for v in vs], xs)
            for v in vs:
                v._version += 1
    finally:
        for v in reversed(locks):
            v._lock.release()
    return variables


def group_assign(variables: Sequence[Variable], values: Sequence[Any], use_locking: bool = False) -> list[Variable]:
    """Assign many variables in as few kernel launches as possible (one per device).

    Example:
      >>> gpuvars.group_assign([w, b], [w_new, b_new])
    """
    return _group("assign", variables, values, use_locking)


def group_assign_add(variables: Sequence[Variable], deltas: Sequence[Any], use_locking: bool = False
                     ) -> list[Variable]:
    """``v += d`` for every pair, fused into one launch per device (apex's multi_tensor_apply)."""
    return _group("add", variables, deltas, use_locking)


def group_assign_sub(variables: Sequence[Variable], deltas: Sequence[Any], use_locking: bool = False
                     ) -> list[Variable]:
    """``v -= d`` for every pair, fused into one launch per device."""
    return _group("sub", variables, deltas, use_locking)


def synchronize() -> None:
    """Wait for every queued kernel on every device (raises deferred kernel errors)."""
    from gpuvars.devices import _all_backends

    for backend in _all_backends():
        backend.synchronize()
