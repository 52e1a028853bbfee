"""Seeds and the one counter-based generator every device uses (SPEC §6).

Every random value gpuvars makes comes from Philox4x32-10 (Salmon et al.,
"Parallel random numbers: as easy as 1, 2, 3", SC'11; the Random123 constants).
A draw is a pure function of ``(key, counter, element index)``, so ``/cpu:0``
(this module's NumPy reference), emulated GPUs and CUDA GPUs (``kernels/philox.cu``)
produce the same values for the same seeds: uniform draws bit-identical, normal
draws within 2 ulp (the device's ``log``/``cos``/``sin`` may differ by an ulp).

The contract ``kernels/philox.cu`` implements, element ``i`` of a draw of ``n``
elements in C order:

* key ``(k0, k1)``: two uint32 words, from the seeds (``key_from_seeds``);
* counter ``(c0, c1, c2, c3)``: ``(c0, c1)`` the 64-bit block index ``b`` (``c0``
  the low word), ``c2`` the low 32 bits of the run ``counter``, ``c3`` the
  attempt (0 except for ``truncated_normal``);
* Philox4x32-10: ten rounds of ``(x0, x1, x2, x3) <- (hi(M1*x2) ^ x1 ^ k0,
  lo(M1*x2), hi(M0*x0) ^ x3 ^ k1, lo(M0*x0))`` with the key bumped by
  ``(W0, W1)`` between rounds; ``M0 = 0xD2511F53``, ``M1 = 0xCD9E8D57``,
  ``W0 = 0x9E3779B9``, ``W1 = 0xBB67AE85``;
* ``bits`` (uint32): block ``i // 4``, lane ``i % 4``;
* ``uniform`` float32: ``(bits_i >> 8) * 2**-24`` in ``[0, 1)``; float16 and
  bfloat16: that float32 value rounded to the dtype (which may round up to 1.0:
  ``draw`` clamps it below 1);
* ``uniform`` float64: block ``i // 2``, lanes ``(a, b) = (2*(i%2), 2*(i%2)+1)``,
  ``((a >> 5) * 67108864.0 + (b >> 6)) * 2**-53`` in ``[0, 1)``;
* ``normal``: block ``i // 2``; ``u1`` from lanes (0, 1) and ``u2`` from lanes
  (2, 3) by the float64 rule; ``r = sqrt(-2.0 * log(1.0 - u1))``,
  ``t = 6.283185307179586 * u2``; even ``i`` gets ``r * cos(t)``, odd ``i``
  ``r * sin(t)``; computed in float64, then rounded to the dtype;
* ``truncated_normal``: element ``i`` takes the normal rule with ``c3 = 0, 1, …``
  and keeps the first value with ``|z| <= 2.0``; after 64 rejected attempts it
  is 0.0 (probability 0.0455**64, never in practice).

Seeds follow TensorFlow 1.x (``tf.compat.v1.get_seed``): a graph seed set with
``set_random_seed`` and an op seed. A ``RandomStream`` is one random op: a key
fixed when the op is made plus a run counter, so each run draws anew while the
same seeds in a fresh graph replay the same sequence.
"""

from __future__ import annotations

import math
import operator
import secrets
import threading
from typing import Any

import numpy as np

from gpuvars import dtypes, errors

__all__ = [
    "DEFAULT_GRAPH_SEED",
    "KINDS",
    "RandomStream",
    "draw",
    "get_seed",
    "key_from_seeds",
    "philox4x32",
    "philox_reference",
    "set_random_seed",
]

#: The graph seed TensorFlow uses when only an op seed is given.
DEFAULT_GRAPH_SEED = 87654321
_MAXINT32 = 2**31 - 1

#: What a backend's ``random`` hook can draw.
KINDS = ("bits", "uniform", "normal", "truncated_normal")

#: ``truncated_normal`` keeps values with ``|z| <= TRUNCATION_BOUND``.
TRUNCATION_BOUND = 2.0
#: ``truncated_normal`` gives up on an element (value 0.0) after this many attempts.
MAX_ATTEMPTS = 64

_M0 = np.uint64(0xD2511F53)
_M1 = np.uint64(0xCD9E8D57)
_W0 = 0x9E3779B9
_W1 = 0xBB67AE85
_MASK32 = 0xFFFFFFFF
_MASK64 = 0xFFFFFFFFFFFFFFFF
_TWO_PI = 6.283185307179586
# Elements per chunk in the reference, a multiple of 4: bounds temporaries to a few tens of MB.
_CHUNK = 1 << 20


# -- the generator -----------------------------------------------------------------------------------------
def philox4x32(counter: Any, key: tuple[int, int], rounds: int = 10) -> tuple[np.ndarray, ...]:
    """Philox4x32 over arrays of counters (the Random123 reference, vectorized).

    Args:
      counter: four array-likes (broadcastable) of 32-bit counter words ``(c0, c1, c2, c3)``.
      key: two 32-bit key words ``(k0, k1)``.
      rounds: the number of rounds (10 for Philox4x32-10).

    Returns:
      Four uint32 arrays, the output words ``(x0, x1, x2, x3)``.

    Example:
      >>> [hex(int(w)) for w in philox4x32((0, 0, 0, 0), (0, 0))]
      ['0x6627e8d5', '0xe169c58d', '0xbc57ac4c', '0x9b00dbd8']
    """
    c0, c1, c2, c3 = (np.asarray(c, dtype=np.uint64) & np.uint64(_MASK32) for c in counter)
    words = _philox_u64(c0, c1, c2, c3, key, rounds)
    return tuple(w.astype(np.uint32) for w in words)


def _philox_u64(
    c0: np.ndarray, c1: np.ndarray, c2: np.ndarray, c3: np.ndarray, key: tuple[int, int], rounds: int = 10
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    # Words are uint64 arrays holding 32-bit values, so a 32x32 product never overflows (mulhilo).
    mask = np.uint64(_MASK32)
    shift = np.uint64(32)
    k0, k1 = int(key[0]) & _MASK32, int(key[1]) & _MASK32
    for r in range(rounds):
        if r:
            k0, k1 = (k0 + _W0) & _MASK32, (k1 + _W1) & _MASK32
        p0 = _M0 * c0
        p1 = _M1 * c2
        c0, c1, c2, c3 = (p1 >> shift) ^ c1 ^ np.uint64(k0), p1 & mask, (p0 >> shift) ^ c3 ^ np.uint64(k1), p0 & mask
    return c0, c1, c2, c3


def _blocks(
    first: int, stop: int, key: tuple[int, int], counter: int, attempt: int = 0, index: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Philox output for blocks ``first..stop-1`` (or the block numbers in ``index``)."""
    b = np.arange(first, stop, dtype=np.uint64) if index is None else index.astype(np.uint64)
    shape = b.shape
    c2 = np.full(shape, int(counter) & _MASK32, dtype=np.uint64)
    c3 = np.full(shape, int(attempt) & _MASK32, dtype=np.uint64)
    return _philox_u64(b & np.uint64(_MASK32), b >> np.uint64(32), c2, c3, key)


def _u53(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Two 32-bit words to a float64 in [0, 1) with 53 random bits (exact arithmetic)."""
    hi = (a >> np.uint64(5)).astype(np.float64)
    lo = (b >> np.uint64(6)).astype(np.float64)
    return (hi * 67108864.0 + lo) * 2.0**-53


def _box_muller(x: tuple[np.ndarray, ...]) -> tuple[np.ndarray, np.ndarray]:
    u1 = _u53(x[0], x[1])
    u2 = _u53(x[2], x[3])
    r = np.sqrt(-2.0 * np.log(1.0 - u1))
    t = _TWO_PI * u2
    return r * np.cos(t), r * np.sin(t)


def _bits_range(start: int, stop: int, key, counter) -> np.ndarray:
    x = _blocks(start // 4, (stop + 3) // 4, key, counter)
    return np.stack(x, axis=1).reshape(-1)[: stop - start].astype(np.uint32)


def _uniform64_range(start: int, stop: int, key, counter) -> np.ndarray:
    x = _blocks(start // 2, (stop + 1) // 2, key, counter)
    out = np.stack((_u53(x[0], x[1]), _u53(x[2], x[3])), axis=1)
    return out.reshape(-1)[: stop - start]


def _normal_range(start: int, stop: int, key, counter) -> np.ndarray:
    z0, z1 = _box_muller(_blocks(start // 2, (stop + 1) // 2, key, counter))
    return np.stack((z0, z1), axis=1).reshape(-1)[: stop - start]


def _truncated_range(start: int, stop: int, key, counter) -> np.ndarray:
    z = _normal_range(start, stop, key, counter)
    bad = np.abs(z) > TRUNCATION_BOUND
    attempt = 1
    while attempt < MAX_ATTEMPTS and bad.any():
        where = np.flatnonzero(bad)
        element = where + start
        z0, z1 = _box_muller(_blocks(0, 0, key, counter, attempt, index=element // 2))
        fresh = np.where(element % 2 == 0, z0, z1)
        z[where] = fresh
        bad[where] = np.abs(fresh) > TRUNCATION_BOUND
        attempt += 1
    z[bad] = 0.0
    return z


def _check_kind(kind: str, dtype: np.dtype) -> None:
    if kind not in KINDS:
        raise ValueError(f"Argument `kind` must be one of {KINDS}. Received: {kind!r}")
    if kind == "bits":
        if dtype != dtypes.uint32:
            raise ValueError(f"Random bits are uint32. Received dtype: {dtype}")
    elif not dtypes.is_floating(dtype):
        raise ValueError(f"Argument `dtype` is expected to be floating point for {kind!r} draws. Received: {dtype}.")


def philox_reference(kind: str, shape: Any, dtype: Any, key: tuple[int, int], counter: int) -> np.ndarray:
    """The NumPy reference of a backend's ``random`` hook: raw draws, no parameters.

    Args:
      kind: ``"bits"`` (uint32), ``"uniform"`` (``[0, 1)``), ``"normal"`` or
        ``"truncated_normal"`` (mean 0, stddev 1, ``|z| <= 2``).
      shape: the output shape.
      dtype: uint32 for ``bits``, a floating dtype otherwise.
      key: the two uint32 key words.
      counter: the run counter (its low 32 bits are used).

    Returns:
      A host NumPy array of ``shape`` and ``dtype`` (see the module docstring
      for the exact element rule every device follows).

    Raises:
      ValueError: an unknown kind, or a dtype the kind does not make.

    Example:
      >>> u = philox_reference("uniform", (2, 3), "float32", key=(1, 2), counter=0)
      >>> u.shape, u.dtype
      ((2, 3), dtype('float32'))
    """
    dtype = dtypes.as_dtype(dtype)
    _check_kind(kind, dtype)
    shape = tuple(operator.index(d) for d in shape)
    n = math.prod(shape)
    if kind == "bits" or (kind == "uniform" and dtype != dtypes.float64):
        work = np.empty(n, dtype=np.uint32 if kind == "bits" else np.float32)
    else:
        work = np.empty(n, dtype=np.float64)
    for start in range(0, n, _CHUNK):
        stop = min(n, start + _CHUNK)
        if kind == "bits":
            work[start:stop] = _bits_range(start, stop, key, counter)
        elif kind == "uniform" and dtype != dtypes.float64:
            bits = _bits_range(start, stop, key, counter)
            # 24 bits times a power of two: exact in float32.
            work[start:stop] = (bits >> np.uint32(8)).astype(np.float32) * np.float32(2.0**-24)
        elif kind == "uniform":
            work[start:stop] = _uniform64_range(start, stop, key, counter)
        elif kind == "normal":
            work[start:stop] = _normal_range(start, stop, key, counter)
        else:
            work[start:stop] = _truncated_range(start, stop, key, counter)
    return work.astype(dtype, copy=False).reshape(shape)


# -- drawing on a backend ----------------------------------------------------------------------------------
def _host_backend() -> Any:
    from gpuvars.backends.cpu import CpuBackend

    return CpuBackend(0)


def _raw(backend: Any, kind: str, shape: tuple[int, ...], dtype: np.dtype, key: tuple[int, int], counter: int) -> Any:
    try:
        return backend.random(kind, shape, dtype, key, counter)
    except NotImplementedError:
        from gpuvars import transfer

        # Initialization copies are explicit transfers: counted, never blocked by a guard.
        return transfer.to_backend(philox_reference(kind, shape, dtype, key, counter), backend, explicit=True)


def _scalar(value: Any, dtype: np.dtype, xp: Any) -> Any:
    if isinstance(value, (bool, int, float, np.number, np.bool_)):
        return np.asarray(value, dtype=dtype)[()]
    return xp.asarray(value, dtype=dtype)


_UNIFORM_DTYPES_MSG = "(float16, bfloat16, float32, float64, and the integer dtypes)"


def _as_int(value: Any, dtype: np.dtype) -> int:
    # TF rejects any float here (even 0.0, RandomUniform's default minval); whole floats are accepted.
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return int(value)
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"Expected {dtype.name}, but got {value!r} of type '{type(value).__name__}'.") from None


def _uniform_int(
    backend: Any, shape: tuple[int, ...], dtype: np.dtype, key: tuple[int, int], counter: int, minval: Any, maxval: Any
) -> Any:
    if maxval is None:
        raise ValueError(f"Must specify maxval for integer dtype {dtype}")
    lo, hi = _as_int(minval, dtype), _as_int(maxval, dtype)
    info = np.iinfo(dtype)
    for name, v in (("minval", lo), ("maxval", hi)):
        # maxval is exclusive, so one past the dtype's max is allowed.
        if not info.min <= v <= info.max + (name == "maxval"):
            raise ValueError(f"Argument `{name}` must fit in {dtype} [{info.min}, {info.max}]. Received: {v}")
    if lo >= hi:
        raise errors.InvalidArgumentError(None, None, f"Need minval < maxval, got {lo} >= {hi}")
    xp = backend.xp
    n = math.prod(shape)
    span = hi - lo
    if span <= 2**32:
        # One 32-bit word per element, as TensorFlow's int32 kernel.
        x = _raw(backend, "bits", (n,), dtypes.uint32, key, counter).astype(xp.uint64)
    else:
        # Two words per element, low word first, as TensorFlow's int64 kernel.
        words = _raw(backend, "bits", (2 * n,), dtypes.uint32, key, counter).astype(xp.uint64)
        x = words[0::2] | (words[1::2] << np.uint64(32))
    # Modulo 2**64 arithmetic: lo + (x % span) is in [lo, hi), so the wrapped sum is the right value.
    if span < 2**64:
        x = x % np.uint64(span)
    r = x + np.uint64(lo & _MASK64)
    if dtype.kind == "i":
        r = r.view(xp.int64)
    return r.astype(dtype).reshape(shape)


def draw(
    kind: str, shape: Any, dtype: Any, *, backend: Any = None, key: tuple[int, int], counter: int, **params: Any
) -> Any:
    """Draw random values on a backend and apply the distribution's parameters.

    The raw draw comes from ``backend.random`` (the device's Philox kernel), or
    from ``philox_reference`` copied with ``backend.from_host`` when the backend
    raises ``NotImplementedError``. Parameters are applied with ``backend.xp``
    in ``dtype``, in TensorFlow's order: ``u * (maxval - minval) + minval`` and
    ``z * stddev + mean``; integer uniforms are ``minval + bits % (maxval - minval)``
    (TensorFlow's ``random_uniform_int``; 32 bits per element while the range
    fits, else 64).

    Args:
      kind: ``"bits"``, ``"uniform"``, ``"normal"`` or ``"truncated_normal"``.
      shape: the output shape.
      dtype: the output dtype. ``uniform`` takes floating and integer dtypes
        (integers need ``maxval``); ``normal`` and ``truncated_normal`` floating ones.
      backend: a ``gpuvars.backends.base.Backend``; None for host NumPy.
      key: the two uint32 key words (``key_from_seeds``).
      counter: the run counter.
      **params: ``minval=0, maxval=None`` (1 for floats) for ``uniform``;
        ``mean=0.0, stddev=1.0`` for the normals. Scalars or arrays that broadcast.

    Returns:
      An array of ``shape`` and ``dtype`` on ``backend``.

    Raises:
      ValueError: an unknown kind or parameter, a dtype the kind does not make,
        an integer uniform without ``maxval``.
      InvalidArgumentError: an integer uniform with ``minval >= maxval``.

    Example:
      >>> x = draw("uniform", (3,), "float32", key=(1, 2), counter=0, minval=-1.0, maxval=1.0)
      >>> bool(((-1.0 <= x) & (x < 1.0)).all())
      True
    """
    dtype = dtypes.as_dtype(dtype)
    shape = tuple(operator.index(d) for d in shape)
    backend = _host_backend() if backend is None else backend
    if kind == "uniform":
        minval = params.pop("minval", 0)
        maxval = params.pop("maxval", None)
        _no_more(kind, params)
        if dtypes.is_integer(dtype):
            return _uniform_int(backend, shape, dtype, key, counter, minval, maxval)
        if not dtypes.is_floating(dtype):
            raise ValueError(f"Argument `dtype` got invalid value {dtype}. Accepted dtypes are {_UNIFORM_DTYPES_MSG}.")
        u = _raw(backend, "uniform", shape, dtype, key, counter)
        if dtype.itemsize < 4:
            # float16/bfloat16 round the float32 draw to nearest, which can reach 1.0; keep [0, 1).
            below_one = 1.0 - 2.0 ** -(11 if dtype == dtypes.float16 else 8)
            u = backend.xp.minimum(u, np.asarray(below_one, dtype)[()])
        if maxval is None:
            maxval = 1
        if isinstance(minval, int) and minval == 0 and isinstance(maxval, int) and maxval == 1:
            return u
        xp = backend.xp
        lo = _scalar(minval, dtype, xp)
        return u * (_scalar(maxval, dtype, xp) - lo) + lo
    if kind in ("normal", "truncated_normal"):
        mean = params.pop("mean", 0.0)
        stddev = params.pop("stddev", 1.0)
        _no_more(kind, params)
        _check_kind(kind, dtype)
        z = _raw(backend, kind, shape, dtype, key, counter)
        xp = backend.xp
        return z * _scalar(stddev, dtype, xp) + _scalar(mean, dtype, xp)
    _no_more(kind, params)
    _check_kind(kind, dtype)
    return _raw(backend, kind, shape, dtype, key, counter)


def _no_more(kind: str, params: dict[str, Any]) -> None:
    if params:
        raise ValueError(f"Unexpected parameters for {kind!r} draws: {sorted(params)}")


# -- seeds -------------------------------------------------------------------------------------------------
def _default_graph() -> Any:
    from gpuvars import graph  # graph.py sits to the right of this module; import when first needed.

    return graph.get_default_graph()


def _truncate_seed(seed: Any) -> int:
    try:
        return operator.index(seed) % _MAXINT32
    except TypeError:
        raise TypeError(f"A random seed must be an integer. Received: {seed!r} of type {type(seed).__name__}") from None


def get_seed(op_seed: int | None, graph: Any = None) -> tuple[int, int]:
    """The (graph seed, op seed) pair a random op uses, as ``tf.compat.v1.get_seed``.

    * graph seed set, op seed None: the op seed is the graph's next op seed
      (``graph._next_op_seed()``), so a fresh graph replays the same sequence;
    * op seed set, no graph seed: the graph seed is ``DEFAULT_GRAPH_SEED``;
    * both set: both are used (each taken modulo ``2**31 - 1``, as TF);
    * neither: two fresh nondeterministic seeds (TF returns ``(None, None)``
      and lets the kernel pick; here the caller gets the pick).

    ``(0, 0)`` becomes ``(0, 2**31 - 1)``, as in TF.

    Args:
      op_seed: the op-level seed, or None.
      graph: the graph whose seed applies; None for the default graph.

    Returns:
      A tuple of two non-negative ints.

    Raises:
      TypeError: a seed that is not an integer.

    Example:
      >>> get_seed(7, graph=gpuvars.Graph())
      (87654321, 7)
    """
    if graph is None:
        graph = _default_graph()
    graph_seed = getattr(graph, "seed", None)
    if graph_seed is not None:
        if op_seed is None:
            op_seed = graph._next_op_seed()
        seeds = (_truncate_seed(graph_seed), _truncate_seed(op_seed))
    elif op_seed is not None:
        seeds = (DEFAULT_GRAPH_SEED, _truncate_seed(op_seed))
    else:
        seeds = (secrets.randbelow(_MAXINT32), secrets.randbelow(_MAXINT32))
    if seeds == (0, 0):
        return (0, _MAXINT32)
    return seeds


def set_random_seed(seed: int | None) -> None:
    """Set the graph-level seed of the default graph, as ``tf.compat.v1.set_random_seed``.

    Args:
      seed: an integer, or None to clear it.

    Raises:
      TypeError: a seed that is not an integer or None.

    Example:
      >>> set_random_seed(1234)
      >>> a = gpuvars.init_ops.random_normal_initializer()([2])  # the same in every fresh graph seeded 1234
    """
    if seed is not None:
        _truncate_seed(seed)  # raises TypeError for a non-integer
    _default_graph().seed = seed


def _splitmix64(x: int) -> int:
    z = (x + 0x9E3779B97F4A7C15) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return z ^ (z >> 31)


def key_from_seeds(graph_seed: int, op_seed: int) -> tuple[int, int]:
    """The Philox key of a (graph seed, op seed) pair.

    ``x = splitmix64((graph_seed mod 2**32) << 32 | (op_seed mod 2**32))``;
    ``k0`` is the low word of ``x``, ``k1`` the high word. splitmix64 is a
    bijection of 64-bit words, so distinct seed pairs never share a key.

    Args:
      graph_seed: the graph-level seed.
      op_seed: the op-level seed.

    Returns:
      ``(k0, k1)``, two ints in ``[0, 2**32)``.

    Example:
      >>> key_from_seeds(87654321, 7) == key_from_seeds(87654321, 7)
      True
    """
    x = _splitmix64(((int(graph_seed) & _MASK32) << 32) | (int(op_seed) & _MASK32))
    return (x & _MASK32, x >> 32)


class RandomStream:
    """One random op: a Philox key fixed at creation and a run counter.

    Each ``next`` draws with the current counter, then increments it, so
    running an op again draws anew, while the same seeds in a fresh graph give
    the same sequence of draws. The counter is 32 bits on the device: after
    ``2**32`` runs the sequence repeats. Thread-safe.

    Attributes:
      seeds: the ``(graph_seed, op_seed)`` pair, or None when built from a key.
      key: the two uint32 key words.
      counter: the run counter of the next draw.

    Example:
      >>> s = RandomStream.from_seed(5)
      >>> a = s.next("normal", (2, 2), "float32")
      >>> b = s.next("normal", (2, 2), "float32")  # a different draw
    """

    def __init__(self, key: tuple[int, int], counter: int = 0, seeds: tuple[int, int] | None = None):
        k0, k1 = (operator.index(k) for k in key)
        if not (0 <= k0 <= _MASK32 and 0 <= k1 <= _MASK32):
            raise ValueError(f"Argument `key` must be two integers in [0, 2**32). Received: {key!r}")
        self._key = (k0, k1)
        self._counter = operator.index(counter)
        self.seeds = seeds
        self._lock = threading.Lock()

    @classmethod
    def from_seed(cls, op_seed: int | None = None, graph: Any = None) -> RandomStream:
        """A new stream for an op with ``op_seed`` in ``graph`` (see ``get_seed``).

        Args:
          op_seed: the op-level seed, or None.
          graph: the graph; None for the default graph.

        Returns:
          A ``RandomStream`` at counter 0.
        """
        seeds = get_seed(op_seed, graph)
        return cls(key_from_seeds(*seeds), 0, seeds=seeds)

    @property
    def key(self) -> tuple[int, int]:
        return self._key

    @property
    def counter(self) -> int:
        return self._counter

    def _take(self) -> int:
        with self._lock:
            c = self._counter
            self._counter += 1
            return c

    def next(self, kind: str, shape: Any, dtype: Any, backend: Any = None, **params: Any) -> Any:
        """Draw with the current run counter, then advance it.

        Args:
          kind: see ``draw``.
          shape: the output shape.
          dtype: the output dtype.
          backend: the backend to draw on; None for host NumPy.
          **params: see ``draw``.

        Returns:
          An array on ``backend``.
        """
        return draw(kind, shape, dtype, backend=backend, key=self._key, counter=self._take(), **params)

    def __repr__(self) -> str:
        return f"RandomStream(seeds={self.seeds}, key=({self._key[0]:#010x}, {self._key[1]:#010x}), counter={self._counter})"
