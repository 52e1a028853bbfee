"""Dense updates: assign_add bandwidth, and fused group updates against a Python loop.

1. ``assign_add`` on a 64 MiB float32 buffer, in GB/s (read a, read b, write
   a = 3 x 64 MiB per call): gpuvars ``/cpu:0`` (host kernel: 16-byte vector
   loops on every core) and an emulated GPU, against ``np.add(out=)`` (one
   thread) and ``torch.Tensor.add_`` (all cores). Target: >= 0.9x torch.
2. ``group_update("add")`` over 200 small buffers (one fused launch) against a
   Python loop of ``assign_add`` on the same backend, and against a loop of
   ``np.add`` and torch's ``_foreach_add_``. Target: >= 5x the loop.

Rows call the backends directly.

    python bench/dense.py [--quick] [--json out.json]
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench._common import bench_main, best_of, optional, print_table  # noqa: E402

GROUP_SIZES = (64, 256, 1024, 4096)  # elements; 200 buffers cycle through these


def _bandwidth_rows(quick: bool, backends: dict[str, Any], torch: Any) -> list[dict]:
    n = (16 if quick else 64) * 2**20 // 4
    rounds = 7 if quick else 25
    a = np.ones(n, np.float32)
    b = np.full(n, 1e-3, np.float32)
    moved = 3 * a.nbytes
    calls: dict[str, Any] = {"numpy np.add(out=)": lambda: np.add(a, b, out=a)}
    if torch is not None:
        torch.set_num_threads(os.cpu_count() or 1)
        ta, tb = torch.from_numpy(a), torch.from_numpy(b)
        calls[f"torch add_ ({torch.get_num_threads()} threads)"] = lambda: ta.add_(tb)
    for name, be in backends.items():
        x, y = be.from_host(a), be.from_host(b)
        calls[f"gpuvars {name} assign_add"] = lambda be=be, x=x, y=y: be.assign_add(x, y)
    # Interleaved rounds: on a shared machine memory bandwidth drifts; every implementation sees the same drift.
    times: dict[str, list[float]] = {k: [] for k in calls}
    for _ in range(rounds):
        for k, fn in calls.items():
            times[k].append(best_of(fn, 1))
    best = {k: min(v) for k, v in times.items()}
    median = {k: sorted(v)[len(v) // 2] for k, v in times.items()}
    torch_k = next((k for k in calls if k.startswith("torch")), None)
    case = f"assign_add {a.nbytes >> 20} MiB float32"
    return [{"case": case, "impl": k, "ms": best[k] * 1e3, "GB/s": moved / best[k] / 1e9,
             "median GB/s": moved / median[k] / 1e9,
             "vs_torch": None if torch_k is None else best[torch_k] / best[k],
             "vs_torch_median": None if torch_k is None else median[torch_k] / median[k]} for k in calls]


def _group_rows(quick: bool, backends: dict[str, Any], torch: Any) -> list[dict]:
    count = 200
    repeat = 5 if quick else 20
    number = 5 if quick else 20
    rng = np.random.default_rng(0)
    host_d = [rng.standard_normal(GROUP_SIZES[i % len(GROUP_SIZES)]).astype(np.float32) for i in range(count)]
    host_s = [np.full_like(d, 1e-3) for d in host_d]
    case = f"group add, {count} buffers of {'/'.join(map(str, GROUP_SIZES))} float32"
    rows: list[dict] = []

    def numpy_loop():
        for d, s in zip(host_d, host_s):
            np.add(d, s, out=d)

    t_np = best_of(numpy_loop, repeat, number)
    rows.append({"case": case, "impl": "numpy loop of np.add(out=)", "ms": t_np * 1e3})
    if torch is not None and hasattr(torch, "_foreach_add_"):
        td = [torch.from_numpy(d) for d in host_d]
        ts = [torch.from_numpy(s) for s in host_s]
        rows.append({"case": case, "impl": "torch _foreach_add_",
                     "ms": best_of(lambda: torch._foreach_add_(td, ts), repeat, number) * 1e3})
    for name, be in backends.items():
        ds = [be.from_host(d) for d in host_d]
        ss = [be.from_host(s) for s in host_s]

        def loop(be=be, ds=ds, ss=ss):
            for d, s in zip(ds, ss):
                be.assign_add(d, s)

        t_loop = best_of(loop, repeat, number)
        t_group = best_of(lambda be=be, ds=ds, ss=ss: be.group_update("add", ds, ss), repeat, number)
        rows.append({"case": case, "impl": f"gpuvars {name}: loop of assign_add", "ms": t_loop * 1e3})
        rows.append({"case": case, "impl": f"gpuvars {name}: group_update (fused)", "ms": t_group * 1e3,
                     "vs_loop": t_loop / t_group, "vs_numpy_loop": t_np / t_group})
    return rows


def run(quick: bool = False) -> list[dict]:
    """Measure both benchmarks; return table rows."""
    from gpuvars import kernels
    from gpuvars.backends.cpu import CpuBackend

    backends: dict[str, Any] = {}
    cpu_host = kernels.cpu_kernels()
    backends["/cpu:0"] = CpuBackend(0)
    if cpu_host is not None:
        backends["/cpu:0 host kernels"] = cpu_host  # what CpuBackend delegates large updates to
        from gpuvars.backends.emulated import EmulatedGpuBackend

        backends["emulated /gpu:0"] = EmulatedGpuBackend(0)
    torch = optional("torch")
    bw_backends = {k: v for k, v in backends.items() if k != "/cpu:0 host kernels"}
    return _bandwidth_rows(quick, bw_backends, torch) + _group_rows(quick, backends, torch)


def print_rows(rows: list[dict]) -> None:
    bw = [r for r in rows if "GB/s" in r]
    grp = [r for r in rows if "GB/s" not in r]
    print_table("Dense assign_add bandwidth, best and median of interleaved rounds "
                "(vs_torch = torch time / this time; target >= 0.9)",
                bw, ["case", "impl", "ms", "GB/s", "median GB/s", "vs_torch", "vs_torch_median"])
    print_table("Fused group update (vs_loop = loop time / fused time; target >= 5)",
                grp, ["case", "impl", "ms", "vs_loop", "vs_numpy_loop"])


def main() -> int:
    return bench_main(__doc__, "dense", run, print_rows)


if __name__ == "__main__":
    raise SystemExit(main())
