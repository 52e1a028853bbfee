"""Raw speed of gpuvars' checkpoint storage layer against the safetensors library.

256 MiB in 32 float32 arrays (64 MiB with ``--quick``), in one folder:

* write: ``write_checkpoint`` (streamed, checksummed, temp + fsync + rename, index
  last) against ``safetensors.numpy.save_file`` followed by an fsync (durable, to
  be fair), plus the same writer with the checksum switched off, to show what
  the checksum costs;
* read: ``CheckpointReader.read_stored_into`` into existing arrays, checksums
  verified (and not), against ``safetensors.numpy.load_file`` (which allocates).

Variants run interleaved, ``repeat`` rounds each; the table shows medians and
ratios against safetensors (>1 means faster than safetensors).

    python bench/checkpoint_format.py [--quick] [--json out.json]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench._common import print_table, write_json  # noqa: E402


def _fsync(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _const(arr: np.ndarray) -> Callable[[], np.ndarray]:
    return lambda: arr


def run(quick: bool = False) -> list[dict]:
    import safetensors.numpy as stnp

    from gpuvars.train import _format
    from gpuvars.train import _index as X

    n_arrays = 32
    total = (64 if quick else 256) << 20
    repeat = 5 if quick else 9
    rng = np.random.default_rng(0)
    arrays = {f"var_{i:02d}": rng.random(total // n_arrays // 4, dtype=np.float32) for i in range(n_arrays)}
    records = [X.TensorRecord(k, v.dtype, v.shape, "/cpu:0", _const(v)) for k, v in arrays.items()]
    folder = tempfile.mkdtemp(prefix="gpuvars-bench-ckpt-")
    raw_path = os.path.join(folder, "raw.safetensors")
    prefix = os.path.join(folder, "model.ckpt")
    nock_prefix = os.path.join(folder, "nochecksum.ckpt")
    outs = {k: np.empty_like(v) for k, v in arrays.items()}

    def raw_save() -> None:
        stnp.save_file(arrays, raw_path)
        _fsync(raw_path)
        _format.fsync_dir(folder)

    def mine_save() -> None:
        X.write_checkpoint(prefix, records, global_step=1)

    def mine_save_nochecksum() -> None:
        update = _format.Checksum.update
        _format.Checksum.update = lambda self, data: None  # type: ignore[method-assign]
        try:
            X.write_checkpoint(nock_prefix, records, global_step=1)
        finally:
            _format.Checksum.update = update  # type: ignore[method-assign]

    def raw_load() -> None:
        stnp.load_file(raw_path)

    def mine_load(verify: bool) -> Callable[[], None]:
        def load() -> None:
            with X.CheckpointReader(prefix) as r:
                for name, out in outs.items():
                    if verify:
                        r.read_stored_into(name, out)
                    else:
                        r._file(r.index.tensors[name].file).read_into(name, out)

        return load

    variants = {
        ("write", "safetensors save_file + fsync"): raw_save,
        ("write", "gpuvars write_checkpoint"): mine_save,
        ("write", "gpuvars write_checkpoint, no checksum"): mine_save_nochecksum,
    }
    times: dict[tuple[str, str], list[float]] = {k: [] for k in variants}
    try:
        for _ in range(repeat):
            for key, fn in variants.items():
                t0 = time.perf_counter()
                fn()
                times[key].append(time.perf_counter() - t0)
        readers = {
            ("read", "safetensors load_file"): raw_load,
            ("read", "gpuvars read into buffers, verified"): mine_load(True),
            ("read", "gpuvars read into buffers, unverified"): mine_load(False),
        }
        for fn in readers.values():
            fn()  # warm the page cache for every file alike
        times.update({k: [] for k in readers})
        for _ in range(repeat):
            for key, fn in readers.items():
                t0 = time.perf_counter()
                fn()
                times[key].append(time.perf_counter() - t0)
        for name, out in outs.items():
            np.testing.assert_array_equal(out, arrays[name])
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    baseline = {
        "write": statistics.median(times[("write", "safetensors save_file + fsync")]),
        "read": statistics.median(times[("read", "safetensors load_file")]),
    }
    rows = []
    for (op, impl), ts in times.items():
        med = statistics.median(ts)
        rows.append(
            {
                "op": op,
                "impl": impl,
                "MiB": total >> 20,
                "median_ms": med * 1e3,
                "best_ms": min(ts) * 1e3,
                "GB/s": total / med / 1e9,
                "speedup_vs_safetensors": baseline[op] / med,
            }
        )
    with_ck = statistics.median(times[("write", "gpuvars write_checkpoint")])
    without = statistics.median(times[("write", "gpuvars write_checkpoint, no checksum")])
    rows.append(
        {
            "op": "write",
            "impl": "checksum share of save time",
            "median_ms": (with_ck - without) * 1e3,
            "speedup_vs_safetensors": None,
            "share": (with_ck - without) / with_ck,
        }
    )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="64 MiB and fewer rounds")
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    rows = run(args.quick)
    print_table(
        "Checkpoint storage: gpuvars vs safetensors (durable writes; reads from the page cache)",
        rows,
        ["op", "impl", "MiB", "median_ms", "best_ms", "GB/s", "speedup_vs_safetensors", "share"],
    )
    if args.json:
        write_json(args.json, {"checkpoint_format": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
