"""The Session compatibility layer (SPEC §12)."""

from __future__ import annotations

import collections

import numpy as np
import pytest

import gpuvars as tf


def test_run_fetch_kinds():
    v = tf.Variable([1.0, 2.0], name="v")
    init = tf.global_variables_initializer()
    with tf.Session() as sess:
        assert tf.get_default_session() is sess
        assert sess.run(init) is None
        out = sess.run(v)
        assert isinstance(out, np.ndarray) and out.tolist() == [1.0, 2.0]
        out[0] = 99.0  # a copy: the variable is unchanged
        assert sess.run(v).tolist() == [1.0, 2.0]
        pair = collections.namedtuple("pair", "a b")
        got = sess.run({"x": [v, (v,)], "p": pair(v, np.ones(1))})
        assert got["x"][0].tolist() == [1.0, 2.0] and isinstance(got["x"][1], tuple)
        assert isinstance(got["p"], pair) and got["p"].b.tolist() == [1.0]
        assert sess.run("v:0").tolist() == [1.0, 2.0]
        assert sess.run(tf.constant(3.0)) == 3.0
        assert sess.run(3) == 3
        with pytest.raises(TypeError, match="None"):
            sess.run(None)
        with pytest.raises(TypeError, match="invalid type"):
            sess.run(object())
    assert tf.get_default_session() is None


def test_feed_dict_substitutes_tensors():
    t = tf.constant([1.0, 2.0])
    u = t * 2.0
    with tf.Session() as sess:
        assert sess.run(u, feed_dict={t: [5.0, 6.0]}).tolist() == [10.0, 12.0]
        assert sess.run(u).tolist() == [2.0, 4.0]


def test_closed_session_and_graph():
    g = tf.Graph()
    sess = tf.Session(graph=g)
    assert sess.graph is g
    sess.close()
    with pytest.raises(RuntimeError, match="closed"):
        sess.run(tf.constant(1.0))
    with pytest.raises(ValueError, match="target"):
        tf.Session(target="nonsense://x")


def test_session_makes_its_graph_default():
    g = tf.Graph()
    with tf.Session(graph=g):
        assert tf.get_default_graph() is g


def test_interactive_session_and_eval():
    sess = tf.InteractiveSession()
    try:
        assert tf.get_default_session() is sess
        v = tf.Variable(3.0)
        v.initializer.run()
        assert v.eval() == 3.0
        assert tf.constant(2.0).eval() == 2.0
    finally:
        sess.close()
    assert tf.get_default_session() is None


def test_as_default_does_not_close():
    v = tf.Variable(1.0)
    sess = tf.Session()
    sess.run(v.initializer)
    with sess.as_default():
        assert tf.get_default_session() is sess
        assert v.eval() == 1.0
    assert tf.get_default_session() is None
    assert sess.run(v) == 1.0
    sess.close()


def test_fetch_by_missing_name_and_variable_op():
    v = tf.Variable(1.0, name="v")
    with tf.Session() as sess:
        with pytest.raises(ValueError, match="cannot be interpreted"):
            sess.run("nope:0")
        assert sess.run(v.op) is None
        assert sess.run("v") is None


def test_config_proto_soft_placement():
    from gpuvars import config

    with tf.Session(config=tf.ConfigProto(allow_soft_placement=False, gpu_options=tf.GPUOptions(allow_growth=True))):
        assert config.get_soft_device_placement() is False
    config.set_soft_device_placement(True)


def test_group_no_op_identity_control_dependencies():
    a = tf.Variable(1.0)
    b = tf.Variable(2.0)
    g = tf.group(a.initializer, [b.initializer])
    assert isinstance(g, tf.Operation)
    g.run()
    assert tf.is_variable_initialized(a) and tf.is_variable_initialized(b)
    assert tf.no_op().run() is None
    snap = tf.identity(a)
    a.assign(5.0)
    assert float(snap) == 1.0
    with tf.control_dependencies([g]):
        a.assign_add(1.0)
    assert float(a.numpy()) == 6.0


def test_interactive_session_graph_and_thread():
    import threading

    g = tf.Graph()
    sess = tf.InteractiveSession(graph=g)
    try:
        assert tf.get_default_graph() is g
        seen = []
        t = threading.Thread(target=lambda: seen.append(tf.get_default_session()))
        t.start()
        t.join()
        assert seen == [None]  # only the creating thread, as TF
    finally:
        sess.close()
    assert tf.get_default_graph() is not g and tf.get_default_session() is None
