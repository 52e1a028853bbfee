"""A checkpoint on disk: its safetensors shards and the ``P.index.json`` that commits them.

For a prefix ``P`` a checkpoint is

* ``P-00000-of-0000N.safetensors`` ...: the data (:mod:`gpuvars.train._format`);
  one file when unsharded, one file per device when sharded;
* ``P.index.json``: Hugging Face's sharded-index layout plus gpuvars' fields::

    {"metadata": {"format": "gpuvars", "format_version": 1, "global_step": 7, "total_size": 4096},
     "weight_map": {"w": "P-00000-of-00001.safetensors", ...},
     "tensors": {"w": {"dtype": "float32", "shape": [32, 32], "file": "P-00000-of-00001.safetensors",
                       "device": "/job:localhost/replica:0/task:0/device:CPU:0", "checksum": "sum4k:..."},
                 "emb/part_1": {..., "slice_of": {"name": "emb", "full_shape": [10, 4], "offset": [5, 0]}}}}

A checkpoint exists when and only when its index exists: the index is written
last (temporary name, fsync, rename, folder fsync) and deleted first. File
names in an index are plain names inside the checkpoint's folder; anything else
(``../x``, an absolute path, a sub-folder, a symlink out) is refused with
``DataLossError``, never followed.

Re-saving to an existing prefix first removes the old index (durably) and only
then renames the new data files over the old ones, so a crash in between
leaves that prefix without a checkpoint rather than with a mixed one;
``latest_checkpoint`` then falls back to the previous checkpoint. Saving with a
global step (a new prefix each time) never has that window.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from gpuvars import dtypes as _dtypes
from gpuvars.errors import DataLossError, NotFoundError, OpError, UnimplementedError
from gpuvars.train import _format

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "CheckpointIndex",
    "CheckpointReader",
    "LogicalVariable",
    "ShardPlan",
    "SliceInfo",
    "StoredTensor",
    "TensorRecord",
    "checkpoint_exists",
    "data_file_name",
    "delete_checkpoint",
    "index_path",
    "plan_shards",
    "read_index",
    "write_checkpoint",
]

logger = logging.getLogger(__name__)

FORMAT = "gpuvars"
FORMAT_VERSION = 1
INDEX_SUFFIX = ".index.json"


def index_path(prefix: str | os.PathLike[str]) -> str:
    """``P.index.json`` for prefix ``P``."""
    return os.fspath(prefix) + INDEX_SUFFIX


def data_file_name(basename: str, i: int, n: int) -> str:
    """The i-th of n data files of a prefix whose last component is ``basename``: ``P-00000-of-00002.safetensors``."""
    return f"{basename}-{i:05d}-of-{n:05d}.safetensors"


def checkpoint_exists(prefix: str | os.PathLike[str]) -> bool:
    """Whether a checkpoint exists at ``prefix``: true exactly when ``P.index.json`` is a file.

    Args:
      prefix: the checkpoint prefix (``dir/model.ckpt-7``).

    Returns:
      True when the index exists.
    """
    return os.path.isfile(index_path(prefix))


# --------------------------------------------------------------------------- records


def _shape_tuple(shape: Any, what: str) -> tuple[int, ...]:
    try:
        dims = tuple(shape)
    except TypeError:
        raise ValueError(f"Expected {what} to be a sequence of non-negative ints. Received: {shape!r}") from None
    if not all(not isinstance(d, bool) and isinstance(d, (int, np.integer)) and d >= 0 for d in dims):
        raise ValueError(f"Expected {what} to be a sequence of non-negative ints. Received: {shape!r}")
    return tuple(int(d) for d in dims)


@dataclass(frozen=True)
class SliceInfo:
    """Where a stored tensor sits inside a logical (partitioned) variable.

    Attributes:
      name: the logical variable's name.
      full_shape: the logical variable's shape.
      offset: the stored tensor's first index along every axis.
    """

    name: str
    full_shape: tuple[int, ...]
    offset: tuple[int, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "full_shape", _shape_tuple(self.full_shape, "slice_of.full_shape"))
        object.__setattr__(self, "offset", _shape_tuple(self.offset, "slice_of.offset"))

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "full_shape": list(self.full_shape), "offset": list(self.offset)}


@dataclass(frozen=True)
class TensorRecord:
    """One tensor to save, produced just in time.

    Attributes:
      name: the stored name (``<name>/part_<i>`` for a shard of a partitioned variable).
      dtype: its dtype (anything :func:`gpuvars.dtypes.as_dtype` accepts).
      shape: its shape.
      device: the device that holds it (files are grouped by this when sharded).
      producer: returns the tensor as a host NumPy array of that dtype and shape;
        called once, from a writer thread, right before the tensor is written.
      slice_of: for a shard of a partitioned variable, where it sits in the whole.
    """

    name: str
    dtype: Any
    shape: tuple[int, ...]
    device: str
    producer: Callable[[], np.ndarray]
    slice_of: SliceInfo | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "dtype", _dtypes.as_dtype(self.dtype))
        object.__setattr__(self, "shape", _shape_tuple(self.shape, f"the shape of {self.name!r}"))
        if not callable(self.producer):
            raise TypeError(f"Expected `producer` of {self.name!r} to be callable. Received: {self.producer!r}")
        if not isinstance(self.device, str):
            raise TypeError(f"Expected `device` of {self.name!r} to be a string. Received: {self.device!r}")

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize


@dataclass(frozen=True)
class StoredTensor:
    """An index entry: one tensor stored in one file of a checkpoint.

    Attributes:
      name: the stored name.
      dtype: the true dtype (complex128 even though the file holds float64 pairs).
      shape: the stored tensor's shape.
      file: the data file's name, inside the checkpoint's folder.
      device: the device it was saved from.
      checksum: ``"sum4k:..."`` of its bytes.
      slice_of: for a shard of a partitioned variable, where it sits in the whole.
    """

    name: str
    dtype: np.dtype
    shape: tuple[int, ...]
    file: str
    device: str
    checksum: str
    slice_of: SliceInfo | None = None

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize

    @property
    def offset(self) -> tuple[int, ...]:
        """The first index of this tensor inside its logical variable (zeros when not a slice)."""
        return self.slice_of.offset if self.slice_of is not None else (0,) * len(self.shape)

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "dtype": self.dtype.name,
            "shape": list(self.shape),
            "file": self.file,
            "device": self.device,
            "checksum": self.checksum,
        }
        if self.slice_of is not None:
            doc["slice_of"] = self.slice_of.to_json()
        return doc


@dataclass(frozen=True)
class LogicalVariable:
    """A variable as the user sees it: a whole tensor, or a partitioned one assembled from slices.

    Attributes:
      name: the variable's name.
      dtype: its dtype.
      shape: its full shape.
      pieces: the stored tensors that tile it (one, unsliced, for an ordinary variable).
    """

    name: str
    dtype: np.dtype
    shape: tuple[int, ...]
    pieces: tuple[StoredTensor, ...]

    @property
    def partitioned(self) -> bool:
        return any(p.slice_of is not None for p in self.pieces)


def _check_tiling(
    name: str,
    shape: tuple[int, ...],
    pieces: Sequence[tuple[str, tuple[int, ...], tuple[int, ...]]],
    fail: Callable[[str], Exception],
) -> None:
    """Check that boxes ``(piece, offset, shape)`` lie inside ``shape``, do not overlap and cover it."""
    for piece, off, shp in pieces:
        if len(off) != len(shape) or len(shp) != len(shape):
            raise fail(
                f"slice {piece!r} of {name!r} has offset {list(off)} and shape {list(shp)}; "
                f"expected rank {len(shape)} like the full shape {list(shape)}"
            )
        if any(o + s > f for o, s, f in zip(off, shp, shape)):
            raise fail(
                f"slice {piece!r} of {name!r} (offset {list(off)}, shape {list(shp)}) runs past "
                f"the full shape {list(shape)}"
            )
    total = sum(math.prod(s) for _, _, s in pieces)
    if total != math.prod(shape):
        raise fail(
            f"the slices of {name!r} hold {total} elements; the full shape {list(shape)} has "
            f"{math.prod(shape)} (a slice is missing or duplicated)"
        )
    boxes = [p for p in pieces if math.prod(p[2])]
    if not shape or not boxes:
        return
    # In bounds and the right volume: an exact tiling iff no two boxes overlap.
    split = [a for a in range(len(shape)) if any(p[2][a] != shape[a] for p in boxes)]
    if len(split) <= 1:  # split along one axis (what partitioners do): intervals that must abut, O(k log k)
        axis = split[0] if split else 0
        end = 0
        for piece, off, shp in sorted(boxes, key=lambda p: p[1][axis]):
            if off[axis] != end:
                raise fail(
                    f"slice {piece!r} of {name!r} starts at {off[axis]} along axis {axis}; expected {end} "
                    "(slices overlap or leave a gap)"
                )
            end = off[axis] + shp[axis]
        return
    for i, (pa, oa, sa) in enumerate(boxes):
        for pb, ob, sb in boxes[i + 1 :]:
            if all(x < y + t and y < x + s for x, s, y, t in zip(oa, sa, ob, sb)):
                raise fail(f"slices {pa!r} and {pb!r} of {name!r} overlap")


def _group_logical(
    entries: Iterable[tuple[str, np.dtype, tuple[int, ...], SliceInfo | None]], fail: Callable[[str], Exception]
) -> dict[str, tuple[np.dtype, tuple[int, ...], list[str]]]:
    """Group stored tensors into logical variables and validate the partitions."""
    logical: dict[str, tuple[np.dtype, tuple[int, ...], list[str]]] = {}
    boxes: dict[str, list[tuple[str, tuple[int, ...], tuple[int, ...]]]] = {}
    plain: set[str] = set()
    for name, dt, shape, sl in entries:
        if sl is None:
            if name in logical:
                raise fail(f"{name!r} is stored as a whole variable and also names a partitioned variable's slices")
            logical[name] = (dt, shape, [name])
            plain.add(name)
            continue
        if sl.name in plain:
            raise fail(f"{name!r} is a slice of {sl.name!r}, which is also stored as a whole variable")
        if sl.name in logical:
            dt0, full0, members = logical[sl.name]
            if dt0 != dt or full0 != sl.full_shape:
                raise fail(
                    f"slices of {sl.name!r} disagree: {members[0]!r} is {dt0} {list(full0)}, {name!r} is "
                    f"{dt} {list(sl.full_shape)}"
                )
            members.append(name)
        else:
            logical[sl.name] = (dt, sl.full_shape, [name])
        boxes.setdefault(sl.name, []).append((name, sl.offset, shape))
    for lname, pieces in boxes.items():
        _check_tiling(lname, logical[lname][1], pieces, fail)
    return logical


@dataclass(frozen=True)
class CheckpointIndex:
    """The parsed ``P.index.json``.

    Attributes:
      prefix: the checkpoint prefix this index belongs to.
      global_step: the step saved (None when saved without one).
      tensors: stored name -> :class:`StoredTensor`, sorted by name.
      format_version: the index format version.
    """

    prefix: str
    global_step: int | None
    tensors: Mapping[str, StoredTensor]
    format_version: int = FORMAT_VERSION

    @property
    def folder(self) -> str:
        return os.path.dirname(self.prefix) or "."

    @property
    def total_size(self) -> int:
        return sum(t.nbytes for t in self.tensors.values())

    @property
    def weight_map(self) -> dict[str, str]:
        return {name: t.file for name, t in self.tensors.items()}

    @property
    def files(self) -> list[str]:
        """The data file names, sorted."""
        return sorted({t.file for t in self.tensors.values()})

    def file_path(self, file: str) -> str:
        return os.path.join(self.folder, file)

    def variables(self) -> dict[str, LogicalVariable]:
        """Logical variables (whole, or assembled from ``slice_of`` pieces), sorted by name."""
        groups = _group_logical(
            ((t.name, t.dtype, t.shape, t.slice_of) for t in self.tensors.values()),
            lambda msg: _index_loss(self.prefix, msg),
        )
        return {
            name: LogicalVariable(name, dt, shape, tuple(self.tensors[m] for m in members))
            for name, (dt, shape, members) in sorted(groups.items())
        }

    def to_json(self) -> dict[str, Any]:
        """The index document (Hugging Face layout plus gpuvars' fields)."""
        return {
            "metadata": {
                "format": FORMAT,
                "format_version": self.format_version,
                "global_step": self.global_step,
                "total_size": self.total_size,
            },
            "weight_map": self.weight_map,
            "tensors": {name: t.to_json() for name, t in self.tensors.items()},
        }


def _index_loss(prefix: str, what: str) -> OpError:
    return DataLossError(
        None, None, f"Checkpoint index {index_path(prefix)} is corrupt: {what}. Restore from another checkpoint."
    )


# --------------------------------------------------------------------------- planning


@dataclass(frozen=True)
class ShardPlan:
    """One data file of a checkpoint being written.

    Attributes:
      file: its name (``P-00000-of-00002.safetensors``).
      devices: the devices whose tensors it holds (one when sharded).
      names: the stored names it holds, in the caller's order.
      nbytes: the bytes of tensor data it will hold.
    """

    file: str
    devices: tuple[str, ...]
    names: tuple[str, ...]
    nbytes: int


def plan_shards(
    specs: Mapping[str, tuple[Any, Sequence[int], str]] | Sequence[TensorRecord], basename: str, *, sharded: bool
) -> list[ShardPlan]:
    """Assign tensors to data files: one file, or one per device sorted by device name (as TF's sharded Saver).

    A pure function of names, dtypes, shapes and devices; no I/O.

    Args:
      specs: records, or a mapping ``name -> (dtype, shape, device)``.
      basename: the prefix's last component (``model.ckpt-7``).
      sharded: one file per device when True, else one file.

    Returns:
      The :class:`ShardPlan` per file, in file order. An empty checkpoint gets one empty file.

    Example:
      >>> [p.file for p in plan_shards({"a": ("float32", (2,), "/cpu:0"), "b": ("float32", (2,), "/gpu:0")},
      ...                              "ck", sharded=True)]
      ['ck-00000-of-00002.safetensors', 'ck-00001-of-00002.safetensors']
    """
    if isinstance(specs, Mapping):
        items = [(n, _dtypes.as_dtype(d), tuple(s), dev) for n, (d, s, dev) in specs.items()]
    else:
        items = [(r.name, r.dtype, r.shape, r.device) for r in specs]
    groups: dict[str, list[tuple[str, int, str]]] = {}
    for name, dt, shape, dev in items:
        groups.setdefault(dev if sharded else "", []).append((name, math.prod(shape) * dt.itemsize, dev))
    keys = sorted(groups) or [""]
    plans = []
    for i, key in enumerate(keys):
        members = groups.get(key, [])
        devices = tuple(dict.fromkeys(dev for _, _, dev in members))
        plans.append(
            ShardPlan(
                data_file_name(basename, i, len(keys)),
                devices,
                tuple(n for n, _, _ in members),
                sum(b for _, b, _ in members),
            )
        )
    return plans


# --------------------------------------------------------------------------- writing


def _validate_records(records: Sequence[TensorRecord]) -> None:
    seen: set[str] = set()
    for r in records:
        if not isinstance(r, TensorRecord):
            raise TypeError(f"Expected TensorRecord entries. Received: {type(r).__name__}")
        if r.name in seen:
            raise ValueError(f"Expected unique tensor names in a checkpoint. Received {r.name!r} twice.")
        seen.add(r.name)
        _format.storage_code(r.dtype)
        _format._check_name(r.name)
    _group_logical(((r.name, r.dtype, r.shape, r.slice_of) for r in records), ValueError)


def write_checkpoint(
    prefix: str | os.PathLike[str],
    tensors: Sequence[TensorRecord],
    *,
    global_step: int | None = None,
    sharded: bool = False,
    parallel: bool = True,
    durable: bool = True,
) -> CheckpointIndex:
    """Write a checkpoint: data files (streamed, one tensor at a time), then the index.

    Every file goes to a temporary name, is fsync'ed and renamed; the folder is
    fsync'ed; the index is written last the same way. When this returns, the
    checkpoint is durable and ``checkpoint_exists(prefix)`` is true; the caller
    then updates the state file. Data files of an earlier checkpoint at the same
    prefix that the new one does not use are removed.

    Args:
      prefix: the checkpoint prefix, e.g. ``"train/model.ckpt-7"``; its folder must exist.
      tensors: the :class:`TensorRecord` s to save.
      global_step: recorded in the index (None when saved without a step).
      sharded: one data file per device (sorted by device name) instead of one file.
      parallel: write the files of different devices from parallel threads.
      durable: fsync files and folder (False only for throwaway checkpoints, e.g. in benchmarks).

    Returns:
      The :class:`CheckpointIndex` written.

    Raises:
      ValueError: duplicate or invalid names, bad slices, or a missing parent folder
        ("Parent directory of {prefix} doesn't exist, can't save.", as TF).
      TypeError: an unsupported dtype, or a producer that returns a non-NumPy array.
      OSError: the disk is full or not writable; no partial checkpoint is left.

    Example:
      >>> w = np.ones((2, 3), np.float32)
      >>> idx = write_checkpoint("/tmp/ck/model.ckpt-1", [TensorRecord("w", w.dtype, w.shape, "/cpu:0", lambda: w)],
      ...                        global_step=1)
      >>> idx.files
      ['model.ckpt-1-00000-of-00001.safetensors']
    """
    prefix = os.fspath(prefix)
    folder, basename = os.path.split(prefix)
    folder = folder or "."
    if not basename:
        raise ValueError(
            f"Expected a checkpoint prefix that names a file, such as 'dir/model.ckpt'. Received: {prefix!r}"
        )
    if not os.path.isdir(folder):
        raise ValueError(f"Parent directory of {prefix} doesn't exist, can't save.")
    if global_step is not None and (isinstance(global_step, bool) or not isinstance(global_step, (int, np.integer))):
        raise TypeError(f"Expected `global_step` to be an int or None. Received: {global_step!r}")
    records = list(tensors)
    _validate_records(records)
    by_name = {r.name: r for r in records}
    plans = plan_shards(records, basename, sharded=sharded)
    metadata = {"format": FORMAT, "format_version": str(FORMAT_VERSION)}
    complex128 = {r.name: r.dtype.name for r in records if r.dtype == np.complex128}

    def write_one(plan: ShardPlan) -> tuple[str, dict[str, str]]:
        meta = dict(metadata)
        true_dtypes = {n: complex128[n] for n in plan.names if n in complex128}
        if true_dtypes:
            meta["gpuvars.true_dtypes"] = json.dumps(true_dtypes, sort_keys=True)
        layout = _format.plan_file(((n, by_name[n].dtype, by_name[n].shape) for n in plan.names), meta)
        return _format.write_file(
            os.path.join(folder, plan.file), layout, lambda t: by_name[t.name].producer(), durable=durable, rename=False
        )

    results: list[tuple[str, dict[str, str]] | BaseException] = []
    if parallel and len(plans) > 1:
        with ThreadPoolExecutor(max_workers=len(plans), thread_name_prefix="gpuvars-save") as pool:
            futures = [pool.submit(write_one, p) for p in plans]
            for f in futures:
                err = f.exception()
                results.append(err if err is not None else f.result())
    else:
        for p in plans:
            try:
                results.append(write_one(p))
            except BaseException as e:  # re-raised below, after cleanup
                results.append(e)
                break
    errors = [r for r in results if isinstance(r, BaseException)]
    temps = [r[0] for r in results if not isinstance(r, BaseException)]
    if errors:
        for tmp in temps:
            _format._unlink_quietly(tmp)
        raise errors[0]

    old_files = _old_data_files(prefix)
    try:
        if os.path.lexists(index_path(prefix)):
            # The old checkpoint stops existing before any of its data files is replaced.
            os.unlink(index_path(prefix))
            if durable:
                _format.fsync_dir(folder)
        for plan, tmp in zip(plans, temps):
            os.replace(tmp, os.path.join(folder, plan.file))
        if durable:
            _format.fsync_dir(folder)
    except BaseException:
        for tmp in temps:
            _format._unlink_quietly(tmp)
        raise

    stored: dict[str, StoredTensor] = {}
    for plan, result in zip(plans, results):
        assert not isinstance(result, BaseException)
        sums = result[1]
        for n in plan.names:
            r = by_name[n]
            stored[n] = StoredTensor(n, r.dtype, r.shape, plan.file, r.device, sums[n], r.slice_of)
    index = CheckpointIndex(prefix, None if global_step is None else int(global_step), dict(sorted(stored.items())))
    text = _INT_LIST.sub(_compact_list, json.dumps(index.to_json(), indent=2, sort_keys=True, ensure_ascii=False))
    _format.atomic_write_bytes(index_path(prefix), (text + "\n").encode("utf-8"), durable=durable)

    new_files = {p.file for p in plans}
    for name in old_files - new_files:
        _format._unlink_quietly(os.path.join(folder, name))
    _format.remove_stale_temp_files(folder)
    return index


_INT_LIST = re.compile(r"\[\s*(?:\d+,\s*)*\d+\s*\]")  # shapes and offsets: one line each, for people reading the index


def _compact_list(m: re.Match[str]) -> str:
    return "[" + ", ".join(re.findall(r"\d+", m.group())) + "]"


def _data_file_re(basename: str) -> re.Pattern[str]:
    return re.compile(re.escape(basename) + r"-\d{5}-of-\d{5}\.safetensors")


def _old_data_files(prefix: str) -> set[str]:
    folder, basename = os.path.split(prefix)
    pattern = _data_file_re(basename)
    try:
        return {n for n in os.listdir(folder or ".") if pattern.fullmatch(n)}
    except OSError:
        return set()


def delete_checkpoint(prefix: str | os.PathLike[str], *, meta_graph_suffix: str = "meta") -> None:
    """Delete a checkpoint: its index first (so it stops existing at once), then its data, ``.meta`` and temp files.

    Only files named after the prefix (``P-00000-of-00002.safetensors``, ``P.meta``,
    temporary files of dead writers) are removed. Missing files are ignored, so
    deleting twice, or a half-deleted checkpoint, is fine.

    Args:
      prefix: the checkpoint prefix.
      meta_graph_suffix: the meta graph file's extension (``P.meta``).
    """
    prefix = os.fspath(prefix)
    folder, basename = os.path.split(prefix)
    folder = folder or "."
    # Data files are found by their name pattern, never through the index: a corrupt
    # index must not be able to point the deletion at another checkpoint's files.
    names = _old_data_files(prefix)
    try:
        os.unlink(index_path(prefix))
        _format.fsync_dir(folder)
    except FileNotFoundError:
        pass
    for name in sorted(names):
        _format._unlink_quietly(os.path.join(folder, name))
    _format._unlink_quietly(f"{prefix}.{meta_graph_suffix}")
    temp_re = re.compile(
        re.escape(basename) + r"(?:-\d{5}-of-\d{5}\.safetensors|\.index\.json)\.tmp\.(?P<pid>\d+)\.[0-9a-f]{8}"
    )
    try:
        for name in os.listdir(folder):
            m = temp_re.fullmatch(name)
            if m and not _format._pid_alive(int(m.group("pid"))):
                _format._unlink_quietly(os.path.join(folder, name))
    except OSError:
        pass


# --------------------------------------------------------------------------- reading


def _plain_name_inside(folder: str, name: str) -> bool:
    if not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name or os.path.isabs(name):
        return False
    if os.path.splitdrive(name)[0]:
        return False
    real_folder = os.path.realpath(folder)
    return os.path.dirname(os.path.realpath(os.path.join(folder, name))) == real_folder


def _expect(cond: bool, prefix: str, what: str) -> None:
    if not cond:
        raise _index_loss(prefix, what)


def _int_list(value: Any) -> bool:
    return isinstance(value, list) and all(type(d) is int and d >= 0 for d in value)


def _dtype_from_name(prefix: str, name: str, value: Any) -> np.dtype:
    _expect(isinstance(value, str), prefix, f"tensor {name!r} has dtype {value!r}; expected a dtype name")
    if value == "bfloat16" and not _dtypes.HAS_BFLOAT16:
        raise UnimplementedError(
            None,
            None,
            f"Checkpoint {prefix} holds bfloat16 tensor {name!r}; reading it needs "
            "the ml_dtypes package (`pip install ml_dtypes`).",
        )
    try:
        return _dtypes.as_dtype(value)
    except TypeError:
        raise _index_loss(prefix, f"tensor {name!r} has unsupported dtype {value!r}") from None


def read_index(prefix: str | os.PathLike[str]) -> CheckpointIndex:
    """Read and validate ``P.index.json``.

    Checks the structure, that every ``file`` is a plain file name inside the
    checkpoint's folder (no ``/``, no ``..``, not absolute, not a symlink out)
    and exists, and that partitioned variables are tiled exactly by their slices.

    Args:
      prefix: the checkpoint prefix.

    Returns:
      The :class:`CheckpointIndex`.

    Raises:
      ValueError: "The passed save_path is not a valid checkpoint: {prefix}" when the index does not exist.
      DataLossError: the index is corrupt, names a file outside the folder, or a data file is missing.
      UnimplementedError: written by a newer format version, or needs ml_dtypes for bfloat16.

    Example:
      >>> idx = read_index("/tmp/ck/model.ckpt-1")
      >>> sorted(idx.variables())
      ['w']
    """
    prefix = os.fspath(prefix)
    path = index_path(prefix)
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        raise ValueError(
            f"The passed save_path is not a valid checkpoint: {prefix}. Expected the index file {path} to exist; "
            "pass a prefix such as 'dir/model.ckpt-7' (see latest_checkpoint(dir))."
        ) from None
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise _index_loss(prefix, f"not valid UTF-8 JSON ({e})") from e
    _expect(isinstance(doc, dict), prefix, "expected a JSON object")
    meta = doc.get("metadata")
    _expect(isinstance(meta, dict), prefix, "expected a 'metadata' object")
    _expect(meta.get("format") == FORMAT, prefix, f"expected metadata.format {FORMAT!r}, found {meta.get('format')!r}")
    version = meta.get("format_version")
    _expect(type(version) is int, prefix, f"expected an integer metadata.format_version, found {version!r}")
    if version > FORMAT_VERSION:
        raise UnimplementedError(
            None,
            None,
            f"Checkpoint {prefix} has format_version {version}; this gpuvars reads "
            f"up to {FORMAT_VERSION}. Upgrade gpuvars to read it.",
        )
    step = meta.get("global_step")
    _expect(step is None or type(step) is int, prefix, f"expected an integer or null global_step, found {step!r}")
    entries = doc.get("tensors")
    weight_map = doc.get("weight_map")
    _expect(isinstance(entries, dict), prefix, "expected a 'tensors' object")
    _expect(isinstance(weight_map, dict), prefix, "expected a 'weight_map' object")
    folder = os.path.dirname(prefix) or "."
    tensors: dict[str, StoredTensor] = {}
    checked_files: set[str] = set()
    for name in sorted(entries):
        entry = entries[name]
        _expect(isinstance(entry, dict), prefix, f"tensor {name!r}: expected an object")
        dt = _dtype_from_name(prefix, name, entry.get("dtype"))
        _expect(
            _int_list(entry.get("shape")),
            prefix,
            f"tensor {name!r}: expected a shape of non-negative ints, found {entry.get('shape')!r}",
        )
        file, device, checksum = entry.get("file"), entry.get("device"), entry.get("checksum")
        _expect(
            isinstance(file, str) and _plain_name_inside(folder, file),
            prefix,
            f"tensor {name!r} points at file {file!r}; expected a plain file name inside {folder} "
            "(paths out of the checkpoint folder are never followed)",
        )
        _expect(isinstance(device, str), prefix, f"tensor {name!r}: expected a device string, found {device!r}")
        _expect(isinstance(checksum, str), prefix, f"tensor {name!r}: expected a checksum string, found {checksum!r}")
        _expect(
            weight_map.get(name) == file,
            prefix,
            f"weight_map[{name!r}] is {weight_map.get(name)!r} but the tensor entry says {file!r}",
        )
        sl = None
        if "slice_of" in entry:
            s = entry["slice_of"]
            _expect(
                isinstance(s, dict)
                and isinstance(s.get("name"), str)
                and _int_list(s.get("full_shape"))
                and _int_list(s.get("offset")),
                prefix,
                f"tensor {name!r}: expected slice_of {{name, full_shape, offset}}, found {s!r}",
            )
            sl = SliceInfo(s["name"], tuple(s["full_shape"]), tuple(s["offset"]))
        if file not in checked_files:
            if not os.path.isfile(os.path.join(folder, file)):
                raise DataLossError(
                    None,
                    None,
                    f"Checkpoint file {os.path.join(folder, file)} listed in "
                    f"{path} does not exist. The checkpoint is incomplete; restore "
                    "from another one.",
                )
            checked_files.add(file)
        tensors[name] = StoredTensor(name, dt, tuple(entry["shape"]), file, device, checksum, sl)
    _expect(
        set(weight_map) == set(entries),
        prefix,
        f"weight_map and tensors list different names: {sorted(set(weight_map) ^ set(entries))[:10]}",
    )
    index = CheckpointIndex(prefix, step, tensors, version)
    index.variables()  # validates partitions
    return index


class CheckpointReader:
    """Reads a checkpoint's tensors straight into caller buffers, assembling and re-slicing partitions.

    Data files are opened lazily and their headers checked against the index
    (dtype, shape, presence); whole-tensor reads verify checksums. Reading a
    sub-range of a variable (for resharding) reads only the rows it needs where
    the stored slices are split along axis 0.

    Args:
      prefix: the checkpoint prefix.
      index: its already-read index (read here otherwise).

    Raises:
      ValueError: the prefix is not a valid checkpoint.
      DataLossError: see :func:`read_index`; also a data file whose header disagrees with the index.

    Example:
      >>> with CheckpointReader("/tmp/ck/model.ckpt-1") as r:
      ...     w = r.read_variable("w")
    """

    def __init__(self, prefix: str | os.PathLike[str], index: CheckpointIndex | None = None) -> None:
        import threading

        self.index = index if index is not None else read_index(prefix)
        self.prefix = self.index.prefix
        self._variables = self.index.variables()
        self._files: dict[str, _format.SafetensorsReader] = {}
        self._lock = threading.Lock()

    def __enter__(self) -> CheckpointReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the data files."""
        with self._lock:
            for f in self._files.values():
                f.close()
            self._files.clear()

    def variables(self) -> dict[str, LogicalVariable]:
        """Logical variables by name (sorted)."""
        return self._variables

    def variable(self, name: str) -> LogicalVariable:
        """One logical variable.

        Raises:
          NotFoundError: "Key {name} not found in checkpoint".
        """
        try:
            return self._variables[name]
        except KeyError:
            known = list(self._variables)
            raise NotFoundError(
                None,
                name,
                f"Key {name} not found in checkpoint {self.prefix}. Expected one of its "
                f"{len(known)} variables: {', '.join(known[:10])}{', ...' if len(known) > 10 else ''}",
            ) from None

    def _file(self, file: str) -> _format.SafetensorsReader:
        with self._lock:
            reader = self._files.get(file)
            if reader is None:
                reader = _format.SafetensorsReader(self.index.file_path(file))
                self._check_file(reader, file)
                self._files[file] = reader
            return reader

    def _check_file(self, reader: _format.SafetensorsReader, file: str) -> None:
        for t in self.index.tensors.values():
            if t.file != file:
                continue
            code, extra = _format.storage_code(t.dtype)
            try:
                lay = reader.tensor(t.name)
            except KeyError:
                raise DataLossError(
                    None,
                    None,
                    f"Checkpoint file {reader.path} lacks tensor {t.name!r} that "
                    f"{index_path(self.prefix)} lists in it.",
                ) from None
            if lay.code != code or lay.storage_shape != t.shape + extra:
                raise DataLossError(
                    None,
                    None,
                    f"Checkpoint file {reader.path} stores {t.name!r} as {lay.code} "
                    f"{list(lay.storage_shape)}; the index expects {code} "
                    f"{list(t.shape + extra)} ({t.dtype}).",
                )

    def read_stored_into(self, name: str, out: np.ndarray) -> None:
        """Read one stored tensor whole into ``out`` (same dtype, same size), verifying its checksum.

        Raises:
          NotFoundError: no such stored tensor.
          DataLossError: checksum mismatch or truncated file (naming the file).
          ValueError/TypeError: ``out`` has another dtype or size, or is not writable and C-contiguous.
        """
        t = self.index.tensors.get(name)
        if t is None:
            raise NotFoundError(None, name, f"Key {name} not found in checkpoint {self.prefix}")
        _check_dtype(out, t.dtype, name)
        self._file(t.file).read_into(t.name, out, checksum=t.checksum)

    def read_variable(self, name: str) -> np.ndarray:
        """A logical variable as a new host array (assembled from its slices)."""
        v = self.variable(name)
        out = np.empty(v.shape, v.dtype)
        self.read_region_into(name, (0,) * len(v.shape), out)
        return out

    def read_region_into(self, name: str, offset: Sequence[int], out: np.ndarray, *, verify: bool = True) -> None:
        """Read the box ``[offset, offset + out.shape)`` of logical variable ``name`` into ``out``.

        Stored pieces entirely inside the box are read whole and checksum-verified;
        pieces that only overlap it are read partially (their checksum covers the
        whole piece, so it cannot be verified; the header and offsets are). Where
        a piece is split along axis 0 only the rows needed are read, straight
        into ``out`` when the bytes line up, else through a buffer of those rows.

        Args:
          name: the logical variable.
          offset: the box's first index along every axis.
          out: a writable C-contiguous array of the variable's dtype; its shape is the box's.
          verify: check the checksums of whole pieces (a caller that verified them already may skip it).

        Raises:
          NotFoundError: no such variable.
          ValueError: the box does not fit inside the variable, or ``out`` is unsuitable.
          DataLossError: checksum mismatch or truncated file.
        """
        v = self.variable(name)
        _check_dtype(out, v.dtype, name)
        if not out.flags.c_contiguous or not out.flags.writeable:
            raise ValueError(f"Expected `out` for {name!r} to be a writable C-contiguous array.")
        offset = tuple(int(o) for o in offset)
        box = tuple(out.shape)
        if (
            len(offset) != len(v.shape)
            or len(box) != len(v.shape)
            or any(o < 0 or o + s > f for o, s, f in zip(offset, box, v.shape))
        ):
            raise ValueError(
                f"Expected a box inside {name!r} of shape {list(v.shape)}. Received offset "
                f"{list(offset)} and shape {list(box)}."
            )
        for piece in v.pieces:
            self._read_piece_part(piece, offset, out, piece.checksum if verify else None)

    def _read_piece_part(self, piece: StoredTensor, offset: tuple[int, ...], out: np.ndarray,
                         checksum: str | None) -> None:
        poff, pshape = piece.offset, piece.shape
        reader = self._file(piece.file)
        if not pshape:  # a scalar: whole or nothing
            reader.read_into(piece.name, out, checksum=checksum)
            return
        lo = tuple(max(a, b) for a, b in zip(offset, poff))
        hi = tuple(min(a + s, b + t) for a, s, b, t in zip(offset, out.shape, poff, pshape))
        if any(h <= low for low, h in zip(lo, hi)):
            return  # no overlap, or an empty one
        in_piece = tuple(slice(low - p, h - p) for low, h, p in zip(lo, hi, poff))
        in_out = tuple(slice(low - o, h - o) for low, h, o in zip(lo, hi, offset))
        whole_piece = all(s.start == 0 and s.stop == n for s, n in zip(in_piece, pshape))
        fills_out_rows = all(s.start == 0 and s.stop == n for s, n in zip(in_out[1:], out.shape[1:]))
        if whole_piece:
            if fills_out_rows:  # the piece's bytes are one contiguous run of out
                reader.read_into(piece.name, out[in_out[:1]], checksum=checksum)
                return
            buf = np.empty(pshape, piece.dtype)
            reader.read_into(piece.name, buf, checksum=checksum)
            out[in_out] = buf
            return
        rows = in_piece[0]
        piece_rows_full = all(s.start == 0 and s.stop == n for s, n in zip(in_piece[1:], pshape[1:]))
        if piece_rows_full and fills_out_rows:
            reader.read_rows_into(piece.name, rows.start, rows.stop, out[in_out[:1]])
            return
        buf = np.empty((rows.stop - rows.start,) + pshape[1:], piece.dtype)
        reader.read_rows_into(piece.name, rows.start, rows.stop, buf)
        out[in_out] = buf[(slice(None),) + in_piece[1:]]


def _check_dtype(out: Any, dtype: np.dtype, name: str) -> None:
    if not isinstance(out, np.ndarray):
        raise TypeError(f"Expected `out` for {name!r} to be a numpy.ndarray. Received: {type(out).__name__}")
    if out.dtype != dtype:
        raise ValueError(
            f"Expected `out` for {name!r} to have the checkpoint's dtype {dtype}. Received {out.dtype}; "
            "read into a buffer of that dtype, then cast."
        )
