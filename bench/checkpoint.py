"""Checkpoint save and restore with ``gpuvars.train.Saver`` against raw safetensors, torch and TensorFlow's Saver.

256 MiB in 32 float32 variables (64 MiB with ``--quick``), the same values for
every implementation:

* gpuvars ``Saver.save`` / ``Saver.restore`` with its defaults (data + index +
  meta graph + state file, all fsync'ed; restore reads into the variables'
  existing buffers, checksums verified), variables on ``/cpu:0`` (one file);
  and ``sharded=True`` with the variables on two emulated GPUs (one file per
  device, written in parallel; every tensor is copied device → host first);
* ``safetensors.numpy.save_file`` + fsync / ``load_file`` (the raw format);
* ``torch.save`` / ``torch.load`` (no fsync: torch does not sync), and
  ``torch.save`` + fsync for reference;
* TensorFlow's ``tf.compat.v1.train.Saver`` (graph mode, no fsync) when
  TensorFlow is importable, or in the interpreter named by ``--tf-python`` /
  ``GPUVARS_BENCH_TF_PYTHON`` (e.g. a separate virtualenv).

Each implementation runs in its own subprocess (so one's allocator state does
not flatter another's memory numbers): the first save and restore measure the
peak extra resident memory (Linux ``VmHWM`` reset through
``/proc/self/clear_refs``), then ``repeat`` rounds time a save to a new prefix
and a restore of it (from the page cache, warm for everyone). Old checkpoints
are deleted between rounds, outside the timings. Ratios are peer time / gpuvars
time: above 1 means gpuvars is faster.

    python bench/checkpoint.py [--quick] [--json out.json] [--tf-python /path/to/python]
"""

from __future__ import annotations

import argparse
import glob
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

N_VARS = 32
TARGETS = {  # issue 6: gpuvars time must beat peer time / ratio
    ("save", "safetensors save_file + fsync"): 0.9,
    ("save", "torch.save"): 1.0,
    ("restore", "safetensors load_file"): 1.5,
    ("restore", "torch.load"): 1.5,
}
GV = "gpuvars Saver (/cpu:0, 1 file)"
GV_SHARDED = "gpuvars Saver sharded (2 emulated GPUs, 2 files)"


# --------------------------------------------------------------------------- worker side (its own process)


def _status(key: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _peak_extra(fn: Callable[[], Any]) -> float | None:
    """Peak resident memory added while ``fn`` runs, in MiB (None where Linux's VmHWM cannot be reset)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM to the current RSS
    except OSError:
        fn()
        return None
    base = _status("VmRSS")
    result = fn()
    peak = _status("VmHWM")
    del result
    if base is None or peak is None:
        return None
    return max(peak - base, 0) / 2**20


def _fsync(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _arrays(total: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    per = total // N_VARS // 4
    cols = 1024 if per % 1024 == 0 else 1
    return {f"var_{i:02d}": rng.random(per, dtype=np.float32).reshape(-1, cols) for i in range(N_VARS)}


class _Impl:
    """save(i) writes round i, restore(i) reads it back, cleanup(i) deletes it (untimed)."""

    def __init__(self, arrays: dict[str, np.ndarray], folder: str):
        self.arrays = arrays
        self.folder = folder

    def path(self, i: int) -> str:
        return os.path.join(self.folder, f"ckpt-{i}")

    def save(self, i: int) -> None:
        raise NotImplementedError

    def restore(self, i: int) -> Any:
        raise NotImplementedError

    def cleanup(self, i: int) -> None:
        for p in glob.glob(glob.escape(self.path(i)) + "*"):
            os.unlink(p)

    def check(self) -> None:
        """Verify the last restore returned the saved values."""


class _Gpuvars(_Impl):
    def __init__(self, arrays: dict[str, np.ndarray], folder: str, sharded: bool):
        import gpuvars as gv
        import gpuvars.train  # noqa: F401 - registers gv.train

        super().__init__(arrays, folder)
        self.gv = gv
        self.variables = {}
        for i, (name, value) in enumerate(arrays.items()):
            device = f"/gpu:{i % 2}" if sharded else "/cpu:0"
            with gv.device(device):
                self.variables[name] = gv.Variable(value, name=name)
        gv.global_variables_initializer().run()
        self.saver = gv.train.Saver(sharded=sharded, max_to_keep=None)
        if sharded:
            assert {v.device for v in self.variables.values()} == {"/device:GPU:0", "/device:GPU:1"}

    def save(self, i: int) -> None:
        self.saver.save(None, os.path.join(self.folder, "ckpt"), global_step=i)

    def restore(self, i: int) -> None:
        self.saver.restore(None, self.path(i))

    def check(self) -> None:
        for name, v in self.variables.items():
            np.testing.assert_array_equal(v.numpy(), self.arrays[name])


class _Safetensors(_Impl):
    def save(self, i: int) -> None:
        import safetensors.numpy as stnp

        path = self.path(i) + ".safetensors"
        stnp.save_file(self.arrays, path)
        _fsync(path)

    def restore(self, i: int) -> Any:
        import safetensors.numpy as stnp

        self.out = stnp.load_file(self.path(i) + ".safetensors")
        return self.out

    def check(self) -> None:
        for name, value in self.arrays.items():
            np.testing.assert_array_equal(self.out[name], value)


class _Torch(_Impl):
    def __init__(self, arrays: dict[str, np.ndarray], folder: str, fsync: bool):
        import torch

        super().__init__(arrays, folder)
        self.torch = torch
        self.fsync = fsync
        self.tensors = {k: torch.from_numpy(v) for k, v in arrays.items()}

    def save(self, i: int) -> None:
        path = self.path(i) + ".pt"
        self.torch.save(self.tensors, path)
        if self.fsync:
            _fsync(path)

    def restore(self, i: int) -> Any:
        self.out = self.torch.load(self.path(i) + ".pt")
        return self.out

    def check(self) -> None:
        for name, value in self.arrays.items():
            np.testing.assert_array_equal(self.out[name].numpy(), value)


class _TensorFlow(_Impl):
    def __init__(self, arrays: dict[str, np.ndarray], folder: str):
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        import tensorflow.compat.v1 as tf

        super().__init__(arrays, folder)
        tf.disable_eager_execution()
        self.graph = tf.Graph()
        with self.graph.as_default():
            # Zeros, then the values fed through placeholders: constants would bloat the GraphDef (and the meta
            # graph every save writes) by the whole model.
            self.variables = {k: tf.Variable(tf.zeros(v.shape, tf.float32), name=k) for k, v in arrays.items()}
            feeds = {k: tf.placeholder(tf.float32, v.shape) for k, v in arrays.items()}
            assigns = [self.variables[k].assign(feeds[k]) for k in arrays]
            self.saver = tf.train.Saver(max_to_keep=None)
            self.sess = tf.Session(graph=self.graph)
            self.sess.run(tf.global_variables_initializer())
            self.sess.run(assigns, {feeds[k]: v for k, v in arrays.items()})

    def save(self, i: int) -> None:
        self.saver.save(self.sess, os.path.join(self.folder, "ckpt"), global_step=i)

    def restore(self, i: int) -> None:
        self.saver.restore(self.sess, self.path(i))

    def check(self) -> None:
        values = self.sess.run(self.variables)
        for name, value in self.arrays.items():
            np.testing.assert_array_equal(values[name], value)


IMPLS: dict[str, tuple[str, str | None, Callable[[dict[str, np.ndarray], str], _Impl]]] = {
    # key: (save label, restore label, factory)
    "gpuvars": (GV, GV, lambda a, d: _Gpuvars(a, d, sharded=False)),
    "gpuvars_sharded": (GV_SHARDED, GV_SHARDED, lambda a, d: _Gpuvars(a, d, sharded=True)),
    "safetensors": ("safetensors save_file + fsync", "safetensors load_file", _Safetensors),
    "torch": ("torch.save", "torch.load", lambda a, d: _Torch(a, d, fsync=False)),
    "torch_fsync": ("torch.save + fsync", None, lambda a, d: _Torch(a, d, fsync=True)),
    "tensorflow": ("TF Saver.save", "TF Saver.restore", _TensorFlow),
}


def _worker(impl: str, total: int, repeat: int, folder: str) -> dict[str, Any]:
    arrays = _arrays(total)
    ops = IMPLS[impl][2](arrays, folder)
    mem_save = _peak_extra(lambda: ops.save(0))
    mem_restore = _peak_extra(lambda: ops.restore(0))
    ops.check()
    ops.cleanup(0)
    saves, restores = [], []
    for i in range(1, repeat + 1):
        t0 = time.perf_counter()
        ops.save(i)
        saves.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        ops.restore(i)
        restores.append(time.perf_counter() - t0)
        ops.cleanup(i)
    ops.check()
    return {"save": saves, "restore": restores, "mem_save": mem_save, "mem_restore": mem_restore}


# --------------------------------------------------------------------------- driver side


def _tf_python(explicit: str | None) -> str | None:
    if importlib.util.find_spec("tensorflow") is not None:
        return sys.executable
    candidate = explicit or os.environ.get("GPUVARS_BENCH_TF_PYTHON")
    return candidate if candidate and os.path.exists(candidate) else None


def _run_worker(python: str, impl: str, total: int, repeat: int, env: dict[str, str]) -> dict[str, Any] | str:
    folder = tempfile.mkdtemp(prefix=f"gpuvars-bench-{impl}-")
    try:
        proc = subprocess.run(
            [
                python,
                os.path.abspath(__file__),
                "--worker",
                impl,
                "--bytes",
                str(total),
                "--repeat",
                str(repeat),
                "--dir",
                folder,
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=900,
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        return f"failed: {tail[0][:200]}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run(quick: bool = False, tf_python: str | None = None) -> list[dict]:
    """Measure every implementation; return table rows with ratios against each peer."""
    import gpuvars

    total = (64 if quick else 256) << 20
    repeat = 3 if quick else 7
    root = str(Path(gpuvars.__file__).resolve().parents[1])
    env = dict(
        os.environ,
        GPUVARS_EMULATED_GPUS="2",
        TF_CPP_MIN_LOG_LEVEL="3",
        PYTHONPATH=os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p),
    )
    pythons = {k: sys.executable for k in IMPLS}
    if importlib.util.find_spec("torch") is None:
        pythons.pop("torch")
        pythons.pop("torch_fsync")
    tfpy = _tf_python(tf_python)
    if tfpy is None:
        pythons.pop("tensorflow")
    else:
        pythons["tensorflow"] = tfpy
    results: dict[str, dict[str, Any] | str] = {}
    for impl, python in pythons.items():
        results[impl] = _run_worker(python, impl, total, repeat, env)

    medians: dict[tuple[str, str], float] = {}
    rows: list[dict] = []
    for impl, res in results.items():
        save_label, restore_label, _ = IMPLS[impl]
        for op, label in (("save", save_label), ("restore", restore_label)):
            if label is None:
                continue
            if isinstance(res, str):
                rows.append({"op": op, "impl": label, "note": res})
                continue
            ts = res[op]
            med = statistics.median(ts)
            medians[(op, label)] = med
            rows.append(
                {
                    "op": op,
                    "impl": label,
                    "MiB": total >> 20,
                    "median_ms": med * 1e3,
                    "best_ms": min(ts) * 1e3,
                    "GB/s": total / med / 1e9,
                    "peak_extra_MiB": res["mem_save" if op == "save" else "mem_restore"],
                }
            )
    peers = {
        "safetensors": {"save": "safetensors save_file + fsync", "restore": "safetensors load_file"},
        "torch": {"save": "torch.save", "restore": "torch.load"},
        "tf": {"save": "TF Saver.save", "restore": "TF Saver.restore"},
    }
    for row in rows:
        if "median_ms" not in row:
            continue
        for peer, labels in peers.items():
            t_peer = medians.get((row["op"], labels[row["op"]]))
            row[f"vs_{peer}"] = None if t_peer is None else t_peer / (row["median_ms"] / 1e3)
    for (op, peer_label), need in TARGETS.items():
        gv_time, peer_time = medians.get((op, GV)), medians.get((op, peer_label))
        if gv_time is None or peer_time is None:
            continue
        ratio = peer_time / gv_time
        rows.append(
            {
                "op": op,
                "impl": f"target: {GV} >= {need}x {peer_label}",
                "ratio": ratio,
                "met": "yes" if ratio >= need else "NO",
            }
        )
    return rows


COLUMNS = [
    "op",
    "impl",
    "MiB",
    "median_ms",
    "best_ms",
    "GB/s",
    "peak_extra_MiB",
    "vs_safetensors",
    "vs_torch",
    "vs_tf",
    "ratio",
    "met",
    "note",
]


def print_rows(rows: list[dict]) -> None:
    """Print the table (``gpuvars bench`` calls this too)."""
    from bench._common import print_table

    print_table(
        "Checkpoints: save (durable unless noted) and restore (page cache warm); vs_<peer> = peer time / this "
        "time (>1: faster than the peer)",
        rows,
        [c for c in COLUMNS if any(r.get(c) is not None for r in rows)],
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="64 MiB and 3 rounds")
    parser.add_argument("--json", help="also write the results to this JSON file")
    parser.add_argument("--tf-python", help="a Python interpreter that can import tensorflow (for the TF peer)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--bytes", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--repeat", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--dir", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(_worker(args.worker, args.bytes, args.repeat, args.dir)))
        return 0
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from bench._common import write_json

    rows = run(args.quick, args.tf_python)
    print_rows(rows)
    if args.json:
        write_json(args.json, {"checkpoint": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
