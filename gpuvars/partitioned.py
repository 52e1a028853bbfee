"""``PartitionedVariable``: one logical variable stored as shards (SPEC §7).

``get_variable(..., partitioner=p)`` creates the shards ``name/part_0`` …
``name/part_{k-1}`` (see ``gpuvars.scopes``) and wraps them in a
``PartitionedVariable``. Each shard is an ordinary ``Variable`` on the device
the device scopes in force gave it (a round-robin device function spreads
the shards), with a ``SaveSliceInfo`` saying where it sits in the whole, so
checkpoints store it as a slice of the full variable. The graph collections
hold the shards, as in TensorFlow.

Reading (``value()``, ``as_tensor()``, ``numpy()``) concatenates the shards on
the first shard's device. ``assign`` splits a full value across the shards;
``scatter_*`` route each row to the shard that owns it. Every operand is
checked against the FULL shape before any shard changes, so a bad update
leaves the whole variable unchanged.

Beyond TensorFlow (whose ``PartitionedVariable`` has neither): the
``scatter_*`` methods, the module ``scatter_*`` functions accepting a
``PartitionedVariable``, ``assign_add``/``assign_sub`` that return the
variable, arithmetic operators on the concatenated value, and an
``initializer`` Operation for all the shards.

Example:
  >>> with gpuvars.variable_scope("emb"):
  ...     table = gpuvars.get_variable("table", [10, 4], partitioner=gpuvars.fixed_size_partitioner(3))
  >>> [v.name for v in table]
  ['emb/table/part_0:0', 'emb/table/part_1:0', 'emb/table/part_2:0']
  >>> table.initializer.run(); table.as_tensor().shape
  (10, 4)
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from gpuvars import dtypes, errors, transfer
from gpuvars.tensor import Operation, Tensor, TensorShape, as_shape, convert_to_array
from gpuvars.variables import Variable

__all__ = ["PartitionedVariable", "SaveSliceInfo"]


class SaveSliceInfo:
    """Where a shard sits in its full variable (TF's ``Variable.SaveSliceInfo``).

    Args:
      full_name: the name of the full variable (``"emb/table"``, no ``:0``).
      full_shape: the shape of the full variable.
      var_offset: the shard's offset in each dimension.
      var_shape: the shard's shape.

    Example:
      >>> SaveSliceInfo("emb/table", [10, 4], [4, 0], [3, 4]).spec
      '10 4 4,3:0,4'
    """

    def __init__(self, full_name: str | None = None, full_shape: Sequence[int] | None = None,
                 var_offset: Sequence[int] | None = None, var_shape: Sequence[int] | None = None):
        self.full_name = full_name
        self.full_shape = None if full_shape is None else [int(d) for d in full_shape]
        self.var_offset = None if var_offset is None else [int(d) for d in var_offset]
        self.var_shape = None if var_shape is None else [int(d) for d in var_shape]

    @property
    def spec(self) -> str:
        """TF's slice spec: the full shape, then ``offset,length`` per dimension joined by ``:``.

        Returns:
          A string such as ``"10 4 4,3:0,4"``.
        """
        full = " ".join(str(d) for d in self.full_shape or [])
        sl = ":".join(f"{o},{s}" for o, s in zip(self.var_offset or [], self.var_shape or []))
        return f"{full} {sl}"

    def to_dict(self) -> dict[str, Any]:
        """The fields as a JSON-friendly dict (what meta graphs and checkpoint indexes record)."""
        return {"full_name": self.full_name, "full_shape": self.full_shape, "var_offset": self.var_offset,
                "var_shape": self.var_shape}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SaveSliceInfo:
        """The inverse of ``to_dict``."""
        return cls(d.get("full_name"), d.get("full_shape"), d.get("var_offset"), d.get("var_shape"))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SaveSliceInfo):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (f"SaveSliceInfo(full_name={self.full_name!r}, full_shape={self.full_shape}, "
                f"var_offset={self.var_offset}, var_shape={self.var_shape})")


def _xp_of(arr: Any) -> Any:
    if type(arr).__module__.startswith("cupy"):
        import cupy

        return cupy
    return np


def _take(arr: Any, positions: np.ndarray) -> Any:
    """The rows ``positions`` (host integers) of ``arr``, staying on ``arr``'s device."""
    return arr[_xp_of(arr).asarray(positions)]


class PartitionedVariable:
    """A variable split into shards along one axis, as TF 1.x's ``PartitionedVariable``.

    Made by ``get_variable(..., partitioner=...)``; not usually built directly.
    Iterating gives the shards in offset order; ``len()`` is the shard count.

    Args:
      name: the full variable's name (``"emb/table"``).
      shape: its full shape.
      dtype: its dtype.
      variable_list: the shard ``Variable`` objects, each with a ``_save_slice_info``.
      partitions: the partition count per dimension (at most one above 1).

    Raises:
      TypeError: ``variable_list`` is not a list of Variables, or ``partitions`` not a list.
      ValueError: an empty ``variable_list``, shards without slice info, or
        ``partitions`` that do not match the shard count.

    Example:
      >>> p = gpuvars.get_variable("w", [6, 2], partitioner=gpuvars.fixed_size_partitioner(2))
      >>> len(p), p.shape
      (2, TensorShape([6, 2]))
    """

    __array_priority__ = 100

    def __init__(self, name: str, shape: Any, dtype: Any, variable_list: Sequence[Variable],
                 partitions: Sequence[int]):
        if not isinstance(variable_list, (list, tuple)):
            raise TypeError(f"variable_list is not a list or tuple: {variable_list!r:.80}")
        if not isinstance(partitions, (list, tuple)):
            raise TypeError(f"partitions is not a list or tuple: {partitions!r:.80}")
        if not variable_list:
            raise ValueError("variable_list must be a non-empty list of Variables.")
        if not all(p >= 1 for p in partitions):
            raise ValueError(f"partition values must be positive: {list(partitions)}")
        for v in variable_list:
            if not isinstance(v, Variable):
                raise TypeError(f"Not all entries in variable_list are variables: {v!r:.80}")
            if v._save_slice_info is None:
                raise ValueError(f"All variables must have a save_slice_info available: {v.name}")
        if len(variable_list) != int(np.prod(partitions)):
            raise ValueError(
                f"Expected {int(np.prod(partitions))} shards for partitions {list(partitions)}; "
                f"received {len(variable_list)} variables."
            )
        self._name = name
        self._shape = as_shape(shape)
        if not self._shape.is_fully_defined() or not self._shape.ndims:
            raise ValueError(f"A PartitionedVariable needs a fully defined shape of rank >= 1. Received: {self._shape}")
        self._full: tuple[int, ...] = tuple(self._shape.as_tuple() or ())
        self._dtype = dtypes.as_dtype(dtype)
        # Offset order, as TF sorts them.
        self._variable_list = sorted(variable_list, key=lambda v: v._save_slice_info.var_offset)
        self._partitions = [int(p) for p in partitions]
        self._axis = next((i for i, p in enumerate(self._partitions) if p > 1), 0)
        self._offsets = np.asarray([v._save_slice_info.var_offset[self._axis] for v in self._variable_list],
                                   dtype=np.int64)
        self._initializer_op: Operation | None = None
        for v in self._variable_list:
            v._partitioned = self

    # -- what TF exposes --------------------------------------------------------
    @property
    def name(self) -> str:
        """The full variable's name (no ``:0``), as TF."""
        return self._name

    @property
    def dtype(self) -> np.dtype:
        return self._dtype

    @property
    def shape(self) -> TensorShape:
        """The full shape."""
        return self._shape

    def get_shape(self) -> TensorShape:
        return self._shape

    @property
    def graph(self) -> Any:
        return self._variable_list[0].graph

    @property
    def op(self) -> Any:
        """The first shard's op (enough for name lookups and device functions)."""
        return self._variable_list[0].op

    @property
    def device(self) -> str:
        """Where ``value()`` puts the concatenated value: the first shard's device."""
        return self._variable_list[0].device

    @property
    def trainable(self) -> bool:
        return self._variable_list[0].trainable

    def __iter__(self) -> Iterator[Variable]:
        return iter(self._variable_list)

    def __len__(self) -> int:
        if sum(p > 1 for p in self._partitions) > 1:
            raise ValueError(f"Cannot get a length of {self._name} with multiple partition axes.")
        return len(self._variable_list)

    def _get_variable_list(self) -> list[Variable]:
        return list(self._variable_list)

    def _get_partitions(self) -> list[int]:
        return list(self._partitions)

    def _partition_axes(self) -> list[int]:
        axes = [i for i, p in enumerate(self._partitions) if p > 1]
        return axes or [0]

    def __repr__(self) -> str:
        return (f"<gpuvars.PartitionedVariable '{self._name}' shape={self._shape} dtype={self._dtype.name} "
                f"partitions={self._partitions}>")

    # -- reading ---------------------------------------------------------------
    def as_tensor(self) -> Any:
        """The full value: the shards concatenated on the first shard's device (an array).

        With a caching device, the shards' cached copies are concatenated there.

        Raises:
          FailedPreconditionError: a shard is not initialized.
        """
        first = self._variable_list[0]
        if len(self._variable_list) == 1:
            return first.read_value()
        backend = first._cache_backend or first._backend
        parts = [transfer.to_backend(v.value(), backend, explicit=True) for v in self._variable_list]
        shape = self._full
        out = backend.empty(shape, self._dtype)
        index: list[Any] = [slice(None)] * len(shape)
        for v, part in zip(self._variable_list, parts):
            off = v._save_slice_info.var_offset[self._axis]
            index[self._axis] = slice(off, off + part.shape[self._axis])
            out[tuple(index)] = part
        return out

    value = as_tensor
    read_value = as_tensor
    _gv_read_for_conversion = as_tensor
    _concat = as_tensor

    def numpy(self) -> np.ndarray:
        """A host NumPy copy of the full value."""
        return transfer.to_host(self.as_tensor())

    def eval(self, session: Any = None) -> np.ndarray:
        return self.numpy()

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        out = self.numpy()
        return out if dtype is None else out.astype(dtype)

    def is_initialized(self) -> bool:
        return all(v.is_initialized() for v in self._variable_list)

    @property
    def initializer(self) -> Operation:
        """An Operation that initializes every shard (made on first use)."""
        if self._initializer_op is None:
            from gpuvars.variables import variables_initializer

            graph = self.graph
            with graph.name_scope(None):
                self._initializer_op = variables_initializer(self._variable_list, name=f"{self._name}/Initializer")
        return self._initializer_op

    # -- arithmetic on the full value --------------------------------------------
    def _binop(self, other: Any, op: Callable[[Any, Any], Any], reverse: bool = False) -> Any:
        if isinstance(other, Tensor):
            return NotImplemented
        a = self.as_tensor()
        if isinstance(other, (Variable, PartitionedVariable)):
            other = transfer.to_backend(other.value(), self._variable_list[0]._backend, explicit=False)
        return op(other, a) if reverse else op(a, other)

    def __add__(self, o): return self._binop(o, operator.add)
    def __radd__(self, o): return self._binop(o, operator.add, True)
    def __sub__(self, o): return self._binop(o, operator.sub)
    def __rsub__(self, o): return self._binop(o, operator.sub, True)
    def __mul__(self, o): return self._binop(o, operator.mul)
    def __rmul__(self, o): return self._binop(o, operator.mul, True)
    def __truediv__(self, o): return self._binop(o, operator.truediv)
    def __rtruediv__(self, o): return self._binop(o, operator.truediv, True)
    def __matmul__(self, o): return self._binop(o, operator.matmul)
    def __rmatmul__(self, o): return self._binop(o, operator.matmul, True)
    def __neg__(self): return -self.as_tensor()

    def __getitem__(self, key: Any) -> Any:
        return self.as_tensor()[key]

    # -- identity, as Variable: == is identity -------------------------------------
    def __eq__(self, other: object) -> bool:
        return self is other

    def __ne__(self, other: object) -> bool:
        return self is not other

    __hash__ = object.__hash__

    # -- dense updates ---------------------------------------------------------------
    def _split_value(self, value: Any) -> list[Any]:
        """One operand per shard, checked against the full shape; a scalar goes to every shard."""
        n = len(self._variable_list)
        if isinstance(value, PartitionedVariable):
            if value._get_partitions() != self._partitions or value.shape != self._shape:
                raise ValueError(
                    f"Cannot assign PartitionedVariable {value.name} (shape {value.shape}, partitions "
                    f"{value._get_partitions()}) to {self._name} (shape {self._shape}, partitions {self._partitions})."
                )
            return [v.value() for v in value]
        if isinstance(value, list) and len(value) == n and not _is_full_value(value, self._shape):
            return list(value)  # TF: a list holds one value per shard
        if isinstance(value, Tensor):
            value = value._evaluate(self._variable_list[0]._backend)
        elif isinstance(value, Variable):
            value = value.value()
        try:
            arr = convert_to_array(value, None, what="value")
        except TypeError:
            raise self._variable_list[0]._dtype_error(value) from None
        full = self._full
        if tuple(arr.shape) != full:
            raise errors.ShapeMismatchError(
                None, self._name,
                f"Shapes must be equal: partitioned variable {self._name} has shape {list(full)} but the value has "
                f"shape {list(arr.shape)}. Pass a value of shape {list(full)}.",
            )
        out = []
        index: list[Any] = [slice(None)] * arr.ndim
        for v in self._variable_list:
            info = v._save_slice_info
            off, length = info.var_offset[self._axis], info.var_shape[self._axis]
            index[self._axis] = slice(off, off + length)
            out.append(arr[tuple(index)])
        return out

    def _dense(self, method: str, value: Any, use_locking: bool) -> PartitionedVariable:
        parts = self._split_value(value)
        # Validate every shard's operand (shape, dtype, initialization) before changing any.
        prepared = []
        for v, part in zip(self._variable_list, parts):
            if method != "assign" and not v.is_initialized():
                raise v._uninitialized()
            prepared.append(v._prepare(part))
        for v, arr in zip(self._variable_list, prepared):
            getattr(v, method)(arr, use_locking=use_locking)
        return self

    def assign(self, value: Any, use_locking: bool = False, name: str | None = None,
               read_value: bool = True) -> PartitionedVariable:
        """Assign a full value, split across the shards; returns this PartitionedVariable.

        Args:
          value: an array-like of the full shape, a scalar (every element), a
            list with one value per shard, or a PartitionedVariable with the
            same partitioning.
          use_locking: hold each shard's lock while it is written.
          name: unused (TF's op name).
          read_value: unused (the variable is returned either way).

        Returns:
          This PartitionedVariable (TF returns the list of assigned shards).

        Raises:
          InvalidArgumentError: a value of another shape (no shard changes).
          TypeError: a dtype that does not cast safely.

        Example:
          >>> table.assign(np.zeros([10, 4], np.float32))
        """
        return self._dense("assign", value, use_locking)

    def assign_add(self, delta: Any, use_locking: bool = False, name: str | None = None,
                   read_value: bool = True) -> PartitionedVariable:
        """``self += delta`` shard by shard (``delta`` of the full shape or a scalar); returns self."""
        return self._dense("assign_add", delta, use_locking)

    def assign_sub(self, delta: Any, use_locking: bool = False, name: str | None = None,
                   read_value: bool = True) -> PartitionedVariable:
        """``self -= delta`` shard by shard (``delta`` of the full shape or a scalar); returns self."""
        return self._dense("assign_sub", delta, use_locking)

    # -- sparse updates --------------------------------------------------------------
    def _scatter_partitioned(self, op: str, indices: Any, updates: Any, use_locking: bool) -> PartitionedVariable:
        """Route ``ref[indices[i]] op= updates[i]`` to the shards owning the rows.

        Indices are rows of the FULL variable (axis 0). Everything is checked
        first (indices dtype and range against the full dim 0, the updates
        shape against the full shape, every shard initialized), then each
        shard gets its rows re-based to its offset, in their original order
        (so ``scatter_update``'s last occurrence still wins).
        """
        from gpuvars import state_ops

        full = self._full
        for v in self._variable_list:
            if not v.is_initialized():
                raise v._uninitialized()
        idx = state_ops._indices_array(indices)
        host_idx = transfer.to_host(idx).astype(np.int64, copy=False).reshape(-1)
        dim0 = full[0]
        bad = (host_idx < 0) | (host_idx >= dim0)
        if bad.any():
            pos = int(np.argmax(bad))
            raise errors.InvalidArgumentError(None, self._name,
                                              f"indices[{pos}] = {int(host_idx[pos])} is not in [0, {dim0})")
        row_shape = full[1:]
        expected = tuple(idx.shape) + row_shape
        upd = self._updates(updates, expected, tuple(idx.shape))
        flat_upd = upd.reshape((-1,) + row_shape) if upd.ndim else upd
        if self._axis == 0:
            owner = np.searchsorted(self._offsets, host_idx, side="right") - 1
            for k, v in enumerate(self._variable_list):
                positions = np.nonzero(owner == k)[0]
                if positions.size == 0:
                    continue
                sub_idx = host_idx[positions] - self._offsets[k]
                sub_upd = flat_upd if flat_upd.ndim == 0 else _take(flat_upd, positions)
                state_ops._scatter(v, op, sub_idx, sub_upd, use_locking)
        else:
            # Split along a column axis: every shard gets every row, and its columns of the updates.
            # flat_upd is (rows,) + full[1:], so the split axis keeps its number there.
            index: list[Any] = [slice(None)] * max(flat_upd.ndim, 1)
            for v in self._variable_list:
                info = v._save_slice_info
                off, length = info.var_offset[self._axis], info.var_shape[self._axis]
                if flat_upd.ndim == 0:
                    sub_upd = flat_upd
                else:
                    index[self._axis] = slice(off, off + length)
                    sub_upd = flat_upd[tuple(index)]
                state_ops._scatter(v, op, host_idx, sub_upd, use_locking)
        return self

    def _updates(self, updates: Any, expected: tuple[int, ...], idx_shape: tuple[int, ...]) -> Any:
        arr = self._variable_list[0]._checked_array(updates, "updates")
        if arr.ndim and tuple(arr.shape) != expected:
            raise errors.ShapeMismatchError(
                None, self._name,
                f"Must have updates.shape = indices.shape + params.shape[1:] or updates.shape = [], got "
                f"updates.shape {list(arr.shape)}, indices.shape {list(idx_shape)}, params.shape "
                f"{self._shape.as_list()} for partitioned variable {self._name}.",
            )
        return arr

    def _sparse(self, op: str, sparse_delta: Any, use_locking: bool) -> PartitionedVariable:
        from gpuvars import state_ops

        if not isinstance(sparse_delta, state_ops.IndexedSlices):
            raise TypeError(f"sparse_delta is not IndexedSlices: {sparse_delta!r:.80}")
        return self._scatter_partitioned(op, sparse_delta.indices, sparse_delta.values, use_locking)

    def scatter_update(self, sparse_delta: Any, use_locking: bool = False, name: str | None = None
                       ) -> PartitionedVariable:
        """Set the rows ``sparse_delta.indices`` (rows of the full variable) to ``sparse_delta.values``.

        Args:
          sparse_delta: an ``IndexedSlices``.
          use_locking: hold each shard's lock; duplicates: the last occurrence wins.
          name: unused.

        Returns:
          This PartitionedVariable.

        Raises:
          TypeError: ``sparse_delta`` is not an ``IndexedSlices``, or bad dtypes.
          InvalidArgumentError: an index outside ``[0, shape[0])`` (the full
            dimension, e.g. "indices[2] = 60 is not in [0, 50)") or updates of
            the wrong shape; no shard changes.

        Example:
          >>> table.scatter_update(gpuvars.IndexedSlices(np.ones((2, 4), np.float32), [0, 9]))
        """
        return self._sparse("update", sparse_delta, use_locking)

    def scatter_add(self, sparse_delta: Any, use_locking: bool = False, name: str | None = None
                    ) -> PartitionedVariable:
        """``self[indices] += values``, routed to the owning shards (see ``scatter_update``)."""
        return self._sparse("add", sparse_delta, use_locking)

    def scatter_sub(self, sparse_delta: Any, use_locking: bool = False, name: str | None = None
                    ) -> PartitionedVariable:
        """``self[indices] -= values``, routed to the owning shards."""
        return self._sparse("sub", sparse_delta, use_locking)

    def scatter_mul(self, sparse_delta: Any, use_locking: bool = False, name: str | None = None
                    ) -> PartitionedVariable:
        """``self[indices] *= values``, routed to the owning shards."""
        return self._sparse("mul", sparse_delta, use_locking)

    def scatter_div(self, sparse_delta: Any, use_locking: bool = False, name: str | None = None
                    ) -> PartitionedVariable:
        """``self[indices] /= values``, routed to the owning shards."""
        return self._sparse("div", sparse_delta, use_locking)

    def scatter_min(self, sparse_delta: Any, use_locking: bool = False, name: str | None = None
                    ) -> PartitionedVariable:
        """``self[indices] = min(self[indices], values)``, routed to the owning shards."""
        return self._sparse("min", sparse_delta, use_locking)

    def scatter_max(self, sparse_delta: Any, use_locking: bool = False, name: str | None = None
                    ) -> PartitionedVariable:
        """``self[indices] = max(self[indices], values)``, routed to the owning shards."""
        return self._sparse("max", sparse_delta, use_locking)


def _is_full_value(value: list, shape: TensorShape) -> bool:
    """Whether a Python list is the whole value (nested numbers of the full shape), not one value per shard."""
    try:
        return tuple(np.shape(value)) == tuple(shape.as_list())
    except ValueError:  # ragged: a list of per-shard arrays
        return False
