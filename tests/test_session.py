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
