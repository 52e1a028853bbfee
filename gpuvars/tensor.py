"""Deferred values (``Tensor``), ``Operation``, ``TensorShape`` and value conversion.

Value-making ops (``zeros``, ``random_normal``) and ``initialized_value()``
return a ``Tensor``: shape and dtype are known at once, the value is computed
when something needs it — a variable's initializer run, ``np.asarray``,
``.eval()``, ``Session.run``. Inside one run every ``Tensor`` is evaluated
once, so two variables initialized from the same random op get the same
values, as in a TF1 ``session.run``.
"""

from __future__ import annotations

import contextlib
import operator
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from gpuvars import dtypes

__all__ = ["Tensor", "Operation", "TensorShape", "convert_to_array", "infer_dtype", "as_shape"]


class TensorShape:
    """A shape that may be unknown (``None`` rank) or partly unknown (``None`` dims).

    Compares equal to tuples and lists: ``v.shape == (2, 3)``.
    """

    __slots__ = ("_dims",)

    def __init__(self, dims: Any):
        self._dims: tuple[int | None, ...] | None
        if isinstance(dims, TensorShape):
            dims = dims.as_tuple()
        if dims is None:
            self._dims = None
        else:
            self._dims = tuple(None if d is None else int(d) for d in dims)

    @property
    def dims(self) -> list[int | None] | None:
        return None if self._dims is None else list(self._dims)

    @property
    def ndims(self) -> int | None:
        return None if self._dims is None else len(self._dims)

    rank = ndims

    def as_list(self) -> list[int | None]:
        if self._dims is None:
            raise ValueError("as_list() is not defined on an unknown TensorShape.")
        return list(self._dims)

    def as_tuple(self) -> tuple[int, ...] | None:
        return self._dims  # type: ignore[return-value]

    def is_fully_defined(self) -> bool:
        return self._dims is not None and all(d is not None for d in self._dims)

    def num_elements(self) -> int | None:
        if not self.is_fully_defined():
            return None
        return int(np.prod([int(d or 0) for d in self._dims or ()], dtype=np.int64))

    def is_compatible_with(self, other: Any) -> bool:
        other = as_shape(other)
        if self._dims is None or other._dims is None:
            return True
        if len(self._dims) != len(other._dims):
            return False
        return all(a is None or b is None or a == b for a, b in zip(self._dims, other._dims))

    def __len__(self) -> int:
        if self._dims is None:
            raise ValueError("Cannot take the length of shape with unknown rank.")
        return len(self._dims)

    def __iter__(self) -> Iterator[int | None]:
        if self._dims is None:
            raise ValueError("Cannot iterate over a shape with unknown rank.")
        return iter(self._dims)

    def __getitem__(self, key: Any) -> Any:
        if self._dims is None:
            return None if isinstance(key, int) else TensorShape(None)
        if isinstance(key, slice):
            return TensorShape(self._dims[key])
        return self._dims[key]

    def __eq__(self, other: Any) -> bool:
        if isinstance(other, TensorShape):
            return self._dims == other._dims
        if isinstance(other, (tuple, list)):
            return self._dims is not None and self._dims == tuple(other)
        return NotImplemented

    def __ne__(self, other: Any) -> bool:
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    def __hash__(self) -> int:
        return hash(self._dims)

    def __repr__(self) -> str:
        return "TensorShape(None)" if self._dims is None else f"TensorShape({list(self._dims)})"

    def __str__(self) -> str:
        if self._dims is None:
            return "<unknown>"
        return "(" + ", ".join("?" if d is None else str(d) for d in self._dims) + ("," if len(self._dims) == 1 else "") + ")"


def as_shape(shape: Any) -> TensorShape:
    if isinstance(shape, TensorShape):
        return shape
    if shape is None:
        return TensorShape(None)
    if isinstance(shape, (int, np.integer)):
        return TensorShape((int(shape),))
    return TensorShape(tuple(shape))


def _check_shape_arg(shape: Any) -> tuple[int, ...]:
    """Validate a concrete shape argument (``zeros([2, 3])``)."""
    if isinstance(shape, Tensor):
        shape = np.asarray(shape)
    if isinstance(shape, np.ndarray):
        shape = shape.tolist()
    if isinstance(shape, (int, np.integer)):
        shape = (int(shape),)
    try:
        dims = tuple(shape)
    except TypeError:
        raise TypeError(f"Expected a shape such as [2, 3] or (). Received: {shape!r}") from None
    out = []
    for d in dims:
        if isinstance(d, (bool, np.bool_)) or not isinstance(d, (int, np.integer)) or d < 0:
            raise ValueError(f"Expected non-negative integer dimensions in shape. Received: {shape!r}")
        out.append(int(d))
    return tuple(out)


# -- conversion -------------------------------------------------------------

def _python_dtype(value: Any) -> np.dtype:
    """TF's dtype for Python values: bool, int32 (int64 if it must), float32, complex128."""
    arr = np.asarray(value)
    kind = arr.dtype.kind
    if kind == "b":
        return dtypes.bool_
    if kind in "iu":
        if arr.size and (arr.min() < np.iinfo(np.int32).min or arr.max() > np.iinfo(np.int32).max):
            return dtypes.int64
        return dtypes.int32
    if kind == "f":
        return dtypes.float32
    if kind == "c":
        return dtypes.complex128
    raise TypeError(
        f"Expected a number, a nested list of numbers or an array. Received a value of dtype {arr.dtype}: {value!r:.80}"
    )


def infer_dtype(value: Any) -> np.dtype:
    """The dtype a value converts to when none is given (TF's conversion rules)."""
    dt = getattr(value, "dtype", None)
    if dt is not None and not isinstance(value, (list, tuple)):
        return dtypes.as_dtype(dt)
    return _python_dtype(value)


def _is_device_array(value: Any) -> bool:
    return isinstance(value, np.ndarray) or type(value).__module__.startswith("cupy")


def convert_to_array(value: Any, dtype: Any = None, *, what: str = "value") -> Any:
    """Convert a value to an array (host NumPy, or device arrays left where they are).

    Python numbers follow TF: ints become int32, floats float32. With ``dtype``
    given, the value must cast to it under NumPy's "same_kind" rule.

    Raises:
      TypeError: the value does not convert, or not safely to ``dtype``.
    """
    if isinstance(value, Tensor):
        value = value._evaluate_default()
    elif hasattr(value, "_gv_read_for_conversion"):
        value = value._gv_read_for_conversion()
    if _is_device_array(value):
        arr = value
        if dtype is not None:
            dt = dtypes.as_dtype(dtype)
            if arr.dtype != dt:
                if not dtypes.can_cast(arr.dtype, dt):
                    raise TypeError(
                        f"Expected {what} of dtype {dt.name} or one that casts to it safely "
                        f"(same_kind). Received dtype {arr.dtype.name}. Cast it explicitly first."
                    )
                arr = arr.astype(dt)
        return arr
    if isinstance(value, np.generic):
        return convert_to_array(np.asarray(value), dtype, what=what)
    if isinstance(value, str | bytes):
        raise TypeError(f"Expected {what} to be a number or an array of numbers. Received a string: {value!r}")
    natural = _python_dtype(value)
    if dtype is None:
        return np.asarray(value, dtype=natural)
    dt = dtypes.as_dtype(dtype)
    if not dtypes.can_cast(natural, dt) and not (natural.kind in "iu" and dt.kind in "iu"):
        raise TypeError(
            f"Expected {dt.name}, got {value!r:.80} of type '{type(value).__name__}' instead. "
            f"Pass a value that casts to {dt.name} safely."
        )
    arr = np.asarray(value)
    if natural.kind in "iu" and dt.kind in "iu":
        info = np.iinfo(dt)
        if arr.size and (arr.min() < info.min or arr.max() > info.max):
            raise ValueError(f"Value {value!r:.80} is out of range for dtype {dt.name} [{info.min}, {info.max}].")
    return arr.astype(dt)


# -- deferred values ----------------------------------------------------------

class _EvalState(threading.local):
    def __init__(self) -> None:
        self.ctx: _EvalContext | None = None


class _EvalContext:
    """One "run": each Tensor evaluated once; variables initialized at most once."""

    def __init__(self, init_set: Sequence[Any] = (), feeds: dict[Any, Any] | None = None):
        self.cache: dict[tuple[int, int], Any] = {}
        self.init_pending: dict[int, Any] = {id(v): v for v in init_set}
        self.init_done: set[int] = set()
        self.init_active: set[int] = set()
        self.feeds = feeds or {}


_eval_state = _EvalState()


@contextlib.contextmanager
def eval_context(init_set: Sequence[Any] = (), feeds: dict[Any, Any] | None = None) -> Iterator[_EvalContext]:
    outer = _eval_state.ctx
    ctx = _EvalContext(init_set, feeds)
    if outer is not None and not init_set and not feeds:
        ctx = outer
    _eval_state.ctx = ctx
    try:
        yield ctx
    finally:
        _eval_state.ctx = outer


def current_eval_context() -> _EvalContext | None:
    return _eval_state.ctx


def _host_backend() -> Any:
    from gpuvars.devices import resolve

    return resolve("/device:CPU:0")


class Tensor:
    """A deferred value with a known dtype and (possibly unknown) shape.

    Arithmetic on a Tensor gives another Tensor; ``np.asarray(t)``,
    ``t.eval()`` and ``Session.run(t)`` evaluate it.
    """

    __array_priority__ = 100

    def __init__(self, fn: Callable[[Any], Any], shape: Any, dtype: Any, name: str = "Tensor",
                 device: str | None = None, graph: Any = None, inputs: Sequence[Any] = ()):
        self._fn = fn
        self._shape = as_shape(shape)
        self._dtype = dtypes.as_dtype(dtype)
        self._name = name
        self._device = device
        self._inputs = tuple(inputs)
        if graph is None:
            from gpuvars.graph import get_default_graph

            graph = get_default_graph()
        self._graph = graph

    # -- properties --------------------------------------------------------
    @property
    def shape(self) -> TensorShape:
        return self._shape

    def get_shape(self) -> TensorShape:
        return self._shape

    @property
    def dtype(self) -> np.dtype:
        return self._dtype

    @property
    def name(self) -> str:
        return f"{self._name}:0"

    @property
    def op(self) -> Any:
        return _TensorOp(self._name, self._graph, self._device)

    @property
    def graph(self) -> Any:
        return self._graph

    @property
    def device(self) -> str:
        return self._device or ""

    def __repr__(self) -> str:
        return f"<gpuvars.Tensor '{self.name}' shape={self._shape} dtype={self._dtype.name}>"

    # -- evaluation --------------------------------------------------------
    def _evaluate(self, backend: Any) -> Any:
        """The value as an array on ``backend`` (computed once per run)."""
        ctx = _eval_state.ctx
        if ctx is None:
            with eval_context() as ctx:
                return self._evaluate(backend)
        if self in ctx.feeds:
            return convert_to_array(ctx.feeds[self], self._dtype)
        key = (id(self), id(backend))
        if key not in ctx.cache:
            ctx.cache[key] = self._fn(backend)
        return ctx.cache[key]

    def _evaluate_default(self) -> Any:
        backend = _host_backend() if self._device is None else _backend_for_device(self._device)
        return self._evaluate(backend)

    def numpy(self) -> np.ndarray:
        from gpuvars import transfer

        return transfer.to_host(self._evaluate_default())

    def eval(self, feed_dict: dict | None = None, session: Any = None) -> np.ndarray:
        with eval_context(feeds=feed_dict):
            return self.numpy()

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        out = self.numpy()
        return out if dtype is None else out.astype(dtype)

    def __bool__(self) -> bool:
        raise TypeError(
            "Using a gpuvars.Tensor as a Python bool is not allowed. Use `if t is not None:` to test "
            "for None, or evaluate it first with `t.numpy()`."
        )

    def __len__(self) -> int:
        if self._shape.ndims in (None, 0):
            raise TypeError(f"len() of unsized Tensor with shape {self._shape}")
        return self._shape[0] or 0

    __hash__ = object.__hash__

    # -- arithmetic builds new deferred values ------------------------------
    def _binary(self, other: Any, op: Callable[[Any, Any], Any], opname: str, reverse: bool = False) -> Tensor:
        return _binary(other, self, op, opname) if reverse else _binary(self, other, op, opname)

    def __add__(self, o): return self._binary(o, operator.add, "add")
    def __radd__(self, o): return self._binary(o, operator.add, "add", True)
    def __sub__(self, o): return self._binary(o, operator.sub, "sub")
    def __rsub__(self, o): return self._binary(o, operator.sub, "sub", True)
    def __mul__(self, o): return self._binary(o, operator.mul, "mul")
    def __rmul__(self, o): return self._binary(o, operator.mul, "mul", True)
    def __truediv__(self, o): return self._binary(o, operator.truediv, "truediv")
    def __rtruediv__(self, o): return self._binary(o, operator.truediv, "truediv", True)
    def __floordiv__(self, o): return self._binary(o, operator.floordiv, "floordiv")
    def __rfloordiv__(self, o): return self._binary(o, operator.floordiv, "floordiv", True)
    def __mod__(self, o): return self._binary(o, operator.mod, "mod")
    def __rmod__(self, o): return self._binary(o, operator.mod, "mod", True)
    def __pow__(self, o): return self._binary(o, operator.pow, "pow")
    def __rpow__(self, o): return self._binary(o, operator.pow, "pow", True)
    def __matmul__(self, o): return self._binary(o, operator.matmul, "matmul")
    def __rmatmul__(self, o): return self._binary(o, operator.matmul, "matmul", True)
    def __lt__(self, o): return self._binary(o, operator.lt, "less")
    def __le__(self, o): return self._binary(o, operator.le, "less_equal")
    def __gt__(self, o): return self._binary(o, operator.gt, "greater")
    def __ge__(self, o): return self._binary(o, operator.ge, "greater_equal")
    def __neg__(self): return _unary(self, operator.neg, "neg")
    def __pos__(self): return self
    def __abs__(self): return _unary(self, operator.abs, "abs")

    def __getitem__(self, key: Any) -> Tensor:
        probe = np.empty(self._shape.as_tuple() or (), dtype=np.bool_)[key] if self._shape.is_fully_defined() else None
        shape = None if probe is None else np.shape(probe)
        return Tensor(lambda b: _value_of(self, b)[key], shape, self._dtype, _unique(self._graph, "strided_slice"),
                      self._device, self._graph, (self,))


class _TensorOp:
    def __init__(self, name: str, graph: Any, device: str | None):
        self.name = name
        self.graph = graph
        self.device = device or ""
        self.type = "Const"


def _backend_for_device(device: str) -> Any:
    from gpuvars.devices import resolve

    return resolve(device)


def _unique(graph: Any, name: str) -> str:
    return graph.unique_name(name)


def _value_of(x: Any, backend: Any) -> Any:
    """An operand's value, placed on ``backend``'s device when it is an array."""
    from gpuvars import transfer

    if isinstance(x, Tensor):
        return x._evaluate(backend)
    if hasattr(x, "_gv_read_for_conversion"):
        return transfer.to_backend(x._gv_read_for_conversion(), backend, explicit=False)
    if _is_device_array(x):
        return transfer.to_backend(x, backend, explicit=False)
    return x


def _static_dtype(x: Any) -> Any:
    if isinstance(x, Tensor) or hasattr(x, "_gv_read_for_conversion"):
        return np.zeros((), dtype=x.dtype)
    if _is_device_array(x):
        return np.zeros((), dtype=x.dtype)
    return x


def _static_shape(x: Any) -> TensorShape:
    if isinstance(x, Tensor):
        return x.shape
    if hasattr(x, "_gv_read_for_conversion"):
        return as_shape(x.shape)
    return TensorShape(np.shape(x))


def _result_shape(a: TensorShape, b: TensorShape, opname: str) -> TensorShape:
    if not (a.is_fully_defined() and b.is_fully_defined()):
        return TensorShape(None)
    sa, sb = a.as_tuple() or (), b.as_tuple() or ()
    try:
        if opname == "matmul":
            return TensorShape(_matmul_shape(sa, sb))
        return TensorShape(np.broadcast_shapes(sa, sb))
    except ValueError as e:
        raise ValueError(f"Incompatible shapes for {opname}: {list(sa)} vs. {list(sb)} ({e})") from None


def _matmul_shape(sa: tuple[int, ...], sb: tuple[int, ...]) -> tuple[int, ...]:
    if len(sa) < 1 or len(sb) < 1:
        raise ValueError("matmul needs operands of rank >= 1")
    if sa[-1] != sb[-2 if len(sb) > 1 else 0]:
        raise ValueError(f"inner dimensions differ: {sa[-1]} vs {sb[-2 if len(sb) > 1 else 0]}")
    batch = np.broadcast_shapes(sa[:-2], sb[:-2])
    return tuple(batch) + tuple(sa[-2:-1]) + tuple(sb[-1:] if len(sb) > 1 else ())


def _binary(a: Any, b: Any, op: Callable[[Any, Any], Any], opname: str) -> Tensor:
    graph = a.graph if isinstance(a, Tensor) else b.graph
    probe_op = operator.mul if opname == "matmul" else op
    with np.errstate(all="ignore"):  # the probe runs on zeros: 1/0 must not warn
        dtype = np.asarray(probe_op(_static_dtype(a), _static_dtype(b))).dtype
    shape = _result_shape(_static_shape(a), _static_shape(b), opname)
    device = a._device if isinstance(a, Tensor) else getattr(b, "_device", None)
    return Tensor(lambda backend: op(_value_of(a, backend), _value_of(b, backend)), shape, dtype,
                  _unique(graph, opname), device, graph, (a, b))


def _unary(a: Tensor, op: Callable[[Any], Any], opname: str) -> Tensor:
    return Tensor(lambda backend: op(_value_of(a, backend)), a.shape, a.dtype, _unique(a.graph, opname), a._device,
                  a.graph, (a,))


class Operation:
    """An op that does something when run: initializers, ``no_op``, assertions.

    ``op.run()``, ``op()`` and ``Session.run(op)`` run it; it returns None.
    """

    def __init__(self, name: str, fn: Callable[[], Any] | None, graph: Any = None, type_: str = "NoOp",
                 inputs: Sequence[Any] = (), device: str = ""):
        if graph is None:
            from gpuvars.graph import get_default_graph

            graph = get_default_graph()
        self.name = name
        self._fn = fn
        self.graph = graph
        self.type = type_
        self.inputs = tuple(inputs)
        self.device = device
        graph._register_op(name, self)

    def run(self, feed_dict: dict | None = None, session: Any = None) -> None:
        """Run the op (TF: ``op.run(feed_dict=None, session=None)``)."""
        if self._fn is None:
            return None
        with eval_context(feeds=feed_dict):
            self._fn()
        return None

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        return self.run(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<gpuvars.Operation '{self.name}' type={self.type}>"
