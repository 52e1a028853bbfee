"""Dtype names, and the codes NumPy, CuPy, the kernels and safetensors use.

A dtype is a ``numpy.dtype`` everywhere in gpuvars. ``as_dtype`` accepts what
TensorFlow users write: ``"float32"``, ``np.float32``, ``gpuvars.float32``,
``tf.float32``-style objects with ``as_numpy_dtype``; anything else (``None``
included: NumPy would read it as float64) is a ``TypeError`` saying what was
expected.

Two TensorFlow names exist that gpuvars cannot always honour. ``bfloat16`` is
the real dtype where the ``ml_dtypes`` package is installed (``HAS_BFLOAT16``);
elsewhere it, like ``string`` always, is an ``UnavailableDtype``: importing or
printing it works, using it as a dtype (``as_dtype``, ``np.dtype``, a variable's
``dtype=``) raises ``TypeError`` saying why, never silently another dtype.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "as_dtype",
    "can_cast",
    "is_floating",
    "is_integer",
    "is_complex",
    "kernel_suffix",
    "SUPPORTED",
    "HAS_BFLOAT16",
    "UnavailableDtype",
    "string",
    "float16",
    "float32",
    "float64",
    "bfloat16",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "bool_",
    "complex64",
    "complex128",
]

float16 = np.dtype(np.float16)
float32 = np.dtype(np.float32)
float64 = np.dtype(np.float64)
int8 = np.dtype(np.int8)
int16 = np.dtype(np.int16)
int32 = np.dtype(np.int32)
int64 = np.dtype(np.int64)
uint8 = np.dtype(np.uint8)
uint16 = np.dtype(np.uint16)
uint32 = np.dtype(np.uint32)
uint64 = np.dtype(np.uint64)
bool_ = np.dtype(np.bool_)
complex64 = np.dtype(np.complex64)
complex128 = np.dtype(np.complex128)


class UnavailableDtype:
    """A TensorFlow dtype name gpuvars exports but cannot use here; any use as a dtype raises ``TypeError``.

    ``as_dtype`` rejects it, and so does NumPy (``np.dtype(x)``,
    ``np.zeros(2, x)``) through the ``dtype`` attribute, with the reason.

    Attributes:
      name: the TensorFlow name (``"bfloat16"``, ``"string"``).
      reason: the message of the ``TypeError``.

    Example:
      >>> string.name
      'string'
      >>> as_dtype(string)
      Traceback (most recent call last):
      ...
      TypeError: gpuvars variables hold numbers; string dtypes are not supported
    """

    __slots__ = ("name", "reason")

    def __init__(self, name: str, reason: str):
        self.name = name
        self.reason = reason

    @property
    def dtype(self) -> np.dtype:
        raise TypeError(self.reason)

    @property
    def as_numpy_dtype(self) -> Any:
        raise TypeError(self.reason)

    def __repr__(self) -> str:
        return f"<unavailable dtype {self.name}: {self.reason}>"


_STRING_REASON = "gpuvars variables hold numbers; string dtypes are not supported"
_BFLOAT16_REASON = "bfloat16 needs the ml_dtypes package: pip install ml_dtypes"

#: TF's ``tf.string``: never a variable dtype in gpuvars.
string = UnavailableDtype("string", _STRING_REASON)


def _bfloat16() -> np.dtype | UnavailableDtype:
    try:  # ml_dtypes ships with JAX/TF; bfloat16 exists only where it is installed.
        import ml_dtypes  # type: ignore[import-not-found]
    except ImportError:
        return UnavailableDtype("bfloat16", _BFLOAT16_REASON)
    return np.dtype(ml_dtypes.bfloat16)


bfloat16 = _bfloat16()
#: Whether ``bfloat16`` is a real dtype here (``ml_dtypes`` is installed).
HAS_BFLOAT16: bool = isinstance(bfloat16, np.dtype)

SUPPORTED: tuple[np.dtype, ...] = tuple(
    d
    for d in (
        float16, float32, float64, bfloat16, int8, int16, int32, int64,
        uint8, uint16, uint32, uint64, bool_, complex64, complex128,
    )
    if isinstance(d, np.dtype)
)

# The suffix of a kernel entry point for each dtype (kernels/*.cu).
_SUFFIX = {
    float16: "f16", float32: "f32", float64: "f64",
    int8: "i8", int16: "i16", int32: "i32", int64: "i64",
    uint8: "u8", uint16: "u16", uint32: "u32", uint64: "u64",
    bool_: "b8", complex64: "c64", complex128: "c128",
}
if isinstance(bfloat16, np.dtype):
    _SUFFIX[bfloat16] = "bf16"


def as_dtype(value: Any) -> np.dtype:
    """Convert a dtype-like to a ``numpy.dtype``.

    Raises:
      TypeError: the value does not name a dtype gpuvars supports: ``None``
        (which NumPy would read as float64), a string dtype, ``bfloat16``
        without ``ml_dtypes``, or anything else that is not a dtype.

    Example:
      >>> as_dtype("float32")
      dtype('float32')
      >>> as_dtype(None)
      Traceback (most recent call last):
      ...
      TypeError: Cannot convert None to a dtype. Expected a dtype such as 'float32' or numpy.float32.
    """
    if isinstance(value, np.dtype):
        dt = value
    else:
        if value is None:
            raise TypeError("Cannot convert None to a dtype. Expected a dtype such as 'float32' or numpy.float32.")
        if isinstance(value, UnavailableDtype):
            raise TypeError(value.reason)
        value = getattr(value, "as_numpy_dtype", value)
        if isinstance(value, str) and value == "bfloat16":
            if isinstance(bfloat16, UnavailableDtype):
                raise TypeError(bfloat16.reason)
            return bfloat16
        if isinstance(value, str) and value == "string":
            raise TypeError(_STRING_REASON)
        try:
            dt = np.dtype(value)
        except TypeError as err:
            if isinstance(value, UnavailableDtype):  # as_numpy_dtype gave one
                raise TypeError(value.reason) from None
            raise TypeError(
                f"Expected a dtype such as 'float32' or numpy.float32. Received: {value!r} ({err})"
            ) from None
    if dt not in SUPPORTED:
        names = ", ".join(str(d) for d in SUPPORTED)
        why = f"{_STRING_REASON}. " if dt.kind in "SU" else ""
        raise TypeError(f"{why}Expected one of the supported dtypes ({names}). Received: {dt}")
    return dt


def can_cast(src: np.dtype, dst: np.dtype) -> bool:
    """NumPy's "same_kind" rule: float64 into float32 is fine, float into int is not."""
    return bool(np.can_cast(src, dst, casting="same_kind"))


def is_floating(dt: np.dtype) -> bool:
    return dt.kind == "f" or (HAS_BFLOAT16 and dt == bfloat16)


def is_integer(dt: np.dtype) -> bool:
    return dt.kind in "iu"


def is_complex(dt: np.dtype) -> bool:
    return dt.kind == "c"


def kernel_suffix(dt: np.dtype) -> str:
    """The kernel entry-point suffix for ``dt`` (``float32`` → ``"f32"``)."""
    try:
        return _SUFFIX[np.dtype(dt)]
    except KeyError:
        raise TypeError(f"No kernels for dtype {dt}. Expected one of {sorted(_SUFFIX.values())}.") from None
