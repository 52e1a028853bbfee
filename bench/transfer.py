"""Copy bandwidth per direction, and cached vs uncached variable reads.

Directions present: host->device, device->host, device->device (emulated GPUs
are host memory, so this measures the transfer layer against a raw NumPy
copy of the same bytes; on a real GPU it measures PCIe/NVLink, compare with
the link's nominal figure). Then the cost of reading a variable through a
``caching_device`` (1 copy per update) against reading it without one across
devices (1 copy per read).

    GPUVARS_EMULATED_GPUS=2 python bench/transfer.py [--quick] [--json out.json]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench._common import bench_main, best_of, print_table  # noqa: E402


def run(quick: bool = False) -> list[dict]:
    import gpuvars as gv

    nbytes = (16 if quick else 64) << 20
    repeat = 3 if quick else 7
    rows: list[dict] = []
    host = np.ones(nbytes // 4, np.float32)
    dst = np.empty_like(host)
    t_raw = best_of(lambda: np.copyto(dst, host), repeat)
    rows.append({"case": "numpy copyto (host memcpy)", "ms": t_raw * 1e3, "GB/s": nbytes / t_raw / 1e9,
                 "vs_memcpy": 1.0})

    gpus = [d.name for d in gv.list_devices() if d.kind != "cpu"]
    if gpus:
        g0 = gpus[0]
        on0 = gv.device_put(host, g0)
        cases = [("host->device " + g0, lambda: gv.device_put(host, g0)),
                 ("device->host " + g0, lambda: gv.device_put(on0, "/cpu:0"))]
        if len(gpus) > 1:
            cases.append((f"device->device {g0}->{gpus[1]}", lambda: gv.device_put(on0, gpus[1])))
        for name, fn in cases:
            t = best_of(fn, repeat)
            rows.append({"case": name, "ms": t * 1e3, "GB/s": nbytes / t / 1e9, "vs_memcpy": t_raw / t})

    # Cached vs uncached reads: 5 reads between two updates of a 4 MiB variable.
    src = gpus[0] if gpus else "/cpu:0"
    other = gpus[-1] if len(gpus) > 1 else "/cpu:0"
    value = np.ones(1 << 20, np.float32)
    g = gv.Graph()
    with g.as_default():
        with gv.device(src):
            cached = gv.Variable(value, caching_device=other)
            plain = gv.Variable(value)
        gv.variables_initializer([cached, plain]).run()
    delta = gv.device_put(np.ones(1 << 20, np.float32), src)

    def reads_after_update(var: object, read: object) -> float:
        """Best time of 5 reads right after an update (the update itself is not timed)."""
        best = float("inf")
        for _ in range(repeat * 5):
            var.assign_add(delta)  # type: ignore[attr-defined]
            t0 = time.perf_counter()
            for _ in range(5):
                read()  # type: ignore[operator]
            best = min(best, time.perf_counter() - t0)
        return best

    t_c = reads_after_update(cached, cached.value)
    t_u = reads_after_update(plain, lambda: gv.device_put(plain, other))
    rows.append({"case": f"5 reads after an update, caching_device ({src}->{other})", "ms": t_c * 1e3,
                 "vs_uncached": t_u / t_c})
    rows.append({"case": f"5 reads after an update, copying each time ({src}->{other})", "ms": t_u * 1e3,
                 "vs_uncached": 1.0})
    return rows


def print_rows(rows: list[dict]) -> None:
    print_table("transfer layer: bandwidth per direction, cached reads (higher ratios are better)",
                rows, ["case", "ms", "GB/s", "vs_memcpy", "vs_uncached"])


def main() -> int:
    return bench_main(__doc__, "transfer", run, print_rows)


if __name__ == "__main__":
    raise SystemExit(main())
