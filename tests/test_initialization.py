"""Explicit initialization, deferred initial values, initializer ops (SPEC §3)."""

from __future__ import annotations

import numpy as np
import pytest

import gpuvars as tf
from gpuvars import errors


def test_initializer_op_runs_and_redraws():
    v = tf.Variable(tf.random_normal([3, 3], seed=1), name="r")
    op = v.initializer
    assert isinstance(op, tf.Operation) and op.type == "Assign"
    op.run()
    first = v.numpy()
    op()
    second = v.numpy()
    assert not np.array_equal(first, second)
    with tf.Session() as sess:
        assert sess.run(op) is None
    assert not np.array_equal(second, v.numpy())


def test_initialized_value_orders_dependencies():
    weights = tf.Variable(tf.random_normal([784, 200], stddev=0.35), name="weights")
    w2 = tf.Variable(weights.initialized_value(), name="w2")
    w_twice = tf.Variable(weights.initialized_value() * 2.0, name="w_twice")
    # w3 is created before its dependency in collection order
    with tf.Graph().as_default():
        pass
    tf.global_variables_initializer().run()
    np.testing.assert_array_equal(w2.numpy(), weights.numpy())
    np.testing.assert_array_equal(w_twice.numpy(), weights.numpy() * 2.0)


def test_dependency_initialized_first_even_when_listed_later():
    a = tf.Variable(tf.random_uniform([5], seed=7), name="a")
    b = tf.Variable(a.initialized_value() + 1.0, name="b")
    tf.variables_initializer([b, a]).run()
    np.testing.assert_allclose(b.numpy(), a.numpy() + 1.0)
    # a second run re-initializes a once, and b follows the new a
    old = a.numpy()
    tf.variables_initializer([b, a]).run()
    assert not np.array_equal(old, a.numpy())
    np.testing.assert_allclose(b.numpy(), a.numpy() + 1.0)


def test_each_variable_once_per_run():
    calls = []
    a = tf.Variable(lambda: calls.append(1) or np.ones(2), dtype=tf.float32)
    b = tf.Variable(a.initialized_value() * 3, name="b")
    c = tf.Variable(a.initialized_value() - b.initialized_value(), name="c")
    tf.global_variables_initializer().run()
    assert calls == [1]
    np.testing.assert_array_equal(c.numpy(), [-2, -2])


def test_initialized_value_outside_a_run_initializes_source():
    a = tf.Variable([1.0, 2.0])
    assert np.asarray(a.initialized_value()).tolist() == [1.0, 2.0]
    assert tf.is_variable_initialized(a)
    a.assign([5.0, 5.0])
    # already initialized: reads the current value, as TF's cond(is_initialized, read, init)
    assert np.asarray(a.initialized_value()).tolist() == [5.0, 5.0]


def test_deferred_arithmetic_ops():
    a = tf.Variable(np.array([[1.0, 2.0], [3.0, 4.0]], np.float32))
    t = a.initialized_value()
    exprs = {
        "mul": (t * 2.0, lambda x: x * 2),
        "add": (t + np.ones((2, 2), np.float32), lambda x: x + 1),
        "neg": (-t, lambda x: -x),
        "div": (t / 2.0, lambda x: x / 2),
        "pow": (t**2, lambda x: x**2),
        "matmul": (t @ t, lambda x: x @ x),
        "rsub": (10.0 - t, lambda x: 10 - x),
    }
    host = np.array([[1.0, 2.0], [3.0, 4.0]], np.float32)
    for name, (expr, ref) in exprs.items():
        assert isinstance(expr, tf.Tensor), name
        assert expr.dtype == np.float32, name
        assert expr.shape == ref(host).shape, name
        np.testing.assert_allclose(np.asarray(expr), ref(host), err_msg=name)


def test_same_random_op_gives_same_values_within_one_run():
    r = tf.random_normal([4], seed=3)
    a = tf.Variable(r)
    b = tf.Variable(r)
    tf.global_variables_initializer().run()
    np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_initializer_functions_and_aliases():
    g = tf.Variable(1.0, name="g")
    loc = tf.Variable(2.0, name="l", collections=[tf.GraphKeys.LOCAL_VARIABLES])
    assert isinstance(tf.global_variables_initializer(), tf.Operation)
    tf.initialize_all_variables().run()
    assert tf.is_variable_initialized(g) and not tf.is_variable_initialized(loc)
    tf.local_variables_initializer().run()
    assert tf.is_variable_initialized(loc)
    h = tf.Variable(3.0)
    tf.initialize_variables([h]).run()
    assert tf.is_variable_initialized(h)
    k = tf.Variable(4.0, collections=[tf.GraphKeys.LOCAL_VARIABLES])
    tf.initialize_local_variables().run()
    assert tf.is_variable_initialized(k)
    noop = tf.variables_initializer([])
    assert noop.run() is None and noop.type == "NoOp"
    assert tf.variables_initializer([], name="custom").name.startswith("custom")
    with pytest.raises(TypeError):
        tf.variables_initializer([np.zeros(2)])


def test_report_and_assert_uninitialized():
    a = tf.Variable(1.0, name="a")
    tf.Variable(1.0, name="b")
    tf.Variable(1.0, name="loc", collections=[tf.GraphKeys.LOCAL_VARIABLES])
    report = tf.report_uninitialized_variables()
    assert report.ndim == 1 and list(report) == [b"a", b"b", b"loc"]
    a.initializer.run()
    assert list(tf.report_uninitialized_variables()) == [b"b", b"loc"]
    assert list(tf.report_uninitialized_variables([a])) == []
    op = tf.assert_variables_initialized()
    with pytest.raises(errors.FailedPreconditionError, match="uninitialized value b"):
        op.run()
    tf.global_variables_initializer().run()
    tf.local_variables_initializer().run()
    op.run()
    with tf.Graph().as_default():
        assert tf.assert_variables_initialized() is None
        assert tf.report_uninitialized_variables().shape == (0,)


def test_is_variable_initialized_bad_input():
    with pytest.raises(TypeError):
        tf.is_variable_initialized(np.zeros(2))


def test_failed_initializer_leaves_variable_uninitialized():
    def boom():
        raise RuntimeError("no data")

    v = tf.Variable(boom, dtype=tf.float32)
    with pytest.raises(RuntimeError, match="no data"):
        v.initializer.run()
    assert not tf.is_variable_initialized(v)


def test_shape_checked_when_initializer_runs():
    v = tf.Variable(lambda: np.ones(3), dtype=tf.float32, shape=(2,))
    with pytest.raises(errors.InvalidArgumentError, match=r"\[2\].*\[3\]"):
        v.initializer.run()
    assert not tf.is_variable_initialized(v)


def test_deferred_division_builds_without_warnings():
    import warnings

    t = tf.Variable(np.array([2.0, 4.0], np.float32)).initialized_value()
    i = tf.Variable(np.array([3, 4], np.int32)).initialized_value()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        exprs = [2.0 / t, i // i, i % i]
    assert np.asarray(exprs[0]).tolist() == [1.0, 0.5]
    assert np.asarray(exprs[1]).tolist() == [1, 1]
