"""The safetensors file format, written one tensor at a time and read into existing buffers.

A safetensors file is an 8-byte little-endian header length ``N``, ``N`` bytes
of compact JSON (``{"name": {"dtype": "F32", "shape": [2, 3],
"data_offsets": [begin, end]}, ...}`` with an optional ``"__metadata__"`` map
of strings first), padded with spaces to a multiple of 8, then the raw
little-endian bytes of every tensor, back to back. Everything in the header
follows from names, dtypes and shapes, so it is computed up front
(:func:`plan_file`) and the tensors are then streamed to disk one at a time
from a producer callable (:func:`write_file`): peak extra memory is about the
largest tensor, not the file. The header is byte-identical to what the
``safetensors`` library writes for the same tensors (same key order: dtypes by
descending rank in safetensors' ``Dtype`` enum, then names; same JSON), so the
files load with ``safetensors.numpy.load_file`` as they are.

Dtypes safetensors lacks (complex128) are stored as a real view, ``F64`` with a
trailing dimension of 2; the caller records the true dtype (the checkpoint
index does). bfloat16 exists only where ``ml_dtypes`` is installed.

Checksums: every tensor gets a ``sum4k`` checksum, computed while writing and
verified on a whole-tensor read. Its bytes are cut into 4 KiB rows (the last
one zero-padded), each row is summed as 512 little-endian uint64 words modulo
2**64, and BLAKE2b (8-byte digest) hashes the sequence of row sums followed by
the byte length. One NumPy pass at memory bandwidth (about 12 GB/s here, where
``zlib.crc32`` manages 1-2 GB/s and would add 35-70% to a durable save); it
catches every changed word (its row sum changes), any reordering of 4 KiB
pages and truncation; it is not meant to resist deliberate forgery.

Limits: a header larger than 100 MB is refused (as safetensors does); names
must be non-empty, valid UTF-8 strings and not ``__metadata__``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import struct
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gpuvars import dtypes as _dtypes
from gpuvars.errors import DataLossError, NotFoundError, OpError, UnimplementedError

__all__ = [
    "CHECKSUM_ALGORITHM",
    "MAX_HEADER_SIZE",
    "Checksum",
    "FileLayout",
    "SafetensorsReader",
    "TensorLayout",
    "atomic_write_bytes",
    "checksum_array",
    "fsync_dir",
    "plan_file",
    "read_layout",
    "remove_stale_temp_files",
    "storage_code",
    "temp_path",
    "write_file",
]

logger = logging.getLogger(__name__)

MAX_HEADER_SIZE = 100_000_000  # safetensors refuses larger headers too
CHECKSUM_ALGORITHM = "sum4k"
_ROW = 4096  # checksum row: 512 uint64 words
_BLOCK = 1 << 22  # bytes per write/read/checksum step: large syscalls, still cache-warm for the checksum
_LITTLE = sys.byteorder == "little"

# safetensors' dtype codes in the order of its Rust ``Dtype`` enum; files are laid
# out by descending rank (largest alignment first), then by name.
# fmt: off
_RANK = {
    code: i
    for i, code in enumerate((
        "BOOL", "F4", "F6_E2M3", "F6_E3M2", "U8", "I8", "F8_E5M2", "F8_E4M3", "F8_E8M0",
        "I16", "U16", "F16", "BF16", "I32", "U32", "F32", "C64", "F64", "I64", "U64",
    ))
}
# Byte sizes of the codes this reader accepts (sub-byte F4/F6 are not).
_ITEMSIZE = {
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "F8_E8M0": 1,
    "I16": 2, "U16": 2, "F16": 2, "BF16": 2, "I32": 4, "U32": 4, "F32": 4,
    "C64": 8, "F64": 8, "I64": 8, "U64": 8,
}
# fmt: on
_CODE_OF: dict[np.dtype, str] = {
    np.dtype(np.bool_): "BOOL",
    np.dtype(np.uint8): "U8",
    np.dtype(np.int8): "I8",
    np.dtype(np.int16): "I16",
    np.dtype(np.uint16): "U16",
    np.dtype(np.float16): "F16",
    np.dtype(np.int32): "I32",
    np.dtype(np.uint32): "U32",
    np.dtype(np.float32): "F32",
    np.dtype(np.complex64): "C64",
    np.dtype(np.float64): "F64",
    np.dtype(np.int64): "I64",
    np.dtype(np.uint64): "U64",
    np.dtype(np.complex128): "F64",  # stored as a real view with a trailing dimension of 2
}
if isinstance(_dtypes.bfloat16, np.dtype):
    _CODE_OF[_dtypes.bfloat16] = "BF16"


def storage_code(dtype: np.dtype) -> tuple[str, tuple[int, ...]]:
    """The safetensors code for ``dtype`` and the extra trailing dims its storage view adds.

    Args:
      dtype: a NumPy dtype gpuvars supports.

    Returns:
      ``(code, extra_dims)``: ``("F32", ())`` for float32, ``("F64", (2,))`` for
      complex128 (stored as pairs of float64).

    Raises:
      TypeError: the dtype has no safetensors storage.
    """
    dt = np.dtype(dtype)
    try:
        return _CODE_OF[dt], ((2,) if dt == np.complex128 else ())
    except KeyError:
        known = ", ".join(sorted({str(d) for d in _CODE_OF}))
        raise TypeError(
            f"Expected a dtype storable in safetensors ({known}). Received: {dt}. "
            "(bfloat16 is storable where `ml_dtypes` is installed.)"
        ) from None


# --------------------------------------------------------------------------- layout


@dataclass(frozen=True)
class TensorLayout:
    """Where one tensor lives in a safetensors file.

    Attributes:
      name: the tensor's key in the header.
      dtype: the true NumPy dtype (complex128 for a tensor stored as ``F64`` pairs),
        or None for a foreign code this library has no NumPy dtype for.
      shape: the true shape.
      code: the safetensors dtype code in the header.
      storage_shape: the shape in the header (``shape + (2,)`` for complex128).
      begin: the first byte, relative to the start of the data section.
      end: one past the last byte, relative to the start of the data section.
    """

    name: str
    dtype: np.dtype | None
    shape: tuple[int, ...]
    code: str
    storage_shape: tuple[int, ...]
    begin: int
    end: int

    @property
    def nbytes(self) -> int:
        return self.end - self.begin


@dataclass(frozen=True)
class FileLayout:
    """A safetensors file's header and the placement of every tensor.

    Attributes:
      header: the bytes before the data: 8-byte length, JSON, space padding.
      tensors: the tensors in data order.
      metadata: the ``__metadata__`` strings (empty when absent).
    """

    header: bytes
    tensors: tuple[TensorLayout, ...]
    metadata: Mapping[str, str] = field(default_factory=dict)

    @property
    def data_start(self) -> int:
        return len(self.header)

    @property
    def file_size(self) -> int:
        return len(self.header) + (self.tensors[-1].end if self.tensors else 0)

    def __getitem__(self, name: str) -> TensorLayout:
        for t in self.tensors:
            if t.name == name:
                return t
        raise KeyError(name)

    def names(self) -> list[str]:
        return [t.name for t in self.tensors]


def _check_name(name: object) -> str:
    if not isinstance(name, str) or not name:
        raise ValueError(f"Expected a tensor name that is a non-empty string. Received: {name!r}")
    if name == "__metadata__":
        raise ValueError("Expected a tensor name other than '__metadata__' (safetensors reserves it). Received it.")
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"Expected a tensor name that is valid UTF-8. Received: {name!r}") from None
    return name


def _check_shape(shape: Any, name: str) -> tuple[int, ...]:
    try:
        dims = tuple(shape)
    except TypeError:
        raise ValueError(f"Expected the shape of {name!r} to be a sequence of ints. Received: {shape!r}") from None
    for d in dims:
        if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 0:
            raise ValueError(f"Expected the shape of {name!r} to hold non-negative ints. Received: {shape!r}")
    return tuple(int(d) for d in dims)


def _header_json(entries: Iterable[tuple[str, str, Sequence[int], int, int]], metadata: Mapping[str, str]) -> bytes:
    doc: dict[str, Any] = {}
    if metadata:
        doc["__metadata__"] = {k: metadata[k] for k in sorted(metadata)}
    for name, code, shape, begin, end in entries:
        doc[name] = {"dtype": code, "shape": list(shape), "data_offsets": [begin, end]}
    # Compact separators and raw UTF-8 reproduce serde_json, which safetensors uses.
    text = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text


def plan_file(specs: Iterable[tuple[str, Any, Sequence[int]]], metadata: Mapping[str, str] | None = None) -> FileLayout:
    """Lay out a safetensors file from names, dtypes and shapes alone (no data).

    The layout is the one ``safetensors`` itself produces for the same tensors:
    sorted by descending dtype rank, then by name, back to back.

    Args:
      specs: ``(name, dtype, shape)`` per tensor.
      metadata: optional ``__metadata__`` strings.

    Returns:
      A :class:`FileLayout` whose ``header`` is the exact bytes to write first.

    Raises:
      ValueError: a duplicate or invalid name, a negative dimension, metadata that is not strings.
      TypeError: a dtype safetensors cannot store.

    Example:
      >>> layout = plan_file([("w", "float32", (2, 3))])
      >>> layout["w"].nbytes
      24
    """
    meta = dict(metadata or {})
    for k, v in meta.items():
        if not isinstance(k, str) or not isinstance(v, str):
            raise ValueError(f"Expected safetensors metadata to map str to str. Received: {k!r}: {v!r}")
    items = []
    seen: set[str] = set()
    for name, dtype, shape in specs:
        name = _check_name(name)
        if name in seen:
            raise ValueError(f"Expected unique tensor names in one file. Received {name!r} twice.")
        seen.add(name)
        dt = np.dtype(dtype)
        dims = _check_shape(shape, name)
        code, extra = storage_code(dt)
        items.append((name, dt, dims, code, dims + extra))
    items.sort(key=lambda it: (-_RANK[it[3]], it[0]))
    tensors = []
    offset = 0
    for name, dt, dims, code, sdims in items:
        nbytes = int(np.prod(dims, dtype=object)) * dt.itemsize
        tensors.append(TensorLayout(name, dt, dims, code, sdims, offset, offset + nbytes))
        offset += nbytes
    header = _header_json(((t.name, t.code, t.storage_shape, t.begin, t.end) for t in tensors), meta)
    if len(header) - 8 > MAX_HEADER_SIZE:
        raise ValueError(
            f"Expected a safetensors header under {MAX_HEADER_SIZE} bytes. Received {len(header) - 8} bytes "
            f"for {len(tensors)} tensors; split them over more files."
        )
    return FileLayout(header, tuple(tensors), meta)


# --------------------------------------------------------------------------- checksum


def _bytes_of(arr: np.ndarray) -> np.ndarray:
    """A flat uint8 view of a C-contiguous array (works for every dtype, ml_dtypes included)."""
    return arr.reshape(-1).view(np.uint8)


def _row_sums(chunk: np.ndarray) -> bytes:
    """The little-endian uint64 sums (mod 2**64) of each 4 KiB row of ``chunk`` (a whole number of rows)."""
    sums = chunk.view("<u8").reshape(-1, _ROW // 8).sum(axis=1, dtype=np.uint64)
    return sums.astype("<u8", copy=False).tobytes()


class Checksum:
    """The incremental ``sum4k`` checksum (see the module docstring).

    Example:
      >>> c = Checksum(); c.update(np.zeros(10, np.uint8)); c.hexdigest()[:6]
      'sum4k:'
    """

    __slots__ = ("_hash", "_length", "_pending")

    def __init__(self) -> None:
        self._hash = hashlib.blake2b(digest_size=8)
        self._length = 0
        self._pending = np.zeros(0, np.uint8)

    def update(self, data: np.ndarray) -> None:
        """Add bytes (a 1-D uint8 array, any length) to the checksum."""
        if data.size == 0:
            return
        self._length += data.size
        if self._pending.size:
            need = _ROW - self._pending.size
            self._pending = np.concatenate([self._pending, data[:need]])
            data = data[need:]
            if self._pending.size < _ROW:
                return
            self._rows(self._pending)
            self._pending = np.zeros(0, np.uint8)
        full = data.size - data.size % _ROW
        for start in range(0, full, _BLOCK):
            self._rows(data[start : min(start + _BLOCK, full)])
        if full < data.size:
            self._pending = data[full:].copy()

    def _rows(self, chunk: np.ndarray) -> None:
        self._hash.update(_row_sums(chunk))

    def hexdigest(self) -> str:
        """The checksum as ``"sum4k:<16 hex digits>"`` (does not change the state)."""
        h = self._hash.copy()
        if self._pending.size:
            row = np.zeros(_ROW, np.uint8)
            row[: self._pending.size] = self._pending
            h.update(_row_sums(row))
        h.update(struct.pack("<Q", self._length))
        return f"{CHECKSUM_ALGORITHM}:{h.hexdigest()}"


def checksum_array(arr: np.ndarray) -> str:
    """The ``sum4k`` checksum of an array's little-endian bytes in C order.

    Args:
      arr: any NumPy array (copied first if not C-contiguous little-endian).

    Returns:
      ``"sum4k:<16 hex digits>"``.
    """
    c = Checksum()
    c.update(_bytes_of(_little_endian_contiguous(arr)))
    return c.hexdigest()


def _little_endian_contiguous(arr: np.ndarray) -> np.ndarray:
    if arr.dtype.byteorder == ">" or (arr.dtype.byteorder == "=" and not _LITTLE):
        arr = arr.astype(arr.dtype.newbyteorder("<"))
    return np.ascontiguousarray(arr)


# --------------------------------------------------------------------------- durable files


def fsync_dir(folder: str | os.PathLike[str]) -> None:
    """Make renames and unlinks in ``folder`` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(os.fspath(folder) or ".", os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:  # Windows cannot open a directory; NTFS journals renames itself.
        return
    try:
        os.fsync(fd)
    except OSError as e:  # some filesystems (and /proc-like mounts) refuse; the data fsyncs still hold
        logger.debug("fsync of folder %s failed: %s", folder, e)
    finally:
        os.close(fd)


_TEMP_RE = re.compile(r"^(?P<final>.+)\.tmp\.(?P<pid>\d+)\.[0-9a-f]{8}$")


def temp_path(path: str) -> str:
    """A fresh temporary name next to ``path``: ``<path>.tmp.<pid>.<8 hex>``."""
    return f"{path}.tmp.{os.getpid()}.{uuid.uuid4().hex[:8]}"


def _write_all(fd: int, data: Any) -> None:
    view = data.data if isinstance(data, np.ndarray) else memoryview(data).cast("B")
    pos = 0
    total = view.nbytes
    while pos < total:
        n = os.write(fd, view[pos : pos + (1 << 30)])
        if n <= 0:
            raise OSError(f"os.write wrote {n} bytes at offset {pos} of {total}")
        pos += n


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, *, durable: bool = True) -> None:
    """Replace ``path`` with ``data`` atomically: temp name, fsync, rename, folder fsync.

    Args:
      path: the destination.
      data: the new content.
      durable: fsync the file and the folder (False only for throwaway files).

    Raises:
      OSError: the folder is missing or not writable; the destination is untouched then.
    """
    path = os.fspath(path)
    tmp = temp_path(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o644)
    try:
        try:
            _write_all(fd, data)
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        _unlink_quietly(tmp)
        raise
    if durable:
        fsync_dir(os.path.dirname(path))


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as e:
        logger.warning("Could not remove %s: %s", path, e)


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def remove_stale_temp_files(folder: str | os.PathLike[str], *, min_age_s: float = 60.0) -> list[str]:
    """Remove temporary files left in ``folder`` by writers that were killed.

    A temporary file (``<final>.tmp.<pid>.<hex>``) is stale when its process no
    longer runs on this host and it has not been modified for ``min_age_s``
    seconds; the age guard protects writers on other hosts of a shared file
    system, whose pids mean nothing here.

    Args:
      folder: the folder to clean.
      min_age_s: minimum age of a stale temporary file, in seconds.

    Returns:
      The paths removed.
    """
    folder = os.fspath(folder) or "."
    removed: list[str] = []
    now = time.time()
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    for name in names:
        m = _TEMP_RE.match(name)
        if m is None or _pid_alive(int(m.group("pid"))):
            continue
        path = os.path.join(folder, name)
        try:
            st = os.lstat(path)
        except OSError:
            continue
        if now - st.st_mtime >= min_age_s:
            _unlink_quietly(path)
            removed.append(path)
    return removed


# --------------------------------------------------------------------------- writing


def write_file(
    path: str | os.PathLike[str],
    layout: FileLayout,
    produce: Callable[[TensorLayout], np.ndarray],
    *,
    durable: bool = True,
    rename: bool = True,
) -> tuple[str, dict[str, str]]:
    """Stream a planned safetensors file to disk, one tensor at a time.

    ``produce`` is called once per tensor, in file order, just before that
    tensor is written, and its array is dropped right after: peak extra memory
    is the largest tensor. The bytes go to a temporary name, are fsync'ed and
    only then renamed to ``path`` (the caller fsyncs the folder once for all
    its files, or passes ``rename=False`` to rename later itself).

    Args:
      path: the final file name.
      layout: from :func:`plan_file`.
      produce: returns the host NumPy array of a tensor, of exactly the planned
        dtype and shape (non-contiguous arrays are copied once).
      durable: fsync the file before renaming it.
      rename: rename the temporary file to ``path``; when False the temporary
        file is left for the caller, whose path is returned.

    Returns:
      ``(written_path, checksums)``: the path holding the bytes (``path``, or the
      temporary name when ``rename=False``) and ``{name: "sum4k:..."}``.

    Raises:
      TypeError: ``produce`` returned something other than a NumPy array.
      ValueError: ``produce`` returned the wrong dtype or shape.
      OSError: the disk is full or the folder unwritable; the temporary file is removed.

    Example:
      >>> arrays = {"w": np.ones((2, 3), np.float32)}
      >>> layout = plan_file([(k, v.dtype, v.shape) for k, v in arrays.items()])
      >>> _, sums = write_file("/tmp/x.safetensors", layout, lambda t: arrays[t.name])
    """
    path = os.fspath(path)
    tmp = temp_path(path)
    checksums: dict[str, str] = {}
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o644)
    try:
        try:
            out = _SequentialWriter(fd, start_writeback=durable)
            out.write(np.frombuffer(layout.header, np.uint8))
            with _Helper() as helper:
                for t in layout.tensors:
                    arr = _checked_array(produce(t), t, path)
                    checksums[t.name] = out.write_tensor(_bytes_of(arr), helper)
                    del arr  # before the next producer runs: peak memory stays at one tensor
            out.flush()
            if out.position != layout.file_size:
                raise AssertionError(f"wrote {out.position} bytes, planned {layout.file_size}")
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        if rename:
            os.replace(tmp, path)
    except BaseException:
        _unlink_quietly(tmp)
        raise
    return (path if rename else tmp), checksums


def _load_sync_file_range() -> Callable[[int, int, int], int] | None:
    """Linux's ``sync_file_range``, to start write-back early, so the final fsync has little left to wait for."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        fn = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    fn.restype = ctypes.c_int
    write = 2  # SYNC_FILE_RANGE_WRITE: start write-out of dirty pages, do not wait; the page cache is kept
    return lambda fd, offset, nbytes: fn(fd, offset, nbytes, write)


_sync_file_range = _load_sync_file_range()


def _usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


# Checksums move to a helper thread only where a core is likely idle: on 2 busy cores the
# hand-off measured no gain over checksumming each 4 MiB block inline, while it is in cache.
_OVERLAP = _usable_cpus() >= 4
_OVERLAP_MIN = 1 << 20  # below this the thread hand-off costs more than it hides


class _Helper:
    """One lazily started worker thread; tasks run in submission order.

    Checksums run here while the caller's thread writes or reads the same bytes:
    NumPy reductions, ``os.write`` and ``os.preadv`` all release the GIL, so on
    two or more cores the checksum is hidden behind the I/O. Started per file
    (never shared across processes, so ``fork`` cannot inherit a dead worker).
    """

    def __init__(self) -> None:
        self._pool: ThreadPoolExecutor | None = None

    def submit(self, fn: Callable[..., None], *args: Any) -> Future[None]:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gpuvars-checksum")
        return self._pool.submit(fn, *args)

    def close(self, wait: bool = True) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=wait)
            self._pool = None

    def __enter__(self) -> _Helper:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _SequentialWriter:
    """Appends to a file: small pieces coalesced into few syscalls, write-back started every few MiB."""

    _COALESCE = 1 << 16
    _KICK = 1 << 23

    def __init__(self, fd: int, *, start_writeback: bool) -> None:
        self.fd = fd
        self.position = 0
        self._small = bytearray()
        self._kicked = 0
        self._writeback = _sync_file_range if start_writeback else None

    def write(self, data: np.ndarray) -> None:
        if data.size < self._COALESCE:
            self._small += data.data
            if len(self._small) >= self._KICK // 8:
                self._drain()
            return
        self._drain()
        _write_all(self.fd, data)
        self._advance(data.size)

    def write_tensor(self, data: np.ndarray, helper: _Helper) -> str:
        """Write one tensor's bytes; return their checksum (on ``helper`` during the write, or inline per block)."""
        c = Checksum()
        pending = helper.submit(c.update, data) if _OVERLAP and data.size >= _OVERLAP_MIN else None
        try:
            for start in range(0, data.size, _BLOCK):
                block = data[start : start + _BLOCK]
                if pending is None:
                    c.update(block)  # then the write copies it from cache
                self.write(block)
        finally:
            if pending is not None:
                pending.result()  # also before the next tensor is produced: peak memory stays at one tensor
        return c.hexdigest()

    def _drain(self) -> None:
        if self._small:
            _write_all(self.fd, bytes(self._small))
            self._advance(len(self._small))
            self._small.clear()

    def _advance(self, n: int) -> None:
        self.position += n
        if self._writeback is not None and self.position - self._kicked >= self._KICK:
            if self._writeback(self.fd, self._kicked, self.position - self._kicked) != 0:
                self._writeback = None  # unsupported here (some FUSE mounts); the fsync still makes it durable
            self._kicked = self.position

    def flush(self) -> None:
        self._drain()
        if self._writeback is not None and self.position > self._kicked:
            self._writeback(self.fd, self._kicked, self.position - self._kicked)
            self._kicked = self.position


def _checked_array(arr: Any, t: TensorLayout, path: str) -> np.ndarray:
    if not isinstance(arr, np.ndarray):
        raise TypeError(
            f"Expected the producer of tensor {t.name!r} (file {path}) to return a host numpy.ndarray. "
            f"Received: {type(arr).__module__}.{type(arr).__qualname__}; copy it to the host first."
        )
    if arr.dtype.newbyteorder("=") != t.dtype or tuple(arr.shape) != t.shape:
        raise ValueError(
            f"Expected the producer of tensor {t.name!r} (file {path}) to return dtype {t.dtype} and shape "
            f"{list(t.shape)} as planned. Received dtype {arr.dtype} and shape {list(arr.shape)}."
        )
    return _little_endian_contiguous(arr)


# --------------------------------------------------------------------------- reading


def _loss(path: str, what: str) -> OpError:
    return DataLossError(None, None, f"Checkpoint file {path} is corrupt or truncated: {what}")


def _parse_header(path: str, raw: bytes, file_size: int) -> FileLayout:
    if not raw.startswith(b"{"):
        raise _loss(path, f"expected the JSON header to start with '{{'; found {raw[:16]!r}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise _loss(path, f"the header is not valid UTF-8 ({e})") from e

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        d = dict(pairs)
        if len(d) != len(pairs):
            dup = sorted({k for k, _ in pairs if sum(1 for k2, _ in pairs if k2 == k) > 1})
            raise _loss(path, f"the header repeats the keys {dup}")
        return d

    try:
        doc = json.loads(text, object_pairs_hook=no_duplicates)
    except json.JSONDecodeError as e:
        raise _loss(path, f"the header is not valid JSON ({e})") from e
    if not isinstance(doc, dict):
        raise _loss(path, f"expected the header to be a JSON object; found {type(doc).__name__}")
    meta = doc.pop("__metadata__", None) or {}
    if not isinstance(meta, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in meta.items()):
        raise _loss(path, "expected __metadata__ to map strings to strings")
    dtype_of = {code: dt for dt, code in _CODE_OF.items() if dt != np.complex128}
    tensors = []
    for name, info in doc.items():
        if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
            raise _loss(path, f"tensor {name!r}: expected keys dtype, shape, data_offsets; found {info!r}")
        code, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
        if code not in _ITEMSIZE:
            raise _loss(path, f"tensor {name!r}: unknown dtype code {code!r}")
        if not isinstance(shape, list) or not all(type(d) is int and d >= 0 for d in shape):
            raise _loss(path, f"tensor {name!r}: expected a shape of non-negative ints; found {shape!r}")
        if not (
            isinstance(offsets, list)
            and len(offsets) == 2
            and all(type(o) is int for o in offsets)
            and 0 <= offsets[0] <= offsets[1]
        ):
            raise _loss(
                path, f"tensor {name!r}: expected data_offsets [begin, end] with 0 <= begin <= end; found {offsets!r}"
            )
        nbytes = _ITEMSIZE[code] * int(np.prod(shape, dtype=object))
        if offsets[1] - offsets[0] != nbytes:
            raise _loss(
                path,
                f"tensor {name!r}: {code} {shape} needs {nbytes} bytes; data_offsets {offsets} "
                f"span {offsets[1] - offsets[0]}",
            )
        dt = dtype_of.get(code)
        tensors.append(TensorLayout(name, dt, tuple(shape), code, tuple(shape), offsets[0], offsets[1]))
    tensors.sort(key=lambda t: (t.begin, t.end))
    pos = 0
    for t in tensors:
        if t.begin != pos:
            kind = "overlaps the previous tensor" if t.begin < pos else "leaves a gap after the previous tensor"
            raise _loss(path, f"tensor {t.name!r} starts at data byte {t.begin} and {kind} (which ends at {pos})")
        pos = t.end
    header_len = 8 + len(raw)
    if header_len + pos != file_size:
        raise _loss(
            path,
            f"the header describes {header_len + pos} bytes ({len(raw)}-byte header, {pos} bytes of data) "
            f"but the file has {file_size}",
        )
    prefix = struct.pack("<Q", len(raw)) + raw
    return FileLayout(prefix, tuple(tensors), meta)


def read_layout(path: str | os.PathLike[str]) -> FileLayout:
    """Read and strictly validate a safetensors file's header.

    Args:
      path: the file.

    Returns:
      Its :class:`FileLayout` (complex128 tensors appear as their ``F64`` view;
      the checkpoint index knows the true dtype).

    Raises:
      DataLossError: naming the file, when the header length is insane, the JSON
        is invalid, offsets overlap, leave gaps or run past the end, or the file
        length does not match.
      NotFoundError: the file does not exist.
    """
    with SafetensorsReader(path) as r:
        return r.layout


class SafetensorsReader:
    """An open safetensors file that reads tensors straight into caller buffers.

    Reads use ``os.preadv`` (thread-safe, no shared file position) where the
    platform has it. Nothing is unpickled; the header is validated before any
    data is touched.

    Args:
      path: the file.

    Raises:
      DataLossError: the header is invalid (see :func:`read_layout`).
      NotFoundError: the file does not exist.

    Example:
      >>> with SafetensorsReader("/tmp/x.safetensors") as r:
      ...     out = np.empty((2, 3), np.float32)
      ...     r.read_into("w", out)
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        try:
            self._fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except FileNotFoundError:
            raise NotFoundError(
                None, None, f"Checkpoint file {self.path} does not exist; expected it next to its index."
            ) from None
        try:
            size = os.fstat(self._fd).st_size
            if size < 8:
                raise _loss(self.path, f"the file has {size} bytes; expected at least the 8-byte header length")
            (n,) = struct.unpack("<Q", _pread(self._fd, 8, 0))
            if n > MAX_HEADER_SIZE or n > size - 8:
                raise _loss(
                    self.path,
                    f"the header length field says {n} bytes; expected at most {min(MAX_HEADER_SIZE, size - 8)} "
                    f"(the file has {size} bytes)",
                )
            raw = _pread(self._fd, n, 8)
            if len(raw) != n:
                raise _loss(self.path, f"read {len(raw)} of the {n} header bytes")
            self.layout = _parse_header(self.path, raw, size)
            self._helper = _Helper()
            self._by_name = {t.name: t for t in self.layout.tensors}
            if hasattr(os, "posix_fadvise"):
                os.posix_fadvise(self._fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)
        except BaseException:
            os.close(self._fd)
            self._fd = -1  # so __del__ cannot close a descriptor number reused by someone else
            raise

    def __enter__(self) -> SafetensorsReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the file (idempotent)."""
        helper = getattr(self, "_helper", None)
        if helper is not None:
            helper.close()
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __del__(self) -> None:
        helper = getattr(self, "_helper", None)
        if helper is not None:
            helper.close(wait=False)  # never join a thread from a finalizer
        if getattr(self, "_fd", -1) >= 0:
            os.close(self._fd)
            self._fd = -1

    def tensor(self, name: str) -> TensorLayout:
        """The layout of tensor ``name``.

        Raises:
          KeyError: no such tensor in this file.
        """
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"Tensor {name!r} is not in {self.path}; it holds {sorted(self._by_name)[:20]}") from None

    def _read_exact(self, buf: np.ndarray, offset: int, checksum: Checksum | None, name: str) -> None:
        # Block k is checksummed by the helper thread while block k+1 is read (its queue keeps the order).
        helper = self._helper if _OVERLAP and checksum is not None and buf.size >= _OVERLAP_MIN else None
        last: Future[None] | None = None
        try:
            for start in range(0, buf.size, _BLOCK):
                block = buf[start : start + _BLOCK]
                got = 0
                while got < block.size:
                    n = _pread_into(self._fd, block[got:], offset + start + got)
                    if n <= 0:
                        raise _loss(
                            self.path,
                            f"tensor {name!r} ended early at byte {offset + start + got} "
                            "(was the file truncated while open?)",
                        )
                    got += n
                if helper is not None:
                    assert checksum is not None
                    last = helper.submit(checksum.update, block)
                elif checksum is not None:
                    checksum.update(block)
        finally:
            if last is not None:
                last.result()

    def _check_out(self, out: np.ndarray, nbytes: int, what: str) -> np.ndarray:
        if not isinstance(out, np.ndarray):
            raise TypeError(f"Expected `out` to be a numpy.ndarray for {what}. Received: {type(out).__name__}")
        if not out.flags.c_contiguous or not out.flags.writeable:
            raise ValueError(
                f"Expected `out` to be a writable C-contiguous array for {what}. "
                f"Received flags c_contiguous={out.flags.c_contiguous} writeable={out.flags.writeable}."
            )
        if out.nbytes != nbytes:
            raise ValueError(
                f"Expected `out` to have {nbytes} bytes for {what}. Received {out.nbytes} bytes "
                f"(dtype {out.dtype}, shape {list(out.shape)})."
            )
        return _bytes_of(out)

    def read_into(self, name: str, out: np.ndarray, *, checksum: str | None = None) -> None:
        """Read a whole tensor's bytes into ``out``, verifying ``checksum`` when given.

        Args:
          name: the tensor.
          out: a writable C-contiguous array of exactly the tensor's byte size; its
            dtype is the caller's business (the checkpoint layer checks it).
          checksum: the expected ``sum4k`` checksum, or None to skip verification.

        Raises:
          DataLossError: the checksum does not match (naming file and tensor), or the file ended early.
          ValueError: ``out`` has the wrong size or is not writable and contiguous.
        """
        t = self.tensor(name)
        data = self._check_out(out, t.nbytes, f"tensor {name!r}")
        c = Checksum() if checksum is not None else None
        self._read_exact(data, self.layout.data_start + t.begin, c, name)
        if c is not None:
            _verify(self.path, name, checksum, c.hexdigest())
        _to_native(out)

    def read_rows_into(self, name: str, start: int, stop: int, out: np.ndarray) -> None:
        """Read rows ``[start, stop)`` along axis 0 of a tensor: one contiguous byte range.

        No checksum is verified (it covers whole tensors); the header was validated.

        Args:
          name: the tensor (rank >= 1).
          start: first row.
          stop: one past the last row.
          out: a writable C-contiguous buffer of exactly ``(stop - start)`` rows' bytes.

        Raises:
          ValueError: bad range or buffer.
          DataLossError: the file ended early.
        """
        t = self.tensor(name)
        if not t.shape:
            raise ValueError(f"Expected a tensor of rank >= 1 for a row read. Received the scalar {name!r}.")
        if not 0 <= start <= stop <= t.shape[0]:
            raise ValueError(
                f"Expected 0 <= start <= stop <= {t.shape[0]} for rows of {name!r}. "
                f"Received start={start}, stop={stop}."
            )
        row = t.nbytes // t.shape[0] if t.shape[0] else 0
        data = self._check_out(out, (stop - start) * row, f"rows {start}:{stop} of {name!r}")
        self._read_exact(data, self.layout.data_start + t.begin + start * row, None, name)
        _to_native(out)


def _verify(path: str, name: str, expected: str | None, found: str) -> None:
    if expected is None:
        return
    if not expected.startswith(CHECKSUM_ALGORITHM + ":"):
        raise UnimplementedError(
            None,
            None,
            f"Tensor {name!r} in {path} has checksum {expected!r}; this gpuvars knows only "
            f"{CHECKSUM_ALGORITHM!r} checksums. Upgrade gpuvars to read it.",
        )
    if expected != found:
        raise DataLossError(
            None,
            None,
            f"Checksum mismatch for tensor {name!r} in checkpoint file {path}: expected {expected}, "
            f"computed {found}. The file is corrupt; restore from an older checkpoint.",
        )


def _to_native(out: np.ndarray) -> None:
    if not _LITTLE and out.dtype.itemsize > 1:  # files are little-endian
        out.byteswap(inplace=True)


_SEEK_LOCK = threading.Lock()


def _pread(fd: int, n: int, offset: int) -> bytes:
    if hasattr(os, "pread"):
        return os.pread(fd, n, offset)
    with _SEEK_LOCK:  # pragma: no cover - Windows: no positional reads, so serialize seek + read
        os.lseek(fd, offset, os.SEEK_SET)
        return os.read(fd, n)


def _pread_into(fd: int, buf: np.ndarray, offset: int) -> int:
    if hasattr(os, "preadv"):
        return os.preadv(fd, [buf.data], offset)
    data = _pread(fd, buf.size, offset)  # pragma: no cover - one extra copy where preadv is missing
    buf[: len(data)] = np.frombuffer(data, np.uint8)  # pragma: no cover
    return len(data)  # pragma: no cover
