"""Initializers, as TensorFlow 1.x's ``init_ops`` (SPEC §6).

An initializer is called as ``init(shape, dtype=None, partition_info=None)``
and returns an array on a backend (``backend=None``: host NumPy). The classes
keep TF 1.x's names (``Zeros``, ``RandomNormal``, …) and lowercase aliases
(``zeros_initializer``, ``random_normal_initializer``, …), arguments,
defaults, errors and ``get_config``/``from_config``.

Randomness and seeds, as a TF1 graph behaves:

* Calling an initializer makes one random op: its seeds are fixed at that
  moment (``gpuvars.random.get_seed``: the initializer's ``seed`` and the
  graph seed of ``set_random_seed``; with a graph seed and no op seed, the
  graph's next op seed is taken).
* ``init.bind(shape, ...)`` makes the op without running it; the returned
  ``InitOp`` draws anew each time it runs (the run counter advances), as a
  TF1 variable's initializer op does when run twice. ``init(shape, ...)`` is
  ``init.bind(shape, ...)()``.
* So two calls of a seeded initializer give the same values (two TF ops with
  the same seeds), and two calls of an unseeded one give different values.
  A partitioned variable calls its initializer once per shard, with the shard's
  shape and a ``PartitionInfo``: with a seed every shard of the same shape gets
  the same values, without one they differ. TF does the same
  (``partitioned_variables_test.testRandomInitializer``); gpuvars keeps it.
* Draws come from ``gpuvars.random`` (Philox), so the same seeds give the same
  values on ``/cpu:0``, emulated GPUs and CUDA GPUs. Values differ from
  TensorFlow's own generator.

Example:
  >>> init = random_normal_initializer(mean=0.0, stddev=0.1, seed=3)
  >>> a = init([2, 3])
  >>> bool((a == init([2, 3])).all())   # same seeds, same values
  True
"""

from __future__ import annotations

import math
import numbers
import operator
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from gpuvars import dtypes, transfer
from gpuvars import random as gv_random

__all__ = [
    "Initializer",
    "InitOp",
    "PartitionInfo",
    "Zeros",
    "Ones",
    "Constant",
    "RandomUniform",
    "RandomNormal",
    "TruncatedNormal",
    "UniformUnitScaling",
    "VarianceScaling",
    "Orthogonal",
    "Identity",
    "GlorotUniform",
    "GlorotNormal",
    "zeros_initializer",
    "ones_initializer",
    "constant_initializer",
    "random_uniform_initializer",
    "random_normal_initializer",
    "truncated_normal_initializer",
    "uniform_unit_scaling_initializer",
    "variance_scaling_initializer",
    "orthogonal_initializer",
    "identity_initializer",
    "glorot_uniform_initializer",
    "glorot_normal_initializer",
    "lecun_normal",
    "lecun_uniform",
    "he_normal",
    "he_uniform",
    "compute_fans",
    "serialize",
    "deserialize",
]

#: TF's standard deviation correction for a normal truncated at two standard deviations.
TRUNCATED_STDDEV_CORRECTION = 0.87962566103423978


# -- helpers ---------------------------------------------------------------------------------------------
def _upload(host: np.ndarray, backend: Any) -> Any:
    """A host-made initial value onto the variable's device: an explicit, counted transfer."""
    return transfer.to_backend(host, backend, explicit=True)


def _host_backend() -> Any:
    from gpuvars.backends.cpu import CpuBackend

    return CpuBackend(0)


def _as_shape(shape: Any) -> tuple[int, ...]:
    if hasattr(shape, "as_list"):
        shape = shape.as_list()
    if isinstance(shape, (int, np.integer)):
        shape = (shape,)
    try:
        dims = tuple(shape)
    except TypeError:
        raise TypeError(f"Argument `shape` must be a list or tuple of integers. Received: {shape!r}") from None
    if any(d is None for d in dims):
        raise ValueError(f"Argument `shape` must be fully defined. Received: {list(dims)}")
    out = tuple(operator.index(d) for d in dims)
    if any(d < 0 for d in out):
        raise ValueError(f"Argument `shape` must not have negative dimensions. Received: {list(out)}")
    return out


def _assert_float_dtype(dtype: np.dtype) -> np.dtype:
    if not dtypes.is_floating(dtype):
        raise ValueError(f"Argument `dtype` is expected to be floating point. Received: {dtype}.")
    return dtype


def _fill(backend: Any, shape: tuple[int, ...], dtype: np.dtype, value: Any) -> Any:
    """A buffer of ``shape`` filled with a scalar, made on the device (no host array of the full size)."""
    buf = backend.empty(shape, dtype)
    if buf.size:
        backend.assign(buf, backend.from_host(np.asarray(value, dtype=dtype)))
    return buf


def compute_fans(shape: Any) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight shape, as TensorFlow's ``_compute_fans``.

    Rank 0: ``(1, 1)``; rank 1: ``(n, n)``; rank 2: ``(rows, cols)``; rank ≥ 3
    (convolution kernels ``[..., in, out]``): the receptive field size times
    ``shape[-2]`` and ``shape[-1]``.

    Args:
      shape: a sequence of integers.

    Returns:
      The two fans as ints.

    Example:
      >>> compute_fans([3, 3, 16, 32])
      (144, 288)
    """
    shape = list(shape)
    if len(shape) < 1:
        fan_in = fan_out = 1
    elif len(shape) == 1:
        fan_in = fan_out = shape[0]
    elif len(shape) == 2:
        fan_in, fan_out = shape[0], shape[1]
    else:
        receptive_field_size = 1
        for dim in shape[:-2]:
            receptive_field_size *= dim
        fan_in = shape[-2] * receptive_field_size
        fan_out = shape[-1] * receptive_field_size
    return int(fan_in), int(fan_out)


# -- partition info --------------------------------------------------------------------------------------
class PartitionInfo:
    """Where one shard of a partitioned variable sits, passed to its initializer (TF's ``_PartitionInfo``).

    Args:
      full_shape: list or tuple, the shape of the whole variable.
      var_offset: list or tuple, the offset of this shard in each dimension.

    Raises:
      TypeError: ``full_shape`` or ``var_offset`` is not a list or tuple.
      ValueError: their lengths differ, or an offset is outside ``[0, full_shape)``.

    Example:
      >>> info = PartitionInfo(full_shape=[10, 4], var_offset=[6, 0])
      >>> info.single_slice_dim([4, 4]), info.single_offset([4, 4])
      (0, 6)
    """

    __slots__ = ("_full_shape", "_var_offset")

    def __init__(self, full_shape: Any, var_offset: Any):
        if not isinstance(full_shape, (list, tuple)):
            raise TypeError(
                "`full_shape` must be a sequence (like tuple or list) instead of " + type(full_shape).__name__
            )
        if not isinstance(var_offset, (list, tuple)):
            raise TypeError(
                "`var_offset` must be a sequence (like tuple or list) instead of " + type(var_offset).__name__
            )
        if len(var_offset) != len(full_shape):
            raise ValueError(
                f"Expected equal length, but `var_offset` is of length {len(var_offset)} while "
                f"full_shape is of length {len(full_shape)}."
            )
        for offset, shape in zip(var_offset, full_shape):
            if offset < 0 or offset >= shape:
                raise ValueError(
                    f"Expected 0 <= offset < shape but found offset={offset}, shape={shape} for "
                    f"var_offset={var_offset}, full_shape={full_shape}"
                )
        self._full_shape = list(full_shape)
        self._var_offset = list(var_offset)

    @property
    def full_shape(self) -> list[int]:
        return self._full_shape

    @property
    def var_offset(self) -> list[int]:
        return self._var_offset

    def single_offset(self, shape: Any) -> int:
        """The offset along the one partitioned dimension, 0 when not partitioned.

        Args:
          shape: list or tuple, the shape of this shard.

        Returns:
          An int.

        Raises:
          ValueError: see ``single_slice_dim``.
        """
        dim = self.single_slice_dim(shape)
        return 0 if dim is None else self._var_offset[dim]

    def single_slice_dim(self, shape: Any) -> int | None:
        """The dimension the variable is partitioned along, None when it is not partitioned.

        Args:
          shape: list or tuple, the shape of this shard.

        Returns:
          An int or None.

        Raises:
          TypeError: ``shape`` is not a list or tuple.
          ValueError: ``shape`` has another rank than ``full_shape``, the shard
            would reach past ``full_shape``, or more than one dimension is split.
        """
        if not isinstance(shape, (tuple, list)):
            raise TypeError("`shape` must be a sequence (like tuple or list) instead of " + type(shape).__name__)
        if len(shape) != len(self._full_shape):
            raise ValueError(
                f"Expected equal length, but received shape={shape} of length {len(shape)} while "
                f"self.full_shape={self._full_shape} is of length {len(self._full_shape)}."
            )
        for i in range(len(shape)):
            if self._var_offset[i] + shape[i] > self._full_shape[i]:
                raise ValueError(
                    f"With self.var_offset={self._var_offset}, a partition of shape={shape} would exceed "
                    f"self.full_shape={self._full_shape} in dimension {i}."
                )
        slice_dim = None
        for i in range(len(shape)):
            if shape[i] == self._full_shape[i]:
                continue
            if slice_dim is not None:
                raise ValueError(
                    f"Cannot use single_slice_dim() with shape={shape} and self.full_shape={self._full_shape} "
                    f"since slice dim could be either dimension {i} or {slice_dim}."
                )
            slice_dim = i
        return slice_dim

    def __repr__(self) -> str:
        return f"PartitionInfo(full_shape={self._full_shape}, var_offset={self._var_offset})"


# -- base classes ------------------------------------------------------------------------------------------
class InitOp:
    """An initializer applied to one shape: a random op whose seeds are fixed, run on demand.

    Each call produces the initial value again; a random initializer draws anew
    each time (its run counter advances), a deterministic one gives the same
    values.

    Attributes:
      initializer: the ``Initializer``.
      shape: the shape, a tuple of ints.
      dtype: the dtype.
      partition_info: the ``PartitionInfo`` or None.
      backend: the backend the values are made on by default.
      stream: the ``gpuvars.random.RandomStream``, or None for deterministic initializers.
    """

    __slots__ = ("initializer", "shape", "dtype", "partition_info", "backend", "stream", "_extra")

    def __init__(
        self,
        initializer: Initializer,
        shape: tuple[int, ...],
        dtype: np.dtype,
        partition_info: Any,
        backend: Any,
        stream: gv_random.RandomStream | None,
        extra: dict[str, Any],
    ):
        self.initializer = initializer
        self.shape = shape
        self.dtype = dtype
        self.partition_info = partition_info
        self.backend = backend
        self.stream = stream
        self._extra = extra

    def __call__(self, backend: Any = None) -> Any:
        """Run the op: the initial value, on ``backend`` (default: the bound one).

        Args:
          backend: a backend to make the values on, or None for the bound one.

        Returns:
          An array of ``shape`` and ``dtype``.
        """
        backend = backend if backend is not None else self.backend
        if backend is None:
            backend = _host_backend()
        return self.initializer._generate(self, backend)

    def __repr__(self) -> str:
        return f"<InitOp {type(self.initializer).__name__} shape={list(self.shape)} dtype={self.dtype}>"


class Initializer:
    """Base class of initializers: ``init(shape, dtype=None, partition_info=None)`` → array.

    Subclasses set ``_random`` when they draw, check their inputs in
    ``_validate`` (called when the op is made, as TF checks at graph
    construction) and produce values in ``_generate``.
    """

    _random: ClassVar[bool] = False
    dtype: np.dtype = dtypes.float32
    seed: int | None = None

    def __call__(self, shape: Any, dtype: Any = None, partition_info: Any = None, *, backend: Any = None) -> Any:
        """The initial value for ``shape``: ``self.bind(...)()``.

        Args:
          shape: the shape of the value (of this shard, for a partitioned variable).
          dtype: the dtype; None for the initializer's own.
          partition_info: a ``PartitionInfo`` when the value is one shard of a
            partitioned variable, else None.
          backend: the backend to make the value on; None for host NumPy.

        Returns:
          An array of ``shape`` and ``dtype`` on ``backend``.

        Raises:
          ValueError, TypeError: as TensorFlow raises them for these arguments.
        """
        return self.bind(shape, dtype, partition_info, backend=backend)()

    def bind(
        self, shape: Any, dtype: Any = None, partition_info: Any = None, *, backend: Any = None, **extra: Any
    ) -> InitOp:
        """Make the op for ``shape`` without running it (seeds are fixed now).

        Args:
          shape: the shape of the value.
          dtype: the dtype; None for the initializer's own.
          partition_info: a ``PartitionInfo`` or None.
          backend: the default backend of the op's runs; None for host NumPy.
          **extra: initializer-specific call arguments (``verify_shape`` for ``Constant``).

        Returns:
          An ``InitOp``; each call runs it.

        Raises:
          ValueError, TypeError: as TensorFlow raises them for these arguments.

        Example:
          >>> op = random_uniform_initializer(seed=1).bind([3])
          >>> bool((op() != op()).any())   # each run draws anew
          True
        """
        shape = _as_shape(shape)
        dtype = self.dtype if dtype is None else dtypes.as_dtype(dtype)
        self._validate(shape, dtype, partition_info, extra)
        stream = gv_random.RandomStream.from_seed(self.seed) if self._random else None
        return InitOp(self, shape, dtype, partition_info, backend, stream, extra)

    def _validate(self, shape: tuple[int, ...], dtype: np.dtype, partition_info: Any, extra: dict[str, Any]) -> None:
        if extra:
            raise TypeError(f"{type(self).__name__} got unexpected call arguments: {sorted(extra)}")

    def _generate(self, op: InitOp, backend: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} does not make values")

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments, JSON-friendly where the arguments are."""
        return {}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Initializer:
        """Build an initializer from ``get_config()``'s output.

        Example:
          >>> init = RandomUniform(-1, 1, seed=3)
          >>> RandomUniform.from_config(init.get_config()).get_config() == init.get_config()
          True
        """
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


# -- constants ---------------------------------------------------------------------------------------------
class Zeros(Initializer):
    """Initializer that makes arrays of zeros (any dtype).

    Args:
      dtype: the default dtype.

    Example:
      >>> zeros_initializer()([2], "int32")
      array([0, 0], dtype=int32)
    """

    def __init__(self, dtype: Any = dtypes.float32):
        self.dtype = dtypes.as_dtype(dtype)

    def _generate(self, op: InitOp, backend: Any) -> Any:
        return _fill(backend, op.shape, op.dtype, 0)

    def get_config(self) -> dict[str, Any]:
        return {"dtype": self.dtype.name}


class Ones(Initializer):
    """Initializer that makes arrays of ones (any dtype).

    Args:
      dtype: the default dtype.

    Example:
      >>> ones_initializer()([2], "bool")
      array([ True,  True])
    """

    def __init__(self, dtype: Any = dtypes.float32):
        self.dtype = dtypes.as_dtype(dtype)

    def _generate(self, op: InitOp, backend: Any) -> Any:
        return _fill(backend, op.shape, op.dtype, 1)

    def get_config(self) -> dict[str, Any]:
        return {"dtype": self.dtype.name}


def _python_scalars(value: Any):
    if isinstance(value, (list, tuple)):
        for v in value:
            yield from _python_scalars(v)
    elif isinstance(value, numbers.Number) and not isinstance(value, np.generic):
        yield value


def _assert_compatible(value: Any, dtype: np.dtype) -> None:
    """TF's ``_AssertCompatible``: Python scalars must fit the dtype's kind (NumPy values are cast)."""
    if dtype.kind == "b":
        ok: Callable[[Any], bool] = lambda v: isinstance(v, bool)  # noqa: E731
    elif dtype.kind in "iu":
        ok = lambda v: isinstance(v, numbers.Integral)  # noqa: E731
    elif dtype.kind == "c":
        ok = lambda v: isinstance(v, numbers.Complex)  # noqa: E731
    else:
        ok = lambda v: isinstance(v, numbers.Real)  # noqa: E731
    for v in _python_scalars(value):
        if not ok(v):
            raise TypeError(f"Expected {dtype.name}, but got {v!r} of type '{type(v).__name__}'.")


def _constant_array(value: Any, dtype: np.dtype, shape: tuple[int, ...], verify_shape: bool) -> np.ndarray:
    """TF1's ``constant(value, dtype, shape, verify_shape)`` on the host."""
    size = math.prod(shape)
    if size == 0:
        return np.empty(shape, dtype=dtype)
    _assert_compatible(value, dtype)
    array = np.asarray(value)
    if array.dtype.kind == "c" and dtype.kind != "c":
        raise TypeError(f"Expected {dtype.name}, but got complex values of dtype {array.dtype}.")
    if array.dtype.kind in "OSUV":
        raise TypeError(f"Expected {dtype.name}, but got values of dtype {array.dtype}.")
    with np.errstate(invalid="ignore", over="ignore"):
        array = array.astype(dtype)
    if verify_shape and array.shape != shape:
        raise TypeError(f"Expected Tensor's shape: {shape}, but got {array.shape}.")
    if array.size > size:
        raise ValueError(f"Too many elements provided. Needed at most {size}, but received {array.size}.")
    if array.size == size:
        return array.reshape(shape)
    # Fewer values than elements: TF repeats the last value (zeros when none is given).
    flat = np.empty(size, dtype=dtype)
    flat[: array.size] = array.reshape(-1)
    flat[array.size :] = array.reshape(-1)[-1] if array.size else 0
    return flat.reshape(shape)


class Constant(Initializer):
    """Initializer that makes arrays of a constant value, as TF 1.x's ``constant_initializer``.

    ``value`` is a scalar (every element gets it) or a list/tuple/array: its
    elements fill the shape in C order, and when there are fewer than the
    shape needs, the last one is repeated. Works for any dtype; Python floats
    into an integer dtype are a ``TypeError``, as in TF.

    Args:
      value: a Python scalar, list or tuple of values, or a ``numpy.ndarray``.
      dtype: the default dtype.
      verify_shape: require ``value``'s shape to equal the requested shape.

    Raises:
      TypeError: ``value`` has another type (at construction); at call time, a
        value that does not fit the dtype, or a shape mismatch under ``verify_shape``.
      ValueError: at call time, more values than the shape holds
        ("Too many elements provided. Needed at most N, but received M.").

    Example:
      >>> constant_initializer([1, 2, 3])([2, 3])
      array([[1., 2., 3.],
             [3., 3., 3.]], dtype=float32)
    """

    def __init__(self, value: Any = 0, dtype: Any = dtypes.float32, verify_shape: bool = False):
        if not (np.isscalar(value) or isinstance(value, (list, tuple, np.ndarray))):
            raise TypeError(
                f"Invalid type for initial value={value} of type: {type(value).__name__}. Expected Python scalar, "
                "list or tuple of values, or numpy.ndarray."
            )
        self.value = value
        self.dtype = dtypes.as_dtype(dtype)
        self._verify_shape = verify_shape

    def __call__(
        self,
        shape: Any,
        dtype: Any = None,
        partition_info: Any = None,
        verify_shape: bool | None = None,
        *,
        backend: Any = None,
    ) -> Any:
        """The constant for ``shape``; ``verify_shape`` overrides the constructor's (TF's signature)."""
        return self.bind(shape, dtype, partition_info, backend=backend, verify_shape=verify_shape)()

    def _validate(self, shape, dtype, partition_info, extra):
        verify_shape = extra.pop("verify_shape", None)
        super()._validate(shape, dtype, partition_info, extra)
        extra["verify_shape"] = self._verify_shape if verify_shape is None else bool(verify_shape)
        if not np.isscalar(self.value) or extra["verify_shape"]:
            # TF fails when the op is made; so do we.
            _constant_array(self.value, dtype, shape, extra["verify_shape"])
        else:
            _assert_compatible(self.value, dtype)

    def _generate(self, op: InitOp, backend: Any) -> Any:
        if np.isscalar(self.value) and not op._extra["verify_shape"]:
            with np.errstate(invalid="ignore", over="ignore"):
                scalar = np.asarray(self.value).astype(op.dtype)
            return _fill(backend, op.shape, op.dtype, scalar)
        return _upload(_constant_array(self.value, op.dtype, op.shape, op._extra["verify_shape"]), backend)

    def get_config(self) -> dict[str, Any]:
        # TF leaves verify_shape out of the config; so do we.
        return {"value": self.value, "dtype": self.dtype.name}


class Identity(Initializer):
    """Initializer that makes a (possibly scaled) identity matrix; 2-D shapes only.

    With ``partition_info``, the shard gets its slice of the full identity.

    Args:
      gain: the multiplier.
      dtype: the default dtype (floating).

    Raises:
      ValueError: a non-floating dtype, or a shape that is not 2-D.

    Example:
      >>> identity_initializer(gain=2.0)([2, 2])
      array([[2., 0.],
             [0., 2.]], dtype=float32)
    """

    def __init__(self, gain: float = 1.0, dtype: Any = dtypes.float32):
        self.gain = gain
        self.dtype = _assert_float_dtype(dtypes.as_dtype(dtype))

    def _validate(self, shape, dtype, partition_info, extra):
        super()._validate(shape, dtype, partition_info, extra)
        full_shape = shape if partition_info is None else partition_info.full_shape
        if len(full_shape) != 2:
            raise ValueError(
                "The tensor to initialize, specified by argument `shape` must be at least two-dimensional. "
                f"Received shape={list(shape)}"
            )
        _assert_float_dtype(dtype)

    def _generate(self, op: InitOp, backend: Any) -> Any:
        info = op.partition_info
        full = op.shape if info is None else tuple(info.full_shape)
        eye = np.eye(*full, dtype=op.dtype)
        if info is not None:
            r, c = info.var_offset
            eye = eye[r : r + op.shape[0], c : c + op.shape[1]]
        return _upload(np.ascontiguousarray(np.asarray(self.gain, op.dtype) * eye), backend)

    def get_config(self) -> dict[str, Any]:
        return {"gain": self.gain, "dtype": self.dtype.name}


# -- random ------------------------------------------------------------------------------------------------
class _RandomInitializer(Initializer):
    _random = True

    def _draw(self, op: InitOp, backend: Any, kind: str, **params: Any) -> Any:
        assert op.stream is not None
        return op.stream.next(kind, op.shape, op.dtype, backend, **params)


class RandomUniform(_RandomInitializer):
    """Initializer that draws uniformly from ``[minval, maxval)``.

    Floating dtypes (``maxval`` defaults to 1) and integer dtypes (``maxval``
    required; TensorFlow takes int32/int64 only, gpuvars every integer dtype).

    Args:
      minval: the lower bound (inclusive).
      maxval: the upper bound (exclusive); None for 1 with floating dtypes.
      seed: the op seed (see ``gpuvars.random.get_seed``).
      dtype: the default dtype.

    Raises:
      ValueError: at call time, an integer dtype without ``maxval``, or a dtype
        that is neither floating nor integer.

    Example:
      >>> x = random_uniform_initializer(-1.0, 1.0, seed=2)([1000])
      >>> bool((x >= -1).all() and (x < 1).all())
      True
    """

    def __init__(self, minval: Any = 0.0, maxval: Any = None, seed: int | None = None, dtype: Any = dtypes.float32):
        self.minval = minval
        self.maxval = maxval
        self.seed = seed
        self.dtype = dtypes.as_dtype(dtype)

    def _validate(self, shape, dtype, partition_info, extra):
        super()._validate(shape, dtype, partition_info, extra)
        if dtypes.is_integer(dtype):
            if self.maxval is None:
                raise ValueError(f"Must specify maxval for integer dtype {dtype}")
        elif not dtypes.is_floating(dtype):
            raise ValueError(
                f"Argument `dtype` got invalid value {dtype}. Accepted dtypes are floating and integer dtypes."
            )

    def _generate(self, op: InitOp, backend: Any) -> Any:
        return self._draw(op, backend, "uniform", minval=self.minval, maxval=self.maxval)

    def get_config(self) -> dict[str, Any]:
        return {"minval": self.minval, "maxval": self.maxval, "seed": self.seed, "dtype": self.dtype.name}


class RandomNormal(_RandomInitializer):
    """Initializer that draws from a normal distribution.

    Args:
      mean: the mean.
      stddev: the standard deviation.
      seed: the op seed (see ``gpuvars.random.get_seed``).
      dtype: the default dtype (floating).

    Raises:
      ValueError: a non-floating dtype (at construction or call).

    Example:
      >>> x = random_normal_initializer(mean=1.0, stddev=0.5, seed=2)([10000])
      >>> abs(float(x.mean()) - 1.0) < 0.05
      True
    """

    _kind = "normal"

    def __init__(self, mean: Any = 0.0, stddev: Any = 1.0, seed: int | None = None, dtype: Any = dtypes.float32):
        self.mean = mean
        self.stddev = stddev
        self.seed = seed
        self.dtype = _assert_float_dtype(dtypes.as_dtype(dtype))

    def _validate(self, shape, dtype, partition_info, extra):
        super()._validate(shape, dtype, partition_info, extra)
        _assert_float_dtype(dtype)

    def _generate(self, op: InitOp, backend: Any) -> Any:
        return self._draw(op, backend, self._kind, mean=self.mean, stddev=self.stddev)

    def get_config(self) -> dict[str, Any]:
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed, "dtype": self.dtype.name}


class TruncatedNormal(RandomNormal):
    """Initializer that draws from a normal distribution truncated at two standard deviations.

    Values farther than ``2 * stddev`` from ``mean`` are drawn again, as TF.

    Args:
      mean: the mean.
      stddev: the standard deviation of the normal before truncation.
      seed: the op seed (see ``gpuvars.random.get_seed``).
      dtype: the default dtype (floating).

    Raises:
      ValueError: a non-floating dtype (at construction or call).

    Example:
      >>> x = truncated_normal_initializer(stddev=0.1, seed=2)([1000])
      >>> bool((abs(x) <= 0.2).all())
      True
    """

    _kind = "truncated_normal"


class UniformUnitScaling(_RandomInitializer):
    """Uniform in ``[-m, m]``, ``m = factor * sqrt(3 / input_size)``, keeping the input's scale (deprecated in TF).

    ``input_size`` is the product of all but the last dimension of the full
    shape: ``full_shape`` when given (seed 002's argument, for shards made by
    hand), else ``partition_info.full_shape`` for a shard of a partitioned
    variable, else the shape asked for. So every shard uses the scale of the
    whole variable.

    Args:
      factor: the multiplier.
      seed: the op seed.
      dtype: the default dtype (floating).
      full_shape: None, or a list or tuple of ints: the shape the scale is computed from.

    Raises:
      ValueError: a non-floating dtype; a ``full_shape`` with an unknown or negative dimension.
      TypeError: a ``full_shape`` that is not a list, tuple or ``TensorShape`` of ints.

    Example:
      >>> x = uniform_unit_scaling_initializer(seed=1)([300, 10])
      >>> bool((abs(x) <= 0.1).all())
      True
      >>> uniform_unit_scaling_initializer(full_shape=[1200, 10]).max_val([300, 10])
      0.05
    """

    def __init__(
        self, factor: float = 1.0, seed: int | None = None, dtype: Any = dtypes.float32, full_shape: Any = None
    ):
        self.factor = factor
        self.seed = seed
        self.dtype = _assert_float_dtype(dtypes.as_dtype(dtype))
        self.full_shape = None if full_shape is None else list(_as_shape(full_shape))

    def _validate(self, shape, dtype, partition_info, extra):
        super()._validate(shape, dtype, partition_info, extra)
        _assert_float_dtype(dtype)

    def max_val(self, shape: Any, partition_info: Any = None) -> float:
        """The bound ``m`` used for ``shape`` (or for ``full_shape``, or ``partition_info.full_shape``)."""
        if self.full_shape is not None:
            scale_shape = list(self.full_shape)
        elif partition_info is not None:
            scale_shape = list(partition_info.full_shape)
        else:
            scale_shape = list(shape)
        input_size = 1.0
        for dim in scale_shape[:-1]:
            input_size *= float(dim)
        input_size = max(input_size, 1.0)
        return math.sqrt(3 / input_size) * self.factor

    def _generate(self, op: InitOp, backend: Any) -> Any:
        m = self.max_val(op.shape, op.partition_info)
        return self._draw(op, backend, "uniform", minval=-m, maxval=m)

    def get_config(self) -> dict[str, Any]:
        return {"factor": self.factor, "seed": self.seed, "dtype": self.dtype.name, "full_shape": self.full_shape}


class VarianceScaling(_RandomInitializer):
    """Initializer whose scale adapts to the shape of the weights, as TF 1.x's.

    ``n`` is ``fan_in``, ``fan_out`` or their mean (``mode``) of the full shape
    (``partition_info.full_shape`` for a shard). Then, with ``s = scale / max(1, n)``:
    ``truncated_normal`` (and its deprecated alias ``normal``) draws a normal
    with stddev ``sqrt(s) / 0.87962566103423978`` truncated at two standard
    deviations (so the result has variance ``s``); ``untruncated_normal`` a
    normal with stddev ``sqrt(s)``; ``uniform`` draws from ``[-sqrt(3s), sqrt(3s))``.

    Args:
      scale: positive float.
      mode: ``"fan_in"``, ``"fan_out"`` or ``"fan_avg"``.
      distribution: ``"truncated_normal"``, ``"untruncated_normal"``, ``"uniform"``
        or ``"normal"`` (case-insensitive).
      seed: the op seed.
      dtype: the default dtype (floating).

    Raises:
      ValueError: a non-positive scale, an unknown mode or distribution, a non-floating dtype.

    Example:
      >>> x = variance_scaling_initializer(2.0, "fan_in", "untruncated_normal", seed=0)([500, 100])
      >>> abs(float(x.var()) - 2.0 / 500) < 4e-4
      True
    """

    def __init__(
        self,
        scale: float = 1.0,
        mode: str = "fan_in",
        distribution: str = "truncated_normal",
        seed: int | None = None,
        dtype: Any = dtypes.float32,
    ):
        if scale <= 0.0:
            raise ValueError(f"Argument `scale` must be a positive float. Received: {scale}")
        if mode not in {"fan_in", "fan_out", "fan_avg"}:
            raise ValueError(f"Argument `mode` should be one of ('fan_in', 'fan_out', 'fan_avg'). Received: {mode}")
        distribution = distribution.lower()
        if distribution not in {"normal", "uniform", "truncated_normal", "untruncated_normal"}:
            raise ValueError(
                "Argument `distribution` should be one of ('normal', uniform', 'truncated_normal', "
                f"'untruncated_normal'). Received: {distribution}"
            )
        self.scale = scale
        self.mode = mode
        self.distribution = distribution
        self.seed = seed
        self.dtype = _assert_float_dtype(dtypes.as_dtype(dtype))

    def _validate(self, shape, dtype, partition_info, extra):
        super()._validate(shape, dtype, partition_info, extra)
        _assert_float_dtype(dtype)

    def effective_scale(self, shape: Any, partition_info: Any = None) -> float:
        """``scale / max(1, n)`` for ``shape`` (or ``partition_info.full_shape``): the target variance."""
        scale_shape = list(shape) if partition_info is None else list(partition_info.full_shape)
        fan_in, fan_out = compute_fans(scale_shape)
        if self.mode == "fan_in":
            return self.scale / max(1.0, fan_in)
        if self.mode == "fan_out":
            return self.scale / max(1.0, fan_out)
        return self.scale / max(1.0, (fan_in + fan_out) / 2.0)

    def _generate(self, op: InitOp, backend: Any) -> Any:
        scale = self.effective_scale(op.shape, op.partition_info)
        if self.distribution in ("normal", "truncated_normal"):
            stddev = math.sqrt(scale) / TRUNCATED_STDDEV_CORRECTION
            return self._draw(op, backend, "truncated_normal", mean=0.0, stddev=stddev)
        if self.distribution == "untruncated_normal":
            return self._draw(op, backend, "normal", mean=0.0, stddev=math.sqrt(scale))
        limit = math.sqrt(3.0 * scale)
        return self._draw(op, backend, "uniform", minval=-limit, maxval=limit)

    def get_config(self) -> dict[str, Any]:
        return {
            "scale": self.scale,
            "mode": self.mode,
            "distribution": self.distribution,
            "seed": self.seed,
            "dtype": self.dtype.name,
        }


class GlorotUniform(VarianceScaling):
    """Glorot (Xavier) uniform: ``[-limit, limit)`` with ``limit = sqrt(6 / (fan_in + fan_out))``.

    ``VarianceScaling(1.0, "fan_avg", "uniform")``. TF 1.x ignores the
    ``dtype`` argument of this constructor (always float32); gpuvars uses it.

    Args:
      seed: the op seed.
      dtype: the default dtype (floating).

    Example:
      >>> x = glorot_uniform_initializer(seed=1)([20, 30])
      >>> bool((abs(x) <= (6 / 50) ** 0.5).all())
      True
    """

    def __init__(self, seed: int | None = None, dtype: Any = dtypes.float32):
        super().__init__(scale=1.0, mode="fan_avg", distribution="uniform", seed=seed, dtype=dtype)

    def get_config(self) -> dict[str, Any]:
        return {"seed": self.seed, "dtype": self.dtype.name}


class GlorotNormal(VarianceScaling):
    """Glorot (Xavier) normal: truncated normal with variance ``2 / (fan_in + fan_out)``.

    ``VarianceScaling(1.0, "fan_avg", "truncated_normal")``. TF 1.x ignores the
    ``dtype`` argument of this constructor (always float32); gpuvars uses it.

    Args:
      seed: the op seed.
      dtype: the default dtype (floating).

    Example:
      >>> x = glorot_normal_initializer(seed=1)([200, 300])
      >>> abs(float(x.var()) - 2 / 500) < 2e-4
      True
    """

    def __init__(self, seed: int | None = None, dtype: Any = dtypes.float32):
        super().__init__(scale=1.0, mode="fan_avg", distribution="truncated_normal", seed=seed, dtype=dtype)

    def get_config(self) -> dict[str, Any]:
        return {"seed": self.seed, "dtype": self.dtype.name}


class Orthogonal(_RandomInitializer):
    """Initializer that makes an orthogonal matrix (Saxe et al. 2014), times ``gain``.

    The shape is flattened to ``(prod(shape[:-1]), shape[-1])``; a standard
    normal matrix of that shape (transposed when it is wide) is drawn, its QR
    decomposition taken and ``Q``'s columns multiplied by the signs of ``R``'s
    diagonal, as TF does. Rows (or columns, for a wide shape) are orthonormal.
    The draw is float64 and the QR is computed on the host with NumPy, then
    the result is cast and copied to the backend, so every device gets the same
    values.

    Args:
      gain: the multiplier.
      seed: the op seed.
      dtype: the default dtype (floating).

    Raises:
      ValueError: a non-floating dtype, or a shape of rank below 2.

    Example:
      >>> q = orthogonal_initializer(seed=1)([4, 4])
      >>> bool(np.allclose(q.T @ q, np.eye(4), atol=1e-5))
      True
    """

    def __init__(self, gain: float = 1.0, seed: int | None = None, dtype: Any = dtypes.float32):
        self.gain = gain
        self.dtype = _assert_float_dtype(dtypes.as_dtype(dtype))
        self.seed = seed

    def _validate(self, shape, dtype, partition_info, extra):
        super()._validate(shape, dtype, partition_info, extra)
        if len(shape) < 2:
            raise ValueError(
                "The tensor to initialize, specified by argument `shape` must be at least two-dimensional. "
                f"Received shape={list(shape)}"
            )
        _assert_float_dtype(dtype)

    def _generate(self, op: InitOp, backend: Any) -> Any:
        assert op.stream is not None
        num_rows = math.prod(op.shape[:-1])
        num_cols = op.shape[-1]
        flat_shape = (num_cols, num_rows) if num_rows < num_cols else (num_rows, num_cols)
        a = op.stream.next("normal", flat_shape, dtypes.float64)  # on the host, whatever the backend
        if a.size:
            q, r = np.linalg.qr(a)
            q = q * np.sign(np.diag(r))
        else:
            q = a
        if num_rows < num_cols:
            q = q.T
        value = (self.gain * q).astype(op.dtype).reshape(op.shape)
        return _upload(np.ascontiguousarray(value), backend)

    def get_config(self) -> dict[str, Any]:
        return {"gain": self.gain, "seed": self.seed, "dtype": self.dtype.name}


# -- TF 1.x's lowercase names ------------------------------------------------------------------------------
def _is_shape(value: Any) -> bool:
    return isinstance(value, (list, tuple)) or hasattr(value, "as_list")


def _class_or_fill(cls: type[Zeros] | type[Ones], fill: str, shape: Any, dtype: Any, partition_info: Any) -> Any:
    if _is_shape(shape):  # seed 002's adaptor: the value itself
        from gpuvars import array_ops  # lazy: array_ops sits above the initializers

        return getattr(array_ops, fill)(shape, dtypes.float32 if dtype is None else dtype)
    if partition_info is not None:
        raise TypeError(
            f"{fill}_initializer got partition_info without a shape: pass a shape (list, tuple or TensorShape) "
            f"first, as {fill}_initializer(shape, dtype, partition_info). Received shape={shape!r}"
        )
    if shape is not None:  # TF 1.x's positional dtype: zeros_initializer(tf.int32)
        if dtype is not None:
            raise TypeError(
                f"{fill}_initializer got two dtypes: {shape!r} and dtype={dtype!r}. Expected a shape (list, tuple "
                "or TensorShape) first, or one dtype."
            )
        dtype = shape
    return cls(dtypes.float32 if dtype is None else dtype)


def zeros_initializer(shape: Any = None, dtype: Any = None, partition_info: Any = None) -> Any:
    """``Zeros(dtype)`` (TF 1.x), or, given a shape first, a zeros tensor (seed 002's adaptor for ``zeros()``).

    ``zeros_initializer()``, ``zeros_initializer(dtype=tf.int32)`` and
    ``zeros_initializer(tf.int32)`` make a ``Zeros`` initializer.
    ``zeros_initializer(shape, dtype=tf.float32, partition_info=None)`` with a
    list, tuple or ``TensorShape`` returns ``gpuvars.zeros(shape, dtype)``, a
    deferred ``Tensor``; ``partition_info`` is ignored, as in TF. Passed
    uncalled as ``get_variable``'s ``initializer``, it is instantiated.

    Args:
      shape: a shape (the function form), or a dtype, or None (the class form).
      dtype: the dtype; None for float32.
      partition_info: ignored (function form only).

    Returns:
      A ``Zeros`` initializer, or a ``Tensor`` of zeros.

    Raises:
      TypeError: an unknown dtype, two dtypes, or ``partition_info`` without a shape.

    Example:
      >>> zeros_initializer(dtype="int32")([2])
      array([0, 0], dtype=int32)
      >>> zeros_initializer([2], "int32").numpy()
      array([0, 0], dtype=int32)
    """
    return _class_or_fill(Zeros, "zeros", shape, dtype, partition_info)


def ones_initializer(shape: Any = None, dtype: Any = None, partition_info: Any = None) -> Any:
    """``Ones(dtype)`` (TF 1.x), or, given a shape first, a ones tensor (seed 002's adaptor for ``ones()``).

    The same forms as ``zeros_initializer``.

    Args:
      shape: a shape (the function form), or a dtype, or None (the class form).
      dtype: the dtype; None for float32.
      partition_info: ignored (function form only).

    Returns:
      A ``Ones`` initializer, or a ``Tensor`` of ones.

    Raises:
      TypeError: an unknown dtype, two dtypes, or ``partition_info`` without a shape.

    Example:
      >>> ones_initializer()([2], "bool")
      array([ True,  True])
      >>> ones_initializer((2,)).numpy()
      array([1., 1.], dtype=float32)
    """
    return _class_or_fill(Ones, "ones", shape, dtype, partition_info)


constant_initializer = Constant
random_uniform_initializer = RandomUniform
random_normal_initializer = RandomNormal
truncated_normal_initializer = TruncatedNormal
uniform_unit_scaling_initializer = UniformUnitScaling
variance_scaling_initializer = VarianceScaling
glorot_uniform_initializer = GlorotUniform
glorot_normal_initializer = GlorotNormal
orthogonal_initializer = Orthogonal
identity_initializer = Identity


def lecun_normal(seed: int | None = None) -> VarianceScaling:
    """LeCun normal: ``VarianceScaling(1.0, "fan_in", "truncated_normal")``."""
    return VarianceScaling(scale=1.0, mode="fan_in", distribution="truncated_normal", seed=seed)


def lecun_uniform(seed: int | None = None) -> VarianceScaling:
    """LeCun uniform: ``VarianceScaling(1.0, "fan_in", "uniform")``."""
    return VarianceScaling(scale=1.0, mode="fan_in", distribution="uniform", seed=seed)


def he_normal(seed: int | None = None) -> VarianceScaling:
    """He normal: ``VarianceScaling(2.0, "fan_in", "truncated_normal")``."""
    return VarianceScaling(scale=2.0, mode="fan_in", distribution="truncated_normal", seed=seed)


def he_uniform(seed: int | None = None) -> VarianceScaling:
    """He uniform: ``VarianceScaling(2.0, "fan_in", "uniform")``."""
    return VarianceScaling(scale=2.0, mode="fan_in", distribution="uniform", seed=seed)


# -- serialization (meta graphs) ---------------------------------------------------------------------------
_CLASSES: dict[str, type[Initializer]] = {
    cls.__name__: cls
    for cls in (
        Zeros,
        Ones,
        Constant,
        Identity,
        RandomUniform,
        RandomNormal,
        TruncatedNormal,
        UniformUnitScaling,
        VarianceScaling,
        GlorotUniform,
        GlorotNormal,
        Orthogonal,
    )
}


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def serialize(initializer: Initializer) -> dict[str, Any]:
    """``{"class_name": ..., "config": ...}`` with JSON-friendly values (arrays become lists).

    Args:
      initializer: one of this module's initializers.

    Returns:
      A dict that ``deserialize`` turns back into an equal initializer.

    Raises:
      ValueError: an initializer class this module does not define (e.g. a user subclass).

    Example:
      >>> deserialize(serialize(glorot_uniform_initializer(seed=3))).seed
      3
    """
    name = type(initializer).__name__
    if _CLASSES.get(name) is not type(initializer):
        raise ValueError(f"Cannot serialize initializer of class {name}; expected one of {sorted(_CLASSES)}.")
    return {"class_name": name, "config": {k: _jsonable(v) for k, v in initializer.get_config().items()}}


def deserialize(config: dict[str, Any]) -> Initializer:
    """The initializer ``serialize`` described.

    Args:
      config: ``{"class_name": ..., "config": ...}``.

    Returns:
      An ``Initializer``.

    Raises:
      ValueError: an unknown class name.
    """
    name = config.get("class_name")
    if name not in _CLASSES:
        raise ValueError(f"Unknown initializer class {name!r}; expected one of {sorted(_CLASSES)}.")
    return _CLASSES[name].from_config(dict(config.get("config", {})))
