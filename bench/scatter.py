"""scatter_add throughput: gpuvars' kernels against np.add.at, torch.index_add_ and TF scatter_add.

The data (SPEC §16, issue 3): 1e6 updates of 64 float32 into a 1e5-row table,
indices uniform or Zipf(1.2) (a few rows take most updates). Every
implementation gets the same arrays; rows report the best of several runs
and the ratio to the fastest peer (>1 means gpuvars is faster).

gpuvars rows call the backends directly (the Variable layer adds a few
microseconds per call, nothing per element):

* ``/cpu:0``: ``CpuBackend.scatter`` -> the owner-computes host kernel
  (deterministic, so deterministic mode is the same row);
* emulated GPU: the GPU kernels run on host threads (atomics; sort +
  segments when deterministic) -- the emulation, not a performance path.

Target: /cpu:0 >= 1.5x the fastest peer on both distributions.

TensorFlow runs when importable, or in the interpreter named by
``--tf-python`` / ``GPUVARS_BENCH_TF_PYTHON`` (its own virtualenv).

    python bench/scatter.py [--quick] [--json out.json] [--tf-python PATH]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench._common import best_of, optional, print_table, write_json  # noqa: E402

ROWS, WIDTH = 100_000, 64


def make_data(n: int, dist: str, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(indices int64, updates float32 (n, 64)) for one distribution."""
    rng = np.random.default_rng(seed)
    if dist == "uniform":
        idx = rng.integers(0, ROWS, n)
    else:  # Zipf(1.2): row 0 is the most frequent, then 1, ...
        idx = (rng.zipf(1.2, n) - 1) % ROWS
    upd = rng.standard_normal((n, WIDTH), dtype=np.float32)
    return idx.astype(np.int64), upd


def _tf_times(n: int, repeat: int) -> dict[str, float]:
    import tensorflow as tf

    out = {}
    for dist in ("uniform", "zipf"):
        idx, upd = make_data(n, dist)
        var = tf.Variable(tf.zeros((ROWS, WIDTH), tf.float32))
        ti, tu = tf.constant(idx), tf.constant(upd)

        def step(var=var, ti=ti, tu=tu):
            var.scatter_add(tf.IndexedSlices(tu, ti))
            var.value().numpy()[0, 0]  # wait for the op (eager ops may run async)

        step()
        out[dist] = best_of(step, repeat)
    return out


def _tf_python(explicit: str | None) -> str | None:
    if importlib.util.find_spec("tensorflow") is not None:
        return sys.executable
    candidate = explicit or os.environ.get("GPUVARS_BENCH_TF_PYTHON")
    return candidate if candidate and os.path.exists(candidate) else None


def _tf_peer(n: int, repeat: int, tf_python: str | None) -> dict[str, float] | str:
    python = _tf_python(tf_python)
    if python is None:
        return "not installed"
    if python == sys.executable:
        return _tf_times(n, repeat)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run([python, os.path.abspath(__file__), "--tf-worker", str(n), str(repeat)],
                          capture_output=True, text=True, env=env, timeout=1800)
    if proc.returncode != 0:
        return "failed: " + ((proc.stderr or proc.stdout).strip().splitlines() or ["?"])[-1][:200]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run(quick: bool = False, tf_python: str | None = None) -> list[dict]:
    """Time every implementation on both distributions; return table rows."""
    from gpuvars import kernels
    from gpuvars.backends.cpu import CpuBackend

    n = 200_000 if quick else 1_000_000
    repeat = 3 if quick else 5
    cpu = CpuBackend(0)
    try:
        from gpuvars.backends.emulated import EmulatedGpuBackend

        gpu: Any = EmulatedGpuBackend(0)
    except RuntimeError as e:  # no compiler
        gpu = f"unavailable: {e}"
    torch = optional("torch")
    tf = _tf_peer(n, repeat, tf_python)
    host_note = "host kernels" if kernels.cpu_kernels() is not None else "NumPy fallback (no compiler)"

    rows: list[dict] = []
    for dist in ("uniform", "zipf"):
        idx, upd = make_data(n, dist)
        table = np.zeros((ROWS, WIDTH), np.float32)
        peers: dict[str, float] = {}
        rep_slow = 1 if quick else 2
        peers["numpy np.add.at"] = best_of(lambda table=table, idx=idx, upd=upd: np.add.at(table, idx, upd), rep_slow)
        if torch is not None:
            torch.set_num_threads(os.cpu_count() or 1)
            tt, ti, tu = torch.zeros(ROWS, WIDTH), torch.from_numpy(idx), torch.from_numpy(upd)
            peers[f"torch index_add_ ({torch.get_num_threads()} threads)"] = best_of(
                lambda tt=tt, ti=ti, tu=tu: tt.index_add_(0, ti, tu), repeat)
        if isinstance(tf, dict):
            peers["tensorflow scatter_add"] = tf[dist]
        best_peer = min(peers.values())

        mine: dict[str, float] = {}
        mine[f"gpuvars /cpu:0 ({host_note})"] = best_of(
            lambda table=table, idx=idx, upd=upd: cpu.scatter("add", table, idx, upd, locked=False,
                                                             deterministic=False), repeat)
        if not isinstance(gpu, str):
            x, gi, gu = gpu.from_host(table), gpu.from_host(idx), gpu.from_host(upd)
            mine["gpuvars emulated GPU, atomics"] = best_of(
                lambda x=x, gi=gi, gu=gu: gpu.scatter("add", x, gi, gu, locked=False, deterministic=False), rep_slow)
            mine["gpuvars emulated GPU, deterministic"] = best_of(
                lambda x=x, gi=gi, gu=gu: gpu.scatter("add", x, gi, gu, locked=False, deterministic=True), rep_slow)
        for name, t in {**peers, **mine}.items():
            rows.append({"case": dist, "impl": name, "ms": t * 1e3, "peer": name in peers,
                         "speedup_vs_best_peer": best_peer / t})
        if isinstance(tf, str):
            rows.append({"case": dist, "impl": f"tensorflow scatter_add ({tf})", "ms": None, "peer": True,
                         "speedup_vs_best_peer": None})
        if isinstance(gpu, str):
            rows.append({"case": dist, "impl": f"gpuvars emulated GPU ({gpu[:60]})", "ms": None, "peer": False,
                         "speedup_vs_best_peer": None})
    return rows


def print_rows(rows: list[dict]) -> None:
    print_table(f"scatter_add: {ROWS} x {WIDTH} float32 table, updates of 64-float rows "
                "(speedup = fastest peer's time / this time; target >= 1.5 for /cpu:0)",
                rows, ["case", "impl", "ms", "speedup_vs_best_peer"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2e5 updates, fewer repeats")
    parser.add_argument("--json", default=None, help="write the rows to this JSON file")
    parser.add_argument("--tf-python", default=None, help="a Python that can import tensorflow (TF peer)")
    parser.add_argument("--tf-worker", nargs=2, type=int, metavar=("N", "REPEAT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.tf_worker:
        print(json.dumps(_tf_times(*args.tf_worker)))
        return 0
    rows = run(args.quick, args.tf_python)
    print_rows(rows)
    if args.json:
        write_json(args.json, {"scatter": rows})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
