"""``Variable``: a named, placed, explicitly initialized buffer (SPEC §2, §3).

A Variable *has* a buffer on one backend (composition, not a subclass per
device). Reads return that buffer (or its copy on the caching device);
mutations validate their operand, move it to the variable's device through
``gpuvars.transfer``, and call the backend's kernel. Every mutation bumps
``_version`` so caches know when they are stale. ``use_locking=True`` holds
the variable's lock for the whole read-modify-write.
"""

from __future__ import annotations

import operator
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from gpuvars import devices, dtypes, errors, transfer
from gpuvars.backends.cpu import _DENSE_MIN_BYTES
from gpuvars.graph import Graph, GraphKeys, check_op_name, get_default_graph
from gpuvars.tensor import (
    Operation,
    Tensor,
    TensorShape,
    as_shape,
    convert_to_array,
    current_eval_context,
    eval_context,
)

__all__ = [
    "Variable",
    "VariableDef",
    "global_variables_initializer",
    "initialize_all_variables",
    "variables_initializer",
    "initialize_variables",
    "local_variables_initializer",
    "initialize_local_variables",
    "is_variable_initialized",
    "report_uninitialized_variables",
    "assert_variables_initialized",
]

_FAST_TYPES = frozenset((float, int, np.ndarray))
# From this size on, /cpu:0 dense updates run the host kernels on every core.
_HOST_KERNEL_BYTES = _DENSE_MIN_BYTES


@dataclass
class VariableDef:
    """What ``Variable.to_proto()`` returns (TF's VariableDef, plus shape/dtype/device)."""

    variable_name: str
    initializer_name: str
    snapshot_name: str
    initial_value_name: str = ""
    trainable: bool = True
    is_resource: bool = False
    shape: list[int] | None = None
    dtype: str = "float32"
    device: str = ""
    caching_device: str = ""
    collections: list[str] = field(default_factory=list)

    def SerializeToString(self) -> bytes:  # noqa: N802 - protobuf's name
        import json

        return json.dumps(asdict(self), sort_keys=True).encode()

    @classmethod
    def FromString(cls, data: bytes) -> VariableDef:  # noqa: N802 - protobuf's name
        import json

        return cls(**json.loads(data))


class _VariableOp:
    """``v.op``: the variable's op, with TF's attributes."""

    type = "VariableV2"

    def __init__(self, variable: Variable, name: str):
        self._variable = variable
        self.name = name

    @property
    def graph(self) -> Graph:
        return self._variable._graph

    @property
    def device(self) -> str:
        return self._variable.device

    @property
    def outputs(self) -> list[Variable]:
        return [self._variable]

    def __repr__(self) -> str:
        return f"<gpuvars.Operation '{self.name}' type=VariableV2>"


def _shape_error(name: str, expected: Any, received: Any, what: str = "value") -> errors.InvalidArgumentError:
    return errors.ShapeMismatchError(
        None, name,
        f"Shapes must be equal: variable {name} has shape {list(expected)} but the {what} has shape "
        f"{list(received)}. Pass a {what} of shape {list(expected)}"
        + (" (or create the variable with validate_shape=False to allow a new shape)." if what == "value" else "."),
    )


class Variable:
    """A TensorFlow 1.x variable, executed eagerly.

    Args:
      initial_value: an array-like, a NumPy/CuPy array, a deferred value
        (``gpuvars.random_normal(...)``, ``other.initialized_value() * 2``),
        or a zero-argument callable (then ``dtype`` is required). Evaluated
        when the initializer runs, not now.
      trainable: also add the variable to ``TRAINABLE_VARIABLES``.
      collections: graph collections (default ``[GLOBAL_VARIABLES]``).
      validate_shape: when False, ``assign`` may change the shape.
      caching_device: device string or device function; reads come from a
        copy there, refreshed only after the variable changes.
      name: the op name (default ``"Variable"``), made unique in the graph.
      variable_def: a ``VariableDef`` to recreate a variable from.
      dtype: the dtype; the initial value must cast to it ("same_kind").
      shape: the shape for a callable ``initial_value`` (TF2's argument).

    Raises:
      ValueError: both or neither of ``variable_def``/``initial_value``; a
        callable without ``dtype``; a shape that does not match ``shape``.
      TypeError: an initial value that does not cast to ``dtype``.

    Example:
      >>> w = gpuvars.Variable(gpuvars.random_normal([784, 200], stddev=0.35), name="weights")
      >>> gpuvars.global_variables_initializer().run()
      >>> w.shape
      TensorShape([784, 200])
    """

    __array_priority__ = 100

    def __new__(cls, *args: Any, **kwargs: Any) -> Variable:
        variable_def = kwargs.get("variable_def", args[6] if len(args) > 6 else None)
        initial_value = kwargs.get("initial_value", args[0] if args else None)
        if variable_def is not None and initial_value is None:
            existing = _existing_variable(variable_def, kwargs.get("import_scope"))
            if existing is not None:
                return existing  # from_proto gives back the very variable it names, as in TF
        return super().__new__(cls)

    def __init__(
        self,
        initial_value: Any = None,
        trainable: bool | None = True,
        collections: Iterable[str] | None = None,
        validate_shape: bool = True,
        caching_device: Any = None,
        name: str | None = None,
        variable_def: VariableDef | None = None,
        dtype: Any = None,
        expected_shape: Any = None,
        import_scope: str | None = None,
        constraint: Callable[[Any], Any] | None = None,
        shape: Any = None,
        **kwargs: Any,
    ):
        if variable_def is not None and initial_value is None and getattr(self, "_op", None) is not None:
            return  # __new__ returned the existing variable this VariableDef names
        unknown = set(kwargs) - {"use_resource", "synchronization", "aggregation", "distribute_strategy"}
        if unknown:
            raise TypeError(f"Variable() got unexpected keyword arguments: {sorted(unknown)}")
        if variable_def is not None:
            if initial_value is not None:
                raise ValueError("variable_def and initial_value are mutually exclusive.")
            self._init_from_def(variable_def, import_scope)
            return
        if initial_value is None:
            raise ValueError("initial_value must be specified.")
        if trainable is None:
            trainable = True
        self._graph = get_default_graph()
        self._lock = threading.RLock()
        self._version = 0
        self._buf: Any = None
        self._cache: tuple[int, Any] | None = None
        self._validate_shape = bool(validate_shape)
        self._trainable = bool(trainable)
        self._constraint = constraint
        self._save_slice_info: Any = None
        self._partitioned: Any = None
        self._initial_spec: Any = None  # what export_meta_graph records about the initializer

        # The initial value: deferred until the initializer runs.
        dt = dtypes.as_dtype(dtype) if dtype is not None else None
        if callable(initial_value) and not isinstance(initial_value, (Tensor, Variable)):
            if dt is None:
                raise ValueError(
                    "The initial value's dtype must be specified when initial_value is a callable: "
                    "pass dtype=..., e.g. Variable(lambda: np.zeros(3), dtype='float32')."
                )
            fn = initial_value
            init_shape = as_shape(shape) if shape is not None else TensorShape(None)
            self._initial = Tensor(lambda backend: convert_to_array(fn(), dt), init_shape, dt, "initial_value",
                                   graph=self._graph)
        elif isinstance(initial_value, Variable):
            self._initial = initial_value.initialized_value()
            if dt is not None and not dtypes.can_cast(self._initial.dtype, dt):
                raise TypeError(f"Expected an initial value of dtype {dt.name}. Received {self._initial.dtype.name}.")
        elif isinstance(initial_value, Tensor):
            if dt is not None and dt != initial_value.dtype and not dtypes.can_cast(initial_value.dtype, dt):
                raise TypeError(
                    f"Expected an initial value of dtype {dt.name} or one that casts to it safely. "
                    f"Received a value of dtype {initial_value.dtype.name}."
                )
            self._initial = initial_value
        else:
            host = convert_to_array(initial_value, dt, what="initial_value")
            if host is initial_value:
                host = host.copy()  # a snapshot, as TF's constant: later edits of the caller's array don't leak in
            if isinstance(host, np.ndarray):
                host.flags.writeable = False
            self._initial = Tensor(_constant_fn(host), host.shape, host.dtype, "initial_value", graph=self._graph)
        self._dtype = dt if dt is not None else self._initial.dtype
        init_shape = self._initial.shape
        if shape is not None:
            if not init_shape.is_compatible_with(shape):
                raise ValueError(
                    f"Expected an initial value of shape {as_shape(shape).as_list()}. Received a value of "
                    f"shape {init_shape.as_list()}."
                )
            init_shape = as_shape(shape) if not init_shape.is_fully_defined() else init_shape
        self._shape = init_shape if validate_shape else (init_shape if init_shape.ndims is not None else init_shape)
        if expected_shape is not None and not self._shape.is_compatible_with(expected_shape):
            raise ValueError(f"Expected shape {as_shape(expected_shape)}; the initial value has shape {self._shape}.")

        if name:  # None or "" mean the default name, as in TF
            check_op_name(name, scoped=bool(self._graph.get_name_scope()))
        elif name is not None and not isinstance(name, str):
            check_op_name(name)
        if name and name.endswith("/"):
            op_name = name[:-1]  # a trailing "/" means "this exact name", as for TF's name scopes
            self._graph._check_not_finalized()
        else:
            op_name = self._graph.unique_name(name if name else "Variable")
        self._op = _VariableOp(self, op_name)
        self._graph._register_op(op_name, self._op)

        # Placement: the device scopes (and device functions) in force.
        spec = devices.current_spec(op_name, "VariableV2", self._shape, self._dtype)
        self._requested_device = spec.to_string()
        self._backend = devices.resolve(spec)
        devices._track(self)
        # The /cpu:0 hot path; bool variables have no add/sub, large buffers use the 2-thread kernels.
        self._host_fast = self._backend.kind == "cpu" and self._dtype.kind != "b"
        self._caching_device_spec = caching_device
        self._cache_backend = self._resolve_caching_device(caching_device, op_name)

        self._initializer_op = Operation(f"{op_name}/Assign", lambda: _run_initializers([self]), self._graph,
                                         "Assign", (self,), self.device)

        if collections is None:
            collections = [GraphKeys.GLOBAL_VARIABLES]
        elif isinstance(collections, str):
            raise TypeError(f"collections argument to Variable constructor must be a list, tuple, or set. "
                            f"Got {collections!r} of type {type(collections).__name__}")
        collections = list(collections)
        if self._trainable and GraphKeys.TRAINABLE_VARIABLES not in collections:
            collections.append(GraphKeys.TRAINABLE_VARIABLES)
        self._collections = collections
        self._graph.add_to_collections(collections, self)

    # -- construction helpers --------------------------------------------------
    def _resolve_caching_device(self, caching_device: Any, op_name: str) -> Any:
        if caching_device is None:
            return None
        if callable(caching_device):
            op = devices._PlacementOp(op_name, "VariableV2", self.device, self._shape, self._dtype)
            caching_device = caching_device(op)
            if caching_device is None:
                return None
        backend = devices.resolve(caching_device)
        return backend

    def _init_from_def(self, variable_def: VariableDef, import_scope: str | None) -> None:
        graph = get_default_graph()
        name = _def_op_name(variable_def, import_scope)
        if variable_def.shape is None:
            raise ValueError(f"VariableDef of {name} has no shape; cannot recreate it.")
        dt = dtypes.as_dtype(variable_def.dtype)
        zeros = Tensor(lambda backend: np.zeros(variable_def.shape, dt), variable_def.shape, dt, "initial_value",
                       graph=graph)
        with devices.device(None), devices.device(variable_def.device or None), graph.name_scope(None):
            Variable.__init__(
                self, zeros, trainable=variable_def.trainable,
                collections=variable_def.collections or None, name=name,
                caching_device=variable_def.caching_device or None,
            )

    # -- properties ------------------------------------------------------------
    @property
    def name(self) -> str:
        return self._op.name + ":0"

    @property
    def op(self) -> _VariableOp:
        return self._op

    @property
    def dtype(self) -> np.dtype:
        return self._dtype

    @property
    def shape(self) -> TensorShape:
        return self._shape

    def get_shape(self) -> TensorShape:
        return self._shape

    @property
    def device(self) -> str:
        """Canonical name of where the variable lives (``/device:GPU:1``)."""
        return self._backend.name

    @property
    def graph(self) -> Graph:
        return self._graph

    @property
    def initializer(self) -> Operation:
        return self._initializer_op

    @property
    def trainable(self) -> bool:
        return self._trainable

    @property
    def constraint(self) -> Any:
        return self._constraint

    @property
    def initial_value(self) -> Any:
        """The initial value, evaluated (a random initial value draws anew); a fresh array."""
        value = self._initial._evaluate(self._backend)
        return value.copy() if not getattr(value, "flags", None) or not value.flags.writeable else value

    @property
    def caching_device(self) -> str | None:
        return None if self._cache_backend is None else self._cache_backend.name

    def ref(self) -> Variable:
        return self

    experimental_ref = ref

    def _ref(self) -> Variable:
        return self

    def __repr__(self) -> str:
        shape = str(self._shape)
        if self._buf is None:
            return f"<gpuvars.Variable '{self.name}' shape={shape} dtype={self._dtype.name} device={self.device}>"
        return (f"<gpuvars.Variable '{self.name}' shape={shape} dtype={self._dtype.name} device={self.device} "
                f"numpy={self.numpy()!r}>")

    # -- identity, as TF1: == is identity and variables are hashable -----------
    def __eq__(self, other: object) -> bool:
        return self is other

    def __ne__(self, other: object) -> bool:
        return self is not other

    __hash__ = object.__hash__

    # -- initialization ----------------------------------------------------------
    def _uninitialized(self) -> errors.FailedPreconditionError:
        return errors.FailedPreconditionError(
            None, self._op.name,
            f"Attempting to use uninitialized value {self._op.name}. Run its initializer first "
            f"(gpuvars.global_variables_initializer().run() or {self._op.name}.initializer.run()), "
            "restore it from a checkpoint, or assign it a value.",
        )

    def _initialize_in(self, ctx: Any) -> None:
        key = id(self)
        if key in ctx.init_done:
            return
        if key in ctx.init_active:
            raise ValueError(f"The initial value of {self._op.name} depends on itself.")
        ctx.init_active.add(key)
        try:
            value = self._initial._evaluate(self._backend)
            self._store_initial(value)
        finally:
            ctx.init_active.discard(key)
        ctx.init_done.add(key)

    def _store_initial(self, value: Any) -> None:
        value = transfer.to_backend(value, self._backend, explicit=True)
        if value.dtype != self._dtype and not dtypes.can_cast(value.dtype, self._dtype):
            raise TypeError(
                f"Expected the initial value of {self._op.name} to have dtype {self._dtype.name}. "
                f"Received {value.dtype.name}."
            )
        shape = tuple(value.shape)
        if self._validate_shape and self._shape.ndims is not None and not self._shape.is_compatible_with(shape):
            raise _shape_error(self._op.name, self._shape.as_list(), shape, "initial value")
        buf = self._backend.empty(shape, self._dtype)
        self._backend.assign(buf, value)
        if self._constraint is not None:
            buf = self._apply_constraint(buf)
        with self._lock:
            self._buf = buf
            if not self._shape.is_fully_defined() or not self._validate_shape:
                self._shape = TensorShape(shape)
            self._version += 1

    def _apply_constraint(self, buf: Any) -> Any:
        out = convert_to_array(self._constraint(buf), self._dtype)  # type: ignore[misc]
        return transfer.to_backend(out, self._backend, explicit=True)

    def initialized_value(self) -> Tensor:
        """A deferred value: this variable's value, initializing it first if needed.

        Used as another variable's ``initial_value`` it is evaluated when that
        variable's initializer runs, after this one is initialized.
        """
        return Tensor(self._initialized_read, self._shape, self._dtype, f"{self._op.name}/initialized_value",
                      self.device, self._graph, (self,))

    def _initialized_read(self, backend: Any) -> Any:
        ctx = current_eval_context()
        if ctx is not None and id(self) in ctx.init_pending and id(self) not in ctx.init_done:
            self._initialize_in(ctx)
        elif self._buf is None:
            _run_initializers([self])
        return transfer.to_backend(self._buf, backend, explicit=True)

    def is_initialized(self) -> bool:
        return self._buf is not None

    # -- reading -------------------------------------------------------------------
    def value(self) -> Any:
        """The live buffer on the variable's device (or its copy on the caching device)."""
        buf = self._buf
        if buf is None:
            raise self._uninitialized()
        if self._cache_backend is not None:
            return self._cached_read(buf)
        return buf

    _gv_read_for_conversion = value

    def _cached_read(self, buf: Any) -> Any:
        cache = self._cache
        if cache is not None and cache[0] == self._version:
            return cache[1]
        # Refresh under the variable's lock: the snapshot is never torn by a locked writer.
        with self._lock:
            cache = self._cache
            version = self._version
            if cache is not None and cache[0] == version:
                return cache[1]
            buf = self._buf
            copy = transfer.to_backend(buf, self._cache_backend, explicit=True)
            if copy is buf:
                copy = self._backend.copy(buf)
            if isinstance(copy, np.ndarray):
                copy.flags.writeable = False  # shared by every reader until the next update
            self._cache = (version, copy)
        return copy

    def read_value(self) -> Any:
        """A copy of the value, on the variable's (or caching) device."""
        value = self.value()
        if value is self._buf:
            return self._backend.copy(value)
        return value.copy()

    def numpy(self) -> np.ndarray:
        """A host NumPy copy of the value."""
        return transfer.to_host(self.value())

    def eval(self, session: Any = None) -> np.ndarray:
        return self.numpy()

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        out = self.numpy()
        return out if dtype is None else out.astype(dtype)

    def __dlpack__(self, *args: Any, **kwargs: Any) -> Any:
        value = self.value()
        (self._cache_backend or self._backend).wait(value)  # the consumer sees the last write (CUDA streams)
        return value.__dlpack__(*args, **kwargs)

    def __dlpack_device__(self) -> Any:
        return self.value().__dlpack_device__()

    @property
    def __cuda_array_interface__(self) -> dict:
        value = self.value()
        if not type(value).__module__.startswith("cupy"):
            raise AttributeError(f"{self.name} lives on {self.device}, not on a CUDA device")
        return value.__cuda_array_interface__

    # -- operators: computed eagerly on the variable's device -----------------------
    def _operand(self, other: Any) -> Any:
        if isinstance(other, Variable):
            other = other.value()
        src = transfer.device_of(other)
        if src is not None and src != self._value_device():
            backend = self._cache_backend or self._backend
            return transfer.to_backend(other, backend, explicit=False)
        return other

    def _value_device(self) -> str:
        return (self._cache_backend or self._backend).name

    def _binop(self, other: Any, op: Callable[[Any, Any], Any], reverse: bool = False) -> Any:
        if isinstance(other, Tensor):
            return NotImplemented
        a = self.value()
        b = self._operand(other)
        return op(b, a) if reverse else op(a, b)

    def __add__(self, o): return self._binop(o, operator.add)
    def __radd__(self, o): return self._binop(o, operator.add, True)
    def __sub__(self, o): return self._binop(o, operator.sub)
    def __rsub__(self, o): return self._binop(o, operator.sub, True)
    def __mul__(self, o): return self._binop(o, operator.mul)
    def __rmul__(self, o): return self._binop(o, operator.mul, True)
    def __truediv__(self, o): return self._binop(o, operator.truediv)
    def __rtruediv__(self, o): return self._binop(o, operator.truediv, True)
    def __floordiv__(self, o): return self._binop(o, operator.floordiv)
    def __rfloordiv__(self, o): return self._binop(o, operator.floordiv, True)
    def __mod__(self, o): return self._binop(o, operator.mod)
    def __rmod__(self, o): return self._binop(o, operator.mod, True)
    def __pow__(self, o): return self._binop(o, operator.pow)
    def __rpow__(self, o): return self._binop(o, operator.pow, True)
    def __matmul__(self, o): return self._binop(o, operator.matmul)
    def __rmatmul__(self, o): return self._binop(o, operator.matmul, True)
    def __and__(self, o): return self._binop(o, operator.and_)
    def __rand__(self, o): return self._binop(o, operator.and_, True)
    def __or__(self, o): return self._binop(o, operator.or_)
    def __ror__(self, o): return self._binop(o, operator.or_, True)
    def __xor__(self, o): return self._binop(o, operator.xor)
    def __rxor__(self, o): return self._binop(o, operator.xor, True)
    def __lt__(self, o): return self._binop(o, operator.lt)
    def __le__(self, o): return self._binop(o, operator.le)
    def __gt__(self, o): return self._binop(o, operator.gt)
    def __ge__(self, o): return self._binop(o, operator.ge)
    def __neg__(self): return -self.value()
    def __pos__(self): return +self.value()
    def __abs__(self): return abs(self.value())
    def __invert__(self): return ~self.value()

    def __getitem__(self, key: Any) -> Any:
        out = self.value()[key]
        return out.copy() if hasattr(out, "copy") else out

    def __len__(self) -> int:
        if self._shape.ndims in (None, 0):
            raise TypeError(f"len() of unsized variable {self.name} with shape {self._shape}")
        return int(self.value().shape[0])

    def __iter__(self):
        if self._shape.ndims == 0:
            raise TypeError(f"Cannot iterate over the scalar variable {self.name}.")
        value = self.read_value()
        return iter([value[i] for i in range(value.shape[0])])

    def __bool__(self) -> bool:
        return bool(self.value())

    def __float__(self) -> float:
        return float(self.value())

    def __int__(self) -> int:
        return int(self.value())

    def __complex__(self) -> complex:
        return complex(self.value())

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        out = kwargs.get("out")
        if out is not None and any(isinstance(o, Variable) for o in out):
            raise TypeError(
                f"Cannot write the result of {ufunc.__name__} into a Variable through out=; "
                "use v.assign(...) to change its value."
            )
        inputs = tuple(self._operand(x) if isinstance(x, Variable) and x is not self else x for x in inputs)
        inputs = tuple(self.value() if x is self else x for x in inputs)
        return getattr(ufunc, method)(*inputs, **kwargs)

    # -- mutation ------------------------------------------------------------------
    def _dtype_error(self, value: Any) -> TypeError:
        received = getattr(value, "dtype", None)
        received = received.name if received is not None else type(value).__name__
        return TypeError(
            f"Cannot update variable {self._op.name} of dtype {self._dtype.name} with a value of dtype "
            f"{received}: the cast is not safe (NumPy's same_kind rule). Cast the value to "
            f"{self._dtype.name} explicitly first."
        )

    def _checked_array(self, value: Any, what: str) -> Any:
        """An operand as an array (where it lives) whose dtype converts to the variable's."""
        if isinstance(value, Tensor):
            value = value._evaluate(self._backend)
        elif hasattr(value, "_gv_read_for_conversion"):  # a Variable or PartitionedVariable
            value = value._gv_read_for_conversion()
        try:
            arr = convert_to_array(value, None, what=what)
        except TypeError:
            raise self._dtype_error(value) from None
        check_value_dtype(value, arr, self._dtype, self._op.name, self._dtype_error)
        return arr

    def _prepare(self, value: Any, allow_new_shape: bool = False) -> Any:
        """The operand on the variable's device, with a safe dtype and the right shape."""
        # Python numbers travel as kernel arguments, not as transfers (JAX's guard exempts them too).
        explicit = isinstance(value, _PY_NUMBERS)
        arr = self._checked_array(value, "value")
        buf = self._buf
        target_shape = self._shape.as_tuple() if buf is None else buf.shape
        if not allow_new_shape and target_shape is not None and tuple(arr.shape) != tuple(target_shape):
            raise _shape_error(self._op.name, target_shape, arr.shape)
        return transfer.to_backend(arr, self._backend, explicit=explicit)

    def _mutate(self, kernel: Callable[[Any, Any], None], arr: Any, use_locking: bool) -> None:
        if use_locking:
            with self._lock:
                buf = self._buf
                if buf is None:
                    raise self._uninitialized()
                kernel(buf, arr)
                self._version += 1
        else:
            buf = self._buf
            if buf is None:
                raise self._uninitialized()
            kernel(buf, arr)
            self._version += 1

    def assign(self, value: Any, use_locking: bool = False, name: str | None = None,
               read_value: bool = True) -> Variable:
        """Set the value (initializing the variable if needed); returns the variable.

        Raises:
          InvalidArgumentError (also a ValueError): the shape differs, unless the
            variable was made with ``validate_shape=False``.
          TypeError: the dtype does not cast safely.
        """
        if self._host_fast and type(value) is np.ndarray and self._buf is not None:
            buf = self._buf
            if value.shape == buf.shape:
                try:
                    if use_locking:
                        with self._lock:
                            np.copyto(buf, value, casting="same_kind")
                            self._version += 1
                    else:
                        np.copyto(buf, value, casting="same_kind")
                        self._version += 1
                except TypeError:
                    raise self._dtype_error(value) from None
                return self
        return self._assign(value, use_locking, self._validate_shape)

    def _assign(self, value: Any, use_locking: bool, validate_shape: bool) -> Variable:
        arr = self._prepare(value, allow_new_shape=True)
        with self._lock:
            buf = self._buf
            shape: tuple[int, ...] | None
            if buf is None:
                shape = tuple(arr.shape)
                if validate_shape and self._shape.is_fully_defined() and shape != self._shape.as_tuple():
                    raise _shape_error(self._op.name, self._shape.as_tuple(), arr.shape)
            elif tuple(arr.shape) != tuple(buf.shape):
                if validate_shape:
                    raise _shape_error(self._op.name, buf.shape, arr.shape)
                shape = tuple(arr.shape)
            else:
                shape = None
            if shape is None:
                self._backend.assign(buf, arr)
            else:
                new = self._backend.empty(shape, self._dtype)
                self._backend.assign(new, arr)
                self._buf = new
                self._shape = TensorShape(shape)
            self._version += 1
        return self

    def _check_arithmetic(self, op: str) -> None:
        if self._dtype.kind == "b":
            raise TypeError(
                f"{op} is not defined for the bool variable {self._op.name} (TensorFlow allows numeric "
                "types only). Use assign() with the new value instead."
            )

    def _host_update(self, iop: Callable[[Any, Any], Any], delta: Any, use_locking: bool) -> Variable:
        """The /cpu:0 hot path for a NumPy or Python-number delta (SPEC §16's per-call target)."""
        buf = self._buf
        if buf is None:
            raise self._uninitialized()
        if buf.nbytes >= _HOST_KERNEL_BYTES:
            kernel = self._backend.assign_add if iop is operator.iadd else self._backend.assign_sub
            self._mutate(kernel, self._prepare(delta), use_locking)
            return self
        shape = delta.shape if type(delta) is np.ndarray else ()
        if shape != buf.shape:
            raise _shape_error(self._op.name, buf.shape, shape)
        try:
            # In-place operators use NumPy's same_kind casting and skip the ufunc keyword parsing;
            # a failed cast raises before anything is written.
            if use_locking:
                with self._lock:
                    iop(buf, delta)
                    self._version += 1
            else:
                iop(buf, delta)
                self._version += 1
        except TypeError:
            raise self._dtype_error(delta) from None
        except OverflowError:  # a Python int outside the variable's integer range
            raise _range_error(delta, self._dtype, self._op.name) from None
        return self

    def assign_add(self, delta: Any, use_locking: bool = False, name: str | None = None,
                   read_value: bool = True) -> Variable:
        """``self += delta`` (same shape, or a scalar); returns the variable.

        Raises:
          InvalidArgumentError: ``delta`` has another shape (the variable is unchanged).
          TypeError: ``delta`` does not cast safely to the variable's dtype.
        """
        if self._host_fast and type(delta) in _FAST_TYPES:
            return self._host_update(operator.iadd, delta, use_locking)
        self._check_arithmetic("assign_add")
        self._mutate(self._backend.assign_add, self._prepare(delta), use_locking)
        return self

    def assign_sub(self, delta: Any, use_locking: bool = False, name: str | None = None,
                   read_value: bool = True) -> Variable:
        """``self -= delta`` (same shape, or a scalar); returns the variable."""
        if self._host_fast and type(delta) in _FAST_TYPES:
            return self._host_update(operator.isub, delta, use_locking)
        self._check_arithmetic("assign_sub")
        self._mutate(self._backend.assign_sub, self._prepare(delta), use_locking)
        return self

    def count_up_to(self, limit: int) -> Any:
        """Increment by one and return the value before; thread-safe.

        Raises:
          OutOfRangeError: "Reached limit of <limit>" (the value is unchanged).
        """
        if self._dtype not in (dtypes.int32, dtypes.int64):
            raise TypeError(f"count_up_to needs an int32 or int64 variable; {self._op.name} is {self._dtype.name}.")
        if self._shape.ndims != 0:
            raise ValueError(f"count_up_to needs a scalar variable; {self._op.name} has shape {self._shape}.")
        with self._lock:
            buf = self._buf
            if buf is None:
                raise self._uninitialized()
            try:
                old = self._backend.count_up_to(buf, int(limit))
            except errors.OutOfRangeError as e:
                raise errors.OutOfRangeError(None, self._op.name, e.message) from None
            self._version += 1
        return self._dtype.type(old)

    def load(self, value: Any, session: Any = None) -> None:
        """Load a new value into the variable (TF's ``Variable.load``)."""
        self.assign(value)

    def scatter_update(self, sparse_delta: Any, use_locking: bool = False, name: str | None = None) -> Variable:
        return self._scatter("update", sparse_delta, use_locking)

    def scatter_add(self, sparse_delta: Any, use_locking: bool = False, name: str | None = None) -> Variable:
        return self._scatter("add", sparse_delta, use_locking)

    def scatter_sub(self, sparse_delta: Any, use_locking: bool = False, name: str | None = None) -> Variable:
        return self._scatter("sub", sparse_delta, use_locking)

    def scatter_mul(self, sparse_delta: Any, use_locking: bool = False, name: str | None = None) -> Variable:
        return self._scatter("mul", sparse_delta, use_locking)

    def scatter_div(self, sparse_delta: Any, use_locking: bool = False, name: str | None = None) -> Variable:
        return self._scatter("div", sparse_delta, use_locking)

    def scatter_min(self, sparse_delta: Any, use_locking: bool = False, name: str | None = None) -> Variable:
        return self._scatter("min", sparse_delta, use_locking)

    def scatter_max(self, sparse_delta: Any, use_locking: bool = False, name: str | None = None) -> Variable:
        return self._scatter("max", sparse_delta, use_locking)

    def scatter_nd_update(self, indices: Any, updates: Any, use_locking: bool = True, name: str | None = None):
        from gpuvars import state_ops

        return state_ops._scatter_nd(self, "update", indices, updates, use_locking)

    def scatter_nd_add(self, indices: Any, updates: Any, use_locking: bool = False, name: str | None = None):
        from gpuvars import state_ops

        return state_ops._scatter_nd(self, "add", indices, updates, use_locking)

    def scatter_nd_sub(self, indices: Any, updates: Any, use_locking: bool = False, name: str | None = None):
        from gpuvars import state_ops

        return state_ops._scatter_nd(self, "sub", indices, updates, use_locking)

    def _scatter(self, op: str, sparse_delta: Any, use_locking: bool) -> Variable:
        from gpuvars import state_ops

        if not isinstance(sparse_delta, state_ops.IndexedSlices):
            raise TypeError(f"sparse_delta is not IndexedSlices: {sparse_delta!r:.80}")
        return state_ops._scatter(self, op, sparse_delta.indices, sparse_delta.values, use_locking)

    # -- serialization -----------------------------------------------------------
    def to_proto(self, export_scope: str | None = None) -> VariableDef | None:
        """A ``VariableDef`` describing this variable (None when outside ``export_scope``)."""
        name = self._op.name
        if export_scope:
            if not name.startswith(export_scope + "/"):
                return None
            name = name[len(export_scope) + 1:]
        shape = [int(d or 0) for d in self._shape.as_list()] if self._shape.is_fully_defined() else None
        return VariableDef(
            variable_name=name + ":0",
            initializer_name=name + "/Assign",
            snapshot_name=name + "/read:0",
            initial_value_name=name + "/initial_value:0",
            trainable=self._trainable,
            shape=shape,
            dtype=self._dtype.name,
            device=self._requested_device,
            caching_device=self.caching_device or "",
            collections=list(self._collections),
        )

    @staticmethod
    def from_proto(variable_def: VariableDef, import_scope: str | None = None) -> Variable:
        """The variable a ``VariableDef`` names: the existing one in the default graph, else a new one."""
        return Variable(variable_def=variable_def, import_scope=import_scope)


def _def_op_name(variable_def: VariableDef, import_scope: str | None) -> str:
    name = variable_def.variable_name.rsplit(":", 1)[0]
    return f"{import_scope}/{name}" if import_scope else name


def _existing_variable(variable_def: VariableDef, import_scope: str | None) -> Variable | None:
    op = get_default_graph()._ops_by_name.get(_def_op_name(variable_def, import_scope))
    return getattr(op, "_variable", None)


def _constant_fn(host: Any) -> Callable[[Any], Any]:
    return lambda backend: host


_PY_NUMBERS = (bool, int, float, complex)


def _range_error(value: Any, dt: np.dtype, name: str) -> TypeError:
    info = np.iinfo(dt)
    return TypeError(
        f"Cannot convert {value!r:.80} to the dtype {dt.name} of variable {name}: expected integers in "
        f"[{info.min}, {info.max}]. Pass values in range, or cast explicitly."
    )


def check_value_dtype(value: Any, arr: Any, dt: np.dtype, name: str, dtype_error: Callable[[Any], Exception]) -> None:
    """Arrays cast with NumPy's same_kind rule; Python numbers and lists must convert exactly (TF's rule)."""
    if arr.dtype == dt:
        return
    if hasattr(value, "dtype"):
        if not dtypes.can_cast(arr.dtype, dt):
            raise dtype_error(arr)
    else:
        _check_python_value(value, arr, dt, name)


def _check_python_value(value: Any, arr: np.ndarray, dt: np.dtype, name: str) -> None:
    """Python numbers and lists convert to the variable's dtype as TF does: exactly, or not at all."""
    if arr.dtype.kind in "iu" and dt.kind in "iu":
        info = np.iinfo(dt)
        if arr.size and (arr.min() < info.min or arr.max() > info.max):
            raise _range_error(value, dt, name)
        return
    if not dtypes.can_cast(arr.dtype, dt):
        raise TypeError(
            f"Cannot update variable {name} of dtype {dt.name} with {value!r:.80}: expected values that "
            f"convert to {dt.name} exactly (NumPy's same_kind rule). Cast explicitly first."
        )


# -- initialization ops ----------------------------------------------------------

def _flatten_vars(var_list: Iterable[Any]) -> list[Variable]:
    out: list[Variable] = []
    for v in var_list:
        if isinstance(v, Variable):
            out.append(v)
        elif hasattr(v, "_get_variable_list"):  # PartitionedVariable
            out.extend(v._get_variable_list())
        else:
            raise TypeError(f"Expected a Variable or PartitionedVariable in var_list. Received: {v!r:.80}")
    return out


def _run_initializers(var_list: Sequence[Variable]) -> None:
    """Initialize each variable once, dependencies (``initialized_value()``) first."""
    with eval_context(init_set=var_list) as ctx:
        for v in var_list:
            v._initialize_in(ctx)


def variables_initializer(var_list: Iterable[Any], name: str = "init") -> Operation:
    """An Operation that initializes ``var_list`` (a no-op for an empty list)."""
    variables = _flatten_vars(var_list)
    graph = get_default_graph()
    op_name = graph.unique_name(name)
    if not variables:
        return Operation(op_name, None, graph, "NoOp")
    return Operation(op_name, lambda: _run_initializers(variables), graph, "NoOp", variables)


initialize_variables = variables_initializer


def global_variables_initializer() -> Operation:
    """An Operation that initializes every global variable of the default graph."""
    return variables_initializer(get_default_graph().get_collection(GraphKeys.GLOBAL_VARIABLES))


def initialize_all_variables() -> Operation:
    """Deprecated alias of ``global_variables_initializer()``."""
    return global_variables_initializer()


def local_variables_initializer() -> Operation:
    return variables_initializer(get_default_graph().get_collection(GraphKeys.LOCAL_VARIABLES), name="init_1")


def initialize_local_variables() -> Operation:
    """Deprecated alias of ``local_variables_initializer()``."""
    return local_variables_initializer()


def is_variable_initialized(variable: Any) -> bool:
    """Whether ``variable`` has been initialized (assigned or restored)."""
    if hasattr(variable, "_get_variable_list"):
        return all(v.is_initialized() for v in variable._get_variable_list())
    if not isinstance(variable, Variable):
        raise TypeError(f"Expected a Variable. Received: {variable!r:.80}")
    return variable.is_initialized()


def _default_var_list() -> list[Variable]:
    graph = get_default_graph()
    return graph.get_collection(GraphKeys.GLOBAL_VARIABLES) + graph.get_collection(GraphKeys.LOCAL_VARIABLES)


def report_uninitialized_variables(var_list: Iterable[Any] | None = None, name: str = "report_uninitialized_variables"
                                   ) -> np.ndarray:
    """A 1-D array of the op names (bytes, as TF) of the uninitialized variables."""
    variables = _flatten_vars(_default_var_list() if var_list is None else var_list)
    names = [v.op.name.encode() for v in variables if not v.is_initialized()]
    out = np.empty(len(names), dtype=object)
    out[:] = names
    return out


def assert_variables_initialized(var_list: Iterable[Any] | None = None) -> Operation | None:
    """An Operation raising ``FailedPreconditionError`` if any variable is uninitialized; None without variables."""
    variables = _flatten_vars(_default_var_list() if var_list is None else var_list)
    if not variables:
        return None

    def check() -> None:
        for v in variables:
            if not v.is_initialized():
                raise v._uninitialized()

    graph = get_default_graph()
    return Operation(graph.unique_name("assert_variables_initialized"), check, graph, "Assert", variables)
