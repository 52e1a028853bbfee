"""``gpuvars bench``: run the benchmarks of ``bench/`` and write one JSON file.

Each ``bench/<name>.py`` has ``run(quick: bool) -> list[dict]``; rows carry
ratios against the peers measured in the same run. The benchmark sources ship
inside the wheel (``gpuvars/_bench``) so an installed package can run them.
"""

from __future__ import annotations

import importlib.util
import json
import platform
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

__all__ = ["run_benchmarks", "bench_dir", "ALL"]

ALL = ("overhead", "dense", "scatter", "transfer", "checkpoint")


def bench_dir() -> Path:
    """The folder of benchmark scripts: installed copy first, then the source checkout."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "_bench", here.parent / "bench"):
        if (candidate / "_common.py").is_file():
            return candidate
    raise FileNotFoundError(
        f"No benchmark scripts found (looked in {here / '_bench'} and {here.parent / 'bench'}). "
        "Reinstall gpuvars, or run from a source checkout."
    )


def _load(name: str) -> ModuleType:
    folder = bench_dir()
    path = folder / f"{name}.py"
    if not path.is_file():
        raise FileNotFoundError(f"No benchmark named {name!r} (expected {path}). Known: {', '.join(ALL)}")
    if str(folder.parent) not in sys.path:
        sys.path.insert(0, str(folder.parent))
    # bench modules import `bench._common`; alias the installed folder under that name.
    if "bench" not in sys.modules:
        pkg_spec = importlib.util.spec_from_file_location("bench", folder / "__init__.py",
                                                          submodule_search_locations=[str(folder)])
        assert pkg_spec is not None and pkg_spec.loader is not None
        pkg = importlib.util.module_from_spec(pkg_spec)
        sys.modules["bench"] = pkg
        pkg_spec.loader.exec_module(pkg)
    spec = importlib.util.spec_from_file_location(f"bench.{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[f"bench.{name}"] = module
    spec.loader.exec_module(module)
    return module


def run_benchmarks(names: Sequence[str] | None = None, quick: bool = False, output: str | None = None) -> int:
    """Run benchmarks by name (default: all present), print tables, write JSON; return an exit code."""
    names = list(names) if names else [n for n in ALL if (bench_dir() / f"{n}.py").is_file()]
    unknown = [n for n in names if n not in ALL]
    if unknown:
        print(f"gpuvars bench: unknown benchmark(s) {unknown}; expected some of {list(ALL)}", file=sys.stderr)
        return 2
    try:
        from tqdm import tqdm

        progress = tqdm(names, desc="benchmarks", unit="bench")
    except ImportError:
        progress = names
    results: dict[str, object] = {}
    for name in progress:
        module = _load(name)
        t0 = time.perf_counter()
        rows = module.run(quick)
        results[name] = {"rows": rows, "seconds": time.perf_counter() - t0}
        module_print = getattr(module, "print_rows", None)
        if module_print is not None:
            module_print(rows)
        else:
            _print(name, rows)
    if output:
        with open(output, "w") as f:
            json.dump({"python": platform.python_version(), "machine": platform.machine(), "quick": quick,
                       "results": results}, f, indent=2, default=str)
        print(f"\nwrote {output}")
    return 0


def _print(name: str, rows: list[dict]) -> None:
    from bench._common import print_table  # type: ignore[import-not-found]

    columns: list[str] = []
    for r in rows:
        columns.extend(k for k in r if k not in columns)
    print_table(name, rows, columns)
