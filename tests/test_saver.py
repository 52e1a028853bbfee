"""``gpuvars.train.Saver``: var_list forms and errors, files, rotation, restore semantics, resharding, corruption."""

from __future__ import annotations

import json
import os
import random
import shutil
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import safetensors.numpy as stnp
from conftest import run_and_kill

import gpuvars as tf
from gpuvars import errors
from gpuvars.train import _index as X
from gpuvars.train import checkpoint_management as cm
from gpuvars.train import saver as saver_mod
from gpuvars.train.saver import Saver, SaverDef


def files(folder) -> list[str]:
    return sorted(os.listdir(folder))


def init_all() -> None:
    tf.global_variables_initializer().run()


def two_vars():
    v1 = tf.Variable(np.arange(6, dtype=np.float32).reshape(2, 3), name="v1")
    v2 = tf.Variable(np.array([7, 8], np.int64), name="v2")
    return v1, v2


# --------------------------------------------------------------------------- var_list forms


def test_default_var_list_is_every_global_variable_with_partitions_as_one(tmp_path):
    v1, v2 = two_vars()
    emb = tf.get_variable("emb", [10, 4], partitioner=tf.fixed_size_partitioner(3))
    local = tf.Variable(1.0, name="local", collections=[tf.GraphKeys.LOCAL_VARIABLES])
    init_all()
    local.initializer.run()
    path = Saver().save(None, str(tmp_path / "m"))
    assert tf.train.list_variables(path) == [("emb", [10, 4]), ("v1", [2, 3]), ("v2", [2])]
    index = X.read_index(path)
    assert sorted(index.tensors) == ["emb/part_0", "emb/part_1", "emb/part_2", "v1", "v2"]
    assert index.tensors["emb/part_1"].slice_of == X.SliceInfo("emb", (10, 4), (4, 0))
    np.testing.assert_array_equal(tf.train.load_variable(path, "emb"), emb.as_tensor())


def test_list_keys_by_op_name_and_groups_loose_shards(tmp_path):
    v1, v2 = two_vars()
    emb = tf.get_variable("emb", [6, 2], partitioner=tf.fixed_size_partitioner(2))
    init_all()
    shards = list(emb)
    path = Saver([v1, shards[1], shards[0]]).save(None, str(tmp_path / "m"))
    assert tf.train.list_variables(path) == [("emb", [6, 2]), ("v1", [2, 3])]
    path = Saver((v2, emb)).save(None, str(tmp_path / "n"))
    assert tf.train.list_variables(path) == [("emb", [6, 2]), ("v2", [2])]
    path = Saver([[v1], [v2]]).save(None, str(tmp_path / "o"))  # nested lists are flattened, as TF
    assert [n for n, _ in tf.train.list_variables(path)] == ["v1", "v2"]


def test_dict_forms(tmp_path):
    v1, v2 = two_vars()
    emb = tf.get_variable("emb", [6, 2], partitioner=tf.fixed_size_partitioner(2))
    init_all()
    path = Saver({"a": v1, "table": emb}).save(None, str(tmp_path / "m"))
    assert tf.train.list_variables(path) == [("a", [2, 3]), ("table", [6, 2])]
    assert sorted(X.read_index(path).tensors) == ["a", "table/part_0", "table/part_1"]
    path = Saver({"t": list(emb)[::-1], "b": v2}).save(None, str(tmp_path / "n"))
    np.testing.assert_array_equal(tf.train.load_variable(path, "t"), emb.as_tensor())
    np.testing.assert_array_equal(tf.train.load_variable(path, "b"), [7, 8])
    # A shard given alone as a dict value is saved whole, as TF.
    path = Saver({"first": list(emb)[0]}).save(None, str(tmp_path / "o"))
    assert tf.train.list_variables(path) == [("first", [3, 2])]


def test_seed_saver_with_a_dict_renames_and_restores_only_that_variable(tmp_path):
    v1, v2 = two_vars()
    saver = Saver({"my_v2": v2})
    init_all()
    path = saver.save(None, str(tmp_path / "model.ckpt"))
    assert tf.train.list_variables(path) == [("my_v2", [2])]
    tf.reset_default_graph()
    v1, v2 = two_vars()
    Saver({"my_v2": v2}).restore(None, path)
    assert not v1.is_initialized()
    np.testing.assert_array_equal(v2.numpy(), [7, 8])
    assert list(tf.report_uninitialized_variables()) == [b"v1"]


# --------------------------------------------------------------------------- constructor errors


@pytest.mark.parametrize(
    "make, exc, message",
    [
        (lambda v1, v2: Saver([v1, v1]), ValueError, "At least two variables have the same name: v1"),
        (lambda v1, v2: Saver({"a": v1, "b": v1}), ValueError, "The same saveable will be restored with two names: b"),
        (lambda v1, v2: Saver([v1, 3]), TypeError, "Variable to save is not a Variable: 3"),
        (lambda v1, v2: Saver({"a": np.ones(2)}), TypeError, "Not a variable"),
        (lambda v1, v2: Saver({1: v1}), TypeError, "Name is not a string: 1"),
        (lambda v1, v2: Saver(v1), TypeError, "Variables to save should be passed in a dict or a list"),
        (lambda v1, v2: Saver([]), ValueError, "No variables to save"),
        (lambda v1, v2: Saver({}), ValueError, "No variables to save"),
        (lambda v1, v2: Saver({"a": [v1]}), ValueError, "Slices must all be slices"),
        (lambda v1, v2: Saver({"a": [np.ones(2)]}), ValueError, "Slices must all be Variables"),
        (lambda v1, v2: Saver([v1], defer_build=True), ValueError, "build cannot be deferred"),
        (lambda v1, v2: Saver([v1], max_to_keep=-1), ValueError, "max_to_keep"),
        (lambda v1, v2: Saver([v1], keep_checkpoint_every_n_hours=0), ValueError, "keep_checkpoint_every_n_hours"),
        (lambda v1, v2: Saver({"v1/part_0": v1, "v1": [v2]}), ValueError, "Slices must all be slices"),
    ],
)
def test_constructor_errors_use_tf_wording(make, exc, message):
    v1, v2 = two_vars()
    with pytest.raises(exc, match=message.replace("(", r"\(")):
        make(v1, v2)


def test_slice_errors():
    a = tf.get_variable("a", [6, 2], partitioner=tf.fixed_size_partitioner(2))
    b = tf.get_variable("b", [6, 2], partitioner=tf.fixed_size_partitioner(2))
    with pytest.raises(ValueError, match="Slices must all be from the same tensor: a != b"):
        Saver({"x": [list(a)[0], list(b)[1]]})
    with pytest.raises(ValueError, match="the slices of 'x' hold 6 elements"):
        Saver({"x": [list(a)[0]]})  # half a variable cannot be checkpointed
    with pytest.raises(ValueError, match="Mixing slices and non-slices with the same name: a"):
        Saver([a, list(a)[0]])
    with pytest.raises(ValueError, match="At least two variables have the same name: a"):
        Saver([a, a])
    with pytest.raises(ValueError, match="At least two variables have the same name: x/part_0"):
        Saver({"x": a, "x/part_0": tf.Variable(1.0)})


def test_empty_graph_and_allow_empty(tmp_path):
    with pytest.raises(ValueError, match="^No variables to save$"):
        Saver()
    saver = Saver(allow_empty=True)
    assert saver.as_saver_def() is None
    assert saver.save(None, str(tmp_path / "m"), write_meta_graph=False) is None
    saver.restore(None, str(tmp_path / "nothing"))  # an empty saver restores nothing, as TF
    assert files(tmp_path) == []


def test_defer_build(tmp_path):
    saver = Saver(defer_build=True)
    v = tf.Variable(3.0, name="late")
    with pytest.raises(RuntimeError, match="build"):
        saver.save(None, str(tmp_path / "m"))
    with pytest.raises(RuntimeError, match="build"):
        saver.restore(None, str(tmp_path / "m"))
    saver.build()
    v.initializer.run()
    assert tf.train.list_variables(saver.save(None, str(tmp_path / "m"))) == [("late", [])]


def test_saver_joins_the_savers_collection():
    v1, _ = two_vars()
    s = Saver([v1])
    assert tf.get_collection(tf.GraphKeys.SAVERS) == [s]


# --------------------------------------------------------------------------- save


def test_save_paths_and_global_step_forms(tmp_path):
    v1, v2 = two_vars()
    step = tf.train.get_or_create_global_step()
    saver = Saver([v1, v2], max_to_keep=None)
    init_all()
    base = str(tmp_path / "my-model")
    assert saver.save(None, base) == base
    assert saver.save(None, base, global_step=0) == base + "-0"
    assert saver.save(None, base, global_step=np.int64(1000)) == base + "-1000"
    step.assign(42)
    assert saver.save(None, base, global_step=step) == base + "-42"
    with tf.Session() as sess:
        assert saver.save(sess, base, global_step="global_step:0") == base + "-42"
    assert X.read_index(base + "-42").global_step == 42
    assert X.read_index(base).global_step is None
    padded = Saver([v1], pad_step_number=True, max_to_keep=None)
    assert padded.save(None, base, global_step=7) == base + "-00000007"
    with pytest.raises(TypeError, match="global_step"):
        saver.save(None, base, global_step=1.5)


def test_save_argument_errors(tmp_path):
    v1, _ = two_vars()
    saver = Saver([v1])
    init_all()
    with pytest.raises(ValueError, match="'latest_filename' must not contain path components"):
        saver.save(None, str(tmp_path / "m"), latest_filename="sub/checkpoint")
    with pytest.raises(ValueError, match="'latest_filename' collides with 'save_path'"):
        saver.save(None, str(tmp_path / "checkpoint"))
    with pytest.raises(ValueError, match=r"Parent directory of .*nope/m doesn't exist, can't save\."):
        saver.save(None, str(tmp_path / "nope" / "m"))
    with pytest.raises(TypeError, match="'sess' must be a Session"):
        saver.save(42, str(tmp_path / "m"))
    assert files(tmp_path) == []


def test_save_of_an_uninitialized_variable_fails_before_writing(tmp_path):
    v1, v2 = two_vars()
    v1.initializer.run()
    with pytest.raises(errors.FailedPreconditionError, match="Attempting to use uninitialized value v2"):
        Saver().save(None, str(tmp_path / "m"))
    assert files(tmp_path) == []


def test_files_of_a_checkpoint_and_safetensors_compatibility(tmp_path):
    v1, v2 = two_vars()
    init_all()
    path = Saver().save(None, str(tmp_path / "model.ckpt"), global_step=3)
    assert files(tmp_path) == [
        "checkpoint",
        "model.ckpt-3-00000-of-00001.safetensors",
        "model.ckpt-3.index.json",
        "model.ckpt-3.meta",
    ]
    loaded = stnp.load_file(str(tmp_path / "model.ckpt-3-00000-of-00001.safetensors"))
    np.testing.assert_array_equal(loaded["v1"], v1.numpy())
    np.testing.assert_array_equal(loaded["v2"], v2.numpy())
    doc = json.loads((tmp_path / "model.ckpt-3.index.json").read_text())
    assert doc["metadata"]["format"] == "gpuvars" and doc["metadata"]["global_step"] == 3
    assert doc["weight_map"] == {
        "v1": "model.ckpt-3-00000-of-00001.safetensors",
        "v2": "model.ckpt-3-00000-of-00001.safetensors",
    }
    assert json.loads((tmp_path / "model.ckpt-3.meta").read_text())["format"] == "gpuvars.meta_graph"
    assert path == str(tmp_path / "model.ckpt-3")


DTYPES = [
    "float16",
    "float32",
    "float64",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "bool",
    "complex64",
    "complex128",
]


def _value(dtype: str, shape=(3, 5)) -> np.ndarray:
    rng = np.random.default_rng(len(dtype))
    if dtype == "bool":
        return rng.random(shape) > 0.5
    if dtype.startswith("complex"):
        return (rng.normal(size=shape) + 1j * rng.normal(size=shape)).astype(dtype)
    if dtype.startswith(("int", "uint")):
        info = np.iinfo(dtype)
        return rng.integers(info.min, info.max, size=shape, dtype=dtype, endpoint=True)
    return rng.normal(size=shape).astype(dtype)


@pytest.mark.parametrize("device", ["/cpu:0", "/gpu:0"])
def test_every_dtype_round_trips(tmp_path, emulated_gpus, device):
    values = {dt: _value(dt) for dt in DTYPES}
    values["scalar"] = np.array(2.5, np.float32)
    with tf.device(device):
        variables = {k: tf.Variable(v, name=f"x_{k}") for k, v in values.items()}
    init_all()
    path = Saver().save(None, str(tmp_path / "m"))
    for k, v in variables.items():
        v.assign(np.zeros_like(values[k]))
    Saver().restore(None, path)
    for k, v in variables.items():
        assert v.dtype == values[k].dtype
        np.testing.assert_array_equal(v.numpy(), values[k])
    (data,) = [f for f in files(tmp_path) if f.endswith(".safetensors")]
    loaded = stnp.load_file(str(tmp_path / data))
    for k, v in values.items():
        got = loaded[f"x_{k}"]
        if k == "complex128":  # stored as a real view; the index keeps the true dtype
            got = got.view(np.complex128)[..., 0]
        np.testing.assert_array_equal(got, v)


def test_sharded_writes_one_file_per_device_in_parallel(tmp_path, emulated_gpus, monkeypatch):
    with tf.device("/gpu:0"):
        tf.Variable(np.full((64, 8), 1.0, np.float32), name="a")
        tf.get_variable("emb", [9, 2], partitioner=tf.fixed_size_partitioner(3), initializer=tf.ones_initializer())
    with tf.device("/gpu:1"):
        b = tf.Variable(np.full((32,), 2, np.int32), name="b")
    with tf.device("/cpu:0"):
        tf.Variable(np.full((5,), 3.0), name="c")
    init_all()
    barrier = threading.Barrier(2, timeout=10)
    threads: dict[str, str] = {}
    real = saver_mod.transfer.to_host

    def to_host(x):
        dev = tf.transfer.device_of(x)
        if dev not in threads:  # the first tensor of each GPU waits for the other GPU's writer
            threads[dev] = threading.current_thread().name
            barrier.wait()
        return real(x)

    monkeypatch.setattr(saver_mod.transfer, "to_host", to_host)
    tf.reset_transfer_stats()
    path = Saver(sharded=True).save(None, str(tmp_path / "m"))
    assert threads["/device:GPU:0"] != threads["/device:GPU:1"]  # both writers ran at once (else: barrier timeout)
    data = [f for f in files(tmp_path) if f.endswith(".safetensors")]
    assert data == [f"m-0000{i}-of-00003.safetensors" for i in range(3)]
    index = X.read_index(path)
    by_file = {f: sorted(n for n, t in index.tensors.items() if t.file == f) for f in data}
    assert by_file == {data[0]: ["c"], data[1]: ["a", "emb/part_0", "emb/part_1", "emb/part_2"], data[2]: ["b"]}
    assert index.tensors["b"].device == "/device:GPU:1"
    for f in data:
        loaded = stnp.load_file(str(tmp_path / f))
        assert sorted(loaded) == by_file[f]
    stats = tf.transfer_stats()
    assert stats[("/device:GPU:0", "/device:CPU:0")]["copies"] == 4  # one explicit copy per GPU tensor
    assert stats[("/device:GPU:1", "/device:CPU:0")]["bytes"] == b.numpy().nbytes
    assert ("/device:CPU:0", "/device:CPU:0") not in stats  # /cpu:0 buffers are written in place
    unsharded = Saver().save(None, str(tmp_path / "u"), write_meta_graph=False)
    assert [f for f in files(tmp_path) if f.startswith("u-")] == ["u-00000-of-00001.safetensors"]
    np.testing.assert_array_equal(tf.train.load_variable(unsharded, "emb"), np.ones((9, 2)))


# --------------------------------------------------------------------------- the state file and rotation


def test_state_file_lists_kept_checkpoints_oldest_first(tmp_path):
    v1, _ = two_vars()
    saver = Saver([v1], max_to_keep=2)
    init_all()
    base = str(tmp_path / "model.ckpt")
    for step in (1, 2, 3):
        saver.save(None, base, global_step=step)
    assert (tmp_path / "checkpoint").read_text() == (
        'model_checkpoint_path: "model.ckpt-3"\n'
        'all_model_checkpoint_paths: "model.ckpt-2"\n'
        'all_model_checkpoint_paths: "model.ckpt-3"\n'
    )
    assert saver.last_checkpoints == [base + "-2", base + "-3"]
    assert tf.train.latest_checkpoint(str(tmp_path)) == base + "-3"
    assert not any(f.startswith("model.ckpt-1") for f in files(tmp_path))  # every file of -1: data, index, meta
    state = tf.train.get_checkpoint_state(str(tmp_path))
    assert state.all_model_checkpoint_paths == [base + "-2", base + "-3"]


def test_a_resaved_prefix_moves_to_the_end(tmp_path):
    v1, _ = two_vars()
    saver = Saver([v1], max_to_keep=3)
    init_all()
    base = str(tmp_path / "m")
    for step in (1, 2, 3, 1, 4):
        saver.save(None, base, global_step=step, write_meta_graph=False)
    assert saver.last_checkpoints == [base + "-3", base + "-1", base + "-4"]
    assert sorted(f for f in files(tmp_path) if f.endswith(".index.json")) == [
        "m-1.index.json",
        "m-3.index.json",
        "m-4.index.json",
    ]


@pytest.mark.parametrize("keep", [None, 0])
def test_max_to_keep_none_keeps_everything(tmp_path, keep):
    v1, _ = two_vars()
    saver = Saver([v1], max_to_keep=keep)
    init_all()
    for step in range(7):
        saver.save(None, str(tmp_path / "m"), global_step=step, write_meta_graph=False)
    assert saver.last_checkpoints == []
    assert (tmp_path / "checkpoint").read_text() == 'model_checkpoint_path: "m-6"\nall_model_checkpoint_paths: "m-6"\n'
    assert len([f for f in files(tmp_path) if f.endswith(".index.json")]) == 7
    assert saver.as_saver_def().max_to_keep == 0


def test_write_state_false_and_custom_latest_filename(tmp_path):
    v1, _ = two_vars()
    saver = Saver([v1], max_to_keep=1)
    init_all()
    for step in range(3):
        saver.save(None, str(tmp_path / "m"), global_step=step, write_state=False, write_meta_graph=False)
    assert saver.last_checkpoints == [] and "checkpoint" not in files(tmp_path)
    assert len([f for f in files(tmp_path) if f.endswith(".index.json")]) == 3
    saver.save(None, str(tmp_path / "m"), global_step=9, latest_filename="mine", write_meta_graph=False)
    assert tf.train.latest_checkpoint(str(tmp_path), "mine") == str(tmp_path / "m-9")
    assert tf.train.latest_checkpoint(str(tmp_path)) is None


def test_save_relative_paths_false_writes_absolute_paths(tmp_path):
    v1, _ = two_vars()
    saver = Saver([v1], save_relative_paths=False)
    init_all()
    saver.save(None, str(tmp_path / "m"), global_step=1, write_meta_graph=False)
    absolute = os.path.abspath(tmp_path / "m-1")
    assert (tmp_path / "checkpoint").read_text() == (
        f'model_checkpoint_path: "{absolute}"\nall_model_checkpoint_paths: "{absolute}"\n'
    )
    assert tf.train.latest_checkpoint(str(tmp_path)) == absolute


class Clock:
    def __init__(self, t: float = 0.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_keep_checkpoint_every_n_hours_with_an_injected_clock(tmp_path, monkeypatch):
    clock = Clock(1_000_000.0)
    monkeypatch.setattr(saver_mod, "_time", clock)
    v1, _ = two_vars()
    saver = Saver([v1], max_to_keep=2, keep_checkpoint_every_n_hours=1)  # the clock starts now
    init_all()
    for step in range(1, 9):
        clock.t = 1_000_000.0 + step * 1000.0  # one save every 1000 s
        saver.save(None, str(tmp_path / "m"), global_step=step, write_meta_graph=False)
    kept = sorted(int(f[2:-11]) for f in files(tmp_path) if f.endswith(".index.json"))
    # -1, -2, -3 fall out unpreserved (saved within the first hour); -4 (at 4000 s > 3600 s) starts the next
    # hour and is kept; -5, -6 are deleted; -7 and -8 are the two most recent.
    assert kept == [4, 7, 8]
    assert saver.last_checkpoints == [str(tmp_path / "m-7"), str(tmp_path / "m-8")]


def test_the_keep_clock_starts_at_construction(tmp_path, monkeypatch):
    clock = Clock(0.0)
    monkeypatch.setattr(saver_mod, "_time", clock)
    v1, _ = two_vars()
    init_all()
    saver = Saver([v1], max_to_keep=1, keep_checkpoint_every_n_hours=1)
    clock.t = 3000.0
    saver.save(None, str(tmp_path / "a"), global_step=1, write_meta_graph=False)
    saver.save(None, str(tmp_path / "a"), global_step=2, write_meta_graph=False)
    assert not (tmp_path / "a-1.index.json").exists()  # saved 3000 s after construction: within the hour
    late = Saver([v1], max_to_keep=1, keep_checkpoint_every_n_hours=1)  # built at 3000 s
    clock.t = 7000.0
    late.save(None, str(tmp_path / "b"), global_step=1, write_meta_graph=False)
    late.save(None, str(tmp_path / "b"), global_step=2, write_meta_graph=False)
    assert (tmp_path / "b-1.index.json").exists()  # 4000 s after construction: preserved


def test_set_last_checkpoints_and_recover(tmp_path):
    v1, _ = two_vars()
    init_all()
    first = Saver([v1], max_to_keep=2)
    paths = [first.save(None, str(tmp_path / "m"), global_step=s, write_meta_graph=False) for s in (1, 2)]
    # A restarted program recovers the list from the state file; the next save rotates the oldest out.
    saver = Saver([v1], max_to_keep=2)
    state = tf.train.get_checkpoint_state(str(tmp_path))
    saver.recover_last_checkpoints(state.all_model_checkpoint_paths + [str(tmp_path / "gone")])
    assert saver.last_checkpoints == paths
    saver.save(None, str(tmp_path / "m"), global_step=3, write_meta_graph=False)
    assert not X.checkpoint_exists(paths[0]) and saver.last_checkpoints == [paths[1], str(tmp_path / "m-3")]
    # set_last_checkpoints gives infinite timestamps: TF never deletes those.
    keeper = Saver([v1], max_to_keep=1)
    keeper.set_last_checkpoints([str(tmp_path / "m-3")])
    keeper.save(None, str(tmp_path / "m"), global_step=4, write_meta_graph=False)
    assert X.checkpoint_exists(str(tmp_path / "m-3"))
    keeper.set_last_checkpoints_with_time([(str(tmp_path / "m-4"), 0.0)])
    keeper.save(None, str(tmp_path / "m"), global_step=5, write_meta_graph=False)
    assert not X.checkpoint_exists(str(tmp_path / "m-4"))
    with pytest.raises(AssertionError):
        keeper.set_last_checkpoints("m-1")  # type: ignore[arg-type]
    with pytest.raises(AssertionError):
        keeper.set_last_checkpoints_with_time(("m-1", 0.0))  # type: ignore[arg-type]


def test_pruning_happens_only_after_the_state_file_is_written(tmp_path, monkeypatch):
    v1, _ = two_vars()
    saver = Saver([v1], max_to_keep=1)
    init_all()
    saver.save(None, str(tmp_path / "m"), global_step=1, write_meta_graph=False)
    calls = []
    real_update, real_remove = cm.update_checkpoint_state, cm.remove_checkpoint
    monkeypatch.setattr(cm, "update_checkpoint_state", lambda *a, **k: (calls.append("state"), real_update(*a, **k)))
    monkeypatch.setattr(cm, "remove_checkpoint", lambda *a, **k: (calls.append("remove"), real_remove(*a, **k)))
    saver.save(None, str(tmp_path / "m"), global_step=2, write_meta_graph=False)
    assert calls == ["state", "remove"]

    def broken(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(cm, "update_checkpoint_state", broken)
    with pytest.raises(OSError, match="disk full"):
        saver.save(None, str(tmp_path / "m"), global_step=3, write_meta_graph=False)
    assert X.checkpoint_exists(str(tmp_path / "m-2"))  # not pruned: the state still names it


# --------------------------------------------------------------------------- restore


def test_restore_reads_into_the_existing_buffers(tmp_path, emulated_gpus):
    with tf.device("/gpu:0"):
        g = tf.Variable(np.arange(4, dtype=np.float32), name="g")
    c = tf.Variable(np.arange(3.0), name="c")
    init_all()
    saver = Saver()
    path = saver.save(None, str(tmp_path / "m"))
    g.assign(np.zeros(4, np.float32))
    c.assign(np.zeros(3))
    bufs, versions = (g._buf, c._buf), (g._version, c._version)
    saver.restore(None, path)
    assert g._buf is bufs[0] and c._buf is bufs[1]  # read straight in: no new arrays
    assert g._version > versions[0] and c._version > versions[1]
    np.testing.assert_array_equal(g.numpy(), np.arange(4))
    np.testing.assert_array_equal(c.numpy(), np.arange(3.0))


def test_restore_initializes_exactly_the_restored_variables(tmp_path):
    v1, v2 = two_vars()
    init_all()
    path = Saver([v2]).save(None, str(tmp_path / "m"))
    tf.reset_default_graph()
    v1, v2 = two_vars()
    other = tf.Variable(1.0, name="other")
    Saver([v2]).restore(None, path)
    assert v2.is_initialized() and not v1.is_initialized() and not other.is_initialized()


def test_restore_refreshes_caching_device_copies(tmp_path, emulated_gpus):
    with tf.device("/gpu:0"):
        v = tf.Variable(np.ones(3, np.float32), name="v", caching_device="/gpu:1")
    init_all()
    saver = Saver()
    path = saver.save(None, str(tmp_path / "m"))
    v.assign(np.full(3, 5.0, np.float32))
    np.testing.assert_array_equal(tf.transfer.to_host(v.value()), [5, 5, 5])  # the cache now holds 5s
    saver.restore(None, path)
    np.testing.assert_array_equal(tf.transfer.to_host(v.value()), [1, 1, 1])
    assert tf.transfer.device_of(v.value()) == "/device:GPU:1"


def test_save_on_gpu_restore_on_cpu_and_back(tmp_path, emulated_gpus):
    value = np.random.default_rng(0).normal(size=(17, 3)).astype(np.float32)
    with tf.device("/gpu:0"):
        w = tf.Variable(value, name="w")
    init_all()
    on_gpu = Saver().save(None, str(tmp_path / "gpu"))
    tf.reset_default_graph()
    with tf.device("/cpu:0"):
        w = tf.Variable(np.zeros((17, 3), np.float32), name="w")
    Saver().restore(None, on_gpu)
    assert w.device == "/device:CPU:0"
    np.testing.assert_array_equal(w.numpy(), value)
    w.assign(w.numpy() * 2)
    on_cpu = Saver().save(None, str(tmp_path / "cpu"))
    tf.reset_default_graph()
    with tf.device("/gpu:1"):
        w = tf.Variable(np.zeros((17, 3), np.float32), name="w")
    Saver().restore(None, on_cpu)
    assert w.device == "/device:GPU:1" and tf.transfer.device_of(w._buf) == "/device:GPU:1"
    np.testing.assert_array_equal(w.numpy(), value * 2)


@pytest.mark.gpu
def test_cuda_variables_save_through_transfer_and_restore_with_one_host_copy(tmp_path):
    from gpuvars import config, devices

    devices._reset_registry()
    config._emulated_gpus = 0  # the real GPUs (the autouse fixture restores the setting)
    devices._reset_registry()
    value = np.random.default_rng(1).normal(size=(256, 33)).astype(np.float32)
    with tf.device("/gpu:0"):
        w = tf.Variable(value, name="w")
    init_all()
    tf.reset_transfer_stats()
    path = Saver().save(None, str(tmp_path / "m"))
    assert tf.transfer_stats()[("/device:GPU:0", "/device:CPU:0")] == {"copies": 1, "bytes": value.nbytes}
    w.assign(np.zeros_like(value))
    tf.reset_transfer_stats()
    Saver().restore(None, path)
    assert tf.transfer_stats() == {("/device:CPU:0", "/device:GPU:0"): {"copies": 1, "bytes": value.nbytes}}
    assert type(w._buf).__module__.startswith("cupy")
    np.testing.assert_array_equal(w.numpy(), value)


def test_resharding_3_to_2_to_whole_and_back(tmp_path, emulated_gpus):
    full = np.arange(11 * 5, dtype=np.float64).reshape(11, 5)

    def build(parts):
        tf.reset_default_graph()
        kwargs = {"partitioner": tf.fixed_size_partitioner(parts)} if parts > 1 else {}
        with tf.device(lambda op: f"/gpu:{int(op.name[-1]) % 2}" if "part_" in op.name else "/cpu:0"):
            return tf.get_variable("table", [11, 5], dtype=tf.float64, initializer=tf.zeros_initializer(), **kwargs)

    def value(t):
        return t.as_tensor() if isinstance(t, tf.PartitionedVariable) else t.numpy()

    t = build(3)
    t.assign(full)
    prefix = Saver().save(None, str(tmp_path / "three"))
    t = build(2)
    Saver().restore(None, prefix)
    np.testing.assert_array_equal(tf.transfer.to_host(value(t)), full)
    assert [v.shape for v in t] == [(6, 5), (5, 5)]
    t.assign(full + 1)
    prefix = Saver().save(None, str(tmp_path / "two"))
    t = build(1)
    Saver().restore(None, prefix)
    np.testing.assert_array_equal(value(t), full + 1)
    t.assign(full + 2)
    prefix = Saver().save(None, str(tmp_path / "one"))
    t = build(3)
    Saver().restore(None, prefix)
    np.testing.assert_array_equal(tf.transfer.to_host(value(t)), full + 2)
    assert all(v.is_initialized() for v in t)


def test_restore_errors(tmp_path):
    v1, v2 = two_vars()
    init_all()
    saver = Saver()
    path = saver.save(None, str(tmp_path / "m"))
    with pytest.raises(ValueError, match="^Can't load save_path when it is None.$"):
        saver.restore(None, None)
    with pytest.raises(ValueError, match="The passed save_path is not a valid checkpoint: .*nothing"):
        saver.restore(None, str(tmp_path / "nothing"))
    tf.reset_default_graph()
    v1, v2 = two_vars()
    extra = tf.Variable(np.ones(2, np.float32), name="extra")
    with pytest.raises(errors.NotFoundError, match="Key extra not found in checkpoint") as e:
        Saver().restore(None, path)
    assert path in e.value.message
    assert not v1.is_initialized() and not v2.is_initialized()  # validated before anything changed
    assert not extra.is_initialized()


def test_shape_and_dtype_mismatches(tmp_path):
    v1, v2 = two_vars()
    init_all()
    path = Saver().save(None, str(tmp_path / "m"))
    tf.reset_default_graph()
    v1 = tf.Variable(np.zeros((3, 2), np.float32), name="v1")
    with pytest.raises(errors.InvalidArgumentError, match=r"lhs shape= \[3,2\] rhs shape= \[2,3\]"):
        Saver([v1]).restore(None, path)
    Saver([v1], reshape=True).restore(None, path)
    np.testing.assert_array_equal(v1.numpy(), np.arange(6, dtype=np.float32).reshape(3, 2))
    tf.reset_default_graph()
    v1 = tf.Variable(np.zeros(4, np.float32), name="v1")
    with pytest.raises(errors.InvalidArgumentError, match=r"lhs shape= \[4\] rhs shape= \[2,3\]"):
        Saver([v1], reshape=True).restore(None, path)
    tf.reset_default_graph()
    v2 = tf.Variable(np.zeros(2, np.int32), name="v2")
    with pytest.raises(errors.InvalidArgumentError, match="expected dtype int32 does not equal original dtype int64"):
        Saver([v2]).restore(None, path)
    tf.reset_default_graph()
    emb = tf.get_variable("v1", [4, 3], partitioner=tf.fixed_size_partitioner(2))
    with pytest.raises(errors.InvalidArgumentError, match=r"lhs shape= \[4,3\] rhs shape= \[2,3\]"):
        Saver([emb]).restore(None, path)


def test_validate_shape_false_takes_the_saved_shape(tmp_path):
    v1, _ = two_vars()
    init_all()
    path = Saver([v1]).save(None, str(tmp_path / "m"))
    tf.reset_default_graph()
    v1 = tf.Variable(np.zeros(1, np.float32), name="v1", validate_shape=False)
    v1.initializer.run()
    Saver([v1]).restore(None, path)
    assert v1.shape == (2, 3)
    np.testing.assert_array_equal(v1.numpy(), np.arange(6).reshape(2, 3))


def _saved(tmp_path):
    v1, v2 = two_vars()
    big = tf.Variable(np.arange(5000, dtype=np.float32), name="big")
    init_all()
    path = Saver().save(None, str(tmp_path / "m"))
    (data,) = [tmp_path / f for f in files(tmp_path) if f.endswith(".safetensors")]
    return path, data, big


def _flip_a_byte_of_big(data) -> None:
    raw = bytearray(data.read_bytes())
    raw[-100] ^= 0x10  # inside "big", the last tensor of the file
    data.write_bytes(bytes(raw))


def _truncate(data) -> None:
    data.write_bytes(data.read_bytes()[:-64])


def test_a_flipped_byte_is_data_loss(tmp_path):
    path, data, big = _saved(tmp_path)
    _flip_a_byte_of_big(data)
    big.assign(np.zeros(5000, np.float32))
    with pytest.raises(errors.DataLossError, match=f"Checksum mismatch for tensor 'big' in checkpoint file {data}"):
        Saver().restore(None, path)
    np.testing.assert_array_equal(big.numpy(), np.zeros(5000, np.float32))  # unchanged, still initialized


def test_a_truncated_file_is_data_loss(tmp_path):
    path, data, big = _saved(tmp_path)
    _truncate(data)
    with pytest.raises(errors.DataLossError, match=str(data)):
        Saver().restore(None, path)


@pytest.mark.parametrize("device", ["/cpu:0", "/gpu:0"])
@pytest.mark.parametrize("damage", [_flip_a_byte_of_big, _truncate], ids=["checksum", "truncated"])
def test_a_failed_restore_leaves_every_variable_as_it_was(tmp_path, device, damage):
    # Bad input never corrupts state: the variables read before the bad tensor, the bad one itself and
    # an uninitialized one all stay as they were (values, buffers, initialized state).
    path, data, _ = _saved(tmp_path)
    good = shutil.copytree(tmp_path, tmp_path.parent / f"{tmp_path.name}_good") / "m"
    damage(data)
    tf.reset_default_graph()
    with tf.device(device):
        v1 = tf.Variable(np.full((2, 3), -1, np.float32), name="v1")
        v2 = tf.Variable(np.array([0, 0], np.int64), name="v2")
        big = tf.Variable(np.full(5000, -2, np.float32), name="big")
    v1.initializer.run()
    big.initializer.run()
    buffers = (v1._buf, big._buf)
    versions = (v1._version, v2._version, big._version)
    with pytest.raises(errors.DataLossError, match=str(data)):
        Saver().restore(None, path)
    np.testing.assert_array_equal(v1.numpy(), np.full((2, 3), -1, np.float32))
    np.testing.assert_array_equal(big.numpy(), np.full(5000, -2, np.float32))
    assert not v2.is_initialized()
    assert v1._buf is buffers[0] and big._buf is buffers[1]
    assert (v1._version, v2._version, big._version) == versions
    assert list(tf.report_uninitialized_variables()) == [b"v2"]
    Saver().restore(None, str(good))  # the undamaged copy restores into the same variables
    np.testing.assert_array_equal(v1.numpy(), np.arange(6).reshape(2, 3))
    np.testing.assert_array_equal(v2.numpy(), [7, 8])
    np.testing.assert_array_equal(big.numpy(), np.arange(5000))


@pytest.mark.parametrize("device", ["/cpu:0", "/gpu:0"])
def test_restore_copies_into_the_live_buffer_and_initializes_the_others(tmp_path, device):
    v1, v2 = two_vars()
    init_all()
    path = Saver().save(None, str(tmp_path / "m"))
    tf.reset_default_graph()
    with tf.device(device):
        v1 = tf.Variable(np.zeros((2, 3), np.float32), name="v1")
        v2 = tf.Variable(np.array([0, 0], np.int64), name="v2")
    v1.initializer.run()
    live = v1.value()
    Saver().restore(None, path)
    assert v1._buf is live  # the restored value lands in the buffer value() handed out, as assign does
    np.testing.assert_array_equal(np.asarray(live), np.arange(6).reshape(2, 3))
    np.testing.assert_array_equal(v2.numpy(), [7, 8])
    assert v2.device == v1.device


@pytest.mark.parametrize("device", ["/cpu:0", "/gpu:0"])
def test_restore_when_the_buffer_changes_during_the_read(tmp_path, device, monkeypatch):
    # The live buffer goes away between the verification pass and the restore pass: restore then gives the
    # variable a new buffer of its own (never the scratch, which the next tensor reuses). Reads into a live
    # buffer happen under the variable's lock, so a concurrent writer cannot interleave with them.
    path, _, _ = _saved(tmp_path)
    tf.reset_default_graph()
    with tf.device(device):
        v1 = tf.Variable(np.zeros((2, 3), np.float32), name="v1")
        v2 = tf.Variable(np.zeros(2, np.int64), name="v2")
        big = tf.Variable(np.zeros(5000, np.float32), name="big")
    init_all()
    reads = []
    real = X.CheckpointReader.read_region_into

    def read_region_into(self, name, offset, out, **kwargs):
        reads.append(name)
        if name == "v1" and reads.count("v1") == 1:  # during the verification pass
            v1._buf = None
        return real(self, name, offset, out, **kwargs)

    monkeypatch.setattr(X.CheckpointReader, "read_region_into", read_region_into)
    Saver().restore(None, path)
    np.testing.assert_array_equal(v1.numpy(), np.arange(6).reshape(2, 3))
    np.testing.assert_array_equal(v2.numpy(), [7, 8])
    np.testing.assert_array_equal(big.numpy(), np.arange(5000))
    owner = v1._buf
    while isinstance(owner.base, np.ndarray):
        owner = owner.base
    assert owner.nbytes == v1._buf.nbytes  # its own allocation, not a view of the (larger) scratch


def test_an_index_pointing_out_of_the_folder_is_data_loss(tmp_path):
    path, data, big = _saved(tmp_path)
    outside = tmp_path.parent / "outside.safetensors"
    outside.write_bytes(data.read_bytes())
    index = Path(path + ".index.json")
    doc = json.loads(index.read_text())
    for t in doc["tensors"].values():
        t["file"] = "../outside.safetensors"
    doc["weight_map"] = dict.fromkeys(doc["weight_map"], "../outside.safetensors")
    index.write_text(json.dumps(doc))
    with pytest.raises(errors.DataLossError, match="paths out of the checkpoint folder are never followed"):
        Saver().restore(None, path)
    outside.unlink()


# --------------------------------------------------------------------------- SaverDef


def test_saver_def_fields_names_and_round_trip(tmp_path):
    v1, v2 = two_vars()
    s1 = Saver([v1])
    s2 = Saver([v2], sharded=True, max_to_keep=None, keep_checkpoint_every_n_hours=2.5, name="mysaver")
    s3 = Saver([v1])
    d1, d2 = s1.as_saver_def(), s2.to_proto()
    assert (d1.filename_tensor_name, d1.save_tensor_name, d1.restore_op_name) == (
        "save/Const:0",
        "save/control_dependency:0",
        "save/restore_all",
    )
    assert s3.as_saver_def().restore_op_name == "save_1/restore_all"
    assert (d2.save_tensor_name, d2.max_to_keep, d2.sharded, d2.keep_checkpoint_every_n_hours, d2.version) == (
        "mysaver/Identity:0",
        0,
        True,
        2.5,
        SaverDef.V2,
    )
    assert d1.saveables == [{"name": "v1", "variables": ["v1"], "slices": False}]
    assert SaverDef.FromString(d2.SerializeToString()) == d2
    assert s2.to_proto(export_scope="mysaver").restore_op_name == "restore_all"
    assert s2.to_proto(export_scope="elsewhere") is None
    with pytest.raises(ValueError, match="Expected a JSON SaverDef"):
        SaverDef.FromString(b"\x80\x04not json")
    with pytest.raises(ValueError, match="max_to_keep"):
        SaverDef.from_dict({"max_to_keep": "5"})


def test_from_proto_rebuilds_an_equivalent_saver(tmp_path):
    v1, v2 = two_vars()
    emb = tf.get_variable("emb", [6, 2], partitioner=tf.fixed_size_partitioner(2))
    init_all()
    original = Saver({"renamed": v2, "emb": emb}, max_to_keep=3, reshape=True)
    path = original.save(None, str(tmp_path / "m"))
    values = (v2.numpy(), emb.as_tensor())
    v2.assign([0, 0])
    emb.assign(np.zeros((6, 2), np.float32))
    again = Saver.from_proto(original.as_saver_def().to_dict())
    assert again.as_saver_def().max_to_keep == 3 and again._reshape
    again.restore(None, path)
    np.testing.assert_array_equal(v2.numpy(), values[0])
    np.testing.assert_array_equal(emb.as_tensor(), values[1])
    with pytest.raises(ValueError, match="saver_def must specify the restore_op_name"):
        Saver(saver_def=SaverDef(save_tensor_name="x"))
    tf.reset_default_graph()
    with pytest.raises(ValueError, match="names variables that are not in the graph: emb/part_0, emb/part_1, v2"):
        Saver.from_proto(original.as_saver_def())


# --------------------------------------------------------------------------- the seed examples


def test_seed_000_save_and_restore_spelled_with_capitals(tmp_path):
    v1 = tf.Variable(tf.random_normal([784, 200], stddev=0.35), name="v1")
    tf.Variable(tf.zeros([200]), name="v2")
    init_op = tf.initialize_all_variables()
    saver = tf.train.Saver()
    with tf.Session() as sess:
        sess.Run(init_op)
        save_path = saver.Save(sess, str(tmp_path / "model.ckpt"))
        saved = v1.numpy()
    assert save_path == str(tmp_path / "model.ckpt")
    tf.reset_default_graph()
    v1 = tf.Variable(tf.random_normal([784, 200], stddev=0.35), name="v1")
    tf.Variable(tf.zeros([200]), name="v2")
    saver = tf.train.Saver()
    with tf.Session() as sess:
        saver.Restore(sess, str(tmp_path / "model.ckpt"))
        np.testing.assert_array_equal(sess.run(v1), saved)


def test_seed_002_numbers_checkpoints_with_the_global_step(tmp_path):
    v = tf.Variable(1.0, name="v")
    saver = tf.train.Saver([v])
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    names = [saver.save(sess, str(tmp_path / "my-model"), global_step=step) for step in (0, 1000)]
    assert [os.path.basename(n) for n in names] == ["my-model-0", "my-model-1000"]
    assert tf.train.latest_checkpoint(str(tmp_path)) == names[-1]


# --------------------------------------------------------------------------- crash safety

CHILD = textwrap.dedent(
    """
    import os, sys
    import numpy as np
    import gpuvars as tf
    import gpuvars.train

    folder = sys.argv[1]
    with tf.device("/gpu:0"):
        dense = tf.get_variable("dense", [256, 1024], initializer=tf.zeros_initializer())
    with tf.device("/gpu:1"):
        emb = tf.get_variable("emb", [1000, 64], dtype=tf.float64, initializer=tf.zeros_initializer(),
                              partitioner=tf.fixed_size_partitioner(3))
    step = tf.train.get_or_create_global_step()
    saver = tf.train.Saver(max_to_keep=3, sharded=True)
    tf.global_variables_initializer().run()
    latest = tf.train.latest_checkpoint(folder)
    if latest:
        saver.restore(None, latest)
        saver.recover_last_checkpoints(tf.train.get_checkpoint_state(folder).all_model_checkpoint_paths)
    base = np.arange(256 * 1024, dtype=np.float32).reshape(256, 1024)
    table = np.arange(64000, dtype=np.float64).reshape(1000, 64)
    print("ready", flush=True)
    while True:
        s = int(step.numpy()) + 1
        step.assign(s)
        dense.assign(base + s)
        emb.assign(table * s)
        saver.save(None, os.path.join(folder, "model.ckpt"), global_step=step)
        print("saved", s, flush=True)
    """
)


@pytest.mark.slow
def test_sigkill_during_saver_save_never_loses_the_latest_checkpoint(tmp_path, emulated_gpus):
    """A training loop saving with max_to_keep=3, killed ~15 times: latest_checkpoint always restores whole."""
    rng = random.Random(7)
    env = dict(
        os.environ,
        GPUVARS_EMULATED_GPUS="2",
        PYTHONPATH=os.pathsep.join([str(Path(__file__).resolve().parents[1]), os.environ.get("PYTHONPATH", "")]),
    )
    folder = str(tmp_path)
    kills, saves_seen, restored = 0, 0, []
    deadline = time.monotonic() + 13
    while kills < 15 and time.monotonic() < deadline:
        out = run_and_kill([CHILD, folder], env, rng.uniform(0.0, 0.3))
        kills += 1
        saves_seen += out.count("saved")
        prefix = tf.train.latest_checkpoint(folder)
        if prefix is None:
            assert saves_seen == 0, "a completed save was lost"
            continue
        tf.reset_default_graph()
        dense = tf.get_variable("dense", [256, 1024], initializer=tf.zeros_initializer())
        emb = tf.get_variable(
            "emb",
            [1000, 64],
            dtype=tf.float64,
            initializer=tf.zeros_initializer(),
            partitioner=tf.fixed_size_partitioner(2),
        )  # another partitioning on purpose
        step = tf.train.get_or_create_global_step()
        Saver().restore(None, prefix)  # checksums verified
        s = int(step.numpy())
        assert prefix.endswith(f"-{s}")
        np.testing.assert_array_equal(dense.numpy(), np.arange(256 * 1024, dtype=np.float32).reshape(256, 1024) + s)
        np.testing.assert_array_equal(emb.as_tensor(), np.arange(64000, dtype=np.float64).reshape(1000, 64) * s)
        restored.append(s)
        assert len(tf.train.get_checkpoint_state(folder).all_model_checkpoint_paths) <= 3
        assert os.path.exists(prefix + ".meta")  # written before the data
    print("crash test:", kills, "kills,", saves_seen, "saves,", restored)
    assert kills >= 8 and saves_seen >= 5 and len(restored) >= 5
    assert restored == sorted(restored)
