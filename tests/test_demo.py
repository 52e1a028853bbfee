"""``gpuvars demo`` end to end: training, sharded checkpoints, restart, summary."""

from __future__ import annotations

import os

import pytest

from gpuvars.cli import main
from gpuvars.demo import run_demo


def test_demo_on_emulated_gpus(emulated_gpus, tmp_path, capsys):
    assert run_demo(steps=60, directory=str(tmp_path), progress=False, checkpoint_every=20, max_to_keep=2) == 0
    out = capsys.readouterr().out
    assert "result: OK" in out and "all values restored exactly" in out
    assert "/device:GPU:0" in out and "/device:GPU:1" in out
    files = sorted(os.listdir(tmp_path))
    # 2 kept checkpoints x (3 device files + index + meta) + the state file
    assert len([f for f in files if f.endswith(".safetensors")]) == 6
    assert "model.ckpt-20.index.json" not in files and "model.ckpt-60.index.json" in files
    assert "checkpoint" in files


def test_demo_on_cpu_only(no_gpus, tmp_path, capsys):
    assert main(["demo", "--steps", "30", "--dir", str(tmp_path), "--no-progress", "--checkpoint-every", "10"]) == 0
    out = capsys.readouterr().out
    assert "result: OK" in out and "GPU" not in out.split("transfers")[0]


def test_demo_rejects_bad_steps(tmp_path):
    with pytest.raises(ValueError, match="steps"):
        run_demo(steps=0, directory=str(tmp_path))
