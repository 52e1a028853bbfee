"""The Variable contract: construction, reading, operators, mutation, errors (SPEC §2)."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import gpuvars as tf
from gpuvars import errors


def init(*variables):
    tf.variables_initializer(variables).run()
    return variables[0] if len(variables) == 1 else variables


# -- construction ----------------------------------------------------------------

def test_names_are_unique_per_graph():
    a, b, c = tf.Variable(1.0), tf.Variable(1.0), tf.Variable(1.0, name="w")
    d = tf.Variable(1.0, name="w")
    assert [a.name, b.name, c.name, d.name] == ["Variable:0", "Variable_1:0", "w:0", "w_1:0"]
    assert a.op.name == "Variable" and d.op.name == "w_1"
    with tf.Graph().as_default():
        assert tf.Variable(1.0).name == "Variable:0"


def test_name_scope_prefixes_names():
    with tf.name_scope("outer"):
        v = tf.Variable(1.0, name="v")
        with tf.name_scope("inner"):
            w = tf.Variable(1.0)
    assert v.name == "outer/v:0" and w.op.name == "outer/inner/Variable"
    with tf.name_scope("outer"):
        assert tf.Variable(1.0, name="v").name == "outer_1/v:0"


def test_dtype_inference_follows_tf():
    assert tf.Variable(1.0).dtype == np.float32
    assert tf.Variable(1).dtype == np.int32
    assert tf.Variable([1, 2]).dtype == np.int32
    assert tf.Variable(2**40).dtype == np.int64
    assert tf.Variable([1.0, 2]).dtype == np.float32
    assert tf.Variable(True).dtype == np.bool_
    assert tf.Variable(np.zeros(2)).dtype == np.float64
    assert tf.Variable(np.zeros(2, np.int64)).dtype == np.int64
    assert tf.Variable(1j).dtype == np.complex128


def test_dtype_argument_casts_same_kind_only():
    assert tf.Variable(np.zeros(2), dtype=tf.float32).dtype == np.float32
    assert tf.Variable([1, 2], dtype="float64").dtype == np.float64
    v = init(tf.Variable(np.arange(3.0), dtype="float32"))
    np.testing.assert_array_equal(v.numpy(), [0, 1, 2])
    with pytest.raises(TypeError, match="int32"):
        tf.Variable([1.5, 2.0], dtype=tf.int32)
    with pytest.raises(TypeError, match="int32"):
        tf.Variable(np.zeros(2), dtype="int32")
    with pytest.raises(TypeError):
        tf.Variable(1.0, dtype="not-a-dtype")


def test_initial_value_required_and_variable_def_exclusive():
    with pytest.raises(ValueError, match="initial_value must be specified."):
        tf.Variable()
    v = tf.Variable(1.0)
    with pytest.raises(ValueError, match="mutually exclusive"):
        tf.Variable(1.0, variable_def=v.to_proto())


def test_callable_initial_value_needs_dtype_and_defers():
    calls = []

    def make():
        calls.append(1)
        return np.ones((2, 3))

    with pytest.raises(ValueError, match="dtype"):
        tf.Variable(make)
    v = tf.Variable(make, dtype=tf.float32)
    assert calls == [] and v.shape.ndims is None
    init(v)
    assert calls == [1] and v.shape == (2, 3) and v.dtype == np.float32
    w = tf.Variable(make, dtype="float64", shape=(2, 3))
    assert w.shape == (2, 3)
    with pytest.raises(ValueError, match="shape"):
        tf.Variable(make, dtype="float64", shape=(3, 3)) if False else tf.Variable(np.ones(2), shape=(3,))


def test_initial_value_is_deferred_and_evaluated_property():
    r = tf.random_uniform([4], seed=3)
    v = tf.Variable(r)
    assert v._buf is None
    first = np.asarray(v.initial_value)
    second = np.asarray(v.initial_value)
    assert first.shape == (4,) and not np.array_equal(first, second)


def test_validate_shape_false_allows_new_shape():
    v = init(tf.Variable([1.0, 2.0], validate_shape=False))
    v.assign([1.0, 2.0, 3.0])
    assert v.shape == (3,)
    np.testing.assert_array_equal(v.numpy(), [1, 2, 3])
    w = init(tf.Variable([1.0, 2.0]))
    with pytest.raises(errors.InvalidArgumentError, match=r"\[2\].*\[3\]"):
        w.assign([1.0, 2.0, 3.0])
    np.testing.assert_array_equal(w.numpy(), [1, 2])


def test_collections_and_trainable():
    g = tf.get_default_graph()
    a = tf.Variable(1.0)
    b = tf.Variable(1.0, trainable=False)
    c = tf.Variable(1.0, collections=[tf.GraphKeys.LOCAL_VARIABLES])
    d = tf.Variable(1.0, collections=["mine"], trainable=True)
    assert tf.global_variables() == [a, b]
    assert tf.trainable_variables() == [a, c, d]
    assert tf.local_variables() == [c]
    assert g.get_collection("mine") == [d]
    assert not b.trainable and a.trainable
    with pytest.raises(TypeError, match="list"):
        tf.Variable(1.0, collections="mine")


# -- reading ------------------------------------------------------------------------

def test_uninitialized_read_message():
    v = tf.Variable([1.0], name="weights")
    for read in (v.value, v.numpy, v.read_value, lambda: np.asarray(v), lambda: v + 1.0, lambda: 1.0 + v):
        with pytest.raises(errors.FailedPreconditionError, match="Attempting to use uninitialized value weights"):
            read()
    with pytest.raises(errors.FailedPreconditionError):
        v.assign_add([1.0])


def test_reads_value_read_value_numpy_eval():
    v = init(tf.Variable(np.arange(4.0, dtype=np.float32)))
    live = v.value()
    copy = v.read_value()
    host = v.numpy()
    v.assign_add(np.ones(4, np.float32))
    assert live[0] == 1.0  # the live buffer sees the update
    assert copy[0] == 0.0 and host[0] == 0.0
    np.testing.assert_array_equal(v.eval(), [1, 2, 3, 4])
    np.testing.assert_array_equal(np.asarray(v), [1, 2, 3, 4])
    assert np.asarray(v, dtype=np.float64).dtype == np.float64


def test_operators_and_ufuncs():
    v = init(tf.Variable(np.array([1.0, 2.0, 4.0], np.float32)))
    np.testing.assert_array_equal(v + 1, [2, 3, 5])
    np.testing.assert_array_equal(1 + v, [2, 3, 5])
    np.testing.assert_array_equal(v * v, [1, 4, 16])
    np.testing.assert_array_equal(2 - v, [1, 0, -2])
    np.testing.assert_array_equal(v / 2, [0.5, 1, 2])
    np.testing.assert_array_equal(8 / v, [8, 4, 2])
    np.testing.assert_array_equal(v**2, [1, 4, 16])
    np.testing.assert_array_equal(-v, [-1, -2, -4])
    np.testing.assert_array_equal(v < 2, [True, False, False])
    np.testing.assert_array_equal(v >= 2, [False, True, True])
    np.testing.assert_allclose(np.sqrt(v), [1, np.sqrt(2), 2], rtol=1e-6)
    np.testing.assert_array_equal(np.add(v, v), [2, 4, 8])
    assert (v @ v) == 21
    assert v[1] == 2 and len(v) == 3
    np.testing.assert_array_equal(v[1:], [2, 4])
    assert [float(x) for x in v] == [1, 2, 4]
    with pytest.raises(TypeError, match="assign"):
        np.add(v, 1, out=(v,))


def test_equality_is_identity_and_hashable():
    a = init(tf.Variable([1.0]))
    b = init(tf.Variable([1.0]))
    assert a == a and a != b and not (a == b)
    d = {a: "a", b: "b"}
    assert d[a] == "a" and len(d) == 2
    np.testing.assert_array_equal(a.value() == b.value(), [True])


def test_scalar_conversions_and_len_errors():
    s = init(tf.Variable(3.0))
    assert float(s) == 3.0 and int(s) == 3
    with pytest.raises(TypeError):
        len(s)
    with pytest.raises(TypeError):
        iter(s)


def test_properties():
    v = tf.Variable(np.zeros((2, 3), np.float32), name="p")
    assert v.shape == (2, 3) and v.get_shape().as_list() == [2, 3]
    assert v.dtype == tf.float32
    assert v.graph is tf.get_default_graph()
    assert v.initializer.name == "p/Assign"
    assert v.op.type == "VariableV2" and v.op.name == "p"
    assert v.ref() is v
    assert "p:0" in repr(v)


# -- mutation -------------------------------------------------------------------------

def test_assign_family_returns_variable_with_new_value():
    v = init(tf.Variable([1.0, 2.0]))
    assert v.assign([5.0, 6.0]) is v
    assert v.assign_add([1.0, 1.0]) is v
    assert v.assign_sub(np.array([0.5, 0.5])) is v
    np.testing.assert_array_equal(v.numpy(), [5.5, 6.5])
    s = init(tf.Variable(1.0))
    assert s.assign_add(1.0) is s and s.assign_sub(0.5) is s and float(s.numpy()) == 1.5


@pytest.mark.parametrize("method", ["assign", "assign_add", "assign_sub"])
@pytest.mark.parametrize("device", ["/cpu:0", "/gpu:0"])
def test_scalar_into_vector_is_a_shape_error_as_in_tf(method, device, emulated_gpus):
    with tf.device(device):
        v = init(tf.Variable([1.0, 2.0]))
    for value in (1.0, np.float32(1.0), np.array(1.0, np.float32)):
        with pytest.raises(ValueError, match=r"\[2\].*\[\]"):
            getattr(v, method)(value)
    assert v.numpy().tolist() == [1.0, 2.0]


def test_shape_errors_are_both_value_and_invalid_argument_errors():
    v = init(tf.Variable([1.0, 2.0]))
    with pytest.raises(ValueError):
        v.assign([1.0, 2.0, 3.0])
    with pytest.raises(errors.InvalidArgumentError):
        v.assign([1.0, 2.0, 3.0])
    with pytest.raises(ValueError):
        tf.scatter_add(init(tf.Variable(np.zeros((6, 2), np.float32))), [0, 1], np.ones((3, 2), np.float32))


def test_scatter_shape_message_names_indices_shape():
    v = init(tf.Variable(np.zeros((6, 2), np.float32)))
    with pytest.raises(errors.InvalidArgumentError, match=r"updates.shape \[3, 2\], indices.shape \[2\]"):
        tf.scatter_add(v, np.array([0, 1]), np.ones((3, 2), np.float32))
    with pytest.raises(errors.InvalidArgumentError, match=r"indices.shape \[2, 1\]"):
        tf.scatter_nd_add(v, np.array([[0], [1]]), np.ones((3, 2), np.float32))


@pytest.mark.parametrize("device", ["/cpu:0", "/gpu:0"])
def test_python_ints_out_of_range_are_rejected(device, emulated_gpus):
    with tf.device(device):
        v = init(tf.Variable(np.zeros(2, np.int8)))
    for fn in (lambda: v.assign([300, 1]), lambda: v.assign_add([300, 1]), lambda: v.assign_sub([1, -300]),
               lambda: tf.scatter_update(v, [0], [300])):
        with pytest.raises(TypeError, match=r"int8.*\[-128, 127\]"):
            fn()
    s = init(tf.Variable(np.int8(0)))
    with pytest.raises(TypeError, match="int8"):
        s.assign_add(300)
    assert v.numpy().tolist() == [0, 0] and int(s.numpy()) == 0


def test_module_assign_validate_shape_is_per_op():
    v = init(tf.Variable([1.0, 2.0]))
    tf.assign(v, [1.0, 2.0, 3.0], validate_shape=False)
    assert v.shape == (3,)
    with pytest.raises(ValueError):
        v.assign([1.0, 2.0, 3.0, 4.0])


def test_assign_initializes():
    v = tf.Variable([1.0, 2.0])
    v.assign([3.0, 4.0])
    assert tf.is_variable_initialized(v)
    np.testing.assert_array_equal(v.numpy(), [3, 4])


@pytest.mark.parametrize("method", ["assign", "assign_add", "assign_sub"])
def test_shape_mismatch_names_both_and_leaves_value(method):
    v = init(tf.Variable(np.zeros((2, 3), np.float32)))
    with pytest.raises((ValueError, errors.InvalidArgumentError)) as info:
        getattr(v, method)(np.ones((3, 2), np.float32))
    assert "[2, 3]" in str(info.value) and "[3, 2]" in str(info.value)
    with pytest.raises((ValueError, errors.InvalidArgumentError)):
        getattr(v, method)(np.ones((1, 3), np.float32))  # no silent broadcasting
    with pytest.raises(ValueError):
        getattr(v, method)(1.0)  # not even of scalars, as in TF
    np.testing.assert_array_equal(v.numpy(), np.zeros((2, 3)))


@pytest.mark.parametrize("method", ["assign", "assign_add", "assign_sub"])
def test_unsafe_dtype_is_type_error_and_leaves_value(method):
    v = init(tf.Variable([1, 2], dtype=tf.int32))
    with pytest.raises(TypeError, match="int32"):
        getattr(v, method)(np.array([1.5, 2.5]))
    with pytest.raises(TypeError):
        getattr(v, method)(1.5)
    np.testing.assert_array_equal(v.numpy(), [1, 2])
    f = init(tf.Variable([1.0, 2.0], dtype=tf.float32))
    getattr(f, method)(np.array([1.0, 1.0], np.float64))  # float64 into float32 is same_kind


def test_int_python_values_into_narrow_ints():
    v = init(tf.Variable(np.zeros(2, np.int8)))
    v.assign([1, 2])
    v.assign_add(np.array([1, 1], np.int8))
    np.testing.assert_array_equal(v.numpy(), [2, 3])


def test_count_up_to():
    c = init(tf.Variable(0, name="counter"))
    assert [int(c.count_up_to(3)) for _ in range(3)] == [0, 1, 2]
    with pytest.raises(errors.OutOfRangeError, match="Reached limit of 3"):
        c.count_up_to(3)
    assert int(c.numpy()) == 3
    assert int(tf.count_up_to(init(tf.Variable(np.int64(5))), 6)) == 5
    with pytest.raises(TypeError, match="int32 or int64"):
        init(tf.Variable(1.0)).count_up_to(3)


def test_count_up_to_threads_distinct_values():
    c = init(tf.Variable(0))
    limit, threads = 400, 8
    got: list[int] = []
    lock = threading.Lock()
    errors_seen = []

    def worker():
        while True:
            try:
                value = int(c.count_up_to(limit))
            except errors.OutOfRangeError:
                errors_seen.append(1)
                return
            with lock:
                got.append(value)

    ts = [threading.Thread(target=worker) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert sorted(got) == list(range(limit))
    assert len(errors_seen) == threads
    assert int(c.numpy()) == limit


def test_locked_assign_add_from_threads_loses_nothing():
    v = init(tf.Variable(0.0, dtype=tf.float64))
    n_threads, m = 8, 500

    def worker():
        for _ in range(m):
            v.assign_add(1.0, use_locking=True)

    ts = [threading.Thread(target=worker) for _ in range(n_threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert float(v.numpy()) == n_threads * m


def test_load_and_module_functions():
    v = init(tf.Variable([0.0, 0.0]))
    v.load([1.0, 2.0])
    tf.assign_add(v, [1.0, 1.0])
    tf.assign_sub(v, [0.5, 0.5])
    tf.assign(v, tf.constant([9.0, 9.0]) * 2)
    np.testing.assert_array_equal(v.numpy(), [18, 18])
    with pytest.raises(TypeError, match="Variable"):
        tf.assign(np.zeros(2), [1.0, 2.0])


def test_assign_from_another_variable_and_tensor():
    a = init(tf.Variable([1.0, 2.0]))
    b = init(tf.Variable([0.0, 0.0]))
    b.assign(a)
    a.assign_add([1.0, 1.0])
    np.testing.assert_array_equal(b.numpy(), [1, 2])


# -- proto ------------------------------------------------------------------------------

def test_to_proto_from_proto_round_trip():
    v = tf.Variable(np.zeros((2, 2), np.float32), name="pv", trainable=False)
    d = v.to_proto()
    assert d.variable_name == "pv:0" and d.initializer_name == "pv/Assign" and d.snapshot_name == "pv/read:0"
    assert d.trainable is False and d.shape == [2, 2] and d.dtype == "float32"
    assert tf.Variable.from_proto(d).name == "pv:0"
    assert type(d).FromString(d.SerializeToString()) == d
    with tf.Graph().as_default():
        w = tf.Variable.from_proto(d)
        assert w.name == "pv:0" and w.shape == (2, 2) and not w.trainable
        assert not tf.is_variable_initialized(w)
        assert w not in tf.trainable_variables() and w in tf.global_variables()
    with tf.name_scope("scope"):
        inner = tf.Variable(1.0, name="x")
    assert inner.to_proto(export_scope="scope").variable_name == "x:0"
    assert inner.to_proto(export_scope="other") is None


@pytest.mark.parametrize("device", ["/cpu:0", "/gpu:0"])
def test_bool_variables_have_no_arithmetic_updates(device, emulated_gpus):
    with tf.device(device):
        v = init(tf.Variable([True, False]))
    for fn in (lambda: v.assign_add([True, True]), lambda: v.assign_sub(np.array([True, False])),
               lambda: tf.group_assign_add([v], [[True, True]])):
        with pytest.raises(TypeError, match="bool"):
            fn()
    v.assign([False, True])
    assert v.numpy().tolist() == [False, True]


def test_large_cpu_update_uses_the_same_semantics():
    n = (8 << 20) // 4
    with tf.device("/cpu:0"):
        v = init(tf.Variable(np.zeros(n, np.float32)))
    v.assign_add(np.ones(n, np.float32))
    v.assign_sub(np.full(n, 0.5, np.float32), use_locking=True)
    v.assign_add(np.full(n, 2.0, np.float32))
    assert float(v.numpy()[0]) == 2.5 and float(v.numpy()[-1]) == 2.5
    with pytest.raises(ValueError):
        v.assign_add(2.0)
    with pytest.raises(TypeError):
        init(tf.Variable(np.zeros(n, np.int32))).assign_add(np.ones(n, np.float64))
    with pytest.raises(errors.InvalidArgumentError):
        v.assign_add(np.ones(n + 1, np.float32))


def test_from_proto_returns_the_same_variable():
    v = tf.Variable([1.0, 2.0], name="orig")
    w = tf.Variable.from_proto(v.to_proto())
    assert w is v
    assert tf.Variable(variable_def=v.to_proto()) is v
    w.initializer.run()
    assert tf.is_variable_initialized(v)


@pytest.mark.parametrize("bad", ["bad name!", "x:0", "_x", ""])
def test_invalid_names_are_value_errors(bad):
    if bad == "":
        assert tf.Variable(1.0, name=bad).name == "Variable:0"  # empty means the default, as TF
        return
    with pytest.raises(ValueError, match="not a valid"):
        tf.Variable(1.0, name=bad)


def test_name_type_and_trailing_slash():
    with pytest.raises(TypeError, match="string"):
        tf.Variable(1.0, name=3)
    assert tf.Variable(1.0, name="exact/").name == "exact:0"
    with tf.name_scope("s"):
        assert tf.Variable(1.0, name="_inner").name == "s/_inner:0"


def test_initial_value_is_a_snapshot_and_a_fresh_array():
    a = np.array([1.0, 2.0], np.float32)
    v = tf.Variable(a)
    a[0] = 99.0  # editing the caller's array after construction does not leak in
    iv = v.initial_value
    iv[1] = 7.0  # nor does editing what initial_value returned
    v.initializer.run()
    assert v.numpy().tolist() == [1.0, 2.0]


def test_count_up_to_error_names_the_variable():
    c = init(tf.Variable(0, name="steps"))
    c.count_up_to(1)
    with pytest.raises(errors.OutOfRangeError) as info:
        c.count_up_to(1)
    assert info.value.op == "steps"


def test_reinitializing_unvalidated_variable_restores_its_shape():
    u = init(tf.Variable([1.0, 2.0], validate_shape=False))
    u.assign([1.0, 2.0, 3.0])
    assert u.shape == (3,)
    u.initializer.run()
    assert u.shape == (2,) and u.numpy().tolist() == [1.0, 2.0]


def test_cached_copy_is_read_only(emulated_gpus):
    with tf.device("/gpu:0"):
        v = init(tf.Variable(np.ones(4, np.float32), caching_device="/gpu:1"))
    with pytest.raises(ValueError, match="read-only"):
        np.asarray(v.value())[0] = 99.0
    assert v.numpy().tolist() == [1.0] * 4
