"""The ``gpuvars`` command: ``demo``, ``devices``, ``bench``, ``inspect`` (SPEC §14)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

__all__ = ["main"]


def _devices(args: argparse.Namespace) -> int:
    from gpuvars.devices import list_devices

    rows = [(d.name, d.kind, str(d.index), "-" if d.memory_bytes is None else f"{d.memory_bytes / 2**30:.1f} GiB")
            for d in list_devices()]
    _print_table(("device", "kind", "index", "memory"), rows)
    return 0


def _print_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = "  ".join(h.ljust(w) for h, w in zip(header, widths))
    print(line)
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)))


def _demo(args: argparse.Namespace) -> int:
    from gpuvars.demo import run_demo

    return run_demo(steps=args.steps, directory=args.dir, progress=not args.no_progress,
                    checkpoint_every=args.checkpoint_every, max_to_keep=args.max_to_keep)


def _bench(args: argparse.Namespace) -> int:
    from gpuvars.benchmarks import run_benchmarks

    return run_benchmarks(names=args.only, quick=args.quick, output=args.json)


def _inspect(args: argparse.Namespace) -> int:
    from gpuvars.inspect_checkpoint import print_tensors_in_checkpoint_file

    # It prints the error (a missing or invalid checkpoint, an unknown tensor) to stderr and returns False.
    ok = print_tensors_in_checkpoint_file(args.prefix, args.tensor_name or "", args.all_tensors)
    return 0 if ok else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gpuvars", description="TensorFlow 1.x variables on NumPy and CuPy.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("demo", help="an end-to-end training loop on the devices present")
    p.add_argument("--steps", type=int, default=300, help="training steps (default 300)")
    p.add_argument("--dir", default=None, help="folder for checkpoints (default: a temporary folder)")
    p.add_argument("--checkpoint-every", type=int, default=100, help="save every N steps (default 100)")
    p.add_argument("--max-to-keep", type=int, default=3, help="checkpoints to keep (default 3)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(fn=_demo)

    p = sub.add_parser("devices", help="list the devices")
    p.set_defaults(fn=_devices)

    p = sub.add_parser("bench", help="run the benchmarks in bench/ and write a JSON file")
    p.add_argument("--only", nargs="*", default=None, help="benchmark names (default: all)")
    p.add_argument("--quick", action="store_true", help="smaller sizes, fewer repeats")
    p.add_argument("--json", default="gpuvars-bench.json", help="where to write the results")
    p.set_defaults(fn=_bench)

    p = sub.add_parser("inspect", help="print the tensors of a checkpoint")
    p.add_argument("prefix", help="checkpoint prefix (the path without .index.json)")
    p.add_argument("--tensor_name", default="", help="one tensor to print")
    p.add_argument("--all_tensors", action="store_true", help="print every tensor's values")
    p.set_defaults(fn=_inspect)

    args = parser.parse_args(argv)
    try:
        return int(args.fn(args) or 0)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        sys.stderr.close()
        return 0
