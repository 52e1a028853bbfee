"""Per-call overhead of ``assign_add`` on a 16-element /cpu:0 variable, against peers.

Peers in the same run: a raw in-place NumPy add, ``torch.Tensor.add_`` and
TensorFlow's ``Variable.assign_add`` when installed. Target (issue 2):
gpuvars' per-call time <= torch ``add_``'s.

    python bench/overhead.py [--quick] [--json out.json]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench._common import bench_main, best_of, optional, print_table  # noqa: E402


def run(quick: bool = False) -> list[dict]:
    import gpuvars as gv

    number = 20_000 if quick else 200_000
    repeat = 3 if quick else 7
    rows = []
    delta = np.ones(16, np.float32)

    raw = np.zeros(16, np.float32)
    add = np.add
    t_np = best_of(lambda: add(raw, delta, out=raw), repeat, number)
    rows.append({"impl": "numpy np.add(out=)", "us_per_call": t_np * 1e6})

    g = gv.Graph()
    with g.as_default(), gv.device("/cpu:0"):
        v = gv.Variable(np.zeros(16, np.float32))
        v.initializer.run()
    t_gv = best_of(lambda: v.assign_add(delta), repeat, number)
    rows.append({"impl": "gpuvars assign_add", "us_per_call": t_gv * 1e6})
    t_gv_lock = best_of(lambda: v.assign_add(delta, use_locking=True), repeat, number)
    rows.append({"impl": "gpuvars assign_add(use_locking=True)", "us_per_call": t_gv_lock * 1e6})
    with g.as_default(), gv.device("/cpu:0"):
        s = gv.Variable(np.float32(0.0))
        s.initializer.run()
    t_gv_scalar = best_of(lambda: s.assign_add(1.0), repeat, number)
    rows.append({"impl": "gpuvars assign_add(1.0), scalar variable", "us_per_call": t_gv_scalar * 1e6})

    torch = optional("torch")
    t_torch = None
    if torch is not None:
        torch.set_num_threads(1)
        tt = torch.zeros(16)
        td = torch.ones(16)
        t_torch = best_of(lambda: tt.add_(td), repeat, number)
        rows.append({"impl": "torch add_", "us_per_call": t_torch * 1e6})

    tf = optional("tensorflow")
    if tf is not None:
        tv = tf.Variable(tf.zeros(16))
        tdelta = tf.ones(16)
        n_tf = max(number // 20, 1000)
        t_tf = best_of(lambda: tv.assign_add(tdelta), repeat, n_tf)
        rows.append({"impl": "tensorflow assign_add (eager)", "us_per_call": t_tf * 1e6})

    for r in rows:
        r["vs_numpy"] = r["us_per_call"] / (t_np * 1e6)
        r["vs_torch"] = None if t_torch is None else r["us_per_call"] / (t_torch * 1e6)
    return rows


def print_rows(rows: list[dict]) -> None:
    print_table("assign_add per-call overhead, 16 float32 on /cpu:0 (ratios: time / peer time, lower is better)",
                rows, ["impl", "us_per_call", "vs_numpy", "vs_torch"])


def main() -> int:
    return bench_main(__doc__, "overhead", run, print_rows)


if __name__ == "__main__":
    raise SystemExit(main())
