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


def run_err(capsys, *args, **kwargs):
    ok = ic.print_tensors_in_checkpoint_file(*args, **kwargs)
    captured = capsys.readouterr()
    return ok, captured.out, captured.err


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


def test_errors_are_printed_to_stderr(prefix, capsys):
    ok, out, err = run_err(capsys, prefix, "nope", False)
    assert not ok and out == ""
    assert err.startswith("Key nope not found in checkpoint")
    ok, out, err = run_err(capsys, prefix + "-00000-of-00003.safetensors", "", False)
    assert not ok and out == ""
    assert err.startswith("The passed save_path is not a valid checkpoint:")
    assert err.endswith(f"inspect checkpoint --file_name = {prefix}\n")


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
    assert capsys.readouterr().err.startswith("Usage: inspect_checkpoint --file_name=checkpoint_file_name")
    assert ic.main([f"--file_name={prefix}", "--tensor_name=nope"]) == 1


def _run_cli(*argv: str) -> subprocess.CompletedProcess:
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([str(Path(__file__).resolve().parents[1]), os.environ.get("PYTHONPATH", "")]),
    )
    return subprocess.run([sys.executable, *argv], capture_output=True, text=True, env=env, timeout=60)


def test_command_line(prefix):
    done = _run_cli("-m", "gpuvars.inspect_checkpoint", f"--file_name={prefix}", "--all_tensors")
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"tensor_name:  emb\n{EMB}\ntensor_name:  global_step\n42\ntensor_name:  w\n{W}\n"


def test_gpuvars_inspect_command(prefix):
    done = _run_cli("-m", "gpuvars", "inspect", prefix, "--tensor_name=w")
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"tensor_name:  w\n{W}\n" and done.stderr == ""


@pytest.mark.parametrize("command", ["module", "gpuvars"])
def test_both_commands_exit_1_with_the_error_on_stderr(prefix, tmp_path, command):
    def cli(path: str, tensor: str = "") -> subprocess.CompletedProcess:
        if command == "module":
            args = ["-m", "gpuvars.inspect_checkpoint", f"--file_name={path}"]
            return _run_cli(*args, *([f"--tensor_name={tensor}"] if tensor else []))
        return _run_cli("-m", "gpuvars", "inspect", path, *([f"--tensor_name={tensor}"] if tensor else []))

    missing = cli(str(tmp_path / "nonexist"))
    assert missing.returncode == 1
    assert missing.stdout == ""
    assert missing.stderr.startswith("The passed save_path is not a valid checkpoint:")
    invalid = tmp_path / "bad"
    (tmp_path / "bad.index.json").write_text("{not json")
    broken = cli(str(invalid))
    assert broken.returncode == 1 and broken.stdout == "" and broken.stderr.strip(), broken
    unknown = cli(prefix, "nope")
    assert unknown.returncode == 1 and unknown.stdout == ""
    assert unknown.stderr.startswith("Key nope not found in checkpoint")
    file_not_prefix = cli(prefix + ".index.json")
    assert file_not_prefix.returncode == 1 and file_not_prefix.stdout == ""
    assert file_not_prefix.stderr.endswith(f"inspect checkpoint --file_name = {prefix}\n")
