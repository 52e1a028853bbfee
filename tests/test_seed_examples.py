"""The seed documents' examples (without the Saver and scope parts) run with ``import gpuvars as tf``."""

from __future__ import annotations

import numpy as np
import pytest

import gpuvars as tf


def test_creation_and_initialization_howto():
    # Create two variables.
    weights = tf.Variable(tf.random_normal([784, 200], stddev=0.35), name="weights")
    biases = tf.Variable(tf.zeros([200]), name="biases")
    # Add an op to initialize the variables.
    init_op = tf.global_variables_initializer()
    with tf.Session() as sess:
        sess.run(init_op)
        w = sess.run(weights)
    assert w.shape == (784, 200) and w.dtype == np.float32
    assert abs(w.std() - 0.35) < 0.01 and abs(w.mean()) < 0.01
    assert biases.eval().tolist() == [0.0] * 200


def test_oldest_spelling_sess_Run():  # noqa: N802 - the seed's spelling
    v = tf.Variable(tf.zeros([2]), name="v")
    init_op = tf.initialize_all_variables()
    with tf.Session() as sess:
        sess.Run(init_op)
    assert tf.is_variable_initialized(v)


def test_device_placement_howto(emulated_gpus):
    with tf.device("/cpu:0"):
        v = tf.Variable(tf.zeros([3]))
    with tf.device("/gpu:1"):
        g = tf.Variable(tf.ones([3]))
    assert v.device == "/device:CPU:0" and g.device == "/device:GPU:1"


def test_initialization_from_another_variable_howto():
    weights = tf.Variable(tf.random_normal([784, 200], stddev=0.35), name="weights")
    w2 = tf.Variable(weights.initialized_value(), name="w2")
    w_twice = tf.Variable(weights.initialized_value() * 2.0, name="w_twice")
    w_02 = tf.Variable(weights.initialized_value() * 0.2, name="w_02")
    tf.global_variables_initializer().run()
    np.testing.assert_array_equal(w2.eval(), weights.eval())
    np.testing.assert_array_equal(w_twice.eval(), weights.eval() * 2.0)
    np.testing.assert_allclose(w_02.eval(), weights.eval() * np.float32(0.2))


def test_custom_initialization_howto():
    a = tf.Variable(1.0, name="a")
    b = tf.Variable(2.0, name="b")
    with tf.Session() as sess:
        sess.run(tf.initialize_variables([a]))
        assert list(tf.report_uninitialized_variables()) == [b"b"]
        sess.run(tf.variables_initializer([b]))
    assert tf.is_variable_initialized(b)


def test_api_doc_variable_example():
    w = tf.Variable(np.ones((2, 2), np.float32), name="w")
    with pytest.raises(tf.errors.FailedPreconditionError):  # eager: reading needs initialization
        tf.matmul(w, tf.constant(np.eye(2, dtype=np.float32)))
    w.initializer.run()
    y = tf.matmul(w, tf.constant(np.eye(2, dtype=np.float32)))
    z = tf.sigmoid(w + y)
    np.testing.assert_allclose(z, 1 / (1 + np.exp(-2.0)), rtol=1e-6)
    w.assign(w + 1.0)
    w.assign_add(np.ones((2, 2), np.float32))
    np.testing.assert_array_equal(w.eval(), np.full((2, 2), 3.0))
    s = tf.Variable(1.0)
    s.initializer.run()
    s.assign_add(1.0)  # the seed's scalar form
    assert float(s.eval()) == 2.0


def test_interactive_session_example():
    sess = tf.InteractiveSession()
    try:
        v = tf.Variable([1.0, 2.0])
        tf.global_variables_initializer().run()
        assert v.eval().tolist() == [1.0, 2.0]
    finally:
        sess.close()


def test_indexed_slices_and_sparse_mask_example():
    a = tf.IndexedSlices(np.arange(8.0, dtype=np.float32).reshape(4, 2), [12, 26, 37, 45], [1000, 2])
    b = tf.sparse_mask(a, [12, 45])
    assert b.indices.tolist() == [26, 37]
    assert b.values.tolist() == [[2, 3], [4, 5]]
    assert b.dense_shape.tolist() == [1000, 2]
    assert a.dtype == np.float32


def test_count_up_to_example():
    step = tf.Variable(0, name="step", trainable=False)
    step.initializer.run()
    values = [int(step.count_up_to(3)) for _ in range(3)]
    assert values == [0, 1, 2]
    with pytest.raises(tf.errors.OutOfRangeError, match="Reached limit"):
        step.count_up_to(3)
