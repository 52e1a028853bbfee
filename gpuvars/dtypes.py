"""Dtype names, and the codes NumPy, CuPy, the kernels and safetensors use.

A dtype is a ``numpy.dtype`` everywhere in gpuvars. ``as_dtype`` accepts what
TensorFlow users write: ``"float32"``, ``np.float32``, ``gpuvars.float32``,
``tf.float32``-style objects with ``as_numpy_dtype``.
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


def _bfloat16() -> np.dtype | None:
    try:  # ml_dtypes ships with JAX/TF; bfloat16 exists only where it is installed.
        import ml_dtypes  # type: ignore[import-not-found]
    except ImportError:
        return None
    return np.dtype(ml_dtypes.bfloat16)


bfloat16 = _bfloat16()

SUPPORTED: tuple[np.dtype, ...] = tuple(
    d
    for d in (
        float16, float32, float64, bfloat16, int8, int16, int32, int64,
        uint8, uint16, uint32, uint64, bool_, complex64, complex128,
    )
    if d is not None
)

# The suffix of a kernel entry point for each dtype (kernels/*.cu).
_SUFFIX = {
    float16: "f16", float32: "f32", float64: "f64",
    int8: "i8", int16: "i16", int32: "i32", int64: "i64",
    uint8: "u8", uint16: "u16", uint32: "u32", uint64: "u64",
    bool_: "b8", complex64: "c64", complex128: "c128",
}
if bfloat16 is not None:
    _SUFFIX[bfloat16] = "bf16"


def as_dtype(value: Any) -> np.dtype:
    """Convert a dtype-like to a ``numpy.dtype``.

    Raises:
      TypeError: the value does not name a dtype gpuvars supports.
    """
    if isinstance(value, np.dtype):
        dt = value
    else:
        value = getattr(value, "as_numpy_dtype", value)
        if isinstance(value, str) and value == "bfloat16" and bfloat16 is not None:
            return bfloat16
        try:
            dt = np.dtype(value)
        except TypeError:
            raise TypeError(
                f"Expected a dtype such as 'float32' or numpy.float32. Received: {value!r}"
            ) from None
    if dt not in SUPPORTED:
        names = ", ".join(str(d) for d in SUPPORTED)
        raise TypeError(f"Expected one of the supported dtypes ({names}). Received: {dt}")
    return dt


def can_cast(src: np.dtype, dst: np.dtype) -> bool:
    """NumPy's "same_kind" rule: float64 into float32 is fine, float into int is not."""
    return bool(np.can_cast(src, dst, casting="same_kind"))


def is_floating(dt: np.dtype) -> bool:
    return dt.kind == "f" or (bfloat16 is not None and dt == bfloat16)


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
