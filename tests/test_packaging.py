"""Packaging: an installed (non-editable) wheel carries the kernel sources; imports stay light."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def test_import_does_not_import_cupy_or_ray():
    code = "import sys, gpuvars; print('cupy' in sys.modules, 'ray' in sys.modules, gpuvars.__version__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    cupy, ray, version = out.stdout.split()
    assert (cupy, ray) == ("False", "False")
    assert version.count(".") == 2


def test_console_entry_points():
    out = subprocess.run([sys.executable, "-m", "gpuvars", "devices"], capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 0, out.stderr
    assert "/device:CPU:0" in out.stdout
    bad = subprocess.run([sys.executable, "-m", "gpuvars", "nonsense"], capture_output=True, text=True, cwd=REPO)
    assert bad.returncode == 2 and "invalid choice" in bad.stderr


@pytest.mark.slow
def test_installed_wheel_finds_kernel_sources(tmp_path):
    pytest.importorskip("hatchling")
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "--no-build-isolation", "-w", str(tmp_path)],
        capture_output=True, text=True,
    )
    assert build.returncode == 0, build.stderr[-2000:]
    wheel = next(tmp_path.glob("gpuvars-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    sources = sorted(p.name for p in (REPO / "kernels").iterdir() if p.suffix in (".cu", ".h", ".cuh"))
    assert sources, "kernels/ holds the CUDA sources"
    for name in sources:
        assert f"gpuvars/_kernels/{name}" in names
    assert "gpuvars/py.typed" in names
    site = tmp_path / "site"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--target", str(site), str(wheel)],
        capture_output=True, text=True,
    )
    assert install.returncode == 0, install.stderr[-2000:]
    code = (
        "import gpuvars, gpuvars.kernels as k, pathlib;"
        "d = k.kernel_dir(); print(d); print(sorted(p.name for p in d.glob('*.cu')))"
    )
    env = dict(os.environ, PYTHONPATH=str(site))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    found_dir, found = out.stdout.splitlines()[:2]
    assert found_dir.startswith(str(site))
    assert eval(found) == sorted(p for p in sources if p.endswith(".cu"))
