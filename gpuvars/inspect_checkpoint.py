"""Print the variables of a checkpoint, as TensorFlow 1.x's ``inspect_checkpoint`` does.

Usage::

    python -m gpuvars.inspect_checkpoint --file_name=train/model.ckpt-7            # names, dtypes, shapes
    python -m gpuvars.inspect_checkpoint --file_name=train/model.ckpt-7 --tensor_name=w
    python -m gpuvars.inspect_checkpoint --file_name=train/model.ckpt-7 --all_tensors
    python -m gpuvars.inspect_checkpoint --file_name=train/model.ckpt-7 --all_tensor_names

Output keeps TF's format (``tensor_name:  w`` then the value; ``w (DT_FLOAT) [2,3]``
lines for the overview). Errors (a missing or invalid checkpoint, an unknown
tensor name) are printed as TF words them, but to stderr, and the exit status
is 1 (TF prints them to stdout and exits 0; scripts deserve to know). A tensor
is read before its ``tensor_name:`` line is printed, so a failed lookup prints
nothing to stdout. ``gpuvars inspect PREFIX`` does the same.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any, cast

import numpy as np

from gpuvars.train._index import CheckpointReader

__all__ = ["debug_string", "main", "parse_numpy_printoption", "print_tensors_in_checkpoint_file"]

_DT_NAMES = {
    "float16": "DT_HALF",
    "float32": "DT_FLOAT",
    "float64": "DT_DOUBLE",
    "bfloat16": "DT_BFLOAT16",
    "int8": "DT_INT8",
    "int16": "DT_INT16",
    "int32": "DT_INT32",
    "int64": "DT_INT64",
    "uint8": "DT_UINT8",
    "uint16": "DT_UINT16",
    "uint32": "DT_UINT32",
    "uint64": "DT_UINT64",
    "bool": "DT_BOOL",
    "complex64": "DT_COMPLEX64",
    "complex128": "DT_COMPLEX128",
}


def debug_string(reader: CheckpointReader) -> str:
    """One ``name (DT_FLOAT) [2,3]`` line per logical variable, sorted, as TF's ``CheckpointReader.debug_string``.

    Args:
      reader: an open checkpoint.

    Returns:
      The lines, each ending in a newline.
    """
    return "".join(
        f"{name} ({_DT_NAMES.get(v.dtype.name, v.dtype.name)}) [{','.join(str(d) for d in v.shape)}]\n"
        for name, v in reader.variables().items()
    )


def _prefix_hint(file_name: str) -> str | None:
    """The prefix a user probably meant when they passed one of its files."""
    import re

    for pattern in (r"(.+)\.index\.json", r"(.+)-\d{5}-of-\d{5}\.safetensors", r"(.+)\.meta"):
        m = re.fullmatch(pattern, file_name)
        if m and os.path.isfile(m.group(1) + ".index.json"):
            return m.group(1)
    return None


def print_tensors_in_checkpoint_file(
    file_name: str, tensor_name: str, all_tensors: bool, all_tensor_names: bool = False
) -> bool:
    """Print tensors of a checkpoint in TF's format.

    With ``all_tensors`` or ``all_tensor_names``: ``tensor_name:  <name>`` for
    every variable (and its value with ``all_tensors``). With ``tensor_name``:
    that variable's name line and value. With neither: the
    :func:`debug_string` overview. Partitioned variables print as one, assembled.

    Args:
      file_name: the checkpoint prefix (``train/model.ckpt-7``).
      tensor_name: a variable to print, or "" for none.
      all_tensors: print every variable's name and value.
      all_tensor_names: print every variable's name.

    Returns:
      True on success; False when an error was printed (to stderr, with a hint
      when ``file_name`` looks like one of the checkpoint's files).

    Example:
      >>> print_tensors_in_checkpoint_file("train/model.ckpt-7", "w", all_tensors=False)
      tensor_name:  w
      [[1. 2.]]
    """
    try:
        with CheckpointReader(file_name) as reader:
            if all_tensors or all_tensor_names:
                for key in reader.variables():
                    print("tensor_name: ", key)
                    if all_tensors:
                        print(reader.read_variable(key))
            elif not tensor_name:
                print(debug_string(reader))
            else:
                value = reader.read_variable(tensor_name)
                print("tensor_name: ", tensor_name)
                print(value)
        return True
    except Exception as e:  # print every failure, as TF does (to stderr), then report it through the return value
        print(str(e), file=sys.stderr)
        hint = _prefix_hint(file_name)
        if hint is not None:
            print(
                "\nIt's likely that you passed one of the checkpoint's files; pass the checkpoint *prefix*.  Try:\n"
                f"inspect checkpoint --file_name = {hint}",
                file=sys.stderr,
            )
        return False


def parse_numpy_printoption(kv_str: str) -> tuple[str, Any]:
    """Parse ``k=v`` into a ``numpy.set_printoptions`` keyword, typed like numpy's current value.

    Raises:
      argparse.ArgumentTypeError: not ``k=v``, an unknown option, or an option that cannot be set from text.
    """
    k, sep, v_str = kv_str.partition("=")
    if not sep or not k:
        raise argparse.ArgumentTypeError(f"'{kv_str}' is not in the form k=v.")
    current: dict[str, Any] = dict(np.get_printoptions())
    if k not in current:
        raise argparse.ArgumentTypeError(f"'{k}' is not a valid printoption.")
    v_type = type(current[k])
    if current[k] is None or v_type not in (bool, int, float, str):
        raise argparse.ArgumentTypeError(f"Setting '{k}' from the command line is not supported.")
    if v_type is bool:
        if v_str.lower() not in ("true", "false", "1", "0"):
            raise argparse.ArgumentTypeError(f"'{v_str}' is not a boolean for '{k}'; use true or false.")
        return k, v_str.lower() in ("true", "1")
    try:
        return k, v_type(v_str)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from e


def _bool(value: str) -> bool:
    return value.lower() in ("true", "1", "yes")


def main(argv: Sequence[str] | None = None) -> int:
    """The command line; returns the exit status.

    Args:
      argv: the arguments (``sys.argv[1:]`` when None).
    """
    parser = argparse.ArgumentParser(
        prog="python -m gpuvars.inspect_checkpoint", description="Print the variables of a gpuvars checkpoint."
    )
    parser.add_argument(
        "--file_name",
        type=str,
        default="",
        help="Checkpoint prefix: the path shared by P.index.json and the P-*.safetensors files.",
    )
    parser.add_argument("--tensor_name", type=str, default="", help="Name of the tensor to inspect")
    parser.add_argument(
        "--all_tensors",
        nargs="?",
        const=True,
        type=_bool,
        default=False,
        help="If True, print the names and values of all the tensors.",
    )
    parser.add_argument(
        "--all_tensor_names",
        nargs="?",
        const=True,
        type=_bool,
        default=False,
        help="If True, print the names of all the tensors.",
    )
    parser.add_argument(
        "--printoptions",
        nargs="*",
        type=parse_numpy_printoption,
        default=[],
        help="Argument for numpy.set_printoptions(), in the form 'k=v'.",
    )
    args = parser.parse_args(argv)
    if not args.file_name:
        print(
            "Usage: inspect_checkpoint --file_name=checkpoint_file_name "
            "[--tensor_name=tensor_to_print] "
            "[--all_tensors] "
            "[--all_tensor_names] "
            "[--printoptions]",
            file=sys.stderr,
        )
        return 1
    options: dict[str, Any] = dict(args.printoptions)
    with np.printoptions(**cast(Any, options)):
        ok = print_tensors_in_checkpoint_file(args.file_name, args.tensor_name, args.all_tensors, args.all_tensor_names)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
