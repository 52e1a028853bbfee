"""variable_scope / get_variable / sharing (SPEC §5), checked against TensorFlow 1.x's behaviour and wording."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import gpuvars as tf
from gpuvars import errors, init_ops, partitioning, scopes
from gpuvars.graph import GraphKeys
from gpuvars.scopes import AUTO_REUSE, get_variable, get_variable_scope, variable_scope


def run_init():
    tf.global_variables_initializer().run()


# -- seed 002: the API documentation examples ---------------------------------------------------------

def test_seed002_nested_scopes_prefix_names():
    with variable_scope("foo"):
        with variable_scope("bar"):
            v = get_variable("v", [1])
    assert v.name == "foo/bar/v:0"
    assert v.op.name == "foo/bar/v"


def test_seed002_get_variable_basic_example():
    with variable_scope("foo"):
        v = get_variable("v", [1])
        w = get_variable("w", [1])
    with variable_scope("foo", reuse=True):
        v1 = get_variable("v")
    assert (v.name, w.name) == ("foo/v:0", "foo/w:0")
    assert v1 is v


def test_seed002_sharing_with_reuse_true():
    with variable_scope("foo"):
        v = get_variable("v", [1])
    with variable_scope("foo", reuse=True):
        v1 = get_variable("v", [1])
    assert v1 == v and v1 is v


def test_seed002_sharing_by_capturing_a_scope():
    with variable_scope("foo") as scope:
        v = get_variable("v", [1])
        scope.reuse_variables()
        v1 = get_variable("v", [1])
    assert v1 is v
    assert scope.reuse is True


def test_seed002_accidental_sharing_raises_already_exists():
    with variable_scope("foo"):
        get_variable("v", [1])
        with pytest.raises(ValueError) as info:
            get_variable("v", [1])
    msg = str(info.value)
    assert msg.startswith(
        "Variable foo/v already exists, disallowed. Did you mean to set reuse=True or reuse=AUTO_REUSE in VarScope?"
    )
    # "Originally defined at" points at this test, not at gpuvars' internals.
    assert "Originally defined at" in msg and "test_scopes.py" in msg and "/gpuvars/" not in msg


def test_seed002_missing_variable_in_reuse_scope_raises_does_not_exist():
    with variable_scope("foo", reuse=True):
        with pytest.raises(ValueError) as info:
            get_variable("v", [1])
    assert str(info.value) == (
        "Variable foo/v does not exist, or was not created with get_variable(). Did you mean to set "
        "reuse=AUTO_REUSE in VarScope?"
    )


def test_variable_made_with_Variable_is_not_found_by_get_variable():  # noqa: N802
    tf.Variable(1.0, name="plain")
    with variable_scope("", reuse=True):
        with pytest.raises(ValueError, match="does not exist, or was not created with get_variable"):
            get_variable("plain")


# -- sharing errors with TF's wording -------------------------------------------------------------------

def test_shape_mismatch_on_reuse_names_both_shapes():
    with variable_scope("foo"):
        get_variable("v", [2, 3])
    with variable_scope("foo", reuse=True):
        with pytest.raises(ValueError) as info:
            get_variable("v", [3, 2])
        assert str(info.value) == "Trying to share variable foo/v, but specified shape (3, 2) and found shape (2, 3)."
        assert get_variable("v", [2, None]).shape == (2, 3)  # a compatible partial shape is fine


def test_dtype_mismatch_on_reuse_names_both_dtypes():
    with variable_scope("foo"):
        get_variable("v", [2, 3])
    with variable_scope("foo", reuse=True):
        with pytest.raises(ValueError) as info:
            get_variable("v", [2, 3], dtype=tf.float64)
    assert str(info.value) == (
        "Trying to share variable foo/v, but specified dtype float64 and found dtype float32."
    )


def test_new_variable_needs_a_fully_defined_shape():
    with variable_scope("foo"):
        with pytest.raises(ValueError, match=r"^Shape of a new variable \(foo/v\) must be fully defined, but "
                                             r"instead was <unknown>\."):
            get_variable("v")
        with pytest.raises(ValueError, match=r"Shape of a new variable \(foo/w\) must be fully defined, but "
                                             r"instead was \(\?, 3\)\."):
            get_variable("w", [None, 3])
    assert tf.global_variables() == []


def test_constant_initializer_with_a_shape_is_an_error():
    with pytest.raises(ValueError, match=r"^If initializer is a constant, do not specify shape\.$"):
        get_variable("c", [2], initializer=np.ones(2, np.float32))


def test_constant_initializer_gives_value_shape_and_dtype():
    c = get_variable("c", initializer=[1, 2])
    d = get_variable("d", initializer=np.arange(6.0).reshape(2, 3))
    e = get_variable("e", initializer=tf.zeros([4], dtype=tf.int64))
    assert (c.dtype, c.shape) == (np.int32, (2,))
    assert (d.dtype, d.shape) == (np.float64, (2, 3))
    assert (e.dtype, e.shape) == (np.int64, (4,))
    run_init()
    assert c.numpy().tolist() == [1, 2]
    np.testing.assert_array_equal(d.numpy(), np.arange(6.0).reshape(2, 3))


def test_constant_initializer_dtype_must_match_explicit_dtype():
    with pytest.raises(ValueError) as info:
        get_variable("c", initializer=np.array([1, 2], np.int32), dtype=tf.float32)
    assert str(info.value) == "Initializer type '<dtype: 'int32'>' and explicit dtype '<dtype: 'float32'>' don't match."
    assert get_variable("d", initializer=np.array([1, 2], np.int64), dtype=tf.int64).dtype == np.int64


def test_complex_variables_need_an_initializer():
    with pytest.raises(ValueError) as info:
        get_variable("cx", [2], dtype=tf.complex64)
    assert str(info.value) == "An initializer for variable cx of <dtype: 'complex64'> is required"
    z = get_variable("z", [2], dtype=tf.complex64, initializer=init_ops.zeros_initializer())
    run_init()
    assert z.numpy().dtype == np.complex64


def test_unknown_keyword_argument_is_a_type_error():
    with pytest.raises(TypeError, match="unexpected keyword arguments: \\['colections'\\]"):
        get_variable("v", [1], colections=[])
    get_variable("w", [1], synchronization=None, aggregation=None)  # accepted, ignored


# -- initializers --------------------------------------------------------------------------------------

def test_default_initializer_is_glorot_uniform_for_floats():
    w = get_variable("w", [300, 200])
    w64 = get_variable("w64", [10, 10], dtype=tf.float64)
    run_init()
    limit = np.sqrt(6.0 / (300 + 200))
    values = w.numpy()
    assert values.dtype == np.float32 and np.abs(values).max() <= limit
    assert values.std() == pytest.approx(limit / np.sqrt(3), rel=0.05)
    assert w64.numpy().dtype == np.float64
    assert w._initial_spec["class_name"] == "GlorotUniform"


@pytest.mark.parametrize("dtype", ["int32", "int64", "uint8", "bool"])
def test_default_initializer_is_zeros_for_integers_and_bools(dtype):
    v = get_variable("v", [3], dtype=dtype)
    run_init()
    assert v.numpy().dtype == np.dtype(dtype) and not v.numpy().any()
    assert v._initial_spec["class_name"] == "Zeros"


def test_scope_initializer_is_inherited_and_overridden():
    with variable_scope("foo", initializer=init_ops.constant_initializer(0.4)):
        v = get_variable("v", [1])
        with variable_scope("bar"):
            w = get_variable("w", [1])
        with variable_scope("baz", initializer=init_ops.constant_initializer(0.2)):
            x = get_variable("x", [1])
        y = get_variable("y", [1], initializer=init_ops.constant_initializer(0.3))
    run_init()
    assert [float(t.numpy()[0]) for t in (v, w, x, y)] == pytest.approx([0.4, 0.4, 0.2, 0.3])


def test_initializer_class_is_instantiated():
    v = get_variable("v", [2], initializer=init_ops.ones_initializer)
    run_init()
    assert v.numpy().tolist() == [1.0, 1.0]


def test_seeded_initializer_fixed_at_creation_redraws_on_each_run():
    a = get_variable("a", [50], initializer=init_ops.random_uniform_initializer(seed=7))
    b = get_variable("b", [50], initializer=init_ops.random_uniform_initializer(seed=7))
    run_init()
    first = a.numpy()
    np.testing.assert_array_equal(first, b.numpy())  # same seeds, same values
    a.initializer.run()
    assert not np.array_equal(first, a.numpy())  # TF: running an initializer op again draws anew


def test_function_initializer_is_called_when_the_initializer_runs():
    calls = []

    def init(shape, dtype=None, partition_info=None):
        calls.append((shape, np.dtype(dtype).name, partition_info))
        return np.full(shape, 2.5)

    v = get_variable("v", [2, 2], initializer=init)
    assert calls == []
    run_init()
    assert calls == [([2, 2], "float32", None)]
    assert v.numpy().tolist() == [[2.5, 2.5], [2.5, 2.5]]
    assert v._initial_spec is None  # a plain function cannot be described in a meta graph


def test_function_initializer_returning_a_deferred_tensor():
    v = get_variable("v", [3], initializer=lambda shape, dtype: tf.ones(shape, dtype) * 3.0)
    run_init()
    assert v.numpy().tolist() == [3.0, 3.0, 3.0]


def test_zero_argument_callable_initializer_without_shape():
    v = get_variable("v", initializer=lambda: np.arange(4.0))
    assert v.shape.ndims is None
    run_init()
    assert v.shape == (4,) and v.dtype == np.float32
    assert v.numpy().tolist() == [0.0, 1.0, 2.0, 3.0]


def test_initializer_argument_errors_surface_at_get_variable():
    with pytest.raises(ValueError, match="Too many elements provided"):
        get_variable("v", [2], initializer=init_ops.constant_initializer([1.0, 2.0, 3.0]))
    with pytest.raises(ValueError, match="floating point"):
        get_variable("n", [2], dtype=tf.int32, initializer=init_ops.random_normal_initializer())


# -- reuse flags -----------------------------------------------------------------------------------------

def test_seed003_reuse_is_inherited():
    with variable_scope("root"):
        assert get_variable_scope().reuse is False
        with variable_scope("foo"):
            assert get_variable_scope().reuse is False
        with variable_scope("foo", reuse=True):
            assert get_variable_scope().reuse is True
            with variable_scope("bar"):
                assert get_variable_scope().reuse is True
        assert get_variable_scope().reuse is False


def test_nested_reuse_false_cannot_undo_reuse():
    with variable_scope("a", reuse=True):
        with variable_scope("b", reuse=False):
            assert get_variable_scope().reuse is True
    with variable_scope("c", reuse=AUTO_REUSE):
        with variable_scope("d"):
            assert get_variable_scope().reuse is AUTO_REUSE
        with variable_scope("d", reuse=False):
            assert get_variable_scope().reuse is AUTO_REUSE
        with variable_scope("d", reuse=True):
            assert get_variable_scope().reuse is True


def test_auto_reuse_creates_then_returns():
    def foo():
        with variable_scope("foo", reuse=AUTO_REUSE):
            return get_variable("v", [1])

    v1, v2 = foo(), foo()
    assert v1 is v2 and v1.name == "foo/v:0"
    assert len(tf.global_variables()) == 1


def test_seed003_get_variable_scope_reuse_variables():
    with variable_scope("foo"):
        v = get_variable("v", [1])
        get_variable_scope().reuse_variables()
        v1 = get_variable("v", [1])
    assert v1 is v
    with variable_scope("foo"):  # reuse was set on that scope object only
        assert get_variable_scope().reuse is False


def test_invalid_reuse_values_are_rejected():
    with pytest.raises(ValueError, match="The reuse parameter must be True or False or None"):
        variable_scope("foo", reuse="yes")
    with pytest.raises(ValueError, match="reuse=True cannot be used without a name_or_scope"):
        with variable_scope(None, default_name="d", reuse=True):
            pass


def test_variable_scope_argument_type_errors():
    with pytest.raises(TypeError, match="If default_name is None then name_or_scope is required"):
        variable_scope(None)
    with pytest.raises(TypeError, match="name_or_scope must be a string or VariableScope"):
        variable_scope(3)
    with pytest.raises(TypeError, match="auxiliary_name_scope must be `True` or `False`"):
        variable_scope("foo", auxiliary_name_scope=1)


# -- names and name scopes --------------------------------------------------------------------------------

def test_seed003_name_scope_inside_variable_scope():
    with variable_scope("foo"):
        with tf.name_scope("bar"):
            v = get_variable("v", [1])
            x = 1.0 + v.initialized_value()
            w = tf.Variable(1.0, name="w")
    assert v.name == "foo/v:0"
    assert x.op.name == "foo/bar/add"
    assert w.name == "foo/bar/w:0"


def test_seed003_op_names_get_the_variable_scope_prefix():
    with variable_scope("foo"):
        x = 1.0 + get_variable("v", [1]).initialized_value()
    assert x.op.name == "foo/add"


def test_reopening_a_scope_opens_a_new_name_scope_but_the_same_variable_scope():
    with variable_scope("foo") as first:
        tf.Variable(1.0, name="a")
    with variable_scope("foo") as second:
        b = tf.Variable(1.0, name="b")
        c = get_variable("c", [1])
    assert (first.original_name_scope, second.original_name_scope) == ("foo/", "foo_1/")
    assert b.name == "foo_1/b:0" and c.name == "foo/c:0"


def test_get_variable_ignores_the_name_scope_and_keeps_its_exact_name():
    with tf.name_scope("ns"):
        with tf.name_scope("inner"):
            v = get_variable("v", [1])
            u = tf.Variable(1.0, name="u")
    assert v.name == "v:0" and u.name == "ns/inner/u:0"
    with variable_scope("s"):
        with tf.name_scope("x"):
            assert get_variable("w", [1]).name == "s/w:0"


def test_default_name_is_made_unique():
    with variable_scope(None, default_name="default"):
        a = get_variable("a", [1])
        assert get_variable_scope().name == "default"
    with variable_scope(None, default_name="default"):
        assert get_variable_scope().name == "default_1"
    with variable_scope(None, default_name="default"):
        assert get_variable_scope().name == "default_2"
    assert a.name == "default/a:0"


def test_default_name_counters_restart_when_the_parent_is_reentered():
    # TF's documented example.
    with variable_scope("foo") as vs:
        with variable_scope(None, default_name="bar"):
            assert get_variable("a", [1]).name == "foo/bar/a:0"
        with variable_scope(None, default_name="bar"):
            assert get_variable("b", [1]).name == "foo/bar_1/b:0"
    with variable_scope(vs):
        with variable_scope(None, default_name="bar"):
            assert get_variable("c", [1]).name == "foo/bar/c:0"


def test_reentering_a_captured_scope_keeps_its_name_and_settings():
    init = init_ops.constant_initializer(0.5)
    with variable_scope("outer"):
        with variable_scope("foo", initializer=init) as vs:
            v = get_variable("v", [1])
    with variable_scope("elsewhere"):
        with variable_scope(vs) as vs2:
            assert vs2.name == "outer/foo" and vs2.initializer is init
            w = get_variable("w", [1])
            with variable_scope("sub"):
                assert get_variable_scope().name == "outer/foo/sub"
        with variable_scope(vs, reuse=True):
            assert get_variable("v") is v
    assert w.name == "outer/foo/w:0"
    run_init()
    assert float(w.numpy()[0]) == 0.5


def test_reentering_without_an_auxiliary_name_scope():
    # TF's documented example of re-entering a premade scope.
    with variable_scope("foo") as vs:
        pass
    with tf.name_scope("elsewhere"):
        with variable_scope(vs, auxiliary_name_scope=False) as vs1:
            assert tf.get_default_graph().get_name_scope() == "elsewhere"
            with tf.name_scope(vs1.original_name_scope):
                v = get_variable("v", [1])
                c = tf.Variable(1.0, name="c")
    assert v.name == "foo/v:0" and c.name == "foo/c:0"


def test_improper_nesting_is_a_runtime_error():
    a = variable_scope("a")
    a.__enter__()
    b = variable_scope("b")
    b.__enter__()
    with pytest.raises(RuntimeError, match=r"^Improper nesting of variable_scope\.$"):
        a.__exit__(None, None, None)
    b.__exit__(None, None, None)
    a.__exit__(None, None, None)
    assert get_variable_scope().name == ""
    assert tf.get_default_graph().get_name_scope() == ""


def test_a_variable_scope_object_can_be_entered_again():
    cm = variable_scope("foo")
    with cm as s1:
        pass
    with cm as s2:
        assert get_variable_scope().name == "foo"
    assert s1.name == s2.name == "foo"


def test_variable_op_scope_is_a_deprecated_alias():
    with scopes.variable_op_scope([], None, "MyOp") as scope:
        c = get_variable("c", [1])
    with scopes.variable_op_scope([], "named") as named:
        pass
    assert scope.name == "MyOp" and c.name == "MyOp/c:0" and named.name == "named"


# -- scope settings ------------------------------------------------------------------------------------------

def test_scope_setters_and_properties():
    reg = scopes.no_regularizer
    part = partitioning.fixed_size_partitioner(2)
    with variable_scope("foo") as vs:
        vs.set_initializer(init_ops.ones_initializer())
        vs.set_regularizer(reg)
        vs.set_caching_device("/cpu:0")
        vs.set_partitioner(part)
        vs.set_dtype(tf.float64)
        vs.set_use_resource(False)
        getter = lambda getter, *a, **k: getter(*a, **k)  # noqa: E731
        vs.set_custom_getter(getter)
        assert (vs.regularizer, vs.caching_device, vs.partitioner, vs.dtype, vs.use_resource,
                vs.custom_getter) == (reg, "/cpu:0", part, tf.float64, False, getter)
        v = get_variable("v", [])  # a scalar ignores the partitioner
    assert v.dtype == np.float64 and v.caching_device == "/device:CPU:0"
    run_init()
    assert float(v.numpy()) == 1.0


def test_scope_dtype_is_inherited():
    with variable_scope("foo", dtype=tf.float64):
        with variable_scope("bar"):
            v = get_variable("v", [2])
        w = get_variable("w", [2], dtype=tf.float16)
    assert (v.dtype, w.dtype) == (np.float64, np.float16)


def test_scope_caching_device_accepts_a_device_function():
    seen = []

    def cache_fn(op):
        seen.append(op.name)
        return "/cpu:0"

    with variable_scope("foo", caching_device=cache_fn):
        v = get_variable("v", [2], initializer=init_ops.ones_initializer())
    assert seen == ["foo/v"] and v.caching_device == "/device:CPU:0"
    run_init()
    assert v.value() is v.value()  # reads come from the cached copy


def test_scope_collections_helpers():
    with variable_scope("foo") as vs:
        a = get_variable("a", [1])
        b = get_variable("b", [1], trainable=False)
        loc = scopes.get_local_variable("l", [1])
    get_variable("foobar", [1])
    assert vs.global_variables() == [a, b]
    assert vs.trainable_variables() == [a]
    assert vs.local_variables() == [loc]


def test_trainable_and_collections_arguments():
    v = get_variable("v", [1], trainable=False, collections=["mine", GraphKeys.GLOBAL_VARIABLES])
    assert v.trainable is False
    assert tf.get_collection("mine") == [v] and tf.trainable_variables() == []


def test_get_local_variable_is_local_and_never_trainable():
    v = scopes.get_local_variable("count", [], dtype=tf.int64, trainable=True)
    w = scopes.get_local_variable("extra", [1], collections=["mine"])
    assert tf.local_variables() == [v, w] and tf.global_variables() == []
    assert tf.trainable_variables() == [] and tf.get_collection("mine") == [w]
    tf.local_variables_initializer().run()
    assert int(v.numpy()) == 0


# -- regularizers ------------------------------------------------------------------------------------------------

def test_regularizer_loss_goes_to_regularization_losses():
    v = get_variable("v", [3], initializer=init_ops.constant_initializer(2.0), regularizer=lambda w: 0.5 * w * w)
    (loss,) = tf.get_collection(GraphKeys.REGULARIZATION_LOSSES)
    assert isinstance(loss, tf.Tensor) and loss.op.name.startswith("v/Regularizer/")
    with pytest.raises(errors.FailedPreconditionError, match="Attempting to use uninitialized value v"):
        np.asarray(loss)
    run_init()
    np.testing.assert_allclose(np.asarray(loss), [2.0, 2.0, 2.0])
    v.assign([1.0, 1.0, 1.0])
    np.testing.assert_allclose(np.asarray(loss), [0.5, 0.5, 0.5])  # the loss follows the variable


def test_eager_regularizer_runs_when_the_loss_is_evaluated():
    get_variable("v", [4], initializer=init_ops.constant_initializer(3.0),
                 regularizer=lambda w: 0.1 * tf.reduce_sum(tf.square(w)))
    (loss,) = tf.get_collection(GraphKeys.REGULARIZATION_LOSSES)
    run_init()
    assert float(np.asarray(loss)) == pytest.approx(3.6)
    with tf.Session() as sess:
        assert float(sess.run(loss)) == pytest.approx(3.6)


def test_scope_regularizer_and_no_regularizer():
    with variable_scope("foo", regularizer=lambda w: w * 2.0):
        get_variable("a", [1])
        get_variable("b", [1], regularizer=scopes.no_regularizer)
        get_variable("c", [1], regularizer=lambda w: None)
    losses = tf.get_collection(GraphKeys.REGULARIZATION_LOSSES)
    assert len(losses) == 1 and losses[0].op.name.startswith("foo/a/Regularizer/")


def test_regularizer_is_not_applied_on_reuse():
    with variable_scope("foo", regularizer=lambda w: w * 2.0):
        get_variable("a", [1])
    with variable_scope("foo", reuse=True):
        get_variable("a", [1])
    assert len(tf.get_collection(GraphKeys.REGULARIZATION_LOSSES)) == 1


# -- custom getters ------------------------------------------------------------------------------------------------

def test_custom_getter_can_rename():
    def custom_getter(getter, name, *args, **kwargs):
        return getter(name + "_suffix", *args, **kwargs)

    with variable_scope("foo", custom_getter=custom_getter):
        v = get_variable("v", [1])
    assert v.name == "foo/v_suffix:0"


def test_custom_getters_compose_outer_innermost():
    calls = []

    def make(tag):
        def getter(getter, name, *args, **kwargs):
            calls.append(tag)
            return getter(name + "_" + tag, *args, **kwargs)
        return getter

    with variable_scope("outer", custom_getter=make("o")):
        with variable_scope("inner", custom_getter=make("i")):
            v = get_variable("v", [1])
        w = get_variable("w", [1], custom_getter=make("x"))
    # The innermost getter runs first and calls the enclosing one, which calls the true getter.
    assert calls == ["i", "o", "x"]
    assert v.name == "outer/inner/v_i_o:0" and w.name == "outer/w_x:0"


def test_custom_getter_receives_every_argument():
    seen = {}

    def getter_with_constraint(getter, **kwargs):
        seen.update(kwargs)
        return getter(**kwargs)

    def old_style_getter(getter, name, shape=None, dtype=None, initializer=None, regularizer=None, reuse=None,
                         trainable=None, collections=None, caching_device=None, partitioner=None,
                         validate_shape=True, use_resource=None, synchronization=None, aggregation=None):
        return getter(name, shape=shape, dtype=dtype, initializer=initializer, reuse=reuse, trainable=trainable)

    get_variable("v", [2], custom_getter=getter_with_constraint, trainable=False)
    assert seen["name"] == "v" and seen["shape"] == [2] and seen["dtype"] == np.float32
    assert seen["trainable"] is False and seen["reuse"] is False and "constraint" in seen
    assert get_variable("w", [1], custom_getter=old_style_getter).name == "w:0"


def test_custom_getter_must_be_callable():
    with pytest.raises(ValueError, match="Passed a custom_getter which is not callable: 3"):
        get_variable("v", [1], custom_getter=3)


def test_constraint_is_applied_after_initialization():
    v = get_variable("v", [3], initializer=init_ops.constant_initializer(5.0),
                     constraint=lambda x: np.minimum(x, 1.0))
    run_init()
    assert v.numpy().tolist() == [1.0, 1.0, 1.0]


# -- seed 003: the image filter sharing pattern ----------------------------------------------------------------------

def conv_relu(input, kernel_shape, bias_shape):  # noqa: A002 - the seed's argument name
    # Create variable named "weights".
    weights = get_variable("weights", kernel_shape, initializer=init_ops.random_normal_initializer())
    # Create variable named "biases".
    biases = get_variable("biases", bias_shape, initializer=init_ops.constant_initializer(0.0))
    # Elementwise arithmetic stands in for conv2d. Execution is eager, so the
    # initialized values are read (TF1 would build the graph and fail at sess.run).
    conv = input * weights.initialized_value()
    return tf.nn.relu(conv + biases.initialized_value())


def my_image_filter(input_images):
    with variable_scope("conv1"):
        # Variables created here will be named "conv1/weights", "conv1/biases".
        relu1 = conv_relu(input_images, [5, 5, 32, 32], [32])
    with variable_scope("conv2"):
        # Variables created here will be named "conv2/weights", "conv2/biases".
        return conv_relu(relu1, [5, 5, 32, 32], [32])


def test_seed003_image_filter_shares_variables():
    image1 = np.random.default_rng(0).random((5, 5, 32, 32), dtype=np.float32)
    image2 = np.random.default_rng(1).random((5, 5, 32, 32), dtype=np.float32)
    with variable_scope("image_filters") as scope:
        result1 = my_image_filter(image1)
        scope.reuse_variables()
        result2 = my_image_filter(image2)
    names = sorted(v.op.name for v in tf.global_variables())
    assert names == ["image_filters/conv1/biases", "image_filters/conv1/weights",
                     "image_filters/conv2/biases", "image_filters/conv2/weights"]
    values = {v.op.name.split("/", 1)[1]: v.numpy() for v in tf.global_variables()}
    expected = np.maximum(np.maximum(image2 * values["conv1/weights"], 0) * values["conv2/weights"], 0)
    np.testing.assert_allclose(result2, expected, rtol=1e-6)
    assert result1.shape == result2.shape == (5, 5, 32, 32)


def test_seed003_image_filter_without_sharing_raises():
    image = np.ones((5, 5, 32, 32), np.float32)
    my_image_filter(image)
    with pytest.raises(ValueError, match="Variable conv1/weights already exists, disallowed"):
        my_image_filter(image)


def test_reading_a_new_variable_needs_initialization():
    with variable_scope("foo"):
        v = get_variable("v", [1])
    with pytest.raises(errors.FailedPreconditionError, match="Attempting to use uninitialized value foo/v"):
        _ = 1.0 + v


# -- threads and graphs ----------------------------------------------------------------------------------------------

def test_scope_stacks_are_thread_local_and_the_store_is_shared():
    seen = {}
    ready, done = threading.Event(), threading.Event()

    def worker():
        ready.wait(5)
        seen["scope"] = get_variable_scope().name
        with variable_scope("thread"):
            seen["var"] = get_variable("t", [1])
        with variable_scope("main_scope"):
            try:
                get_variable("m", [1])
            except ValueError as e:  # the store is shared by the graph's threads
                seen["error"] = str(e)
        done.set()

    t = threading.Thread(target=worker)
    t.start()
    with variable_scope("main_scope"):
        get_variable("m", [1])
        ready.set()
        done.wait(5)
        assert get_variable_scope().name == "main_scope"
    t.join(5)
    assert seen["scope"] == ""  # a new thread starts at the root scope
    assert seen["var"].name == "thread/t:0"
    assert "Variable main_scope/m already exists" in seen["error"]
    with variable_scope("thread", reuse=True):
        assert get_variable("t") is seen["var"]


def test_concurrent_auto_reuse_creates_one_variable():
    results = []
    barrier = threading.Barrier(8)

    def worker():
        barrier.wait(5)
        with variable_scope("shared", reuse=AUTO_REUSE):
            results.append(get_variable("v", [4]))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    assert len(results) == 8 and all(r is results[0] for r in results)
    assert len(tf.global_variables()) == 1


def test_store_and_scopes_reset_with_the_graph():
    with variable_scope("foo"):
        v = get_variable("v", [1])
    g = tf.Graph()
    with g.as_default():
        assert get_variable_scope().name == ""
        w = get_variable("foo/v", [1])  # a new graph has its own store
        assert w is not v and w.graph is g
    tf.reset_default_graph()
    with variable_scope("foo"):
        assert get_variable("v", [1]) is not v


def test_graph_as_default_inside_a_scope_starts_at_the_root():
    with variable_scope("foo"):
        with tf.Graph().as_default():
            assert get_variable_scope().name == ""
            assert get_variable("v", [1]).name == "v:0"
        assert get_variable_scope().name == "foo"


# -- the global step ------------------------------------------------------------------------------------------------

def test_get_or_create_global_step():
    assert scopes.get_global_step() is None
    step = scopes.get_or_create_global_step()
    assert step.name == "global_step:0" and step.dtype == np.int64 and step.shape == ()
    assert step.trainable is False
    assert tf.get_collection(GraphKeys.GLOBAL_STEP) == [step]
    assert step in tf.global_variables() and tf.trainable_variables() == []
    assert scopes.get_or_create_global_step() is step and scopes.get_global_step() is step
    with pytest.raises(ValueError, match='^"global_step" already exists.$'):
        scopes.create_global_step()
    run_init()
    assert int(step.numpy()) == 0
    step.assign_add(1)
    assert int(step.numpy()) == 1


def test_global_step_of_another_graph():
    g = tf.Graph()
    step = scopes.create_global_step(g)
    assert step.graph is g and scopes.get_global_step(g) is step
    assert scopes.get_global_step() is None


def test_global_step_found_by_name_and_checked():
    v = tf.Variable(np.int64(0), name="global_step", trainable=False)
    assert scopes.get_global_step() is v
    with tf.Graph().as_default():
        tf.Variable(0.0, name="global_step")
        with pytest.raises(TypeError, match='Existing "global_step" does not have integer type'):
            scopes.get_global_step()
    with tf.Graph().as_default():
        tf.add_to_collection(GraphKeys.GLOBAL_STEP, tf.Variable([1, 2], name="s"))
        with pytest.raises(TypeError, match='Existing "global_step" is not scalar'):
            scopes.get_global_step()
