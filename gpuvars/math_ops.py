"""A few eager math functions the seed documents use around variables.

``matmul``, ``sigmoid``, ``nn.relu``, ``convert_to_tensor``, ``gather``,
``shape``... compute at once on the device of their operands (a variable's
value stays on its device) and return arrays. They exist so TF1 snippets run
unchanged; gpuvars is a variable runtime, not a full op library.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np

from gpuvars.tensor import Tensor, convert_to_array

__all__ = [
    "convert_to_tensor",
    "matmul",
    "sigmoid",
    "relu",
    "tanh",
    "square",
    "gather",
    "shape",
    "add_n",
    "reduce_sum",
    "reduce_mean",
    "nn",
]


def _value(x: Any) -> Any:
    if hasattr(x, "_gv_read_for_conversion"):
        return x._gv_read_for_conversion()
    if hasattr(x, "as_tensor") and hasattr(x, "_get_variable_list"):
        return x.as_tensor()
    if isinstance(x, Tensor):
        return x._evaluate_default()
    return convert_to_array(x)


def _together(a: Any, b: Any) -> tuple[Any, Any]:
    """``b`` moved (implicitly, through the transfer layer) to ``a``'s device when they differ."""
    from gpuvars import transfer
    from gpuvars.devices import backend_for_name

    da, db = transfer.device_of(a), transfer.device_of(b)
    if da is not None and db is not None and da != db:
        b = transfer.to_backend(b, backend_for_name(da), explicit=False)
    return a, b


def _xp(x: Any) -> Any:
    if type(x).__module__.startswith("cupy"):
        import cupy

        return cupy
    return np


def convert_to_tensor(value: Any, dtype: Any = None, name: str | None = None) -> Any:
    """The value as an array (a Tensor stays deferred), cast safely to ``dtype``."""
    if isinstance(value, Tensor) and dtype is None:
        return value
    return convert_to_array(_value(value) if not isinstance(value, (list, tuple, int, float)) else value, dtype)


def matmul(a: Any, b: Any, transpose_a: bool = False, transpose_b: bool = False, name: str | None = None) -> Any:
    a, b = _together(_value(a), _value(b))
    if transpose_a:
        a = a.T
    if transpose_b:
        b = b.T
    return a @ b


def sigmoid(x: Any, name: str | None = None) -> Any:
    x = _value(x)
    return 1.0 / (1.0 + _xp(x).exp(-x))


def relu(x: Any, name: str | None = None) -> Any:
    x = _value(x)
    return _xp(x).maximum(x, 0)


def tanh(x: Any, name: str | None = None) -> Any:
    x = _value(x)
    return _xp(x).tanh(x)


def square(x: Any, name: str | None = None) -> Any:
    x = _value(x)
    return x * x


def gather(params: Any, indices: Any, axis: int = 0, name: str | None = None) -> Any:
    params, idx = _together(_value(params), _value(indices))
    return _xp(params).take(params, idx, axis=axis)


def shape(x: Any, name: str | None = None, out_type: Any = np.int32) -> np.ndarray:
    return np.asarray(tuple(_value(x).shape) if not hasattr(x, "shape") else tuple(x.shape), dtype=out_type)


def add_n(inputs: Any, name: str | None = None) -> Any:
    values = [_value(x) for x in inputs]
    if not values:
        raise ValueError("add_n needs at least one input.")
    out = values[0].copy()
    for v in values[1:]:
        out = out + _together(out, v)[1]
    return out


def reduce_sum(x: Any, axis: Any = None, keepdims: bool = False, name: str | None = None) -> Any:
    x = _value(x)
    return x.sum(axis=axis, keepdims=keepdims)


def reduce_mean(x: Any, axis: Any = None, keepdims: bool = False, name: str | None = None) -> Any:
    x = _value(x)
    return x.mean(axis=axis, keepdims=keepdims)


nn = SimpleNamespace(relu=relu, sigmoid=sigmoid, tanh=tanh)
