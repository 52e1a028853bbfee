"""inspect_checkpoint: TF's output format, from the function and from the command line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gpuvars import inspect_checkpoint as ic
from gpuvars.train import _index as X

W = np.arange(6, dtype=np.float32).reshape(2, 3)
EMB = np.arange(8, dtype=np.float64).reshape(4, 2) / 4
STEP = np.array(42, np.int64)


@pytest.fixture
def prefix(tmp_path):
    recs = [
        X.TensorRecord("w", W.dtype, W.shape, "/cpu:0", lambda: W),
        X.TensorRecord("global_step", STEP.dtype, (), "/cpu:0", lambda: STEP),
        X.TensorRecord("emb/part_0", EMB.dtype, (2, 2), "/gpu:0", lambda: EMB[:2], X.SliceInfo("emb", (4, 2), (0, 0))),
        X.TensorRecord("emb/part_1", EMB.dtype, (2, 2), "/gpu:1", lambda: EMB[2:], X.SliceInfo("emb", (4, 2), (2, 0))),
    ]
    p = str(tmp_path / "model.ckpt-42")
    X.write_checkpoint(p, recs, global_step=42, sharded=True)
    return p


def run(capsys, *args, **kwargs):
    ok = ic.print_tensors_in_checkpoint_file(*args, **kwargs)
    return ok, capsys.readouterr().out


def test_overview_is_tf_debug_string(prefix, capsys):
    ok, out = run(capsys, prefix, "", False)
    assert ok
    assert out == "emb (DT_DOUBLE) [4,2]\nglobal_step (DT_INT64) []\nw (DT_FLOAT) [2,3]\n\n"


def test_one_tensor(prefix, capsys):
    ok, out = run(capsys, prefix, "w", False)
    assert ok and out == f"tensor_name:  w\n{W}\n"
    ok, out = run(capsys, prefix, "emb", False)  # partitioned: printed whole
    assert ok and out == f"tensor_name:  emb\n{EMB}\n"


def test_all_tensors_and_all_names(prefix, capsys):
    ok, out = run(capsys, prefix, "", True)
    assert ok and out == f"tensor_name:  emb\n{EMB}\ntensor_name:  global_step\n42\ntensor_name:  w\n{W}\n"
    ok, out = run(capsys, prefix, "", False, all_tensor_names=True)
    assert ok and out == "tensor_name:  emb\ntensor_name:  global_step\ntensor_name:  w\n"


def test_errors_are_printed(prefix, capsys):
    ok, out = run(capsys, prefix, "nope", False)
    assert not ok
    assert out.startswith("tensor_name:  nope\nKey nope not found in checkpoint")
    ok, out = run(capsys, prefix + "-00000-of-00003.safetensors", "", False)
    assert not ok
    assert out.startswith("The passed save_path is not a valid checkpoint:")
    assert out.endswith(f"inspect checkpoint --file_name = {prefix}\n")


def test_printoptions_parsing():
    assert ic.parse_numpy_printoption("precision=3") == ("precision", 3)
    assert ic.parse_numpy_printoption("suppress=true") == ("suppress", True)
    for bad, message in [("precision", "k=v"), ("nope=1", "not a valid printoption"), ("precision=x", "invalid")]:
        with pytest.raises(Exception, match=message):
            ic.parse_numpy_printoption(bad)


def test_main_in_process(prefix, capsys):
    assert ic.main([f"--file_name={prefix}", "--tensor_name=emb", "--printoptions", "precision=1"]) == 0
    assert capsys.readouterr().out == f"tensor_name:  emb\n{np.array2string(EMB, precision=1)}\n"
    assert np.get_printoptions()["precision"] == 8  # restored afterwards
    assert ic.main([]) == 1
    assert capsys.readouterr().out.startswith("Usage: inspect_checkpoint --file_name=checkpoint_file_name")
    assert ic.main([f"--file_name={prefix}", "--tensor_name=nope"]) == 1


def test_command_line(prefix):
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([str(Path(__file__).resolve().parents[1]), os.environ.get("PYTHONPATH", "")]),
    )
    done = subprocess.run(
        [sys.executable, "-m", "gpuvars.inspect_checkpoint", f"--file_name={prefix}", "--all_tensors"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"tensor_name:  emb\n{EMB}\ntensor_name:  global_step\n42\ntensor_name:  w\n{W}\n"
