"""TF's checkpoint state file, latest_checkpoint, list/load_variable, and crash safety under SIGKILL."""

from __future__ import annotations

import os
import random
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import run_and_kill

from gpuvars.errors import NotFoundError
from gpuvars.train import _index as X
from gpuvars.train import checkpoint_management as cm


def save(prefix, arrays=None, step=None):
    arrays = arrays if arrays is not None else {"w": np.arange(6, dtype=np.float32).reshape(2, 3)}
    X.write_checkpoint(
        str(prefix),
        [X.TensorRecord(k, v.dtype, v.shape, "/cpu:0", lambda v=v: v) for k, v in arrays.items()],
        global_step=step,
    )


# --------------------------------------------------------------------------- the state file


def test_state_file_is_tf_text_format_with_relative_paths(tmp_path):
    d = str(tmp_path)
    paths = [os.path.join(d, f"model.ckpt-{i}") for i in (1, 2, 3)]
    cm.update_checkpoint_state(d, paths[-1], paths)
    assert (tmp_path / "checkpoint").read_text() == (
        'model_checkpoint_path: "model.ckpt-3"\n'
        'all_model_checkpoint_paths: "model.ckpt-1"\n'
        'all_model_checkpoint_paths: "model.ckpt-2"\n'
        'all_model_checkpoint_paths: "model.ckpt-3"\n'
    )
    state = cm.get_checkpoint_state(d)
    assert state is not None
    assert state.model_checkpoint_path == paths[-1]
    assert state.all_model_checkpoint_paths == paths
    assert state.all_model_checkpoint_timestamps == [] and state.last_preserved_timestamp == 0.0


def test_latest_is_appended_and_relative_inputs_are_cwd_relative(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    os.mkdir("train")
    cm.update_checkpoint_state("train", "train/model.ckpt-2", ["train/model.ckpt-1"])
    assert (tmp_path / "train" / "checkpoint").read_text() == (
        'model_checkpoint_path: "model.ckpt-2"\n'
        'all_model_checkpoint_paths: "model.ckpt-1"\n'
        'all_model_checkpoint_paths: "model.ckpt-2"\n'
    )
    state = cm.get_checkpoint_state("train")
    assert state.model_checkpoint_path == os.path.join("train", "model.ckpt-2")
    cm.update_checkpoint_state("train", "train/model.ckpt-3", [])  # max_to_keep=None: only the latest is listed
    assert (tmp_path / "train" / "checkpoint").read_text().count("all_model_checkpoint_paths") == 1


def test_paths_in_other_folders_are_written_absolute(tmp_path):
    other = str(tmp_path / "elsewhere" / "model.ckpt-1")
    cm.update_checkpoint_state(str(tmp_path), other, [other])
    assert (tmp_path / "checkpoint").read_text() == (
        f'model_checkpoint_path: "{other}"\nall_model_checkpoint_paths: "{other}"\n'
    )
    assert cm.get_checkpoint_state(str(tmp_path)).model_checkpoint_path == other


def test_timestamps_and_escaping_round_trip(tmp_path):
    d = str(tmp_path)
    odd = os.path.join(d, 'we"ird\\na\tmé')
    cm.update_checkpoint_state(
        d,
        odd,
        [os.path.join(d, "a"), odd],
        all_model_checkpoint_timestamps=[1.5, 1700000000.25],
        last_preserved_timestamp=1.0,
    )
    assert (tmp_path / "checkpoint").read_text() == (
        'model_checkpoint_path: "we\\"ird\\\\na\\tm\\303\\251"\n'
        'all_model_checkpoint_paths: "a"\n'
        'all_model_checkpoint_paths: "we\\"ird\\\\na\\tm\\303\\251"\n'
        "all_model_checkpoint_timestamps: 1.5\n"
        "all_model_checkpoint_timestamps: 1700000000.25\n"
        "last_preserved_timestamp: 1.0\n"
    )
    state = cm.get_checkpoint_state(d)
    assert state.model_checkpoint_path == odd
    assert state.all_model_checkpoint_timestamps == [1.5, 1700000000.25]
    assert state.last_preserved_timestamp == 1.0


def test_parses_files_written_by_tensorflow(tmp_path):
    (tmp_path / "checkpoint").write_text(
        'model_checkpoint_path: "/data/run/model.ckpt-200"\n'
        'all_model_checkpoint_paths: "/data/run/model.ckpt-100"\n'
        "all_model_checkpoint_paths: '/data/run/model.ckpt-200'\n"
        "all_model_checkpoint_timestamps: 1690000000.5\n"
        "all_model_checkpoint_timestamps: 1.69e9\n"
        "last_preserved_timestamp: 1689999999.123\n"
        "# a comment\n"
        'future_field: "ignored"\n'
    )
    state = cm.get_checkpoint_state(str(tmp_path))
    assert state == cm.CheckpointState(
        "/data/run/model.ckpt-200",
        ["/data/run/model.ckpt-100", "/data/run/model.ckpt-200"],
        [1690000000.5, 1.69e9],
        1689999999.123,
    )


def test_unparseable_state_is_ignored_and_missing_path_is_an_error(tmp_path, caplog):
    (tmp_path / "checkpoint").write_text("model_checkpoint_path: {{{\n")
    assert cm.get_checkpoint_state(str(tmp_path)) is None
    assert "Checkpoint ignored" in caplog.text
    (tmp_path / "checkpoint").write_text('all_model_checkpoint_paths: "a"\n')
    with pytest.raises(ValueError, match="Invalid checkpoint state loaded from"):
        cm.get_checkpoint_state(str(tmp_path))


def test_update_checkpoint_state_errors(tmp_path):
    with pytest.raises(ValueError, match="Checkpoint timestamps, if provided, must match checkpoint paths"):
        cm.update_checkpoint_state(str(tmp_path), str(tmp_path / "a"), [str(tmp_path / "a")], None, [1.0, 2.0])
    with pytest.raises(RuntimeError, match="conflicts with path used for checkpoint state"):
        cm.update_checkpoint_state(str(tmp_path), str(tmp_path / "checkpoint"))
    with pytest.raises(NotFoundError, match="does not exist"):
        cm.update_checkpoint_state(str(tmp_path / "missing"), str(tmp_path / "missing" / "a"))


def test_custom_latest_filename(tmp_path):
    save(tmp_path / "m-1", step=1)
    cm.update_checkpoint_state(str(tmp_path), str(tmp_path / "m-1"), latest_filename="latest")
    assert not (tmp_path / "checkpoint").exists()
    assert cm.latest_checkpoint(str(tmp_path)) is None
    assert cm.latest_checkpoint(str(tmp_path), "latest") == str(tmp_path / "m-1")


# --------------------------------------------------------------------------- latest_checkpoint


def test_latest_checkpoint_none_cases(tmp_path):
    assert cm.latest_checkpoint(str(tmp_path / "missing")) is None  # no folder
    (tmp_path / "file").write_text("x")
    assert cm.latest_checkpoint(str(tmp_path / "file")) is None  # not a folder
    assert cm.latest_checkpoint(str(tmp_path)) is None  # no state file
    save(tmp_path / "m-1", step=1)
    assert cm.latest_checkpoint(str(tmp_path)) is None  # checkpoints, but no state file (as TF)
    cm.update_checkpoint_state(str(tmp_path), str(tmp_path / "m-9"))
    assert cm.latest_checkpoint(str(tmp_path)) is None  # the state names a checkpoint that does not exist


def test_latest_checkpoint_falls_back_to_the_newest_existing(tmp_path):
    for step in (1, 2, 3):
        save(tmp_path / f"m-{step}", step=step)
    paths = [str(tmp_path / f"m-{s}") for s in (1, 2, 3)]
    cm.update_checkpoint_state(str(tmp_path), paths[-1], paths)
    assert cm.latest_checkpoint(str(tmp_path)) == paths[-1]
    X.delete_checkpoint(paths[-1])
    assert cm.latest_checkpoint(str(tmp_path)) == paths[1]
    assert cm.checkpoint_exists(paths[1]) and not cm.checkpoint_exists(paths[2])


def test_a_moved_folder_still_works(tmp_path):
    src = tmp_path / "a"
    src.mkdir()
    save(src / "m-1", step=1)
    cm.update_checkpoint_state(str(src), str(src / "m-1"))
    os.rename(src, tmp_path / "b")
    prefix = cm.latest_checkpoint(str(tmp_path / "b"))
    assert prefix == str(tmp_path / "b" / "m-1")
    np.testing.assert_array_equal(cm.load_variable(prefix, "w"), np.arange(6, dtype=np.float32).reshape(2, 3))


# --------------------------------------------------------------------------- list_variables / load_variable


def test_list_and_load_variables(tmp_path):
    arrays = {"z": np.zeros(3, np.int64), "a/b": np.ones((2, 2), np.float16), "s": np.array(7, np.int32)}
    save(tmp_path / "m-4", arrays, step=4)
    assert cm.list_variables(str(tmp_path / "m-4")) == [("a/b", [2, 2]), ("s", []), ("z", [3])]
    np.testing.assert_array_equal(cm.load_variable(str(tmp_path / "m-4"), "a/b:0"), arrays["a/b"])
    assert cm.load_variable(str(tmp_path / "m-4"), "s") == 7
    cm.update_checkpoint_state(str(tmp_path), str(tmp_path / "m-4"))
    assert cm.list_variables(str(tmp_path)) == cm.list_variables(str(tmp_path / "m-4"))  # a folder: its latest
    with pytest.raises(NotFoundError, match="Key nope not found in checkpoint"):
        cm.load_variable(str(tmp_path / "m-4"), "nope")


def test_invalid_prefix_and_empty_folder(tmp_path):
    with pytest.raises(ValueError, match="The passed save_path is not a valid checkpoint: .*m-5"):
        cm.load_variable(str(tmp_path / "m-5"), "w")
    with pytest.raises(ValueError, match="The passed save_path is not a valid checkpoint"):
        cm.list_variables(str(tmp_path / "m-5"))
    with pytest.raises(ValueError, match="Couldn't find 'checkpoint' file or checkpoints in given directory"):
        cm.list_variables(str(tmp_path))


def test_remove_checkpoint(tmp_path):
    save(tmp_path / "m-1", step=1)
    cm.remove_checkpoint(str(tmp_path / "m-1"))
    assert os.listdir(tmp_path) == []


# --------------------------------------------------------------------------- crash safety

CHILD = textwrap.dedent(
    """
    import os, sys
    import numpy as np
    from gpuvars.train import _index as X
    from gpuvars.train import checkpoint_management as cm

    folder, step = sys.argv[1], int(sys.argv[2])

    def values(step):
        base = np.arange(1 << 19, dtype=np.float32).reshape(512, 1024)
        return {
            "dense": base + step,
            "emb": (np.arange(64 * 1024, dtype=np.float64).reshape(64 * 16, 64) * step),
            "bias": np.full(7, step, np.int64),
            "c": np.array([step + 1j * step], np.complex128),
        }

    state = cm.get_checkpoint_state(folder)
    kept = list(state.all_model_checkpoint_paths) if state else []
    print("ready", flush=True)
    while True:
        step += 1
        v = values(step)
        recs = [
            X.TensorRecord("dense", np.float32, (512, 1024), "/gpu:0", lambda: values(step)["dense"]),
            X.TensorRecord("bias", np.int64, (7,), "/cpu:0", lambda: v["bias"]),
            X.TensorRecord("c", np.complex128, (1,), "/cpu:0", lambda: v["c"]),
            X.TensorRecord("emb/part_0", np.float64, (600, 64), "/gpu:0", lambda: v["emb"][:600],
                           X.SliceInfo("emb", (1024, 64), (0, 0))),
            X.TensorRecord("emb/part_1", np.float64, (424, 64), "/gpu:1", lambda: v["emb"][600:],
                           X.SliceInfo("emb", (1024, 64), (600, 0))),
        ]
        # Every third save re-saves one fixed prefix (saving without a global step), the riskiest case.
        prefix = os.path.join(folder, "model.ckpt" if step % 3 == 0 else f"model.ckpt-{step}")
        X.write_checkpoint(prefix, recs, global_step=step, sharded=step % 2 == 0)
        kept = [p for p in kept if p != prefix] + [prefix]
        pruned, kept = kept[:-3], kept[-3:]
        cm.update_checkpoint_state(folder, prefix, kept)
        for old in pruned:  # only after the new state is durable
            X.delete_checkpoint(old)
        print("saved", step, flush=True)
    """
)


def expected(step):
    base = np.arange(1 << 19, dtype=np.float32).reshape(512, 1024)
    return {
        "dense": base + step,
        "emb": np.arange(64 * 1024, dtype=np.float64).reshape(64 * 16, 64) * step,
        "bias": np.full(7, step, np.int64),
        "c": np.array([step + 1j * step], np.complex128),
    }


@pytest.mark.slow
def test_sigkill_at_random_moments_never_loses_the_latest_checkpoint(tmp_path):
    """A writer killed with SIGKILL ~20 times: the latest checkpoint always reads back whole and verified."""
    rng = random.Random(1234)
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([str(Path(__file__).resolve().parents[1]), os.environ.get("PYTHONPATH", "")]),
    )
    folder = str(tmp_path)
    step = 0
    saves_seen = 0
    kills = 0
    restored = []
    deadline = time.monotonic() + 25
    while kills < 20 and time.monotonic() < deadline:
        out = run_and_kill([CHILD, folder, str(step)], env, rng.uniform(0.0, 0.35))
        kills += 1
        saves_seen += out.count("saved")
        prefix = cm.latest_checkpoint(folder)
        if prefix is None:
            assert saves_seen == 0 and step == 0, "a completed save was lost"
            continue
        index = X.read_index(prefix)
        step = index.global_step
        want = expected(step)
        with X.CheckpointReader(prefix) as reader:
            assert sorted(reader.variables()) == sorted(want)
            for name, value in want.items():
                np.testing.assert_array_equal(reader.read_variable(name), value)  # checksums verified
        restored.append(step)
        kept = cm.get_checkpoint_state(folder).all_model_checkpoint_paths
        assert len(kept) <= 3
    assert kills >= 10
    assert saves_seen >= 5 and len(restored) >= 5
    assert restored == sorted(restored)  # training resumed from each restored step and moved forward
