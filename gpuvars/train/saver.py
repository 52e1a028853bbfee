"""``Saver``: TensorFlow 1.x's name-based checkpoints over sharded safetensors files (SPEC §10).

A ``Saver`` maps checkpoint names to variables, as ``tf.train.Saver`` does:
``var_list=None`` takes every saveable variable of the graph
(``GLOBAL_VARIABLES`` + ``"saveable_objects"``), a list keys each variable by
its op name (a ``PartitionedVariable``, or the shards of one, is ONE logical
variable keyed by its full name), and a dict uses its keys. ``save`` streams
each variable's bytes to disk one tensor at a time (``/cpu:0`` buffers are
written in place; emulated and CUDA GPU buffers are copied to the host through
``gpuvars.transfer``, one tensor at a time, so peak extra host memory is about
the largest tensor); ``sharded=True`` writes one file per device, the devices
in parallel. The files, the index and the ``checkpoint`` state file are those
of :mod:`gpuvars.train._index` and :mod:`gpuvars.train.checkpoint_management`.

``restore`` validates every name, dtype and shape first, then reads every
stored piece it needs once through a reused host scratch buffer to verify its
checksum, and only then restores the variables one at a time, on whatever
device each lives now: the bytes go to the scratch (checksum verified again)
and one copy under the variable's lock puts them into its existing buffer (so
``value()`` keeps aliasing the live buffer, as after ``assign``); a variable
without a buffer of that shape reads into a new buffer of its device (CUDA: a
host buffer and one copy through ``gpuvars.transfer``). Bad input never
corrupts state: a checksum mismatch or a truncated file fails the restore
before any variable changes, so every variable keeps its value or stays
uninitialized. Peak extra host memory is about the largest tensor (the
scratch). A partitioned variable restores from any other partitioning, or
from an unpartitioned variable, and the reverse: each shard reads only the
region it covers.

Rotation follows TensorFlow exactly: ``max_to_keep`` most recent checkpoints
(a re-saved prefix moves to the end; ``None`` or 0 keeps all, and
``last_checkpoints`` is then ``[]``), plus one every
``keep_checkpoint_every_n_hours`` counted from the Saver's construction; old
checkpoints are deleted only after the new state file is durable, index first.

Differences from TensorFlow, on purpose:

* ``save`` writes the meta graph *before* the checkpoint data, so a checkpoint
  that ``latest_checkpoint`` can name always has its ``.meta`` (TensorFlow
  writes it last, and a crash in between leaves a checkpoint without one).
* A failed ``restore`` (``DataLossError``: checksum mismatch, truncated file)
  changes no variable: every piece is verified before the first variable is
  written (TensorFlow's restore ops run independently, so there the variables
  restored before the failing one keep their new values). Only a checkpoint
  rewritten *during* the restore can fail the second read, and then the
  variables before it are restored and the rest keep their values; none is
  ever left half-written.
* ``sess`` is optional (everything is eager); ``save`` accepts ``None`` or any
  object with a ``run`` method.
* ``write_version``, ``builder`` and ``filename`` are accepted and recorded;
  there is one file format.

Limits, written down where they bite: ``/cpu:0`` variables are written from
their live buffers without a copy, so an *unlocked* update racing with
``save`` may be partly seen (as with TF's save op reading a variable without
its lock; GPU variables are copied under the variable's lock). Restore
verifies the checksum of every stored piece it uses (a whole extra read, from
the page cache, that makes a failed restore change nothing); when resharding,
a shard that covers only part of a stored piece then reads just that byte
range, which that second read's checksum cannot cover.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

import numpy as np

from gpuvars import errors, transfer
from gpuvars.backends.base import DeviceArray
from gpuvars.graph import Graph, GraphKeys, get_default_graph
from gpuvars.partitioned import PartitionedVariable, SaveSliceInfo
from gpuvars.tensor import Tensor, TensorShape
from gpuvars.train import _index
from gpuvars.train import checkpoint_management as _cm
from gpuvars.variables import Variable

__all__ = ["SAVEABLE_OBJECTS", "Saver", "SaverDef"]

logger = logging.getLogger(__name__)

#: The collection of extra saveable objects that ``Saver(var_list=None)`` saves with ``GLOBAL_VARIABLES``.
SAVEABLE_OBJECTS = "saveable_objects"

# The clock behind keep_checkpoint_every_n_hours and checkpoint timestamps; tests replace it.
_time: Callable[[], float] = time.time


# --------------------------------------------------------------------------- SaverDef


@dataclass
class SaverDef:
    """What ``Saver.as_saver_def()`` returns: TF's ``SaverDef`` fields plus what gpuvars needs to rebuild a Saver.

    Attributes:
      filename_tensor_name: TF's name of the filename tensor (``"save/Const:0"``).
      save_tensor_name: TF's name of the save tensor (``"save/control_dependency:0"``,
        ``"save/Identity:0"`` when sharded).
      restore_op_name: TF's name of the restore op (``"save/restore_all"``).
      max_to_keep: checkpoints kept (0: all).
      sharded: one data file per device.
      keep_checkpoint_every_n_hours: keep one checkpoint per this many hours.
      version: the checkpoint format version (``SaverDef.V2``).
      saveables: gpuvars: ``[{"name": key, "variables": [op names], "slices": bool}]``, the
        checkpoint names and the variables (or shards) saved under them.
      reshape: gpuvars: the Saver's ``reshape`` setting.
      restore_sequentially: gpuvars: the Saver's ``restore_sequentially`` setting.

    Example:
      >>> sd = gpuvars.train.Saver([v]).as_saver_def()
      >>> sd.restore_op_name, sd.max_to_keep
      ('save/restore_all', 5)
      >>> SaverDef.FromString(sd.SerializeToString()) == sd
      True
    """

    LEGACY: ClassVar[int] = 0
    V1: ClassVar[int] = 1
    V2: ClassVar[int] = 2

    filename_tensor_name: str = ""
    save_tensor_name: str = ""
    restore_op_name: str = ""
    max_to_keep: int = 0
    sharded: bool = False
    keep_checkpoint_every_n_hours: float = 0.0
    version: int = 2
    saveables: list[dict[str, Any]] = field(default_factory=list)
    reshape: bool = False
    restore_sequentially: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The fields as a JSON-friendly dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SaverDef:
        """The inverse of :meth:`to_dict`; unknown keys are ignored.

        Raises:
          ValueError: a field of the wrong type.
        """
        if not isinstance(d, Mapping):
            raise ValueError(f"Expected a SaverDef as a dict. Received: {type(d).__name__}")
        kinds: dict[str, tuple[type, ...]] = {
            "filename_tensor_name": (str,),
            "save_tensor_name": (str,),
            "restore_op_name": (str,),
            "max_to_keep": (int,),
            "sharded": (bool,),
            "keep_checkpoint_every_n_hours": (int, float),
            "version": (int,),
            "saveables": (list,),
            "reshape": (bool,),
            "restore_sequentially": (bool,),
        }
        values: dict[str, Any] = {}
        for key, types in kinds.items():
            if key not in d:
                continue
            value = d[key]
            if not isinstance(value, types) or (bool not in types and isinstance(value, bool)):
                raise ValueError(
                    f"Expected SaverDef field {key!r} to be {' or '.join(t.__name__ for t in types)}. "
                    f"Received: {value!r:.80}"
                )
            values[key] = value
        for entry in values.get("saveables", []):
            ok = (
                isinstance(entry, Mapping)
                and isinstance(entry.get("name"), str)
                and isinstance(entry.get("variables"), list)
                and all(isinstance(n, str) for n in entry["variables"])
                and isinstance(entry.get("slices", False), bool)
            )
            if not ok:
                raise ValueError(
                    "Expected SaverDef.saveables entries {'name': str, 'variables': [str], 'slices': bool}. "
                    f"Received: {entry!r:.120}"
                )
        if "keep_checkpoint_every_n_hours" in values:
            values["keep_checkpoint_every_n_hours"] = float(values["keep_checkpoint_every_n_hours"])
        values["saveables"] = [dict(e) for e in values.get("saveables", [])]
        return cls(**values)

    def SerializeToString(self) -> bytes:  # noqa: N802 - protobuf's name
        """JSON bytes (never pickle)."""
        return json.dumps(self.to_dict(), sort_keys=True).encode("utf-8")

    @classmethod
    def FromString(cls, data: bytes) -> SaverDef:  # noqa: N802 - protobuf's name
        """Parse what :meth:`SerializeToString` wrote.

        Raises:
          ValueError: not a JSON SaverDef.
        """
        try:
            doc = json.loads(bytes(data).decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ValueError(f"Expected a JSON SaverDef. Could not parse it: {e}") from e
        return cls.from_dict(doc)

    def CopyFrom(self, other: SaverDef) -> None:  # noqa: N802 - protobuf's name
        """Make this a copy of ``other``."""
        for key, value in SaverDef.from_dict(other.to_dict()).__dict__.items():
            setattr(self, key, value)


def _strip_scope(name: str, scope: str | None) -> str | None:
    if not scope:
        return name
    prefix = scope.rstrip("/") + "/"
    return name[len(prefix) :] if name.startswith(prefix) else None


def _prepend_scope(name: str, scope: str | None) -> str:
    return f"{scope.rstrip('/')}/{name}" if scope and name else name


# --------------------------------------------------------------------------- var_list → saveables


@dataclass(frozen=True)
class _Entry:
    """One stored tensor: a whole variable, or one shard of a logical variable saved as slices."""

    key: str
    stored: str
    variable: Variable
    slice_info: SaveSliceInfo | None


def _describe(x: Any) -> str:
    return f"{x!r:.120}"


def _op_list_to_dict(op_list: Any) -> dict[str, Any]:
    """TF's ``op_list_to_dict``: a list of variables keyed by op name, slices grouped by full name."""
    if isinstance(op_list, (Variable, PartitionedVariable)) or not isinstance(op_list, (list, tuple, set)):
        raise TypeError(f"Variables to save should be passed in a dict or a list. Got {_describe(op_list)}")

    def flatten(items: Iterable[Any]) -> Iterable[Any]:
        for item in items:
            if isinstance(item, (list, tuple)):
                yield from flatten(item)
            else:
                yield item

    flat = list(flatten(op_list))
    for item in flat:
        if not isinstance(item, (Variable, PartitionedVariable)):
            raise TypeError(f"Variable to save is not a Variable: {_describe(item)}")
    names_to_saveables: dict[str, Any] = {}
    for var in sorted(flat, key=lambda x: x.name):
        if isinstance(var, PartitionedVariable):
            if var.name in names_to_saveables:
                raise ValueError(f"At least two variables have the same name: {var.name}")
            names_to_saveables[var.name] = var
        elif var._save_slice_info is not None:
            name = var._save_slice_info.full_name
            if name in names_to_saveables:
                if not isinstance(names_to_saveables[name], list):
                    raise ValueError(f"Mixing slices and non-slices with the same name: {name}")
                names_to_saveables[name].append(var)
            else:
                names_to_saveables[name] = [var]
        else:
            name = var.op.name
            if name in names_to_saveables:
                raise ValueError(f"At least two variables have the same name: {name}")
            names_to_saveables[name] = var
    return names_to_saveables


def _entries_for(name: Any, op: Any) -> list[_Entry]:
    """TF's ``saveable_objects_for_op``: the stored tensors of one checkpoint name."""
    if not isinstance(name, str):
        raise TypeError(
            "names_to_saveables must be a dict mapping string names to trackable operations. "
            f"Name is not a string: {name!r}"
        )
    if isinstance(op, (list, tuple, PartitionedVariable)):
        shards = list(op)
        if not shards:
            raise ValueError(f"Expected at least one slice for {name!r}. Received an empty list.")
        full_name = None
        for v in shards:
            if not isinstance(v, Variable):
                raise ValueError(f"Slices must all be Variables: {_describe(v)}")
            if v._save_slice_info is None:
                raise ValueError(f"Slices must all be slices: {_describe(v)}")
            if full_name is None:
                full_name = v._save_slice_info.full_name
            elif full_name != v._save_slice_info.full_name:
                raise ValueError(
                    f"Slices must all be from the same tensor: {full_name} != {v._save_slice_info.full_name}"
                )
        shards.sort(key=lambda v: list(v._save_slice_info.var_offset or []))
        return [_Entry(name, f"{name}/part_{i}", v, v._save_slice_info) for i, v in enumerate(shards)]
    if isinstance(op, Variable):
        return [_Entry(name, name, op, None)]
    raise TypeError(
        f"names_to_saveables must be a dict mapping string names to Tensors/Variables. Not a variable: {op!r:.120}"
    )


def _build_entries(names_to_saveables: Mapping[Any, Any]) -> list[_Entry]:
    """TF's ``validate_and_slice_inputs``: every stored tensor, each variable at most once."""
    for key in names_to_saveables:
        if not isinstance(key, str):
            _entries_for(key, None)  # raises TF's TypeError
    entries: list[_Entry] = []
    seen: set[int] = set()
    stored: set[str] = set()
    for name, op in sorted(names_to_saveables.items(), key=lambda kv: kv[0]):
        for e in _entries_for(name, op):
            if id(e.variable) in seen:
                raise ValueError(f"The same saveable will be restored with two names: {name}")
            seen.add(id(e.variable))
            if e.stored in stored:
                raise ValueError(f"At least two variables have the same name: {e.stored}")
            stored.add(e.stored)
            entries.append(e)
    # The slices of one logical variable must tile it exactly (the checkpoint stores whole variables).
    by_key: dict[str, list[_Entry]] = {}
    for e in entries:
        if e.slice_info is not None:
            by_key.setdefault(e.key, []).append(e)
    for key, group in by_key.items():
        infos = [e.slice_info for e in group if e.slice_info is not None]
        full = infos[0].full_shape or []
        for info in infos[1:]:
            if (info.full_shape or []) != full:
                raise ValueError(
                    f"Slices of {key!r} disagree on the full shape: {full} and {info.full_shape}. Expected the shards "
                    "of one partitioned variable."
                )
        boxes = [
            (e.stored, tuple(e.slice_info.var_offset or []), tuple(e.slice_info.var_shape or []))
            for e in group
            if e.slice_info is not None
        ]
        _index._check_tiling(key, tuple(full), boxes, ValueError)
    return entries


# --------------------------------------------------------------------------- the Saver


def _shape_str(shape: Sequence[int]) -> str:
    return "[" + ",".join(str(int(d)) for d in shape) + "]"


def _mismatch(message: str) -> str:
    return (
        "Restoring from checkpoint failed. This is most likely due to a mismatch between the current graph and "
        "the graph from the checkpoint. Please ensure that you have not altered the graph expected based on the "
        f"checkpoint. Original error:\n\n{message}"
    )


def _missing(message: str) -> str:
    return (
        "Restoring from checkpoint failed. This is most likely due to a Variable name or other graph key that is "
        "missing from the checkpoint. Please ensure that you have not altered the graph expected based on the "
        f"checkpoint. Original error:\n\n{message}"
    )


_HOST_MEMORY = ("cpu", "emulated_gpu")  # backends whose buffers are host NumPy arrays


@dataclass
class _Read:
    """One planned restore: read region ``offset``/``read_shape`` of ``key`` into ``entry.variable``."""

    entry: _Entry
    offset: tuple[int, ...]
    read_shape: tuple[int, ...]
    target_shape: tuple[int, ...]
    dtype: np.dtype


class Saver:
    """Saves and restores variables (TF 1.x's ``tf.train.Saver``).

    Args:
      var_list: None (every saveable variable of the default graph), a list of
        ``Variable``/``PartitionedVariable`` (keyed by op name; the shards of a
        partitioned variable are one logical variable keyed by its full name),
        or a dict name → ``Variable``, ``PartitionedVariable`` or list of shards.
      reshape: restore a variable from a checkpoint tensor of another shape with
        the same number of elements.
      sharded: one data file per device, written in parallel.
      max_to_keep: how many recent checkpoints to keep (None or 0: all).
      keep_checkpoint_every_n_hours: additionally keep one checkpoint per this
        many hours, counted from the Saver's construction.
      name: the name scope of the saver's (TF) op names, default ``"save"``.
      restore_sequentially: restore one variable at a time (the default does too;
        bounded memory either way).
      saver_def: a :class:`SaverDef` (or its dict) to rebuild a Saver from; its
        variables are looked up by name in the default graph (under ``name``).
      builder: accepted for TF compatibility; unused.
      defer_build: resolve the variables on :meth:`build` instead of now (save and restore raise until then).
      allow_empty: with no variables, save and restore do nothing instead of raising.
      write_version: recorded in the SaverDef; there is one file format.
      pad_step_number: name checkpoints ``P-00000042`` (8 digits) instead of ``P-42``.
      save_relative_paths: write paths in the state file relative to its folder.
      filename: accepted for TF compatibility (the default save path of TF's graph); unused.

    Raises:
      TypeError: ``var_list`` is not a list or dict, or holds something other than variables.
      ValueError: duplicate names ("At least two variables have the same name: {name}"), one
        variable under two names, no variables ("No variables to save"), or bad settings.

    Example:
      >>> v1 = gpuvars.Variable([1.0, 2.0], name="v1")
      >>> saver = gpuvars.train.Saver()
      >>> gpuvars.global_variables_initializer().run()
      >>> path = saver.save(None, "/tmp/model.ckpt", global_step=7)   # '/tmp/model.ckpt-7'
      >>> saver.restore(None, path)
    """

    def __init__(
        self,
        var_list: Any = None,
        reshape: bool = False,
        sharded: bool = False,
        max_to_keep: int | None = 5,
        keep_checkpoint_every_n_hours: float = 10000.0,
        name: str | None = None,
        restore_sequentially: bool = False,
        saver_def: SaverDef | Mapping[str, Any] | None = None,
        builder: Any = None,
        defer_build: bool = False,
        allow_empty: bool = False,
        write_version: int | None = None,
        pad_step_number: bool = False,
        save_relative_paths: bool = True,
        filename: str | None = None,
    ) -> None:
        if defer_build and var_list:
            raise ValueError(
                "If `var_list` is provided then build cannot be deferred. Either set defer_build=False or "
                "var_list=None."
            )
        if max_to_keep is not None and (
            isinstance(max_to_keep, bool) or not isinstance(max_to_keep, (int, np.integer)) or max_to_keep < 0
        ):
            raise ValueError(f"Argument `max_to_keep` must be None or a non-negative int. Received: {max_to_keep!r}")
        if (
            isinstance(keep_checkpoint_every_n_hours, bool)
            or not isinstance(keep_checkpoint_every_n_hours, (int, float, np.integer, np.floating))
            or not keep_checkpoint_every_n_hours > 0
        ):
            raise ValueError(
                "Argument `keep_checkpoint_every_n_hours` must be a positive number of hours. "
                f"Received: {keep_checkpoint_every_n_hours!r}"
            )
        if write_version not in (None, SaverDef.V1, SaverDef.V2):
            raise ValueError(
                f"Argument `write_version` must be SaverDef.V1 or SaverDef.V2. Received: {write_version!r}"
            )
        self._graph: Graph = get_default_graph()
        self._var_list = var_list
        self._reshape = bool(reshape)
        self._sharded = bool(sharded)
        self._max_to_keep = 0 if max_to_keep is None else int(max_to_keep)
        self._keep_checkpoint_every_n_hours = float(keep_checkpoint_every_n_hours)
        self._name = name
        self._restore_sequentially = bool(restore_sequentially)
        self._builder = builder
        self._allow_empty = bool(allow_empty)
        self._write_version = SaverDef.V2 if write_version is None else int(write_version)
        self._pad_step_number = bool(pad_step_number)
        self._save_relative_paths = bool(save_relative_paths)
        self._filename = filename
        self._entries: list[_Entry] = []
        self._is_empty: bool | None = None
        self._is_built = False
        self._last_checkpoints: list[tuple[str, float]] = []
        self._checkpoints_to_be_deleted: list[tuple[str, float]] = []
        self._next_checkpoint_time = _time() + self._keep_checkpoint_every_n_hours * 3600
        self.saver_def: SaverDef | None = None
        if saver_def is not None:
            sd = saver_def if isinstance(saver_def, SaverDef) else SaverDef.from_dict(saver_def)
            self._init_from_def(sd, name, self._graph_resolver(name))
        elif not defer_build:
            self.build()
        self._graph.add_to_collection(GraphKeys.SAVERS, self)

    # -- building ------------------------------------------------------------------
    def build(self) -> None:
        """Resolve the variables and make the SaverDef (done by the constructor unless ``defer_build``).

        Raises:
          ValueError: "No variables to save" (unless ``allow_empty``), duplicate names.
          TypeError: a bad ``var_list``.
        """
        if self._is_built:
            return
        var_list = self._var_list
        if var_list is None:
            var_list = self._graph.get_collection(GraphKeys.GLOBAL_VARIABLES) + self._graph.get_collection(
                SAVEABLE_OBJECTS
            )
        if isinstance(var_list, (Variable, PartitionedVariable)) or not isinstance(var_list, (list, tuple, set, dict)):
            raise TypeError(f"Variables to save should be passed in a dict or a list. Got {_describe(var_list)}")
        if not var_list:
            if self._allow_empty:
                self._is_empty = True
                self._is_built = True
                return
            raise ValueError("No variables to save")
        names_to_saveables = dict(var_list) if isinstance(var_list, dict) else _op_list_to_dict(var_list)
        self._entries = _build_entries(names_to_saveables)
        self._is_empty = False
        self._is_built = True
        scope = self._graph.unique_name(self._name or "save")
        self.saver_def = SaverDef(
            filename_tensor_name=f"{scope}/Const:0",
            save_tensor_name=f"{scope}/Identity:0" if self._sharded else f"{scope}/control_dependency:0",
            restore_op_name=f"{scope}/restore_all",
            max_to_keep=self._max_to_keep,
            sharded=self._sharded,
            keep_checkpoint_every_n_hours=self._keep_checkpoint_every_n_hours,
            version=self._write_version,
            saveables=self._saveables_def(),
            reshape=self._reshape,
            restore_sequentially=self._restore_sequentially,
        )
        self._next_checkpoint_time = _time() + self._keep_checkpoint_every_n_hours * 3600

    def _saveables_def(self) -> list[dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for e in self._entries:
            entry = out.setdefault(e.key, {"name": e.key, "variables": [], "slices": e.slice_info is not None})
            entry["variables"].append(e.variable.op.name)
        return list(out.values())

    def _graph_resolver(self, scope: str | None) -> Callable[[str], Variable | None]:
        graph = self._graph

        def resolve(op_name: str) -> Variable | None:
            op = graph._ops_by_name.get(_prepend_scope(op_name, scope))
            v = getattr(op, "_variable", None)
            return v if isinstance(v, Variable) else None

        return resolve

    def _init_from_def(self, sd: SaverDef, scope: str | None, resolve: Callable[[str], Variable | None]) -> None:
        if not sd.save_tensor_name:
            raise ValueError(f"saver_def must specify the save_tensor_name: {sd}")
        if not sd.restore_op_name:
            raise ValueError(f"saver_def must specify the restore_op_name: {sd}")
        sd = SaverDef.from_dict(sd.to_dict())
        if scope:
            sd.filename_tensor_name = _prepend_scope(sd.filename_tensor_name, scope)
            sd.save_tensor_name = _prepend_scope(sd.save_tensor_name, scope)
            sd.restore_op_name = _prepend_scope(sd.restore_op_name, scope)
        self._max_to_keep = sd.max_to_keep
        self._sharded = sd.sharded
        self._keep_checkpoint_every_n_hours = sd.keep_checkpoint_every_n_hours
        self._write_version = sd.version
        self._reshape = sd.reshape
        self._restore_sequentially = sd.restore_sequentially
        names_to_saveables: dict[str, Any] = {}
        missing: list[str] = []
        for item in sd.saveables:
            found = [resolve(n) for n in item["variables"]]
            if any(v is None for v in found):
                missing += [_prepend_scope(n, scope) for n, v in zip(item["variables"], found) if v is None]
                continue
            names_to_saveables[item["name"]] = list(found) if item.get("slices") else found[0]
        if missing:
            raise ValueError(
                f"The saver_def names variables that are not in the graph: {', '.join(missing[:10])}. "
                "Import the meta graph that defines them first (import_meta_graph)."
            )
        if not sd.saveables:  # a SaverDef made by hand: every saveable variable, as TF's graph would hold
            var_list = self._graph.get_collection(GraphKeys.GLOBAL_VARIABLES, scope) + self._graph.get_collection(
                SAVEABLE_OBJECTS, scope
            )
            names_to_saveables = _op_list_to_dict(var_list) if var_list else {}
        self._entries = _build_entries(names_to_saveables) if names_to_saveables else []
        self._is_empty = not self._entries
        self._is_built = True
        self.saver_def = sd
        self._next_checkpoint_time = _time() + self._keep_checkpoint_every_n_hours * 3600

    @classmethod
    def _from_def(cls, saver_def: SaverDef, scope: str | None, resolve: Callable[[str], Variable | None]) -> Saver:
        """A Saver from a SaverDef whose variable names ``resolve`` maps (import_meta_graph's path)."""
        self = cls(allow_empty=True, defer_build=True)
        self._init_from_def(saver_def, scope, resolve)
        return self

    # -- the SaverDef ---------------------------------------------------------------
    def as_saver_def(self) -> SaverDef | None:
        """This saver as a :class:`SaverDef` (None for an empty saver, as TF).

        Returns:
          The SaverDef.

        Example:
          >>> saver.as_saver_def().max_to_keep
          5
        """
        return self.saver_def

    def to_proto(self, export_scope: str | None = None) -> SaverDef | None:
        """The SaverDef with ``export_scope`` stripped from its names (None when outside it).

        Args:
          export_scope: a name scope to remove.

        Returns:
          A SaverDef, or None when the saver's names are not under ``export_scope``.

        Example:
          >>> saver.to_proto().restore_op_name
          'save/restore_all'
        """
        sd = self.saver_def
        if export_scope is None or sd is None:
            return sd
        names = (sd.filename_tensor_name, sd.save_tensor_name, sd.restore_op_name)
        stripped = [_strip_scope(n, export_scope) for n in names]
        if any(s is None for s in stripped):
            return None
        out = SaverDef.from_dict(sd.to_dict())
        out.filename_tensor_name, out.save_tensor_name, out.restore_op_name = stripped  # type: ignore[assignment]
        saveables = []
        for item in out.saveables:
            variables = [_strip_scope(n, export_scope) for n in item["variables"]]
            if all(v is not None for v in variables):
                saveables.append({**item, "variables": variables})
        out.saveables = saveables
        return out

    @staticmethod
    def from_proto(saver_def: SaverDef | Mapping[str, Any], import_scope: str | None = None) -> Saver:
        """A Saver built from a SaverDef, its variables looked up in the default graph.

        Args:
          saver_def: a :class:`SaverDef` (or its dict).
          import_scope: the name scope the variables were imported under.

        Returns:
          The Saver.

        Example:
          >>> saver2 = gpuvars.train.Saver.from_proto(saver.as_saver_def())
        """
        return Saver(saver_def=saver_def, name=import_scope)

    # -- the list of kept checkpoints -------------------------------------------------
    @property
    def last_checkpoints(self) -> list[str]:
        """Not-yet-deleted checkpoint prefixes, oldest first (``[]`` when ``max_to_keep`` is None or 0)."""
        return [p for p, _ in self._last_checkpoints]

    def set_last_checkpoints(self, last_checkpoints: list[str]) -> None:
        """DEPRECATED: use :meth:`set_last_checkpoints_with_time`. Sets the list of old checkpoint prefixes.

        They get an infinite timestamp, so ``keep_checkpoint_every_n_hours`` never deletes them (as TF).

        Args:
          last_checkpoints: a list of checkpoint prefixes.

        Raises:
          AssertionError: ``last_checkpoints`` is not a list.

        Example:
          >>> saver.set_last_checkpoints(["/tmp/model.ckpt-1"])
        """
        assert isinstance(last_checkpoints, list), f"last_checkpoints must be a list, got {type(last_checkpoints)}"
        self._last_checkpoints = [(s, math.inf) for s in last_checkpoints]

    def set_last_checkpoints_with_time(self, last_checkpoints_with_time: list[tuple[str, float]]) -> None:
        """Set the list of old checkpoint prefixes and their save times.

        Args:
          last_checkpoints_with_time: a list of ``(prefix, timestamp)`` tuples, oldest first.

        Raises:
          AssertionError: not a list.

        Example:
          >>> saver.set_last_checkpoints_with_time([("/tmp/model.ckpt-1", time.time())])
        """
        assert isinstance(last_checkpoints_with_time, list), (
            f"last_checkpoints_with_time must be a list, got {type(last_checkpoints_with_time)}"
        )
        self._last_checkpoints = [(str(p), float(t)) for p, t in last_checkpoints_with_time]

    def recover_last_checkpoints(self, checkpoint_paths: Sequence[str]) -> None:
        """Recover ``last_checkpoints`` after a restart: the paths whose checkpoint exists, timed by their index's mtime.

        Args:
          checkpoint_paths: checkpoint prefixes, oldest first (e.g.
            ``get_checkpoint_state(d).all_model_checkpoint_paths``).

        Example:
          >>> state = gpuvars.train.get_checkpoint_state("/tmp/train")
          >>> saver.recover_last_checkpoints(state.all_model_checkpoint_paths)
        """
        found = []
        for path in checkpoint_paths:
            try:
                mtime = os.path.getmtime(_index.index_path(path))
            except OSError:  # deleted meanwhile, by another process
                continue
            found.append((os.fspath(path), mtime))
        self.set_last_checkpoints_with_time(found)

    def _record_last_checkpoint(self, latest_save_path: str) -> None:
        """TF's ``_RecordLastCheckpoint``: move or append, then queue the oldest beyond max_to_keep."""
        if not self._max_to_keep:
            return
        self._last_checkpoints = [p for p in self._last_checkpoints if p[0] != latest_save_path]
        self._last_checkpoints.append((latest_save_path, _time()))
        if len(self._last_checkpoints) > self._max_to_keep:
            self._checkpoints_to_be_deleted.append(self._last_checkpoints.pop(0))

    def _maybe_delete_old_checkpoints(self, meta_graph_suffix: str) -> None:
        """TF's ``_MaybeDeleteOldCheckpoints``: delete the queued one unless it starts a new keep period."""
        if not self._checkpoints_to_be_deleted:
            return
        path, stamp = self._checkpoints_to_be_deleted.pop(0)
        if stamp > self._next_checkpoint_time:
            self._next_checkpoint_time += self._keep_checkpoint_every_n_hours * 3600
            return
        try:
            _cm.remove_checkpoint(path, meta_graph_suffix=meta_graph_suffix)
        except Exception as e:  # a checkpoint deleted by hand, a read-only folder: TF ignores it too
            logger.warning("Ignoring: %s", e)

    # -- saving ----------------------------------------------------------------------
    def _global_step_value(self, sess: Any, global_step: Any) -> int:
        if isinstance(global_step, (int, np.integer)) and not isinstance(global_step, bool):
            return int(global_step)
        if isinstance(global_step, str):
            try:
                global_step = self._graph.as_graph_element(global_step)
            except KeyError as e:
                raise ValueError(f"Argument `global_step` names {global_step!r}, which is not in the graph.") from e
        if isinstance(global_step, (Variable, Tensor)):
            value = sess.run(global_step) if sess is not None and hasattr(sess, "run") else global_step.numpy()
            arr = np.asarray(value)
            if arr.size != 1 or arr.dtype.kind not in "iuf":
                raise TypeError(
                    f"Expected `global_step` to hold one integer. {global_step.name} holds {arr.dtype} of shape "
                    f"{list(arr.shape)}."
                )
            return int(arr.reshape(()))
        raise TypeError(
            "Expected `global_step` to be an int, a Variable, a Tensor or a tensor name such as 'global_step:0'. "
            f"Received: {global_step!r:.80}"
        )

    def _records(self) -> list[_index.TensorRecord]:
        """The tensors to write, each with a producer that brings it to the host just in time."""
        snapshot = []
        for e in self._entries:
            buf = e.variable._buf
            if buf is None:
                raise e.variable._uninitialized()
            snapshot.append((e, buf))
        records = []
        for e, buf in snapshot:
            v = e.variable
            sl = None
            if e.slice_info is not None:
                sl = _index.SliceInfo(e.key, tuple(e.slice_info.full_shape or ()), tuple(e.slice_info.var_offset or ()))
            records.append(_index.TensorRecord(e.stored, buf.dtype, tuple(buf.shape), v.device, _producer(v, buf), sl))
        return records

    def save(
        self,
        sess: Any,
        save_path: str | os.PathLike[str],
        global_step: Any = None,
        latest_filename: str | None = None,
        meta_graph_suffix: str = "meta",
        write_meta_graph: bool = True,
        write_state: bool = True,
        strip_default_attrs: bool = False,
        save_debug_info: bool = False,
    ) -> str | None:
        """Save the variables to ``save_path`` (or ``save_path-<global_step>``).

        Writes the meta graph (``P.meta``, when ``write_meta_graph``), the data
        files and ``P.index.json`` (durable; the index last), then the state
        file (when ``write_state``), then deletes checkpoints beyond ``max_to_keep``.

        Args:
          sess: None or a Session (used to read a ``global_step`` tensor).
          save_path: the checkpoint prefix, e.g. ``"train/model.ckpt"``; its folder must exist.
          global_step: appended as ``-<step>``: an int, a Variable/Tensor, or a tensor name.
          latest_filename: the state file's name in the same folder (default ``"checkpoint"``).
          meta_graph_suffix: the meta graph's extension.
          write_meta_graph: also write the meta graph.
          write_state: update the state file and rotate old checkpoints.
          strip_default_attrs: accepted for TF compatibility (recorded in the meta graph).
          save_debug_info: accepted for TF compatibility; there is no debug info to save.

        Returns:
          The checkpoint prefix (pass it to :meth:`restore`), or None for an empty saver.

        Raises:
          ValueError: a missing parent folder ("Parent directory of {path} doesn't exist, can't
            save."), ``latest_filename`` with path components or colliding with ``save_path``.
          TypeError: ``sess`` is not a Session, or a bad ``global_step``.
          FailedPreconditionError: a variable is not initialized ("Attempting to use uninitialized value").
          RuntimeError: ``defer_build=True`` and :meth:`build` was not called.

        Example:
          >>> saver.save(sess, "/tmp/train/model.ckpt", global_step=1000)
          '/tmp/train/model.ckpt-1000'
        """
        if not self._is_built:
            raise RuntimeError("`build()` should be called before save if defer_build==True")
        if latest_filename is None:
            latest_filename = "checkpoint"
        if os.path.split(latest_filename)[0]:
            raise ValueError("'latest_filename' must not contain path components")
        save_path = os.fspath(save_path)
        if global_step is not None:
            step: int | None = self._global_step_value(sess, global_step)
            checkpoint_file = f"{save_path}-{step:08d}" if self._pad_step_number else f"{save_path}-{step}"
        else:
            step = None
            checkpoint_file = save_path
            if os.path.basename(save_path) == latest_filename and not self._sharded:
                raise ValueError(f"'latest_filename' collides with 'save_path': '{latest_filename}' and '{save_path}'")
        if sess is not None and not callable(getattr(sess, "run", None)):
            raise TypeError(f"'sess' must be a Session; {sess!r:.80}")
        parent = os.path.dirname(save_path)
        if not os.path.isdir(parent or "."):
            raise ValueError(f"Parent directory of {save_path} doesn't exist, can't save.")

        records = None if self._is_empty else self._records()  # FailedPreconditionError before any write
        if write_meta_graph:
            # Before the data: whenever the checkpoint exists, its meta graph does too.
            self.export_meta_graph(f"{checkpoint_file}.{meta_graph_suffix}", strip_default_attrs=strip_default_attrs)
        if records is None:
            return None
        _index.write_checkpoint(checkpoint_file, records, global_step=step, sharded=self._sharded)
        if write_state:
            self._record_last_checkpoint(checkpoint_file)
            self._write_state(parent, checkpoint_file, latest_filename)
            self._maybe_delete_old_checkpoints(meta_graph_suffix)
        return checkpoint_file

    Save = save  # the earliest TF docs (seed 000) spell it saver.Save(sess, path)

    def _write_state(self, save_dir: str, model_checkpoint_path: str, latest_filename: str) -> None:
        if self._save_relative_paths:
            _cm.update_checkpoint_state(save_dir, model_checkpoint_path, self.last_checkpoints, latest_filename)
            return
        from gpuvars.train import _format

        path = os.path.join(save_dir, latest_filename)
        if os.path.abspath(path) == os.path.abspath(model_checkpoint_path):
            raise RuntimeError(
                f"Save path '{model_checkpoint_path}' conflicts with path used for checkpoint state.  "
                "Please use a different save path."
            )
        state = _cm.generate_checkpoint_state_proto(save_dir, model_checkpoint_path, self.last_checkpoints)
        folder = os.path.abspath(save_dir)
        state.model_checkpoint_path = os.path.join(folder, state.model_checkpoint_path)
        state.all_model_checkpoint_paths = [os.path.join(folder, p) for p in state.all_model_checkpoint_paths]
        _format.atomic_write_bytes(path, str(state).encode("ascii"))

    def export_meta_graph(
        self,
        filename: str | os.PathLike[str] | None = None,
        collection_list: Sequence[str] | None = None,
        as_text: bool = False,
        export_scope: str | None = None,
        clear_devices: bool = False,
        clear_extraneous_savers: bool = False,
        strip_default_attrs: bool = False,
        save_debug_info: bool = False,
    ) -> Any:
        """Write the meta graph of this saver's graph, with this saver's SaverDef (see :mod:`gpuvars.train.meta_graph`).

        Args:
          filename: where to write it (nothing is written when None).
          collection_list: the collections to record (default: all).
          as_text: indent the JSON for people.
          export_scope: only variables under this name scope, with it stripped.
          clear_devices: leave device placements out.
          clear_extraneous_savers: accepted for TF compatibility (only this saver is recorded).
          strip_default_attrs: accepted for TF compatibility.
          save_debug_info: accepted for TF compatibility.

        Returns:
          The :class:`~gpuvars.train.meta_graph.MetaGraphDef`.

        Example:
          >>> saver.export_meta_graph("/tmp/model.meta")
        """
        from gpuvars.train import meta_graph

        return meta_graph.export_meta_graph(
            filename=filename,
            saver_def=self.to_proto(export_scope) if export_scope else self.saver_def,
            collection_list=collection_list,
            as_text=as_text,
            graph=self._graph,
            export_scope=export_scope,
            clear_devices=clear_devices,
            clear_extraneous_savers=clear_extraneous_savers,
            strip_default_attrs=strip_default_attrs,
            save_debug_info=save_debug_info,
        )

    # -- restoring --------------------------------------------------------------------
    def restore(self, sess: Any, save_path: str | os.PathLike[str] | None) -> None:
        """Restore the variables from a checkpoint, initializing them (and only them) on their current devices.

        Every name, dtype and shape is checked, and every stored piece read
        once with its checksum verified, before any variable changes; then
        each variable reads its bytes into a buffer it does not use and takes
        them under its lock (one copy into its existing buffer, or the new
        buffer itself). A failed restore leaves every variable as it was,
        values and initialized state. Partitioned variables read only the
        region each shard covers, whatever the checkpoint's partitioning.

        Args:
          sess: None or a Session (unused).
          save_path: a checkpoint prefix, as ``save`` or ``latest_checkpoint`` return.

        Raises:
          ValueError: "Can't load save_path when it is None." or "The passed save_path is not a valid
            checkpoint: {path}".
          NotFoundError: a variable's name is not in the checkpoint (naming it and the prefix).
          InvalidArgumentError: a shape (naming both) or dtype differs, unless ``reshape=True`` and
            the element counts agree.
          DataLossError: a checksum mismatch, a truncated file or an index pointing out of the folder.
          RuntimeError: ``defer_build=True`` and :meth:`build` was not called.

        Example:
          >>> saver.restore(sess, gpuvars.train.latest_checkpoint("/tmp/train"))
        """
        if not self._is_built:
            raise RuntimeError("`build()` should be called before restore if defer_build==True")
        if self._is_empty:
            return
        if save_path is None:
            raise ValueError("Can't load save_path when it is None.")
        prefix = os.fspath(save_path)
        if not _index.checkpoint_exists(prefix):
            raise ValueError(f"The passed save_path is not a valid checkpoint: {prefix}")
        logger.info("Restoring parameters from %s", prefix)
        with _index.CheckpointReader(prefix) as reader:
            plan = self._plan_restore(reader, prefix)
            for file in sorted({p.file for r in plan for p in reader.variable(r.entry.key).pieces}):
                reader._file(file)  # every header checked against the index before any variable changes
            scratch = _Scratch()
            _verify_all(reader, plan, scratch)  # may raise: no variable has changed yet
            for item in plan:
                _restore_one(reader, item, scratch)

    Restore = restore  # seed 000 spells it saver.Restore(sess, path)

    def _plan_restore(self, reader: _index.CheckpointReader, prefix: str) -> list[_Read]:
        plan = []
        for e in self._entries:
            v = e.variable
            try:
                stored = reader.variable(e.key)
            except errors.NotFoundError as err:
                raise errors.NotFoundError(None, v.op.name, _missing(err.message)) from None
            if stored.dtype != v.dtype:
                raise errors.InvalidArgumentError(
                    None,
                    v.op.name,
                    _mismatch(
                        f"tensor_name = {e.key}; expected dtype {v.dtype.name} does not equal original dtype "
                        f"{stored.dtype.name} (variable {v.op.name}, checkpoint {prefix})"
                    ),
                )
            if e.slice_info is not None:
                full = tuple(e.slice_info.full_shape or ())
                if stored.shape != full:
                    raise errors.InvalidArgumentError(
                        None,
                        v.op.name,
                        _mismatch(
                            f"Assign requires shapes of both tensors to match. lhs shape= {_shape_str(full)} rhs "
                            f"shape= {_shape_str(stored.shape)} (partitioned variable {e.key}, whose shard "
                            f"{v.op.name} is being restored from checkpoint {prefix})"
                        ),
                    )
                shard = tuple(e.slice_info.var_shape or ())
                plan.append(_Read(e, tuple(e.slice_info.var_offset or ()), shard, shard, stored.dtype))
                continue
            buf = v._buf
            if buf is not None:
                target: tuple[int, ...] | None = tuple(buf.shape)
            else:
                target = v._shape.as_tuple() if v._shape.is_fully_defined() else None
            if target is None or (not v._validate_shape and target != stored.shape):
                target = stored.shape  # validate_shape=False: the variable takes the saved shape, as assign would
            if target != stored.shape and not (self._reshape and math.prod(target) == math.prod(stored.shape)):
                hint = (
                    "; the element counts differ, so reshape=True cannot help"
                    if self._reshape
                    else "; pass reshape=True to Saver to restore into another shape with the same number of elements"
                )
                raise errors.InvalidArgumentError(
                    None,
                    v.op.name,
                    _mismatch(
                        f"Assign requires shapes of both tensors to match. lhs shape= {_shape_str(target)} rhs shape= "
                        f"{_shape_str(stored.shape)} (variable {v.op.name}, checkpoint key {e.key} in {prefix}{hint})"
                    ),
                )
            plan.append(_Read(e, (0,) * len(stored.shape), stored.shape, target, stored.dtype))
        return plan


def _producer(v: Variable, buf: Any) -> Callable[[], np.ndarray]:
    """The host array of ``buf``: the buffer itself on ``/cpu:0``, else one explicit copy through transfer."""
    if v._backend.kind == "cpu":
        return lambda: buf

    def produce() -> np.ndarray:
        with v._lock:  # a consistent snapshot against locked writers
            return transfer.to_host(buf)

    return produce


def _reusable(buf: Any, item: _Read) -> bool:
    """Whether the restored value can be copied into ``buf``, the variable's live buffer."""
    return (
        buf is not None
        and tuple(buf.shape) == item.target_shape
        and buf.dtype == item.dtype
        and buf.flags.writeable
    )


class _Scratch:
    """One host buffer, grown to the largest tensor and reused: reads land in warm memory, no page faults."""

    def __init__(self) -> None:
        self._raw = np.empty(0, np.uint8)

    def view(self, shape: tuple[int, ...], dtype: np.dtype, backend: Any = None) -> np.ndarray:
        nbytes = math.prod(shape) * dtype.itemsize
        if self._raw.size < nbytes:
            self._raw = np.empty(nbytes, np.uint8)
        out = self._raw[:nbytes].view(dtype).reshape(shape)
        if backend is not None and backend.kind == "emulated_gpu":  # a same-device operand for its kernels
            tagged: DeviceArray = out.view(DeviceArray)
            tagged._gv_device = backend.name
            return tagged
        return out


def _verify_all(reader: _index.CheckpointReader, plan: list[_Read], scratch: _Scratch) -> None:
    """Read every stored piece the plan touches whole, checking its checksum (and that the file holds it).

    Nothing is kept: this pass only proves the bytes good before any variable
    changes, so bad input (a flipped bit, a truncated file) fails the restore
    with every variable as it was. Whole pieces, even where a shard reads only
    part of one, so resharded restores are verified too.
    """
    seen: set[tuple[str, str]] = set()
    for item in plan:
        for piece in reader.variable(item.entry.key).pieces:
            if (piece.file, piece.name) in seen:
                continue
            seen.add((piece.file, piece.name))
            reader.read_region_into(item.entry.key, piece.offset, scratch.view(piece.shape, piece.dtype))


def _restore_one(reader: _index.CheckpointReader, item: _Read, scratch: _Scratch) -> None:
    """Read one planned tensor into a buffer the variable does not use, then give it to the variable.

    The read (checksum verified again) goes to the scratch when the live buffer
    fits, then one copy under the variable's lock puts it there (the buffer
    keeps its identity, as after ``assign``); else into a new buffer of the
    variable's device that becomes its buffer (CUDA: a host buffer and one copy
    through ``gpuvars.transfer``). A failed read leaves the variable untouched.
    """
    v = item.entry.variable
    backend = v._backend
    key = item.entry.key
    host_memory = backend.kind in _HOST_MEMORY
    if host_memory and _reusable(v._buf, item):
        # The bytes were verified by _verify_all: read them straight into the live buffer, under its lock.
        with v._lock:
            buf = v._buf
            if _reusable(buf, item):
                reader.read_region_into(key, item.offset, buf.reshape(item.read_shape), verify=False)
                v._version += 1
                if backend.ordered:
                    backend.record(buf)
                return
    fresh = host_memory and not _reusable(v._buf, item)  # read into a buffer the variable will keep
    if fresh:
        staged = backend.empty(item.target_shape, item.dtype)
    elif host_memory:
        staged = scratch.view(item.target_shape, item.dtype, backend)
    else:
        staged = np.empty(item.target_shape, item.dtype)
    reader.read_region_into(key, item.offset, staged.reshape(item.read_shape), verify=False)
    with v._lock:
        buf = v._buf
        if host_memory:
            if _reusable(buf, item):
                backend.assign(buf, staged)
                out = buf
            elif fresh:
                out = staged
            else:  # the variable changed since the read (another thread): a new buffer after all
                out = backend.empty(item.target_shape, item.dtype)
                backend.assign(out, staged)
        else:
            out = transfer.to_backend(staged, backend, explicit=True)
        v._buf = out
        if not v._shape.is_fully_defined() or v._shape.as_tuple() != item.target_shape:
            v._shape = TensorShape(item.target_shape)
        v._version += 1
        if backend.ordered:
            backend.record(out)  # a restore is a mutation: later copies and kernels wait for it
