"""Meta graphs: the JSON document, import_meta_graph's recreated variables, collections and Saver."""

from __future__ import annotations

import json
import os
import pickle

import numpy as np
import pytest

import gpuvars as tf
from gpuvars import errors
from gpuvars.train import meta_graph as mg
from gpuvars.train.saver import Saver


def build_model():
    with tf.variable_scope("model"):
        with tf.device("/gpu:1"):
            w = tf.get_variable("w", [3, 4], initializer=tf.random_normal_initializer(seed=3))
        b = tf.get_variable("b", [4], initializer=tf.constant_initializer(0.5), trainable=False)
        with tf.device("/gpu:0"):
            emb = tf.get_variable(
                "emb",
                [10, 2],
                initializer=tf.ones_initializer(),
                partitioner=tf.fixed_size_partitioner(3),
                caching_device="/gpu:1",
            )
    literal = tf.Variable(np.arange(3, dtype=np.int32), name="literal")
    step = tf.train.get_or_create_global_step()
    return w, b, emb, literal, step


def test_export_describes_variables_partitions_collections_and_saver(tmp_path, emulated_gpus):
    w, b, emb, literal, step = build_model()
    tf.add_to_collection("train_op", "sgd")
    tf.add_to_collection("hparams", {"lr": 0.1, "layers": [3, 4]})
    tf.add_to_collection("tables", emb)
    tf.add_to_collection("mixed", w)
    tf.add_to_collection("mixed", tf.global_variables_initializer())  # an Operation: not JSON
    saver = Saver(max_to_keep=2, sharded=True)
    doc = saver.export_meta_graph(str(tmp_path / "model.meta"), as_text=True)
    on_disk = json.loads((tmp_path / "model.meta").read_text())
    assert on_disk == json.loads(json.dumps(doc))
    assert (tmp_path / "model.meta").read_text().startswith("{\n  ")  # as_text: indented
    by_name = {v["name"]: v for v in doc.variables}
    assert list(by_name) == [
        "model/w",
        "model/b",
        "model/emb/part_0",
        "model/emb/part_1",
        "model/emb/part_2",
        "literal",
        "global_step",
    ]
    wrec = by_name["model/w"]
    assert (wrec["shape"], wrec["dtype"], wrec["trainable"], wrec["placed_on"]) == (
        [3, 4],
        "float32",
        True,
        "/device:GPU:1",
    )
    assert wrec["initializer"]["class_name"] == "RandomNormal" and wrec["initializer"]["config"]["seed"] == 3
    assert wrec["collections"] == ["variables", "trainable_variables"]
    assert by_name["model/b"]["trainable"] is False and by_name["model/b"]["initializer"]["config"]["value"] == 0.5
    shard = by_name["model/emb/part_1"]
    assert shard["save_slice_info"] == {
        "full_name": "model/emb",
        "full_shape": [10, 2],
        "var_offset": [4, 0],
        "var_shape": [3, 2],
    }
    assert shard["caching_device"] == "/device:GPU:1" and shard["placed_on"] == "/device:GPU:0"
    assert by_name["literal"]["initializer"] is None
    assert by_name["global_step"]["dtype"] == "int64" and by_name["global_step"]["shape"] == []
    assert doc["partitioned_variables"] == [
        {
            "name": "model/emb",
            "dtype": "float32",
            "shape": [10, 2],
            "partitions": [3, 1],
            "variables": ["model/emb/part_0", "model/emb/part_1", "model/emb/part_2"],
        }
    ]
    cols = doc.collection_def
    assert cols["train_op"] == [{"value": "sgd"}]
    assert cols["hparams"] == [{"value": {"lr": 0.1, "layers": [3, 4]}}]
    assert cols["tables"] == [{"partitioned_variable": "model/emb"}]
    assert cols["mixed"] == [{"variable": "model/w"}]
    assert "Operation" in doc["skipped_collection_items"]["mixed"]
    assert "savers" not in cols and "savers" in doc["skipped_collection_items"]
    assert cols["global_step"] == [{"variable": "global_step"}]
    sd = doc.saver_def
    assert (sd.max_to_keep, sd.sharded, sd.keep_checkpoint_every_n_hours) == (2, True, 10000.0)
    assert doc.HasField("saver_def") and not doc.HasField("graph_def")
    assert mg.MetaGraphDef.FromString(doc.SerializeToString()) == doc


def test_import_recreates_everything_uninitialized(tmp_path, emulated_gpus):
    w, b, emb, literal, step = build_model()
    tf.add_to_collection("train_op", "sgd")
    tf.add_to_collection("tables", emb)
    saver = Saver(max_to_keep=2, keep_checkpoint_every_n_hours=3.0)
    tf.global_variables_initializer().run()
    original = {v.op.name: v.numpy() for v in tf.global_variables()}
    path = saver.save(None, str(tmp_path / "my-model"), global_step=10)
    order = [v.op.name for v in tf.global_variables()]
    trainable = [v.op.name for v in tf.trainable_variables()]

    with tf.Graph().as_default():
        new_saver = tf.train.import_meta_graph(path + ".meta")
        variables = tf.global_variables()
        assert [v.op.name for v in variables] == order
        assert [v.op.name for v in tf.trainable_variables()] == trainable
        assert not any(v.is_initialized() for v in variables)
        got = {v.op.name: v for v in variables}
        assert got["model/w"].device == "/device:GPU:1"
        assert got["model/emb/part_0"].device == "/device:GPU:0"
        assert got["model/emb/part_0"].caching_device == "/device:GPU:1"
        assert got["global_step"].dtype == np.int64 and tf.get_collection("global_step") == [got["global_step"]]
        assert tf.get_collection("train_op") == ["sgd"]
        (table,) = tf.get_collection("tables")
        assert isinstance(table, tf.PartitionedVariable) and table.name == "model/emb" and len(table) == 3
        assert [v.op.name for v in table] == ["model/emb/part_0", "model/emb/part_1", "model/emb/part_2"]
        assert list(table)[2]._save_slice_info == tf.SaveSliceInfo("model/emb", [10, 2], [7, 0], [3, 2])
        sd = new_saver.as_saver_def()
        assert (sd.max_to_keep, sd.keep_checkpoint_every_n_hours) == (2, 3.0)
        new_saver.restore(None, path)
        for name, value in original.items():
            np.testing.assert_array_equal(got[name].numpy(), value)
        np.testing.assert_array_equal(tf.transfer.to_host(table.as_tensor()), np.ones((10, 2)))


def test_recorded_initializers_run_again_and_others_explain(tmp_path, emulated_gpus):
    w, b, emb, literal, step = build_model()
    tf.global_variables_initializer().run()
    expected_w = w.numpy()  # seeded: the same initializer draws the same values again
    mg.export_meta_graph(str(tmp_path / "m.meta"))
    with tf.Graph().as_default():
        tf.train.import_meta_graph(str(tmp_path / "m.meta"))
        got = {v.op.name: v for v in tf.global_variables()}
        for name in ("model/w", "model/b", "model/emb/part_0", "global_step"):
            got[name].initializer.run()
        np.testing.assert_array_equal(got["model/w"].numpy(), expected_w)
        np.testing.assert_array_equal(got["model/b"].numpy(), np.full(4, 0.5, np.float32))
        assert got["global_step"].numpy() == 0
        with pytest.raises(errors.FailedPreconditionError, match="initial value of literal is not in the meta graph"):
            got["literal"].initializer.run()


def test_seed_003_restart_training_from_a_saved_meta_graph(tmp_path, emulated_gpus):
    """Train, save with a global step, then restart in a fresh graph from the .meta file alone."""
    with tf.device("/cpu:0"):
        weights = tf.get_variable("weights", [4, 2], initializer=tf.zeros_initializer())
    step = tf.train.get_or_create_global_step()
    saver = tf.train.Saver()
    tf.add_to_collection("train_op", "train-step")
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    for i in range(3):
        weights.assign_add(np.ones((4, 2), np.float32))
        step.assign_add(1)
        if i % 1 == 0:
            saver.save(sess, str(tmp_path / "my-model"), global_step=step)
    with tf.Graph().as_default(), tf.Session() as sess:
        new_saver = tf.train.import_meta_graph(str(tmp_path / "my-model-3.meta"))
        new_saver.restore(sess, str(tmp_path / "my-model-3"))
        train_op = tf.get_collection("train_op")[0]
        assert train_op == "train-step"
        np.testing.assert_array_equal(sess.run("weights:0"), np.full((4, 2), 3.0))
        assert sess.run(tf.train.get_global_step()) == 3


def test_no_variables_gives_no_saver(tmp_path):
    tf.add_to_collection("notes", "hello")
    doc = mg.export_meta_graph(str(tmp_path / "m.meta"))
    assert doc.variables == []
    with tf.Graph().as_default():
        assert tf.train.import_meta_graph(str(tmp_path / "m.meta")) is None
        assert tf.get_collection("notes") == ["hello"]


def test_without_a_saver_def_import_returns_a_saver_of_all_variables(tmp_path):
    v = tf.Variable(np.ones(2, np.float32), name="v")
    v.initializer.run()
    path = Saver().save(None, str(tmp_path / "m"), write_meta_graph=False)
    doc = mg.export_meta_graph()  # no saver_def
    with tf.Graph().as_default():
        saver = tf.train.import_meta_graph(doc)
        assert isinstance(saver, Saver)
        saver.restore(None, path)
        np.testing.assert_array_equal(tf.global_variables()[0].numpy(), [1, 1])


def test_clear_devices_and_import_scope(tmp_path, emulated_gpus):
    with tf.device("/gpu:1"):
        tf.get_variable("v", [2], initializer=tf.ones_initializer())
    tf.get_variable("p", [4, 1], partitioner=tf.fixed_size_partitioner(2), initializer=tf.ones_initializer())
    tf.global_variables_initializer().run()
    path = Saver().save(None, str(tmp_path / "m"))
    with tf.Graph().as_default():
        with tf.device("/cpu:0"):
            saver = tf.train.import_meta_graph(path + ".meta", clear_devices=True, import_scope="copy")
        got = {x.op.name: x for x in tf.global_variables()}
        assert sorted(got) == ["copy/p/part_0", "copy/p/part_1", "copy/v"]
        assert got["copy/v"].device == "/device:CPU:0"
        assert got["copy/p/part_1"]._save_slice_info.full_name == "copy/p"
        assert saver.as_saver_def().restore_op_name == "copy/save/restore_all"
        saver.restore(None, path)  # the checkpoint keys are not scoped
        np.testing.assert_array_equal(got["copy/v"].numpy(), [1, 1])
    exported = mg.export_meta_graph(export_scope="p", saver_def=None)
    assert [x["name"] for x in exported.variables] == ["part_0", "part_1"]


def test_collections_keep_their_recorded_order_and_predicate(tmp_path):
    a = tf.Variable(1.0, name="a")
    b = tf.Variable(2.0, name="b")
    tf.add_to_collection("order", b)
    tf.add_to_collection("order", 7)
    tf.add_to_collection("order", a)
    doc = mg.export_meta_graph(collection_list=["order"])
    assert set(doc.collection_def) == {"order"}
    with tf.Graph().as_default():
        tf.train.import_meta_graph(doc)
        order = tf.get_collection("order")
        assert [getattr(x, "name", x) for x in order] == ["b:0", 7, "a:0"]
        assert [x.op.name for x in tf.global_variables()] == ["a", "b"]  # not exported: kept as created
    with tf.Graph().as_default():
        tf.train.import_meta_graph(doc, restore_collections_predicate=lambda key: key != "order")
        assert tf.get_collection("order") == []


def test_corrupt_meta_files_give_clear_errors_and_are_never_unpickled(tmp_path):
    marker = tmp_path / "unpickled"

    class Evil:
        def __reduce__(self):
            return (os.mkdir, (str(marker),))

    bad = tmp_path / "evil.meta"
    bad.write_bytes(pickle.dumps(Evil()))
    with pytest.raises(OSError, match=f"Cannot parse file {bad}.*nothing is ever unpickled"):
        tf.train.import_meta_graph(str(bad))
    assert not marker.exists()
    with pytest.raises(FileNotFoundError, match="does not exist"):
        tf.train.import_meta_graph(str(tmp_path / "missing.meta"))
    truncated = tmp_path / "truncated.meta"
    v = tf.Variable(1.0, name="v")
    mg.export_meta_graph(str(truncated))
    truncated.write_bytes(truncated.read_bytes()[:40])
    with pytest.raises(OSError, match="Cannot parse file"):
        tf.train.import_meta_graph(str(truncated))
    doc = json.loads(json.dumps(mg.export_meta_graph()))
    doc["variables"][0]["shape"] = "big"
    with pytest.raises(ValueError, match="has shape 'big'"):
        tf.train.import_meta_graph(doc)
    doc = json.loads(json.dumps(mg.export_meta_graph()))
    doc["collection_def"]["variables"] = [{"variable": "nope"}]
    with pytest.raises(ValueError, match="names no recorded variable"):
        tf.train.import_meta_graph(doc)
    doc["format_version"] = 99
    with pytest.raises(errors.UnimplementedError, match="format_version 99"):
        tf.train.import_meta_graph(doc)
    with pytest.raises(ValueError, match="format 'gpuvars.meta_graph'"):
        tf.train.import_meta_graph({"format": "tensorflow"})
    assert v.op.name == "v"


def test_a_missing_device_suggests_clear_devices(no_gpus):
    doc = {
        "format": "gpuvars.meta_graph",
        "format_version": 1,
        "variables": [
            {
                "name": "v",
                "dtype": "float32",
                "shape": [2],
                "device": "/device:GPU:3",
                "placed_on": "",
                "caching_device": None,
                "trainable": True,
                "validate_shape": True,
                "collections": ["variables"],
                "initializer": None,
                "save_slice_info": None,
            }
        ],
    }
    tf.config.set_soft_device_placement(False)
    with pytest.raises(errors.InvalidArgumentError, match="clear_devices=True"):
        tf.train.import_meta_graph(doc)
    saver = tf.train.import_meta_graph(doc, clear_devices=True)
    assert tf.global_variables()[-1].device == "/device:CPU:0" and isinstance(saver, Saver)


def test_export_argument_checks():
    with pytest.raises(TypeError, match="unexpected keyword"):
        mg.export_meta_graph(bogus=1)
    with pytest.raises(TypeError, match="meta_info_def"):
        mg.export_meta_graph(meta_info_def={"x": object()})
    with pytest.raises(TypeError, match="unexpected keyword"):
        tf.train.import_meta_graph(mg.export_meta_graph(), bogus=1)
    with tf.device("/cpu:0"):
        tf.Variable(1.0, name="placed", caching_device="/cpu:0")
    cleared = mg.export_meta_graph(clear_devices=True).variables[0]
    assert (cleared["device"], cleared["placed_on"], cleared["caching_device"]) == ("", "", None)
    assert mg.export_meta_graph().variables[0]["device"] == "/device:CPU:0"
    doc = mg.export_meta_graph(meta_info_def={"tags": ["serve"]}, graph_def={"nodes": 0})
    assert doc.meta_info_def["tags"] == ["serve"] and doc["graph_def"] == {"nodes": 0}
