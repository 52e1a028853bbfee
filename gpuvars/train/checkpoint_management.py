"""TensorFlow's ``checkpoint`` state file and the module-level checkpoint functions.

The state file is TF's text protocol-buffer format, one field per line, paths
relative to the folder when they are in it (so a checkpoint folder can be
moved)::

    model_checkpoint_path: "model.ckpt-2"
    all_model_checkpoint_paths: "model.ckpt-1"
    all_model_checkpoint_paths: "model.ckpt-2"

Files written by TensorFlow (absolute paths, ``all_model_checkpoint_timestamps``
and ``last_preserved_timestamp`` lines) parse too. It is replaced atomically
(temporary name, fsync, rename, folder fsync).
"""

from __future__ import annotations

import logging
import math
import os
import re
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from gpuvars.errors import NotFoundError
from gpuvars.train import _format
from gpuvars.train._index import CheckpointReader, delete_checkpoint, read_index
from gpuvars.train._index import checkpoint_exists as _checkpoint_exists

__all__ = [
    "CheckpointState",
    "checkpoint_exists",
    "generate_checkpoint_state_proto",
    "get_checkpoint_state",
    "latest_checkpoint",
    "list_variables",
    "load_checkpoint",
    "load_variable",
    "remove_checkpoint",
    "update_checkpoint_state",
]

logger = logging.getLogger(__name__)

_DEFAULT_LATEST = "checkpoint"


class CheckpointState:
    """The content of a ``checkpoint`` state file (TF's ``CheckpointState`` proto).

    Attributes:
      model_checkpoint_path: the newest checkpoint prefix.
      all_model_checkpoint_paths: the kept checkpoint prefixes, oldest first.
      all_model_checkpoint_timestamps: their save times (seconds since the epoch), when recorded.
      last_preserved_timestamp: when the last checkpoint kept by ``keep_checkpoint_every_n_hours`` was saved.

    Example:
      >>> s = CheckpointState("model.ckpt-2", ["model.ckpt-1", "model.ckpt-2"])
      >>> print(s, end="")
      model_checkpoint_path: "model.ckpt-2"
      all_model_checkpoint_paths: "model.ckpt-1"
      all_model_checkpoint_paths: "model.ckpt-2"
    """

    def __init__(
        self,
        model_checkpoint_path: str = "",
        all_model_checkpoint_paths: Iterable[str] = (),
        all_model_checkpoint_timestamps: Iterable[float] = (),
        last_preserved_timestamp: float = 0.0,
    ) -> None:
        self.model_checkpoint_path = model_checkpoint_path
        self.all_model_checkpoint_paths = list(all_model_checkpoint_paths)
        self.all_model_checkpoint_timestamps = [float(t) for t in all_model_checkpoint_timestamps]
        self.last_preserved_timestamp = float(last_preserved_timestamp)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CheckpointState):
            return NotImplemented
        return self._fields() == other._fields()

    def _fields(self) -> tuple[Any, ...]:
        return (
            self.model_checkpoint_path,
            self.all_model_checkpoint_paths,
            self.all_model_checkpoint_timestamps,
            self.last_preserved_timestamp,
        )

    def __repr__(self) -> str:
        return (
            f"CheckpointState(model_checkpoint_path={self.model_checkpoint_path!r}, "
            f"all_model_checkpoint_paths={self.all_model_checkpoint_paths!r}, "
            f"all_model_checkpoint_timestamps={self.all_model_checkpoint_timestamps!r}, "
            f"last_preserved_timestamp={self.last_preserved_timestamp!r})"
        )

    def __str__(self) -> str:
        """The text format TF writes (proto3: empty and zero fields are left out)."""
        lines = []
        if self.model_checkpoint_path:
            lines.append(f"model_checkpoint_path: {_quote(self.model_checkpoint_path)}")
        lines += [f"all_model_checkpoint_paths: {_quote(p)}" for p in self.all_model_checkpoint_paths]
        lines += [f"all_model_checkpoint_timestamps: {_double(t)}" for t in self.all_model_checkpoint_timestamps]
        if self.last_preserved_timestamp:
            lines.append(f"last_preserved_timestamp: {_double(self.last_preserved_timestamp)}")
        return "".join(line + "\n" for line in lines)


# --------------------------------------------------------------------------- text format


def _quote(text: str) -> str:
    """A protobuf text-format string literal: C escapes, non-ASCII UTF-8 bytes as octal (as TF writes them)."""
    out = ['"']
    for b in text.encode("utf-8", errors="surrogateescape"):
        if b == 0x0A:
            out.append("\\n")
        elif b == 0x0D:
            out.append("\\r")
        elif b == 0x09:
            out.append("\\t")
        elif b == 0x22:
            out.append('\\"')
        elif b == 0x27:
            out.append("\\'")
        elif b == 0x5C:
            out.append("\\\\")
        elif 0x20 <= b < 0x7F:
            out.append(chr(b))
        else:
            out.append(f"\\{b:03o}")
    out.append('"')
    return "".join(out)


def _double(value: float) -> str:
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return repr(float(value))


class _ParseError(ValueError):
    pass


_TOKEN = re.compile(
    r"""\s+|\#[^\n]*
      |(?P<ident>[A-Za-z_][A-Za-z0-9_]*)
      |(?P<colon>:)
      |(?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
      |(?P<number>[-+]?(?:inf(?:inity)?|nan|(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)[fF]?)
      |(?P<sep>[;,])""",
    re.VERBOSE | re.IGNORECASE,
)
# fmt: off
_SIMPLE_ESCAPES = {
    "n": b"\n", "r": b"\r", "t": b"\t", '"': b'"', "'": b"'", "\\": b"\\",
    "a": b"\a", "b": b"\b", "f": b"\f", "v": b"\v", "?": b"?",
}
# fmt: on


def _unquote(literal: str) -> str:
    body = literal[1:-1]
    out = bytearray()
    i = 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out += c.encode("utf-8")
            i += 1
            continue
        nxt = body[i + 1]
        if nxt in _SIMPLE_ESCAPES:
            out += _SIMPLE_ESCAPES[nxt]
            i += 2
        elif nxt in "01234567":
            m = re.match(r"[0-7]{1,3}", body[i + 1 :])
            assert m is not None
            out.append(int(m.group(), 8) & 0xFF)
            i += 1 + len(m.group())
        elif nxt in "xX":
            m = re.match(r"[0-9a-fA-F]{1,2}", body[i + 2 :])
            if m is None:
                raise _ParseError(f"bad \\x escape in {literal}")
            out.append(int(m.group(), 16))
            i += 2 + len(m.group())
        else:
            raise _ParseError(f"unknown escape \\{nxt} in {literal}")
    try:
        return out.decode("utf-8")
    except UnicodeDecodeError as e:
        raise _ParseError(f"string {literal} is not valid UTF-8 ({e})") from e


def _parse_number(text: str) -> float:
    t = text.lower().rstrip("f")
    if t.lstrip("+-") in ("inf", "infinity"):
        return -math.inf if t.startswith("-") else math.inf
    return float(t)


def _parse_state(text: str) -> CheckpointState:
    """Parse TF's text format tolerantly: any layout, comments, adjacent string literals, unknown fields skipped."""
    tokens: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            line = text.count("\n", 0, pos) + 1
            raise _ParseError(f"unexpected {text[pos : pos + 20]!r} on line {line}")
        pos = m.end()
        if m.lastgroup is not None and m.lastgroup != "sep":
            tokens.append((m.lastgroup, m.group()))
    state = CheckpointState()
    i = 0
    while i < len(tokens):
        kind, field = tokens[i]
        if kind != "ident" or i + 2 > len(tokens) or tokens[i + 1][0] != "colon":
            raise _ParseError(f"expected 'field: value', found {field!r}")
        i += 2
        if i >= len(tokens):
            raise _ParseError(f"field {field!r} has no value")
        kind, value = tokens[i]
        i += 1
        if kind == "string":
            parts = [_unquote(value)]
            while i < len(tokens) and tokens[i][0] == "string":  # "a" "b" is "ab" in text format
                parts.append(_unquote(tokens[i][1]))
                i += 1
            sval = "".join(parts)
            if field == "model_checkpoint_path":
                state.model_checkpoint_path = sval
            elif field == "all_model_checkpoint_paths":
                state.all_model_checkpoint_paths.append(sval)
            else:
                logger.debug("Ignoring unknown checkpoint-state field %s", field)
        elif kind in ("number", "ident"):
            try:
                num = _parse_number(value)
            except ValueError:
                raise _ParseError(f"field {field!r} has value {value!r}; expected a number") from None
            if field == "all_model_checkpoint_timestamps":
                state.all_model_checkpoint_timestamps.append(num)
            elif field == "last_preserved_timestamp":
                state.last_preserved_timestamp = num
            else:
                logger.debug("Ignoring unknown checkpoint-state field %s", field)
        else:
            raise _ParseError(f"field {field!r} has no value")
    return state


# --------------------------------------------------------------------------- state file


def _state_path(checkpoint_dir: str, latest_filename: str | None) -> str:
    return os.path.join(checkpoint_dir, latest_filename or _DEFAULT_LATEST)


def _relative_if_inside(save_dir: str, path: str) -> str:
    """``path`` as written to the state file: a bare name when it is in ``save_dir``, else absolute."""
    abs_path = os.path.abspath(path)
    if os.path.dirname(abs_path) == os.path.abspath(save_dir):
        return os.path.basename(abs_path)
    return abs_path


def generate_checkpoint_state_proto(
    save_dir: str | os.PathLike[str],
    model_checkpoint_path: str | os.PathLike[str],
    all_model_checkpoint_paths: Sequence[str | os.PathLike[str]] | None = None,
    all_model_checkpoint_timestamps: Sequence[float] | None = None,
    last_preserved_timestamp: float | None = None,
) -> CheckpointState:
    """Build the :class:`CheckpointState` that :func:`update_checkpoint_state` writes.

    Paths in ``save_dir`` become bare names; others become absolute. The latest
    path is appended to ``all_model_checkpoint_paths`` when it is not already last.

    Args:
      save_dir: the folder of the state file.
      model_checkpoint_path: the newest checkpoint prefix.
      all_model_checkpoint_paths: kept prefixes, oldest first.
      all_model_checkpoint_timestamps: their save times, one per path (after the append), or None.
      last_preserved_timestamp: see :class:`CheckpointState`.

    Returns:
      The state.

    Raises:
      ValueError: timestamps given whose count differs from the paths'.
    """
    save_dir = os.fspath(save_dir)
    latest = _relative_if_inside(save_dir, os.fspath(model_checkpoint_path))
    paths = [_relative_if_inside(save_dir, os.fspath(p)) for p in (all_model_checkpoint_paths or [])]
    if not paths or paths[-1] != latest:
        logger.info("%s is not in all_model_checkpoint_paths. Manually adding it.", latest)
        paths.append(latest)
    stamps = list(all_model_checkpoint_timestamps or [])
    if stamps and len(stamps) != len(paths):
        raise ValueError(
            f"Checkpoint timestamps, if provided, must match checkpoint paths (got paths {paths} and timestamps "
            f"{stamps})"
        )
    return CheckpointState(latest, paths, stamps, last_preserved_timestamp or 0.0)


def update_checkpoint_state(
    save_dir: str | os.PathLike[str],
    model_checkpoint_path: str | os.PathLike[str],
    all_model_checkpoint_paths: Sequence[str | os.PathLike[str]] | None = None,
    latest_filename: str | None = None,
    all_model_checkpoint_timestamps: Sequence[float] | None = None,
    last_preserved_timestamp: float | None = None,
) -> None:
    """Write the ``checkpoint`` state file in ``save_dir``, atomically and durably.

    Args:
      save_dir: the folder (must exist).
      model_checkpoint_path: the newest checkpoint prefix.
      all_model_checkpoint_paths: kept prefixes, oldest first; the newest is appended when missing.
      latest_filename: the state file's name (default ``"checkpoint"``).
      all_model_checkpoint_timestamps: save times, one per path, or None.
      last_preserved_timestamp: see :class:`CheckpointState`.

    Raises:
      RuntimeError: the checkpoint prefix is the state file itself (TF's message).
      ValueError: timestamps and paths differ in number.
      NotFoundError: ``save_dir`` does not exist.

    Example:
      >>> update_checkpoint_state("/tmp/train", "/tmp/train/model.ckpt-2",
      ...                         ["/tmp/train/model.ckpt-1", "/tmp/train/model.ckpt-2"])
    """
    save_dir = os.fspath(save_dir)
    path = _state_path(save_dir, latest_filename)
    if os.path.abspath(path) == os.path.abspath(os.fspath(model_checkpoint_path)):
        raise RuntimeError(
            f"Save path '{os.fspath(model_checkpoint_path)}' conflicts with path used for checkpoint state.  "
            "Please use a different save path."
        )
    state = generate_checkpoint_state_proto(
        save_dir,
        model_checkpoint_path,
        all_model_checkpoint_paths,
        all_model_checkpoint_timestamps,
        last_preserved_timestamp,
    )
    if not os.path.isdir(save_dir or "."):
        raise NotFoundError(
            None,
            None,
            f"Cannot write the checkpoint state file {path}: folder {save_dir!r} does "
            "not exist. Create it first (os.makedirs).",
        )
    _format.atomic_write_bytes(path, str(state).encode("ascii"))


def get_checkpoint_state(
    checkpoint_dir: str | os.PathLike[str], latest_filename: str | None = None
) -> CheckpointState | None:
    """Read the ``checkpoint`` state file of a folder.

    Relative paths in it are joined to ``checkpoint_dir``; absolute ones (as
    TF writes without ``save_relative_paths``) are kept.

    Args:
      checkpoint_dir: the folder.
      latest_filename: the state file's name (default ``"checkpoint"``).

    Returns:
      The :class:`CheckpointState`, or None when the folder or the file does not
      exist, or the file cannot be parsed (logged, as TF does).

    Raises:
      ValueError: the file parses but names no ``model_checkpoint_path``
        ("Invalid checkpoint state loaded from {dir}", as TF).

    Example:
      >>> state = get_checkpoint_state("/tmp/train")
      >>> state.all_model_checkpoint_paths if state else []
    """
    checkpoint_dir = os.fspath(checkpoint_dir)
    path = _state_path(checkpoint_dir, latest_filename)
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError:  # missing folder or file, a file instead of a folder, unreadable
        return None
    try:
        state = _parse_state(raw.decode("utf-8"))
    except (UnicodeDecodeError, _ParseError) as e:
        logger.warning("%s: %s", type(e).__name__, e)
        logger.warning("%s: Checkpoint ignored", path)
        return None
    if not state.model_checkpoint_path:
        raise ValueError(
            f"Invalid checkpoint state loaded from {checkpoint_dir}: {path} has no model_checkpoint_path. "
            "Delete the file or rewrite it with update_checkpoint_state()."
        )
    state.model_checkpoint_path = os.path.join(checkpoint_dir, state.model_checkpoint_path)
    state.all_model_checkpoint_paths = [os.path.join(checkpoint_dir, p) for p in state.all_model_checkpoint_paths]
    return state


def latest_checkpoint(checkpoint_dir: str | os.PathLike[str], latest_filename: str | None = None) -> str | None:
    """The newest checkpoint prefix in a folder whose index exists, or None.

    Follows the state file: ``model_checkpoint_path`` when its checkpoint exists;
    otherwise (a crash while re-saving that prefix, files deleted by hand) the
    newest of ``all_model_checkpoint_paths`` that exists, with a warning.
    TensorFlow returns None in that case; falling back keeps a training run.

    Args:
      checkpoint_dir: the folder.
      latest_filename: the state file's name (default ``"checkpoint"``).

    Returns:
      A prefix such as ``"train/model.ckpt-7"``, or None when there is no state
      file, the folder does not exist, or no listed checkpoint exists.

    Example:
      >>> prefix = latest_checkpoint("/tmp/train")
      >>> if prefix: saver.restore(sess, prefix)
    """
    state = get_checkpoint_state(checkpoint_dir, latest_filename)
    if state is None:
        return None
    candidates = [state.model_checkpoint_path] + state.all_model_checkpoint_paths[::-1]
    for i, prefix in enumerate(dict.fromkeys(candidates)):
        if _checkpoint_exists(prefix):
            if i:
                logger.warning("Checkpoint %s does not exist; using %s instead.", state.model_checkpoint_path, prefix)
            return prefix
    logger.error("Couldn't match files for checkpoint %s", state.model_checkpoint_path)
    return None


def checkpoint_exists(checkpoint_prefix: str | os.PathLike[str]) -> bool:
    """Whether a checkpoint exists at a prefix: exactly when ``P.index.json`` exists.

    Args:
      checkpoint_prefix: e.g. ``"train/model.ckpt-7"``.

    Returns:
      True when the index file exists.

    Example:
      >>> checkpoint_exists(latest_checkpoint("/tmp/train") or "")
    """
    return _checkpoint_exists(checkpoint_prefix)


def remove_checkpoint(
    checkpoint_prefix: str | os.PathLike[str], checkpoint_format_version: Any = None, meta_graph_suffix: str = "meta"
) -> None:
    """Delete a checkpoint's files: the index first, then data, ``.meta`` and leftover temporary files.

    Args:
      checkpoint_prefix: the prefix.
      checkpoint_format_version: accepted for TF compatibility and ignored.
      meta_graph_suffix: the meta graph's extension.
    """
    del checkpoint_format_version
    delete_checkpoint(checkpoint_prefix, meta_graph_suffix=meta_graph_suffix)


# --------------------------------------------------------------------------- reading variables


def _resolve(ckpt_dir_or_file: str | os.PathLike[str]) -> str:
    path = os.fspath(ckpt_dir_or_file)
    if os.path.isdir(path):
        prefix = latest_checkpoint(path)
        if prefix is None:
            raise ValueError(f"Couldn't find 'checkpoint' file or checkpoints in given directory {path}")
        return prefix
    return path


def load_checkpoint(ckpt_dir_or_file: str | os.PathLike[str]) -> CheckpointReader:
    """A :class:`~gpuvars.train._index.CheckpointReader` for a prefix, or for a folder's latest checkpoint.

    Raises:
      ValueError: "The passed save_path is not a valid checkpoint: {path}", or a folder without checkpoints.
      DataLossError: a corrupt index or a missing data file.
    """
    return CheckpointReader(_resolve(ckpt_dir_or_file))


def list_variables(ckpt_dir_or_file: str | os.PathLike[str]) -> list[tuple[str, list[int]]]:
    """The logical variables of a checkpoint, sorted by name, with their full shapes.

    A partitioned variable appears once, with its full shape, not as its slices.

    Args:
      ckpt_dir_or_file: a checkpoint prefix, or a folder (its latest checkpoint).

    Returns:
      ``[(name, shape), ...]`` with shapes as lists of ints.

    Raises:
      ValueError: "The passed save_path is not a valid checkpoint: {path}".
      DataLossError: the index is corrupt.

    Example:
      >>> list_variables("/tmp/train/model.ckpt-7")
      [('global_step', []), ('w', [32, 32])]
    """
    index = read_index(_resolve(ckpt_dir_or_file))
    return [(name, list(v.shape)) for name, v in index.variables().items()]


def load_variable(ckpt_dir_or_file: str | os.PathLike[str], name: str) -> np.ndarray:
    """One logical variable's value (assembled from its slices when partitioned), checksums verified.

    Args:
      ckpt_dir_or_file: a checkpoint prefix, or a folder (its latest checkpoint).
      name: the variable's name (a trailing ``":0"`` is ignored, as TF does).

    Returns:
      A new host NumPy array.

    Raises:
      NotFoundError: "Key {name} not found in checkpoint".
      ValueError: "The passed save_path is not a valid checkpoint: {path}".
      DataLossError: checksum mismatch, truncated file, or a corrupt index.

    Example:
      >>> w = load_variable("/tmp/train/model.ckpt-7", "w")
    """
    if name.endswith(":0"):
        name = name[:-2]
    with CheckpointReader(_resolve(ckpt_dir_or_file)) as reader:
        return reader.read_variable(name)
