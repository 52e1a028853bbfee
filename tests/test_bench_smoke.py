"""The benchmark scripts run and report ratios (no timing is asserted: benchmarks are not tests)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import overhead, transfer  # noqa: E402


def test_overhead_benchmark_runs(monkeypatch):
    rows = overhead.run(quick=True)
    impls = [r["impl"] for r in rows]
    assert impls[0].startswith("numpy") and any(i.startswith("gpuvars assign_add") for i in impls)
    assert all(r["us_per_call"] > 0 and r["vs_numpy"] > 0 for r in rows)


def test_transfer_benchmark_runs(emulated_gpus):
    rows = transfer.run(quick=True)
    cases = " ".join(r["case"] for r in rows)
    assert "host->device" in cases and "device->host" in cases and "device->device" in cases
    assert any("caching_device" in r["case"] and r["vs_uncached"] > 0 for r in rows)
