"""NumPy reference implementations of every kernel, with the kernels' signatures.

These define the results the CUDA kernels must reproduce (tests compare the
two on random data with duplicate indices), and they are what ``/cpu:0``
runs wherever NumPy is as fast as the host-compiled kernels.
"""

from __future__ import annotations

import numpy as np

from gpuvars import errors
from gpuvars.backends.base import check_indices, check_nd_indices

__all__ = ["assign", "assign_add", "assign_sub", "scatter", "scatter_nd", "count_up_to"]

_UFUNC_AT = {
    "add": np.add,
    "sub": np.subtract,
    "mul": np.multiply,
    "div": np.true_divide,
    "min": np.minimum,
    "max": np.maximum,
}


def assign(dst: np.ndarray, src) -> None:
    np.copyto(dst, src, casting="same_kind")


def assign_add(dst: np.ndarray, src) -> None:
    np.add(dst, src, out=dst, casting="same_kind")


def assign_sub(dst: np.ndarray, src) -> None:
    np.subtract(dst, src, out=dst, casting="same_kind")


def _div_at(ref: np.ndarray, indices: np.ndarray, updates: np.ndarray) -> None:
    if ref.dtype.kind in "iu":
        # TF's integer scatter_div truncates toward zero, like C.
        for i, row in zip(indices.tolist(), updates):
            q = np.trunc(ref[i] / row) if ref.dtype.kind == "i" else ref[i] // row
            ref[i] = q.astype(ref.dtype)
    else:
        np.true_divide.at(ref, indices, updates)


def scatter(op: str, ref: np.ndarray, indices: np.ndarray, updates: np.ndarray, *, locked: bool = False,
            deterministic: bool = False) -> None:
    """``ref[indices[i]] op= updates[i]``, sequentially: last occurrence wins for ``update``."""
    check_indices(indices, ref.shape[0])
    if op == "update":
        # Fancy assignment writes occurrences in order, so the last one wins.
        ref[indices] = updates
    elif op == "div":
        with np.errstate(divide="ignore", invalid="ignore"):
            _div_at(ref, indices, updates)
    else:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            _UFUNC_AT[op].at(ref, indices, updates)


def scatter_nd(op: str, ref: np.ndarray, indices: np.ndarray, updates: np.ndarray, *, locked: bool = False,
               deterministic: bool = False) -> None:
    """``ref[tuple(indices[i])] op= updates[i]`` for ``indices`` of shape ``(N, K)``."""
    check_nd_indices(indices, ref.shape)
    k = indices.shape[-1]
    where = tuple(indices[:, j] for j in range(k))
    if op == "update":
        ref[where] = updates
    else:
        _UFUNC_AT[op].at(ref, where, updates)


def count_up_to(ref: np.ndarray, limit: int) -> int:
    old = int(ref)
    if old >= limit:
        raise errors.OutOfRangeError(None, None, f"Reached limit of {limit}")
    ref[...] = old + 1
    return old
