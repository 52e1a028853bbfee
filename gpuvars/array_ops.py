"""Ops that make values: ``zeros ones fill constant`` and the random ops (SPEC §6).

Each returns a deferred ``Tensor`` placed on the current device scope: the
value is made when needed, directly on the device that needs it (a variable's
initializer evaluates it on the variable's device, so nothing is copied).
Random ops draw from ``gpuvars.random``'s counter-based generator; every
evaluation draws anew, and the same seeds reproduce the same sequence.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gpuvars import devices, dtypes
from gpuvars.graph import get_default_graph
from gpuvars.tensor import Tensor, _check_shape_arg, convert_to_array, infer_dtype

__all__ = [
    "zeros",
    "ones",
    "fill",
    "constant",
    "zeros_like",
    "ones_like",
    "random_normal",
    "truncated_normal",
    "random_uniform",
]


def _tensor(fn: Any, shape: Any, dtype: Any, name: str | None, default: str) -> Tensor:
    graph = get_default_graph()
    device = devices.current_device_string() or None
    return Tensor(fn, shape, dtype, graph.unique_name(name or default), device, graph)


def _filled(backend: Any, shape: tuple[int, ...], dtype: np.dtype, value: Any) -> Any:
    out = backend.empty(shape, dtype)
    backend.assign(out, np.asarray(value, dtype=dtype))
    return out


def zeros(shape: Any, dtype: Any = dtypes.float32, name: str | None = None) -> Tensor:
    """A deferred array of zeros (``gpuvars.zeros([200])``)."""
    shape = _check_shape_arg(shape)
    dt = dtypes.as_dtype(dtype)
    return _tensor(lambda b: _filled(b, shape, dt, 0), shape, dt, name, "zeros")


def ones(shape: Any, dtype: Any = dtypes.float32, name: str | None = None) -> Tensor:
    shape = _check_shape_arg(shape)
    dt = dtypes.as_dtype(dtype)
    return _tensor(lambda b: _filled(b, shape, dt, 1), shape, dt, name, "ones")


def fill(dims: Any, value: Any, name: str | None = None) -> Tensor:
    """A deferred array of ``dims`` filled with the scalar ``value`` (dtype from the value, as TF)."""
    shape = _check_shape_arg(dims)
    arr = convert_to_array(value)
    if arr.ndim != 0:
        raise ValueError(f"fill: `value` must be a scalar. Received a value of shape {list(arr.shape)}.")
    return _tensor(lambda b: _filled(b, shape, arr.dtype, arr), shape, arr.dtype, name, "Fill")


def constant(value: Any, dtype: Any = None, shape: Any = None, name: str = "Const",
             verify_shape: bool = False) -> Tensor:
    """A deferred constant; a scalar or short list is broadcast/padded to ``shape`` as TF1 does.

    Raises:
      TypeError: ``value`` does not cast to ``dtype``; ``verify_shape`` with another shape.
      ValueError: more elements than ``shape`` holds.
    """
    arr = convert_to_array(value, dtype)
    if isinstance(arr, np.ndarray):
        arr = np.array(arr, copy=True)
    if shape is not None:
        target = _check_shape_arg(shape)
        if verify_shape and tuple(arr.shape) != target:
            raise TypeError(f"Expected Tensor's shape: {target}, got {tuple(arr.shape)}.")
        size = int(np.prod(target, dtype=np.int64))
        if arr.size == 1:
            arr = np.full(target, arr.reshape(()), dtype=arr.dtype)
        elif arr.size == size:
            arr = arr.reshape(target)
        elif arr.size < size and arr.ndim <= 1:
            flat = np.empty(size, dtype=arr.dtype)
            flat[: arr.size] = arr.ravel()
            flat[arr.size:] = arr.ravel()[-1] if arr.size else 0
            arr = flat.reshape(target)
        else:
            raise ValueError(f"Too many elements provided. Needed at most {size}, but received {arr.size}")
    host = arr
    return _tensor(lambda b: host, host.shape, host.dtype, name, "Const")


def zeros_like(tensor: Any, dtype: Any = None, name: str | None = None) -> Tensor:
    dt = dtypes.as_dtype(dtype) if dtype is not None else infer_dtype(tensor)
    return zeros(tuple(np.shape(tensor) if not hasattr(tensor, "shape") else tuple(tensor.shape)), dt, name)


def ones_like(tensor: Any, dtype: Any = None, name: str | None = None) -> Tensor:
    dt = dtypes.as_dtype(dtype) if dtype is not None else infer_dtype(tensor)
    return ones(tuple(np.shape(tensor) if not hasattr(tensor, "shape") else tuple(tensor.shape)), dt, name)


def _random(kind: str, shape: Any, dtype: Any, seed: Any, name: str | None, default: str, **params: Any) -> Tensor:
    from gpuvars import random

    shape = _check_shape_arg(shape)
    dt = dtypes.as_dtype(dtype)
    stream = random.RandomStream.from_seed(seed, get_default_graph())
    return _tensor(lambda b: stream.next(kind, shape, dt, b, **params), shape, dt, name, default)


def _require_float(dt: Any, what: str) -> None:
    dt = dtypes.as_dtype(dt)
    if not dtypes.is_floating(dt):
        raise ValueError(f"{what} needs a floating-point dtype (float16, float32, float64). Received {dt.name}.")


def random_normal(shape: Any, mean: float = 0.0, stddev: float = 1.0, dtype: Any = dtypes.float32,
                  seed: int | None = None, name: str | None = None) -> Tensor:
    """Normal draws; reproducible with ``set_random_seed`` and/or ``seed``, on every device."""
    _require_float(dtype, "random_normal")
    return _random("normal", shape, dtype, seed, name, "random_normal", mean=mean, stddev=stddev)


def truncated_normal(shape: Any, mean: float = 0.0, stddev: float = 1.0, dtype: Any = dtypes.float32,
                     seed: int | None = None, name: str | None = None) -> Tensor:
    """Normal draws re-drawn while more than 2 standard deviations from the mean."""
    _require_float(dtype, "truncated_normal")
    return _random("truncated_normal", shape, dtype, seed, name, "truncated_normal", mean=mean, stddev=stddev)


def random_uniform(shape: Any, minval: Any = 0, maxval: Any = None, dtype: Any = dtypes.float32,
                   seed: int | None = None, name: str | None = None) -> Tensor:
    """Uniform draws in ``[minval, maxval)``; integer dtypes need ``maxval``, as TF."""
    dt = dtypes.as_dtype(dtype)
    if dtypes.is_integer(dt):
        if maxval is None:
            raise ValueError(f"Must specify maxval for integer dtype {dt.name}")
    elif not dtypes.is_floating(dt):
        raise ValueError(f"random_uniform needs a floating or integer dtype. Received {dt.name}.")
    if maxval is None:
        maxval = 1
    return _random("uniform", shape, dt, seed, name, "random_uniform", minval=minval, maxval=maxval)
