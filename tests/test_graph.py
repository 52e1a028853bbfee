"""Graphs, default graphs and collections (SPEC §4)."""

from __future__ import annotations

import threading

import pytest

import gpuvars as tf


def test_graph_keys():
    k = tf.GraphKeys
    assert k.GLOBAL_VARIABLES == k.VARIABLES == "variables"
    assert k.TRAINABLE_VARIABLES == "trainable_variables"
    assert k.LOCAL_VARIABLES == "local_variables"
    assert k.MODEL_VARIABLES == "model_variables"
    assert k.MOVING_AVERAGE_VARIABLES == "moving_average_variables"
    assert k.REGULARIZATION_LOSSES == "regularization_losses"
    assert k.SAVERS == "savers"


def test_default_graph_and_as_default():
    g0 = tf.get_default_graph()
    g = tf.Graph()
    with g.as_default() as entered:
        assert entered is g and tf.get_default_graph() is g
        v = tf.Variable(1.0)
    assert tf.get_default_graph() is g0
    assert v.graph is g and v in g.get_collection(tf.GraphKeys.GLOBAL_VARIABLES)
    assert v not in tf.global_variables()


def test_reset_default_graph():
    g0 = tf.get_default_graph()
    tf.Variable(1.0)
    tf.reset_default_graph()
    assert tf.get_default_graph() is not g0
    assert tf.global_variables() == []
    with tf.Graph().as_default():
        with pytest.raises(AssertionError, match="nested"):
            tf.reset_default_graph()


def test_default_graph_is_thread_local():
    g = tf.Graph()
    seen = []
    with g.as_default():
        t = threading.Thread(target=lambda: seen.append(tf.get_default_graph()))
        t.start()
        t.join()
    assert seen[0] is not g


def test_collection_functions():
    a = tf.Variable(1.0, name="a")
    m = tf.Variable(1.0, name="m", collections=[tf.GraphKeys.MODEL_VARIABLES, tf.GraphKeys.GLOBAL_VARIABLES])
    ma = tf.Variable(1.0, name="ma", collections=[tf.GraphKeys.MOVING_AVERAGE_VARIABLES], trainable=False)
    assert tf.global_variables() == [a, m]
    assert tf.all_variables() == [a, m]
    assert tf.model_variables() == [m]
    assert tf.moving_average_variables() == [ma]
    tf.add_to_collection("things", 3)
    tf.add_to_collections(["x", "y"], a)
    tf.add_to_collections("z", a)
    assert tf.get_collection("things") == [3]
    assert tf.get_collection("x") == tf.get_collection("y") == tf.get_collection("z") == [a]
    ref = tf.get_collection_ref("things")
    ref.append(4)
    assert tf.get_collection("things") == [3, 4]
    copy = tf.get_collection("things")
    copy.append(5)
    assert tf.get_collection("things") == [3, 4]
    assert tf.get_collection("missing") == []


def test_get_collection_scope_is_regex_from_start():
    with tf.name_scope("layer1"):
        a = tf.Variable(1.0, name="w")
    with tf.name_scope("layer2"):
        b = tf.Variable(1.0, name="w")
    c = tf.Variable(1.0, name="xlayer1")
    assert tf.get_collection(tf.GraphKeys.GLOBAL_VARIABLES, scope="layer1") == [a]
    assert tf.get_collection(tf.GraphKeys.GLOBAL_VARIABLES, scope="layer.") == [a, b]
    assert tf.global_variables(scope="xlayer") == [c]
    assert tf.trainable_variables("layer2") == [b]
    tf.add_to_collection("mixed", 7)
    assert tf.get_collection("mixed", scope="7") == []  # items without names never match a scope


def test_explicit_collections_with_trainable():
    v = tf.Variable(1.0, collections=["only_here"])
    assert tf.get_collection("only_here") == [v]
    assert tf.trainable_variables() == [v]  # TF adds TRAINABLE_VARIABLES for trainable=True
    assert tf.global_variables() == []
    w = tf.Variable(1.0, collections=["only_here"], trainable=False)
    assert w not in tf.trainable_variables()


def test_unique_name_rule():
    g = tf.Graph()
    assert g.unique_name("foo") == "foo"
    assert g.unique_name("foo") == "foo_1"
    assert g.unique_name("Foo") == "Foo_2"  # case-insensitive like TF
    assert g.unique_name("foo_1") == "foo_1_1"
    assert g.unique_name("bar", mark_as_used=False) == "bar"
    assert g.unique_name("bar") == "bar"


def test_graph_element_lookup():
    v = tf.Variable(1.0, name="v")
    init = tf.global_variables_initializer()
    g = tf.get_default_graph()
    assert g.as_graph_element("v:0") is v
    assert g.as_graph_element(init.name) is init
    with pytest.raises(KeyError):
        g.as_graph_element("nope:0")


def test_finalized_graph_refuses_new_variables():
    g = tf.Graph()
    with g.as_default():
        tf.Variable(1.0)
        g.finalize()
        assert g.finalized
        with pytest.raises(RuntimeError, match="finalized"):
            tf.Variable(2.0)
