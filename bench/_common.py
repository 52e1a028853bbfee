"""Helpers shared by the benchmarks: timing, optional peers, tables, JSON."""

from __future__ import annotations

import importlib
import json
import platform
import time
from collections.abc import Callable, Sequence
from typing import Any


def best_of(fn: Callable[[], Any], repeat: int = 5, number: int = 1) -> float:
    """Best wall time of ``number`` calls, over ``repeat`` rounds, per call (seconds)."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - t0) / number)
    return best


def optional(name: str) -> Any:
    """Import a peer library if it is installed, else None."""
    try:
        return importlib.import_module(name)
    except Exception:
        return None


def print_table(title: str, rows: Sequence[dict], columns: Sequence[str]) -> None:
    print(f"\n{title}")
    widths = [max(len(c), *(len(_fmt(r.get(c))) for r in rows)) for c in columns]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths)))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print("  ".join(_fmt(r.get(c)).ljust(w) for c, w in zip(columns, widths)))


def _fmt(x: Any) -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:.3g}"
    return str(x)


def machine() -> dict:
    import os

    return {"python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count()}


def write_json(path: str, results: dict) -> None:
    with open(path, "w") as f:
        json.dump({"machine": machine(), **results}, f, indent=2)


def bench_main(doc: str | None, name: str, run: Callable[[bool], list[dict]],
               print_rows: Callable[[list[dict]], None]) -> int:
    """The command line every benchmark script shares: ``[--quick] [--json out.json]``."""
    import argparse

    parser = argparse.ArgumentParser(description=(doc or name).splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, fewer repeats")
    parser.add_argument("--json", default=None, help="also write the rows to this JSON file")
    args = parser.parse_args()
    rows = run(args.quick)
    print_rows(rows)
    if args.json:
        write_json(args.json, {name: rows})
    return 0
