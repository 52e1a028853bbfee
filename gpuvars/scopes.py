"""Sharing variables: ``variable_scope``, ``get_variable``, templates, the global step (SPEC §5, §7).

As in TensorFlow 1.x:

* ``get_variable(name, ...)`` prefixes ``name`` with the current variable
  scope and looks it up in the graph's variable store: it creates the variable
  or returns the existing one, as the scope's ``reuse`` allows (``False``:
  create only; ``True``: reuse only; ``AUTO_REUSE``: either). Its name is the
  scoped name exactly; ``name_scope`` does not prefix it.
* ``variable_scope(name_or_scope, ...)`` opens a variable scope and a matching
  name scope (so ``Variable()`` and ops inside get the prefix). Scopes inherit
  the initializer, regularizer, caching device, partitioner, dtype, custom
  getter and reuse of their parent; ``reuse=True`` (or ``AUTO_REUSE``) is
  inherited by every sub-scope and a nested ``reuse=False`` cannot undo it.
* The store and the per-thread scope stacks hang off the ``Graph``
  (``graph._var_store``, ``graph._scope_state``), so they reset with it; the
  scope stack is thread-local (each thread starts at the root scope), the
  store is shared by all threads of the graph.
* ``make_template`` wraps a function so that its first call creates variables
  and later calls reuse them.

Choices where TF 1.x is silent or where gpuvars differs (also in the README):

* Default initializer: the scope's, else ``glorot_uniform_initializer`` for
  floating dtypes (TensorFlow's default since 1.0; the seed document 002,
  older, names ``uniform_unit_scaling_initializer``), ``zeros_initializer``
  for integers and bools, and a ``ValueError`` for other dtypes (complex).
* Initial values are made when the initializer runs, directly on the
  variable's device. An initializer object is bound to the shape (its seeds
  fixed) when ``get_variable`` creates the variable, as TF builds its random
  op then: argument errors surface at once, and each run of the variable's
  initializer draws anew. A plain function initializer is called when the
  initializer runs.
* A regularizer is applied to a deferred read of the variable, and its result,
  a deferred ``Tensor``, is added to ``REGULARIZATION_LOSSES``; evaluating it
  (``np.asarray(loss)``, ``Session.run``) needs the variable initialized. A
  regularizer that computes eagerly instead is wrapped so that it runs at
  evaluation time. TF adds a graph tensor; the effect is the same.
* Error messages keep TF's wording, with ``AUTO_REUSE`` and ``get_variable()``
  spelled without ``tf.`` (SPEC §15).

Example:
  >>> with gpuvars.variable_scope("foo"):
  ...     v = gpuvars.get_variable("v", [1])
  >>> with gpuvars.variable_scope("foo", reuse=True):
  ...     v1 = gpuvars.get_variable("v")
  >>> v1 is v, v.name
  (True, 'foo/v:0')
"""

from __future__ import annotations

import enum
import functools
import inspect
import linecache
import logging
import os
import sys
import threading
import traceback
from collections.abc import Callable
from typing import Any

import numpy as np

from gpuvars import dtypes, errors, init_ops, partitioning, transfer
from gpuvars.graph import Graph, GraphKeys, get_default_graph
from gpuvars.partitioned import PartitionedVariable, SaveSliceInfo
from gpuvars.tensor import Tensor, TensorShape, as_shape, convert_to_array, infer_dtype
from gpuvars.variables import Variable

__all__ = [
    "AUTO_REUSE",
    "Template",
    "VariableScope",
    "create_global_step",
    "get_global_step",
    "get_local_variable",
    "get_or_create_global_step",
    "get_variable",
    "get_variable_scope",
    "get_variable_scope_store",
    "make_template",
    "no_regularizer",
    "variable_op_scope",
    "variable_scope",
]

logger = logging.getLogger(__name__)


class _ReuseMode(enum.Enum):
    """Reuse modes beyond True/False (TF's ``_ReuseMode``)."""

    AUTO_REUSE = 1


AUTO_REUSE = _ReuseMode.AUTO_REUSE
"""``reuse=AUTO_REUSE``: ``get_variable`` creates the variable if it does not exist, else returns it."""

_KNOWN_EXTRA_ARGS = frozenset({"synchronization", "aggregation"})


def no_regularizer(_: Any) -> None:
    """Use this function to prevent regularization of variables (returns None)."""
    return None


def _tf_dtype(dt: Any) -> str:
    """A dtype as TF prints it in these messages: ``<dtype: 'float32'>``."""
    return f"<dtype: '{dtypes.as_dtype(dt).name}'>"


def _check_extra_args(fn: str, kwargs: dict[str, Any]) -> None:
    unknown = set(kwargs) - _KNOWN_EXTRA_ARGS
    if unknown:
        raise TypeError(f"{fn}() got unexpected keyword arguments: {sorted(unknown)}")


def _accepts(fn: Any, name: str) -> bool:
    """Whether ``fn`` takes a parameter called ``name`` (TF checks the argspec the same way)."""
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return name in params


def _accepts_kwargs(fn: Any) -> bool:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params)


def _takes_no_args(fn: Any) -> bool:
    """Whether ``fn`` can be called with no arguments (TF: all args have defaults)."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    return all(p.default is not inspect.Parameter.empty or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
               for p in params)


def _constant_dtype(value: Any) -> np.dtype:
    """The dtype a constant initializer converts to (TF's ``convert_to_tensor`` rules)."""
    if isinstance(value, (Tensor, Variable, PartitionedVariable)):
        return value.dtype
    return infer_dtype(value)


def _constant_shape(value: Any) -> TensorShape:
    if isinstance(value, (Tensor, Variable, PartitionedVariable)):
        return as_shape(value.shape)
    try:
        return TensorShape(np.shape(value))
    except ValueError:
        return TensorShape(None)


def _describe(initializer: Any) -> dict[str, Any] | None:
    """What a meta graph records about an initializer: ``{"class_name", "config"}``, or None."""
    if isinstance(initializer, init_ops.Initializer):
        try:
            return init_ops.serialize(initializer)
        except (ValueError, TypeError):
            return None
    return None


# -- the variable scope ----------------------------------------------------------------------------------------
class VariableScope:
    """Variable scope object to carry defaults to provide to ``get_variable``.

    Made by ``variable_scope(...)`` and returned by ``get_variable_scope()``;
    capturing one (``with variable_scope("foo") as scope:``) and entering it
    again shares its name and settings.

    Args:
      reuse: ``True``, ``False``/``None``, or ``AUTO_REUSE``.
      name: the scope name, used as prefix in ``get_variable``.
      initializer: default initializer passed to ``get_variable``.
      regularizer: default regularizer passed to ``get_variable``.
      caching_device: default caching device (string or device function).
      partitioner: default partitioner passed to ``get_variable``.
      custom_getter: default custom getter passed to ``get_variable``.
      name_scope: the name scope this variable scope opened (``original_name_scope``).
      dtype: default dtype of new variables (float32).
      use_resource: accepted for compatibility; gpuvars has one kind of variable.
      constraint: default constraint (a projection applied after updates).

    Example:
      >>> with gpuvars.variable_scope("foo") as scope:
      ...     v = gpuvars.get_variable("v", [1])
      ...     scope.reuse_variables()
      ...     assert gpuvars.get_variable("v", [1]) is v
    """

    def __init__(self, reuse: Any, name: str = "", initializer: Any = None, regularizer: Any = None,
                 caching_device: Any = None, partitioner: Any = None, custom_getter: Any = None,
                 name_scope: str = "", dtype: Any = dtypes.float32, use_resource: Any = None,
                 constraint: Any = None):
        self._name = name
        self._initializer = initializer
        self._regularizer = regularizer
        self._reuse = reuse
        self._caching_device = caching_device
        self._partitioner = partitioner
        self._custom_getter = custom_getter
        self._name_scope = name_scope
        self._dtype = dtype
        self._use_resource = use_resource
        self._constraint = constraint

    # -- properties ------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self._name

    @property
    def original_name_scope(self) -> str:
        """The name scope opened with this variable scope (``"foo/"``, or ``"foo_1/"`` the second time)."""
        return self._name_scope

    @property
    def reuse(self) -> Any:
        return self._reuse

    @property
    def initializer(self) -> Any:
        return self._initializer

    @property
    def dtype(self) -> Any:
        return self._dtype

    @property
    def use_resource(self) -> Any:
        return self._use_resource

    @property
    def regularizer(self) -> Any:
        return self._regularizer

    @property
    def caching_device(self) -> Any:
        return self._caching_device

    @property
    def partitioner(self) -> Any:
        return self._partitioner

    @property
    def custom_getter(self) -> Any:
        return self._custom_getter

    @property
    def constraint(self) -> Any:
        return self._constraint

    # -- setters -----------------------------------------------------------------------
    def reuse_variables(self) -> None:
        """Reuse variables in this scope: later ``get_variable`` calls return existing variables."""
        self._reuse = True

    def set_initializer(self, initializer: Any) -> None:
        """Set initializer for this scope."""
        self._initializer = initializer

    def set_dtype(self, dtype: Any) -> None:
        """Set data type for this scope."""
        self._dtype = dtype

    def set_use_resource(self, use_resource: Any) -> None:
        """Set whether to use resource variables (recorded; gpuvars has one kind of variable)."""
        self._use_resource = use_resource

    def set_regularizer(self, regularizer: Any) -> None:
        """Set regularizer for this scope."""
        self._regularizer = regularizer

    def set_caching_device(self, caching_device: Any) -> None:
        """Set caching_device for this scope (a device string or device function)."""
        self._caching_device = caching_device

    def set_partitioner(self, partitioner: Any) -> None:
        """Set partitioner for this scope."""
        self._partitioner = partitioner

    def set_custom_getter(self, custom_getter: Any) -> None:
        """Set custom getter for this scope."""
        self._custom_getter = custom_getter

    # -- collections -----------------------------------------------------------------------
    def get_collection(self, name: str) -> list[Any]:
        """The items of collection ``name`` whose names start with this scope's name and ``/``."""
        scope = self._name + "/" if self._name else ""
        return get_default_graph().get_collection(name, scope)

    def trainable_variables(self) -> list[Any]:
        """This scope's trainable variables."""
        return self.get_collection(GraphKeys.TRAINABLE_VARIABLES)

    def global_variables(self) -> list[Any]:
        """This scope's global variables."""
        return self.get_collection(GraphKeys.GLOBAL_VARIABLES)

    def local_variables(self) -> list[Any]:
        """This scope's local variables."""
        return self.get_collection(GraphKeys.LOCAL_VARIABLES)

    def __repr__(self) -> str:
        return f"<gpuvars.VariableScope '{self._name}' reuse={self._reuse}>"

    # -- get_variable ------------------------------------------------------------------------
    def get_variable(self, var_store: _VariableStore, name: str, shape: Any = None, dtype: Any = None,
                     initializer: Any = None, regularizer: Any = None, reuse: Any = None, trainable: bool | None = None,
                     collections: Any = None, caching_device: Any = None, partitioner: Any = None,
                     validate_shape: bool = True, use_resource: Any = None, custom_getter: Any = None,
                     constraint: Any = None, synchronization: Any = None, aggregation: Any = None) -> Any:
        """Gets an existing variable with this name or create a new one, with this scope's defaults.

        Args:
          var_store: the variable store (``gpuvars.scopes._get_default_variable_store()``).
          name: the name relative to this scope.
          shape, dtype, initializer, regularizer, trainable, collections,
          caching_device, partitioner, validate_shape, use_resource,
          custom_getter, constraint: as ``get_variable``; None takes this scope's.
          reuse: None takes this scope's.
          synchronization, aggregation: accepted for compatibility, ignored.

        Returns:
          A ``Variable`` or ``PartitionedVariable``.

        Raises:
          ValueError: see ``get_variable``.
        """
        if regularizer is None:
            regularizer = self._regularizer
        if caching_device is None:
            caching_device = self._caching_device
        if partitioner is None:
            partitioner = self._partitioner
        if custom_getter is None:
            custom_getter = self._custom_getter
        if reuse is None:
            reuse = self._reuse
        if use_resource is None:
            use_resource = self._use_resource
        full_name = self._name + "/" + name if self._name else name
        # Variable names depend on the variable scope only, never on the name scope.
        with get_default_graph().name_scope(None):
            # Check that a constant initializer's dtype and `dtype` agree before defaults replace them.
            if dtype is not None and initializer is not None and not callable(initializer):
                init_dtype = _constant_dtype(initializer)
                if init_dtype != dtypes.as_dtype(dtype):
                    raise ValueError(
                        f"Initializer type '{_tf_dtype(init_dtype)}' and explicit dtype '{_tf_dtype(dtype)}' "
                        "don't match."
                    )
            if initializer is None:
                initializer = self._initializer
            if constraint is None:
                constraint = self._constraint
            if dtype is None:
                dtype = self._dtype
            return var_store.get_variable(
                full_name, shape=shape, dtype=dtype, initializer=initializer, regularizer=regularizer,
                reuse=reuse, trainable=trainable, collections=collections, caching_device=caching_device,
                partitioner=partitioner, validate_shape=validate_shape, use_resource=use_resource,
                custom_getter=custom_getter, constraint=constraint, synchronization=synchronization,
                aggregation=aggregation,
            )


# -- the store ----------------------------------------------------------------------------------------------------
class _VariableStore:
    """The variables ``get_variable`` made in one graph, by full name (TF's ``_VariableStore``)."""

    def __init__(self) -> None:
        self._vars: dict[str, Variable] = {}
        self._partitioned_vars: dict[str, PartitionedVariable] = {}
        self._origins: dict[str, list[tuple[str, int, str]]] = {}
        self._lock = threading.RLock()

    def get_variable(self, name: str, shape: Any = None, dtype: Any = dtypes.float32, initializer: Any = None,
                     regularizer: Any = None, reuse: Any = None, trainable: bool | None = None,
                     collections: Any = None, caching_device: Any = None, partitioner: Any = None,
                     validate_shape: bool = True, use_resource: Any = None, custom_getter: Any = None,
                     constraint: Any = None, synchronization: Any = None, aggregation: Any = None) -> Any:
        """Create or return the variable ``name`` (a full name), through ``custom_getter`` when given."""
        if custom_getter is not None and not callable(custom_getter):
            raise ValueError(f"Passed a custom_getter which is not callable: {custom_getter}")
        if dtype is not None:
            dtype = dtypes.as_dtype(dtype)
        if trainable is None:
            trainable = True

        def _true_getter(name: str, shape: Any = None, dtype: Any = dtypes.float32, initializer: Any = None,
                         regularizer: Any = None, reuse: Any = None, trainable: bool | None = None,
                         collections: Any = None, caching_device: Any = None, partitioner: Any = None,
                         validate_shape: bool = True, use_resource: Any = None, constraint: Any = None,
                         synchronization: Any = None, aggregation: Any = None) -> Any:
            if _is_scalar(shape, initializer) or partitioner is None:
                partitioned = False
            else:
                if not callable(partitioner):
                    raise ValueError(f"Partitioner must be callable, but received: {partitioner}")
                partitioned = True
            if partitioned:
                with get_default_graph().name_scope(None):
                    return self._get_partitioned_variable(
                        name, partitioner, shape=shape, dtype=dtype, initializer=initializer,
                        regularizer=regularizer, reuse=reuse, trainable=trainable, collections=collections,
                        caching_device=caching_device, validate_shape=validate_shape, constraint=constraint)
            # Reuse of a partitioned variable without naming its partitioner.
            if (reuse is True or reuse is AUTO_REUSE) and name in self._partitioned_vars:
                return self._get_partitioned_variable(
                    name, None, shape=shape, dtype=dtype, initializer=initializer, regularizer=regularizer,
                    reuse=reuse, trainable=trainable, collections=collections, caching_device=caching_device,
                    validate_shape=validate_shape, constraint=constraint)
            if f"{name}/part_0" in self._vars:
                raise ValueError(
                    f"No partitioner was provided, but a partitioned version of the variable was found: "
                    f"{name}/part_0. Perhaps a variable of the same name was already created with partitioning?"
                )
            return self._get_single_variable(
                name, shape=shape, dtype=dtype, initializer=initializer, regularizer=regularizer, reuse=reuse,
                trainable=trainable, collections=collections, caching_device=caching_device,
                validate_shape=validate_shape, constraint=constraint)

        if custom_getter is None:
            return _true_getter(
                name, shape=shape, dtype=dtype, initializer=initializer, regularizer=regularizer, reuse=reuse,
                trainable=trainable, collections=collections, caching_device=caching_device,
                partitioner=partitioner, validate_shape=validate_shape, use_resource=use_resource,
                constraint=constraint, synchronization=synchronization, aggregation=aggregation)
        custom_getter_kwargs: dict[str, Any] = {
            "getter": _true_getter, "name": name, "shape": shape, "dtype": dtype, "initializer": initializer,
            "regularizer": regularizer, "reuse": reuse, "trainable": trainable, "collections": collections,
            "caching_device": caching_device, "partitioner": partitioner, "validate_shape": validate_shape,
            "use_resource": use_resource, "synchronization": synchronization, "aggregation": aggregation,
        }
        # Getters written before `constraint` existed do not take it (TF's rule).
        if _accepts(custom_getter, "constraint") or _accepts_kwargs(custom_getter):
            custom_getter_kwargs["constraint"] = constraint
        return custom_getter(**custom_getter_kwargs)

    # -- one variable --------------------------------------------------------------------------------
    def _get_single_variable(self, name: str, shape: Any = None, dtype: Any = dtypes.float32,
                             initializer: Any = None, regularizer: Any = None, partition_info: Any = None,
                             reuse: Any = None, trainable: bool | None = None, collections: Any = None,
                             caching_device: Any = None, validate_shape: bool = True, constraint: Any = None
                             ) -> Variable:
        initializing_from_value = initializer is not None and not callable(initializer)
        if shape is not None and initializing_from_value:
            raise ValueError("If initializer is a constant, do not specify shape.")
        dtype = dtypes.as_dtype(dtype if dtype is not None else dtypes.float32)
        shape = as_shape(shape)
        graph = get_default_graph()
        with self._lock:
            if name in self._vars:
                found = self._vars[name]
                if reuse is False:
                    raise ValueError(
                        f"Variable {name} already exists, disallowed. Did you mean to set reuse=True or "
                        f"reuse=AUTO_REUSE in VarScope? Originally defined at:\n\n{self._origin(name)}"
                    )
                if not shape.is_compatible_with(found.get_shape()):
                    raise ValueError(
                        f"Trying to share variable {name}, but specified shape {shape} and found shape "
                        f"{found.get_shape()}."
                    )
                if dtype != found.dtype:
                    raise ValueError(
                        f"Trying to share variable {name}, but specified dtype {dtype.name} and found dtype "
                        f"{found.dtype.name}."
                    )
                return found
            if reuse is True:
                raise ValueError(
                    f"Variable {name} does not exist, or was not created with get_variable(). Did you mean to set "
                    "reuse=AUTO_REUSE in VarScope?"
                )
            if initializer is None:
                initializer = _default_initializer(name, dtype)
            variable_dtype: Any
            if initializing_from_value:
                init_val = initializer
                variable_dtype = None
            else:
                if inspect.isclass(initializer):
                    initializer = initializer()
                if shape.is_fully_defined():
                    init_val = _deferred_initial_value(name, initializer, shape, dtype, partition_info, graph)
                elif _takes_no_args(initializer):
                    init_val = initializer  # a zero-argument callable: the value (and shape) come when it runs
                else:
                    raise ValueError(
                        f"Shape of a new variable ({name}) must be fully defined, but instead was {shape}. "
                        "Pass a fully defined `shape`, or a value as `initializer`."
                    )
                variable_dtype = dtype
            with graph.name_scope(None):
                v = Variable(initial_value=init_val, trainable=trainable, collections=collections,
                             validate_shape=validate_shape, caching_device=caching_device, name=name,
                             dtype=variable_dtype, constraint=constraint)
            v._initial_spec = None if initializing_from_value else _describe(initializer)
            self._vars[name] = v
            self._origins[name] = _user_frames()
        logger.debug("Created variable %s with shape %s and init %s", v.name, shape, initializer)
        if regularizer is not None:
            loss = _regularization_loss(v, name, regularizer, graph)
            if loss is not None:
                graph.add_to_collection(GraphKeys.REGULARIZATION_LOSSES, loss)
        return v

    def _origin(self, name: str) -> str:
        return _format_frames(self._origins.get(name, []))

    # -- partitioned variables ---------------------------------------------------------------------------
    def _get_partitioned_variable(self, name: str, partitioner: Any, shape: Any = None,
                                  dtype: Any = dtypes.float32, initializer: Any = None, regularizer: Any = None,
                                  reuse: Any = None, trainable: bool | None = None, collections: Any = None,
                                  caching_device: Any = None, validate_shape: bool = True, constraint: Any = None
                                  ) -> PartitionedVariable:
        dtype = dtypes.as_dtype(dtype if dtype is not None else dtypes.float32)
        initializing_from_value = initializer is not None and not callable(initializer)
        with self._lock:
            if name in self._vars:
                raise ValueError(
                    f"A partitioner was provided, but an unpartitioned version of the variable was found: {name}.  "
                    "Perhaps a variable of the same name was already created without partitioning?"
                )
            shape = as_shape(shape)
            if initializing_from_value:
                # TF merges the shape of a Tensor initializer; gpuvars does so for any constant.
                init_shape = _constant_shape(initializer)
                if not shape.is_compatible_with(init_shape):
                    raise ValueError(f"Shapes {shape} and {init_shape} are not compatible")
                if shape.ndims is None or not shape.is_fully_defined():
                    shape = init_shape if init_shape.ndims is not None else shape
            existing = self._partitioned_vars.get(name)
            partitions = None
            if not reuse or partitioner is not None:
                # Beyond TF: on reuse without a shape, the partitioner sees the existing variable's shape.
                call_shape = shape if (existing is None or shape.is_fully_defined()) else existing.get_shape()
                partitions = partitioning.call_partitioner(partitioner, call_shape, dtype)
            if existing is not None:
                if reuse is False:
                    raise ValueError(
                        f"Partitioned variable with name {name} already exists. Did you mean to set reuse=True or "
                        "reuse=AUTO_REUSE in VarScope?"
                    )
                if not shape.is_compatible_with(existing.get_shape()):
                    raise ValueError(
                        f"Trying to reuse partitioned variable {name}, but specified shape {shape} and found shape "
                        f"{existing.get_shape()}."
                    )
                if dtype != existing.dtype:
                    raise ValueError(
                        f"Trying to reuse partitioned variable {name}, but specified dtype {dtype.name} and found "
                        f"dtype {existing.dtype.name}."
                    )
                if partitions is not None and existing._get_partitions() != list(partitions):
                    raise ValueError(
                        f"Trying to reuse partitioned variable {name}, but specified partitions {list(partitions)} "
                        f"and found partitions {existing._get_partitions()}."
                    )
                return existing
            if reuse is True:
                raise ValueError(
                    f"PartitionedVariable {name} does not exist, or was not created with get_variable(). Did you "
                    "mean to set reuse=False or reuse=AUTO_REUSE in VarScope?"
                )
            assert partitions is not None
            _, num_slices = partitioning.slice_dim_and_num_slices(partitions)
            if f"{name}/part_0" in self._vars:
                if f"{name}/part_{num_slices - 1}" not in self._vars:
                    raise ValueError(
                        "Partitioner returned a different partitioning than what was already found.  Partitioner "
                        f"returned {num_slices} shards, and shard {name}/part_0 was found, but "
                        f"{name}/part_{num_slices - 1} was not."
                    )
                if f"{name}/part_{num_slices}" in self._vars:
                    raise ValueError(
                        "Partitioner returned a different partitioning than what was already found.  Partitioner "
                        f"returned {num_slices} shards, and shard {name}/part_0 was found, but so was the extra "
                        f"shard {name}/part_{num_slices}."
                    )
            full_shape = list(shape.as_tuple() or ())
            full_value = None
            if initializing_from_value:
                # The value's own dtype, as for an unpartitioned variable (TF: only for a Tensor).
                dtype = _constant_dtype(initializer)
                if not isinstance(initializer, Tensor):
                    full_value = convert_to_array(initializer, dtype, what="initializer")
            shards = []
            for i, (var_offset, var_shape) in enumerate(partitioning.shard_slices(full_shape, partitions)):
                partition_info = init_ops.PartitionInfo(full_shape=full_shape, var_offset=list(var_offset))
                index = tuple(slice(o, o + s) for o, s in zip(var_offset, var_shape))
                init: Any
                shard_shape: list[int] | None
                if initializer is None:
                    init, shard_shape = _default_initializer(name, dtype), list(var_shape)
                elif callable(initializer):
                    init, shard_shape = initializer, list(var_shape)
                elif isinstance(initializer, Tensor):
                    init, shard_shape = initializer[index], None
                else:
                    assert full_value is not None
                    init, shard_shape = full_value[index], None
                var = self._get_single_variable(
                    f"{name}/part_{i}", shape=shard_shape, dtype=dtype, initializer=init,
                    partition_info=partition_info, regularizer=regularizer, reuse=reuse, trainable=trainable,
                    collections=collections, caching_device=caching_device, validate_shape=validate_shape,
                    constraint=constraint)
                var._save_slice_info = SaveSliceInfo(name, full_shape, list(var_offset), list(var_shape))
                shards.append(var)
            pv = PartitionedVariable(name=name, shape=full_shape, dtype=dtype, variable_list=shards,
                                     partitions=list(partitions))
            self._partitioned_vars[name] = pv
            return pv


def _is_scalar(shape: Any, initializer: Any) -> bool:
    """A scalar ignores the partitioner (TF: an empty shape list; gpuvars also a rank-0 constant)."""
    if shape is not None:
        s = as_shape(shape)
        return s.ndims == 0
    if initializer is not None and not callable(initializer):
        return _constant_shape(initializer).ndims == 0
    return False


def _default_initializer(name: str, dtype: np.dtype) -> init_ops.Initializer:
    """glorot_uniform for floats, zeros for integers and bools (TF's choice), else ValueError."""
    if dtypes.is_floating(dtype):
        return init_ops.glorot_uniform_initializer(dtype=dtype)
    if dtypes.is_integer(dtype) or dtype == dtypes.bool_:
        return init_ops.zeros_initializer(dtype=dtype)
    raise ValueError(f"An initializer for variable {name} of {_tf_dtype(dtype)} is required")


def _deferred_initial_value(name: str, initializer: Any, shape: TensorShape, dtype: np.dtype,
                            partition_info: Any, graph: Graph) -> Tensor:
    """A deferred value: the initializer's output for ``shape``, made on the device that evaluates it."""
    shape_list = list(shape.as_tuple() or ())
    if isinstance(initializer, init_ops.Initializer):
        # Bound now: arguments are checked and seeds fixed when the variable is created, as TF builds its op.
        op = initializer.bind(shape_list, dtype, partition_info)
        fn: Callable[[Any], Any] = op
        kind = type(initializer).__name__
    else:
        kwargs: dict[str, Any] = {"dtype": dtype}
        if _accepts(initializer, "partition_info"):
            kwargs["partition_info"] = partition_info
        pass_backend = _accepts(initializer, "backend")

        def fn(backend: Any) -> Any:
            extra = {"backend": backend} if pass_backend else {}
            return _materialize(initializer(shape_list, **kwargs, **extra), backend, dtype)

        kind = getattr(initializer, "__name__", type(initializer).__name__)
    return Tensor(fn, shape_list, dtype, f"{name}/Initializer/{kind}", graph=graph)


def _materialize(value: Any, backend: Any, dtype: Any) -> Any:
    """An initializer's or regularizer's output as an array (on ``backend`` when it was deferred)."""
    if isinstance(value, Tensor):
        return value._evaluate(backend)
    if isinstance(value, (Variable, PartitionedVariable)):
        return value.value()
    return convert_to_array(value, dtype, what="initializer output")


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
_is_internal_file: dict[str, bool] = {}


def _user_frames() -> list[tuple[str, int, str]]:
    """Where a variable was created, innermost first, without gpuvars' own frames ("Originally defined at").

    Only ``(filename, lineno, function)`` is kept: cheap enough for every
    variable; source lines are read only if the message is formatted.
    """
    out: list[tuple[str, int, str]] = []
    frame = sys._getframe(1)
    depth = 0
    while frame is not None and len(out) < 5 and depth < 64:
        filename = frame.f_code.co_filename
        internal = _is_internal_file.get(filename)
        if internal is None:
            internal = _is_internal_file[filename] = os.path.abspath(filename).startswith(_PACKAGE_DIR)
        if not internal:
            out.append((filename, frame.f_lineno, frame.f_code.co_name))
        frame = frame.f_back  # type: ignore[assignment]
        depth += 1
    return out


def _format_frames(frames: list[tuple[str, int, str]]) -> str:
    summary = traceback.StackSummary.from_list(
        [traceback.FrameSummary(f, n, name, line=linecache.getline(f, n).strip() or None) for f, n, name in frames]
    )
    return "".join(summary.format())


class _Deferred:
    """Marks a regularizer that computed eagerly (so it must run when its loss is evaluated)."""


def _regularization_loss(v: Variable, name: str, regularizer: Callable[[Any], Any], graph: Graph) -> Tensor | None:
    """The deferred loss of ``regularizer`` on ``v``, or None when the regularizer returns None."""
    if regularizer is no_regularizer:
        return None
    read = Tensor(lambda backend: transfer.to_backend(v.value(), backend, explicit=True), v.shape, v.dtype,
                  f"{v.op.name}/read", v.device, graph, (v,))
    out: Any
    with graph.name_scope(f"{name}/Regularizer/"):
        try:
            out = regularizer(read)
        except errors.FailedPreconditionError:
            out = _Deferred
    if out is None:
        return None
    if isinstance(out, Tensor):
        return out
    if out is _Deferred:
        def fn(backend: Any) -> Any:
            loss = regularizer(v)
            if loss is None:
                return np.zeros((), v.dtype)
            return _materialize(loss, backend, None)

        return Tensor(fn, TensorShape(None), v.dtype, f"{name}/Regularizer/loss", v.device, graph, (v,))
    arr = convert_to_array(_materialize(out, None, None))
    return Tensor(lambda backend: arr, arr.shape, arr.dtype, f"{name}/Regularizer/loss", graph=graph)


# -- per-graph, per-thread state ----------------------------------------------------------------------------------
class _VariableScopeStore(threading.local):
    """The current variable scope and the scope-name counts, per thread (TF's ``_VariableScopeStore``)."""

    def __init__(self) -> None:
        super().__init__()
        self.current_scope = VariableScope(False)
        self.variable_scopes_count: dict[str, int] = {}

    def open_variable_scope(self, scope_name: str) -> None:
        self.variable_scopes_count[scope_name] = self.variable_scopes_count.get(scope_name, 0) + 1

    def close_variable_subscopes(self, scope_name: str | None) -> None:
        for k in list(self.variable_scopes_count):
            if scope_name is None or k.startswith(scope_name + "/"):
                self.variable_scopes_count[k] = 0

    def variable_scope_count(self, scope_name: str) -> int:
        return self.variable_scopes_count.get(scope_name, 0)


def get_variable_scope_store(graph: Graph | None = None) -> _VariableScopeStore:
    """The variable scope state of the current thread in ``graph`` (default: the default graph)."""
    graph = graph if graph is not None else get_default_graph()
    store = graph._scope_state
    if store is None:
        with graph._lock:
            if graph._scope_state is None:
                graph._scope_state = _VariableScopeStore()
            store = graph._scope_state
    return store


def _get_default_variable_store(graph: Graph | None = None) -> _VariableStore:
    graph = graph if graph is not None else get_default_graph()
    store = graph._var_store
    if store is None:
        with graph._lock:
            if graph._var_store is None:
                graph._var_store = _VariableStore()
            store = graph._var_store
    return store


def get_variable_scope() -> VariableScope:
    """Returns the current variable scope (of this thread, in the default graph).

    Returns:
      The ``VariableScope``; the root scope has name ``""`` and ``reuse`` False.

    Example:
      >>> with gpuvars.variable_scope("foo"):
      ...     gpuvars.get_variable_scope().name
      'foo'
    """
    return get_variable_scope_store().current_scope


# -- get_variable ---------------------------------------------------------------------------------------------------
def get_variable(name: str, shape: Any = None, dtype: Any = None, initializer: Any = None, regularizer: Any = None,
                 trainable: bool | None = None, collections: Any = None, caching_device: Any = None,
                 partitioner: Any = None, validate_shape: bool = True, use_resource: Any = None,
                 custom_getter: Any = None, constraint: Any = None, **kwargs: Any) -> Any:
    """Gets an existing variable with these parameters or create a new one.

    The name is prefixed with the current variable scope (never the name
    scope) and reuse is checked as the scope says: without reuse an existing
    name is an error; with ``reuse=True`` a missing one is; with
    ``AUTO_REUSE`` either is fine.

    Args:
      name: the name of the new or existing variable.
      shape: the shape of the new or existing variable.
      dtype: the dtype (default: the scope's, float32).
      initializer: an initializer object or function ``f(shape, dtype, partition_info)``
        (called when the initializer runs), or a value (array-like, ``Tensor``),
        which also gives the shape. None: the scope's, else
        ``glorot_uniform_initializer`` for floats and zeros for integers and bools.
      regularizer: ``f(variable) -> loss or None``; the loss is added to
        ``GraphKeys.REGULARIZATION_LOSSES`` as a deferred ``Tensor``.
      trainable: add to ``TRAINABLE_VARIABLES`` (default True).
      collections: graph collections (default ``[GLOBAL_VARIABLES]``).
      caching_device: device string or device function to cache reads on.
      partitioner: ``f(shape, dtype) -> partitions``; then a ``PartitionedVariable``
        of shards ``name/part_<i>`` is returned (scalars ignore it).
      validate_shape: when False, the value may have another shape.
      use_resource: accepted for compatibility (one kind of variable).
      custom_getter: ``f(getter, name, *args, **kwargs)`` called instead of the
        built-in getter; nested scopes' getters compose.
      constraint: a projection applied to the value after initialization and updates.
      **kwargs: ``synchronization`` and ``aggregation`` are accepted and ignored.

    Returns:
      The created or existing ``Variable`` (or ``PartitionedVariable`` with a partitioner).

    Raises:
      ValueError: "Variable foo/v already exists, disallowed. Did you mean to set
        reuse=True or reuse=AUTO_REUSE in VarScope?"; "Variable foo/v does not
        exist, or was not created with get_variable(). …"; "Trying to share
        variable foo/v, but specified shape (2, 3) and found shape (3, 2)." (or
        dtype); a missing shape without a value initializer; a constant
        initializer with a shape ("If initializer is a constant, do not specify
        shape."); a constant initializer of another dtype than ``dtype``; no
        default initializer for the dtype (complex); partitioner errors.
      TypeError: unknown keyword arguments.

    Example:
      >>> with gpuvars.variable_scope("foo"):
      ...     v = gpuvars.get_variable("v", [1])
      >>> with gpuvars.variable_scope("foo", reuse=True):
      ...     assert gpuvars.get_variable("v") is v
    """
    _check_extra_args("get_variable", kwargs)
    return get_variable_scope().get_variable(
        _get_default_variable_store(), name, shape=shape, dtype=dtype, initializer=initializer,
        regularizer=regularizer, trainable=trainable, collections=collections, caching_device=caching_device,
        partitioner=partitioner, validate_shape=validate_shape, use_resource=use_resource,
        custom_getter=custom_getter, constraint=constraint, **kwargs,
    )


def get_local_variable(name: str, shape: Any = None, dtype: Any = None, initializer: Any = None,
                       regularizer: Any = None, trainable: bool = False, collections: Any = None,
                       caching_device: Any = None, partitioner: Any = None, validate_shape: bool = True,
                       use_resource: Any = None, custom_getter: Any = None, constraint: Any = None,
                       **kwargs: Any) -> Any:
    """Gets an existing *local* variable or creates a new one.

    As ``get_variable``, except that the variable goes to ``LOCAL_VARIABLES``
    (plus ``collections``) and is never trainable.

    Args:
      name, shape, dtype, initializer, regularizer, collections, caching_device,
      partitioner, validate_shape, use_resource, custom_getter, constraint: as ``get_variable``.
      trainable: ignored (always False), as TF.
      **kwargs: ``synchronization`` and ``aggregation`` (ignored).

    Returns:
      The created or existing variable.

    Raises:
      ValueError: as ``get_variable``.

    Example:
      >>> count = gpuvars.get_local_variable("count", [], dtype="int64")
      >>> count in gpuvars.local_variables()
      True
    """
    _check_extra_args("get_local_variable", kwargs)
    collections = list(collections) + [GraphKeys.LOCAL_VARIABLES] if collections else [GraphKeys.LOCAL_VARIABLES]
    return get_variable(name, shape=shape, dtype=dtype, initializer=initializer, regularizer=regularizer,
                        trainable=False, collections=collections, caching_device=caching_device,
                        partitioner=partitioner, validate_shape=validate_shape, use_resource=use_resource,
                        custom_getter=custom_getter, constraint=constraint, **kwargs)


# -- variable_scope ------------------------------------------------------------------------------------------------
def _maybe_wrap_custom_getter(custom_getter: Any, old_getter: Any) -> Any:
    """Compose getters: the new one receives a getter that runs the old one around the true getter."""
    if old_getter is None:
        return custom_getter

    def wrapped_custom_getter(getter: Any, *args: Any, **kwargs: Any) -> Any:
        return custom_getter(functools.partial(old_getter, getter), *args, **kwargs)

    return wrapped_custom_getter


def _get_unique_variable_scope(prefix: str) -> str:
    """``prefix``, or ``prefix_1``, ``prefix_2``… unused in the current variable scope (this thread)."""
    var_scope_store = get_variable_scope_store()
    current_scope = get_variable_scope()
    name = current_scope.name + "/" + prefix if current_scope.name else prefix
    if var_scope_store.variable_scope_count(name) == 0:
        return prefix
    idx = 1
    while var_scope_store.variable_scope_count(name + f"_{idx}") > 0:
        idx += 1
    return prefix + f"_{idx}"


class _pure_variable_scope:  # noqa: N801 - TF's name
    """Enter a variable scope without a name scope (TF's ``_pure_variable_scope``)."""

    def __init__(self, name_or_scope: str | VariableScope, reuse: Any = None, initializer: Any = None,
                 regularizer: Any = None, caching_device: Any = None, partitioner: Any = None,
                 custom_getter: Any = None, old_name_scope: str | None = None, dtype: Any = dtypes.float32,
                 use_resource: Any = None, constraint: Any = None):
        self._name_or_scope = name_or_scope
        self._reuse = reuse
        self._initializer = initializer
        self._regularizer = regularizer
        self._caching_device = caching_device
        self._partitioner = partitioner
        self._custom_getter = custom_getter
        self._old_name_scope = old_name_scope
        self._dtype = dtype
        self._use_resource = use_resource
        self._constraint = constraint
        self._var_scope_store = get_variable_scope_store()
        self._last_variable_scope_object: VariableScope | None = None
        self._old: VariableScope | None = None
        self._old_subscopes: dict[str, int] | None = None
        self._new_name = ""

    def _apply_overrides(self, scope: VariableScope, old_getter: Any) -> None:
        if self._initializer is not None:
            scope.set_initializer(self._initializer)
        if self._regularizer is not None:
            scope.set_regularizer(self._regularizer)
        if self._caching_device is not None:
            scope.set_caching_device(self._caching_device)
        if self._partitioner is not None:
            scope.set_partitioner(self._partitioner)
        if self._custom_getter is not None:
            scope.set_custom_getter(_maybe_wrap_custom_getter(self._custom_getter, old_getter))
        if self._dtype is not None:
            scope.set_dtype(self._dtype)
        if self._use_resource is not None:
            scope.set_use_resource(self._use_resource)

    def __enter__(self) -> VariableScope:
        store = self._var_scope_store
        self._old = old = store.current_scope
        if isinstance(self._name_or_scope, VariableScope):
            src = self._name_or_scope
            self._new_name = src.name
            scope = VariableScope(
                src.reuse if not self._reuse else self._reuse, name=src.name, initializer=src.initializer,
                regularizer=src.regularizer, caching_device=src.caching_device, partitioner=src.partitioner,
                dtype=src.dtype, custom_getter=src.custom_getter, name_scope=src.original_name_scope,
                use_resource=src.use_resource,
                constraint=self._constraint if self._constraint is not None else src.constraint)
            self._apply_overrides(scope, src.custom_getter)
            store.open_variable_scope(self._new_name)
            self._old_subscopes = dict(store.variable_scopes_count)
        else:
            self._new_name = old.name + "/" + self._name_or_scope if old.name else self._name_or_scope
            reuse = self._reuse or old.reuse  # reuse is inherited by sub-scopes
            name_scope = self._name_or_scope if self._old_name_scope is None else self._old_name_scope
            scope = VariableScope(
                reuse, name=self._new_name, initializer=old.initializer, regularizer=old.regularizer,
                caching_device=old.caching_device, partitioner=old.partitioner, dtype=old.dtype,
                use_resource=old.use_resource, custom_getter=old.custom_getter, name_scope=name_scope,
                constraint=self._constraint if self._constraint is not None else old.constraint)
            self._apply_overrides(scope, old.custom_getter)
            store.open_variable_scope(self._new_name)
        store.current_scope = scope
        self._last_variable_scope_object = scope
        return scope

    def __exit__(self, *exc: Any) -> None:
        store = self._var_scope_store
        if store.current_scope is not self._last_variable_scope_object:
            raise RuntimeError("Improper nesting of variable_scope.")
        if isinstance(self._name_or_scope, VariableScope):
            assert self._old_subscopes is not None
            store.variable_scopes_count = self._old_subscopes
        else:
            store.close_variable_subscopes(self._new_name)
        store.current_scope = self._old  # type: ignore[assignment]


class variable_scope:  # noqa: N801 - TF's name
    """A context manager for defining ops that create variables (layers).

    Opens a variable scope and a matching name scope. A string name extends the
    current scope (``"foo"`` inside ``"outer"`` is ``"outer/foo"``); a captured
    ``VariableScope`` is re-entered under its own name. With
    ``name_or_scope=None``, ``default_name`` is made unique in the current scope
    (``default``, ``default_1``, …). Settings not given are inherited from the
    parent scope (or from the captured scope). Yields the ``VariableScope``.

    Name scopes as TF 1.x: opening ``"foo"`` a second time gives name scope
    ``foo_1`` (op and ``Variable()`` names) but the same variable scope
    ``foo`` (``get_variable`` names); re-entering a captured scope opens a new
    name scope named after its last component (TF 1.x; the seed document
    003, older, says the name scope is left unchanged).

    Args:
      name_or_scope: a string or a ``VariableScope``.
      default_name: the name to make unique when ``name_or_scope`` is None.
      values: the input values of the op being defined (accepted, not checked).
      initializer: default initializer for variables within this scope.
      regularizer: default regularizer for variables within this scope.
      caching_device: default caching device for variables within this scope.
      partitioner: default partitioner for variables within this scope.
      custom_getter: default custom getter; composed with the parent's.
      reuse: ``True`` (reuse only, inherited by sub-scopes), ``AUTO_REUSE``
        (create or reuse, inherited), or ``None``/``False`` (inherit the parent's).
      dtype: default dtype of variables within this scope.
      use_resource: accepted for compatibility.
      constraint: default constraint for variables within this scope.
      auxiliary_name_scope: when False, no name scope is opened (the current one is kept).

    Raises:
      TypeError: neither ``name_or_scope`` nor ``default_name``; a
        ``name_or_scope`` that is not a string or VariableScope; a non-bool
        ``auxiliary_name_scope``.
      ValueError: an invalid ``reuse``, or ``reuse=True`` with ``default_name``.
      RuntimeError: "Improper nesting of variable_scope." when scopes are exited out of order.

    Example:
      >>> with gpuvars.variable_scope("foo"):
      ...     with gpuvars.variable_scope("bar"):
      ...         v = gpuvars.get_variable("v", [1])
      >>> v.name
      'foo/bar/v:0'
    """

    def __init__(self, name_or_scope: str | VariableScope | None, default_name: str | None = None, values: Any = None,
                 initializer: Any = None, regularizer: Any = None, caching_device: Any = None,
                 partitioner: Any = None, custom_getter: Any = None, reuse: Any = None, dtype: Any = None,
                 use_resource: Any = None, constraint: Any = None, auxiliary_name_scope: bool = True):
        if default_name is None and name_or_scope is None:
            raise TypeError("If default_name is None then name_or_scope is required")
        if reuse is False:
            reuse = None  # non-inheriting scopes are not allowed: False means None
        if not (reuse is True or reuse is None or reuse is AUTO_REUSE):
            raise ValueError(f"The reuse parameter must be True or False or None. Received: {reuse!r}")
        if not isinstance(auxiliary_name_scope, bool):
            raise TypeError(
                f"The auxiliary_name_scope must be `True` or `False`, while get {auxiliary_name_scope}"
            )
        if name_or_scope is not None and not isinstance(name_or_scope, (VariableScope, str)):
            raise TypeError("VariableScope: name_or_scope must be a string or VariableScope.")
        self._name_or_scope = name_or_scope
        self._default_name = default_name
        self._values = values
        self._initializer = initializer
        self._regularizer = regularizer
        self._caching_device = caching_device
        self._partitioner = partitioner
        self._custom_getter = custom_getter
        self._reuse = reuse
        self._dtype = dtype
        self._use_resource = use_resource
        self._constraint = constraint
        self._auxiliary_name_scope = auxiliary_name_scope
        # One entry per active __enter__ (the same object may be entered again, nested or not).
        self._entered: list[tuple[Any, _pure_variable_scope]] = []

    def _pure(self, name_or_scope: str | VariableScope, old_name_scope: str | None, reuse: Any
              ) -> _pure_variable_scope:
        return _pure_variable_scope(
            name_or_scope, reuse=reuse, initializer=self._initializer, regularizer=self._regularizer,
            caching_device=self._caching_device, partitioner=self._partitioner,
            custom_getter=self._custom_getter, old_name_scope=old_name_scope, dtype=self._dtype,
            use_resource=self._use_resource, constraint=self._constraint)

    def __enter__(self) -> VariableScope:
        graph = get_default_graph()
        current_name_scope: Any = None
        if not self._auxiliary_name_scope:
            ns = graph.get_name_scope()
            current_name_scope = graph.name_scope(ns + "/" if ns else "")  # re-enter the current name scope
        name_cm: Any = None
        try:
            if self._name_or_scope is not None:
                if isinstance(self._name_or_scope, str):
                    ns_name = self._name_or_scope
                else:
                    ns_name = self._name_or_scope.name.split("/")[-1]
                if ns_name or current_name_scope is not None:
                    name_cm = current_name_scope or graph.name_scope(ns_name)
                    entered_name = name_cm.__enter__()
                    if isinstance(self._name_or_scope, str):
                        old_name_scope = entered_name
                    else:
                        old_name_scope = self._name_or_scope.original_name_scope
                    pure = self._pure(self._name_or_scope, old_name_scope, self._reuse)
                else:  # entering the root variable scope
                    pure = self._pure(self._name_or_scope, None, self._reuse)
            else:
                if self._reuse:
                    raise ValueError("reuse=True cannot be used without a name_or_scope")
                assert self._default_name is not None
                name_cm = current_name_scope or graph.name_scope(self._default_name)
                entered_name = name_cm.__enter__()
                pure = self._pure(_get_unique_variable_scope(self._default_name), entered_name, None)
            scope = pure.__enter__()
        except BaseException:
            if name_cm is not None:
                name_cm.__exit__(None, None, None)
            raise
        self._entered.append((name_cm, pure))
        return scope

    def __exit__(self, *exc: Any) -> None:
        if not self._entered:
            raise RuntimeError("Improper nesting of variable_scope.")
        name_cm, pure = self._entered[-1]
        # Raises on improper nesting before changing anything, so exiting in the right order still works.
        pure.__exit__(*exc)
        self._entered.pop()
        if name_cm is not None:
            name_cm.__exit__(None, None, None)


def variable_op_scope(values: Any, name_or_scope: str | VariableScope | None, default_name: str | None = None,
                      initializer: Any = None, regularizer: Any = None, caching_device: Any = None,
                      partitioner: Any = None, custom_getter: Any = None, reuse: Any = None, dtype: Any = None,
                      use_resource: Any = None, constraint: Any = None) -> variable_scope:
    """Deprecated: ``variable_scope(name_or_scope, default_name, values, ...)``.

    Args:
      values: the op's input values.
      name_or_scope: the scope name (used as is), or None to use ``default_name``.
      default_name: made unique when ``name_or_scope`` is None.
      initializer, regularizer, caching_device, partitioner, custom_getter,
      reuse, dtype, use_resource, constraint: as ``variable_scope``.

    Returns:
      The ``variable_scope`` context manager.

    Raises:
      TypeError, ValueError: as ``variable_scope``.

    Example:
      >>> with gpuvars.variable_op_scope([], None, "MyOp") as scope:
      ...     scope.name
      'MyOp'
    """
    logger.warning("gpuvars.variable_op_scope(values, name, default_name) is deprecated, "
                   "use gpuvars.variable_scope(name, default_name, values)")
    return variable_scope(name_or_scope, default_name=default_name, values=values, initializer=initializer,
                          regularizer=regularizer, caching_device=caching_device, partitioner=partitioner,
                          custom_getter=custom_getter, reuse=reuse, dtype=dtype, use_resource=use_resource,
                          constraint=constraint)


# -- templates -------------------------------------------------------------------------------------------------------
class Template:
    """A function wrapped so that its variables are created on the first call and reused after.

    Made by ``make_template``. Each call enters the template's variable scope:
    the first with the reuse of the enclosing scope (so variables are
    created), later ones with ``reuse=True``. A trainable variable created with
    ``Variable()`` on a later call is an error (it would not be shared).

    Args:
      name: the scope name (made unique unless ``unique_name`` is given).
      func: the function to wrap.
      create_scope_now: capture the scope now rather than at the first call.
      unique_name: a scope name used as is.
      custom_getter: a custom getter for the template's scope.

    Raises:
      ValueError: ``name`` is None.
    """

    def __init__(self, name: str, func: Callable[..., Any], create_scope_now: bool = False,
                 unique_name: str | None = None, custom_getter: Any = None):
        if name is None:
            raise ValueError("name cannot be None.")
        self._func = func
        self._name = name
        self._unique_name = unique_name
        self._custom_getter = custom_getter
        self._stacktrace = _format_frames(_user_frames()[:1])
        self._variable_scope: VariableScope | None = None
        if create_scope_now:
            with _pure_variable_scope(unique_name or _get_unique_variable_scope(name),
                                      custom_getter=custom_getter) as vs:
                self._variable_scope = vs
        self._variables_created = False
        self._first_call = True

    def _call_func(self, args: tuple, kwargs: dict) -> Any:
        graph = get_default_graph()
        if self._variables_created:
            vars_at_start = len(graph.get_collection(GraphKeys.GLOBAL_VARIABLES))
            trainable_at_start = len(graph.get_collection(GraphKeys.TRAINABLE_VARIABLES))
            result = self._func(*args, **kwargs)
            trainable_variables = graph.get_collection(GraphKeys.TRAINABLE_VARIABLES)
            if trainable_at_start != len(trainable_variables):
                raise ValueError(
                    "Trainable variable created when calling a template after the first time, perhaps you used "
                    f"tf.Variable when you meant tf.get_variable: {trainable_variables[trainable_at_start:]}"
                    f"\n\noriginally defined at:\n{self._stacktrace}"
                )
            global_variables = graph.get_collection(GraphKeys.GLOBAL_VARIABLES)
            if vars_at_start != len(global_variables):
                logger.info("New variables created when calling a template after the first time, perhaps you used "
                            "tf.Variable when you meant tf.get_variable: %s", global_variables[vars_at_start:])
            return result
        self._first_call = False
        try:
            result = self._func(*args, **kwargs)
        except BaseException:
            self._first_call = True
            raise
        self._variables_created = True
        return result

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._variable_scope is not None:
            # Reuse only when the variables exist; the first call creates them.
            with variable_scope(self._variable_scope, reuse=not self._first_call):
                return self._call_func(args, kwargs)
        with variable_scope(self._unique_name, self._name, custom_getter=self._custom_getter) as vs:
            self._variable_scope = vs
            return self._call_func(args, kwargs)

    @property
    def name(self) -> str:
        """The name given to ``make_template``."""
        return self._name

    @property
    def func(self) -> Callable[..., Any]:
        """The wrapped function (with ``make_template``'s keyword arguments bound)."""
        return self._func

    @property
    def variable_scope(self) -> VariableScope | None:
        """The template's ``VariableScope`` (None before the first call unless ``create_scope_now_``)."""
        return self._variable_scope

    @property
    def variable_scope_name(self) -> str | None:
        """The scope name with a trailing ``/`` (None before the scope exists)."""
        if self._variable_scope is None:
            return None
        name = self._variable_scope.name
        if not name or name[-1] == "/":
            return name
        return name + "/"

    def _collection(self, key: str) -> list[Any]:
        if not self._variables_created:
            return []
        return get_default_graph().get_collection(key, self.variable_scope_name)

    @property
    def variables(self) -> list[Any]:
        """The global and local variables of the template's scope."""
        return self.global_variables + self.local_variables

    @property
    def trainable_variables(self) -> list[Any]:
        """The trainable variables of the template's scope."""
        return self._collection(GraphKeys.TRAINABLE_VARIABLES)

    @property
    def non_trainable_variables(self) -> list[Any]:
        """The global variables of the template's scope that are not trainable."""
        trainable = set(map(id, self.trainable_variables))
        return [v for v in self.global_variables if id(v) not in trainable]

    @property
    def global_variables(self) -> list[Any]:
        """The global variables of the template's scope."""
        return self._collection(GraphKeys.GLOBAL_VARIABLES)

    @property
    def local_variables(self) -> list[Any]:
        """The local variables of the template's scope."""
        return self._collection(GraphKeys.LOCAL_VARIABLES)

    @property
    def weights(self) -> list[Any]:
        return self.variables

    @property
    def trainable_weights(self) -> list[Any]:
        return self.trainable_variables

    @property
    def non_trainable_weights(self) -> list[Any]:
        return self.non_trainable_variables

    def __repr__(self) -> str:
        return f"<gpuvars.Template '{self._name}' scope={self.variable_scope_name!r}>"


def make_template(name_: str, func_: Callable[..., Any], create_scope_now_: bool = False,
                  unique_name_: str | None = None, custom_getter_: Any = None, **kwargs: Any) -> Template:
    """Given an arbitrary function, wrap it so that it does variable sharing.

    The first call of the returned ``Template`` enters a new variable scope
    (``name_``, made unique) and creates the variables ``func_`` asks for with
    ``get_variable``; every later call re-enters that scope with reuse, so
    the same variables are used. ``func_`` must create its trainable variables
    with ``get_variable``: a trainable ``Variable()`` created on a later call
    raises ``ValueError``.

    Args:
      name_: a name for the scope created by this template, made unique by appending ``_N``.
      func_: the function to wrap.
      create_scope_now_: capture the scope when the template is made, instead
        of at the first call.
      unique_name_: a scope name used as is (not made unique).
      custom_getter_: a custom getter for the variables of the template's scope.
      **kwargs: keyword arguments bound to ``func_``.

    Returns:
      A ``Template``; call it like ``func_``.

    Raises:
      ValueError: ``name_`` is None; later, from a call, "Trainable variable
        created when calling a template after the first time, perhaps you used
        tf.Variable when you meant tf.get_variable: …".

    Example:
      >>> def my_op(x, scalar_name):
      ...     var1 = gpuvars.get_variable(scalar_name, shape=[], initializer=gpuvars.constant_initializer(1))
      ...     return x * var1
      >>> scale_by_y = gpuvars.make_template("scale_by_y", my_op, scalar_name="y")
      >>> z = scale_by_y(input1); w = scale_by_y(input2)   # both use scale_by_y/y
    """
    if kwargs:
        func_ = functools.update_wrapper(functools.partial(func_, **kwargs), func_)
    return Template(name_, func_, create_scope_now=create_scope_now_, unique_name=unique_name_,
                    custom_getter=custom_getter_)


# -- global step ---------------------------------------------------------------------------------------------------
def _assert_global_step(global_step_tensor: Any) -> None:
    if not isinstance(global_step_tensor, (Variable, Tensor)):
        raise TypeError(f'Existing "global_step" must be a Variable or Tensor: {global_step_tensor}.')
    if not dtypes.is_integer(global_step_tensor.dtype):
        raise TypeError(f'Existing "global_step" does not have integer type: {global_step_tensor.dtype}')
    shape = global_step_tensor.get_shape()
    if shape.ndims != 0 and shape.is_fully_defined():
        raise TypeError(f'Existing "global_step" is not scalar: {shape}')


def get_global_step(graph: Graph | None = None) -> Variable | None:
    """Get the global step variable of ``graph``: the one in ``GLOBAL_STEP``, or the one named ``global_step``.

    Args:
      graph: the graph (default: the default graph).

    Returns:
      The global step variable, or None when there is none (or several).

    Raises:
      TypeError: the global step is not an integer scalar variable.

    Example:
      >>> gpuvars.get_global_step() is None
      True
    """
    graph = graph if graph is not None else get_default_graph()
    tensors = graph.get_collection(GraphKeys.GLOBAL_STEP)
    if len(tensors) == 1:
        global_step_tensor = tensors[0]
    elif not tensors:
        try:
            global_step_tensor = graph.as_graph_element("global_step:0")
        except KeyError:
            return None
    else:
        logger.error("Multiple tensors in global_step collection.")
        return None
    _assert_global_step(global_step_tensor)
    return global_step_tensor


def create_global_step(graph: Graph | None = None) -> Variable:
    """Create the global step variable: int64 scalar ``global_step``, zeros, not trainable.

    It goes to ``GLOBAL_VARIABLES`` and ``GLOBAL_STEP``, and is created with
    ``get_variable`` at the top name scope (inside the current variable scope,
    as TF does).

    Args:
      graph: the graph (default: the default graph).

    Returns:
      The global step variable (uninitialized).

    Raises:
      ValueError: '"global_step" already exists.'

    Example:
      >>> step = gpuvars.train.create_global_step()
      >>> step.name
      'global_step:0'
    """
    graph = graph if graph is not None else get_default_graph()
    if get_global_step(graph) is not None:
        raise ValueError('"global_step" already exists.')
    with graph.as_default(), graph.name_scope(None):
        return get_variable(GraphKeys.GLOBAL_STEP, shape=[], dtype=dtypes.int64,
                            initializer=init_ops.zeros_initializer(), trainable=False,
                            collections=[GraphKeys.GLOBAL_VARIABLES, GraphKeys.GLOBAL_STEP])


def get_or_create_global_step(graph: Graph | None = None) -> Variable:
    """Returns and creates (if necessary) the global step variable.

    Args:
      graph: the graph (default: the default graph).

    Returns:
      The global step variable.

    Raises:
      TypeError: an existing global step that is not an integer scalar.

    Example:
      >>> step = gpuvars.train.get_or_create_global_step()
      >>> step is gpuvars.train.get_or_create_global_step()
      True
    """
    graph = graph if graph is not None else get_default_graph()
    global_step_tensor = get_global_step(graph)
    if global_step_tensor is None:
        global_step_tensor = create_global_step(graph)
    return global_step_tensor

