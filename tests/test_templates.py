"""make_template (SPEC §5): the first call creates, later calls reuse, checked against TensorFlow 1.x."""

from __future__ import annotations

import numpy as np
import pytest

import gpuvars as tf
from gpuvars import init_ops
from gpuvars.scopes import Template, get_variable, get_variable_scope, make_template, variable_scope


def run_init():
    tf.global_variables_initializer().run()


def my_op(x, scalar_name):
    var1 = get_variable(scalar_name, shape=[], initializer=init_ops.constant_initializer(1))
    return x * var1.initialized_value()


def names():
    return [v.name for v in tf.global_variables()]


# -- seed 002's examples ------------------------------------------------------------------------------

def test_seed002_both_calls_share_the_same_variable():
    scale_by_y = make_template("scale_by_y", my_op, scalar_name="y")
    input1, input2 = np.float32(2.0), np.float32(3.0)
    z = scale_by_y(input1)
    w = scale_by_y(input2)
    assert names() == ["scale_by_y/y:0"]
    assert isinstance(scale_by_y, Template)
    assert scale_by_y.variable_scope_name == "scale_by_y/" and scale_by_y.variable_scope.name == "scale_by_y"
    assert (float(np.asarray(z)), float(np.asarray(w))) == (2.0, 3.0)
    # Ops of the first call live in the template's name scope, later calls in a new one (TF names them so).
    assert (z.op.name, w.op.name) == ("scale_by_y/mul", "scale_by_y_1/mul")


def test_seed002_reentering_the_definition_scope_reuses_the_template_variables():
    with variable_scope("scope") as vs:
        scale_by_y = make_template("scale_by_y", my_op, scalar_name="y")
        scale_by_y(1.0)
        scale_by_y(2.0)
    # Creates a template that reuses the variables above.
    with variable_scope(vs, reuse=True):
        scale_by_y2 = make_template("scale_by_y", my_op, scalar_name="y")
        z2 = scale_by_y2(1.0)
        w2 = scale_by_y2(2.0)
    assert names() == ["scope/scale_by_y/y:0"]
    assert scale_by_y2.trainable_variables == scale_by_y.trainable_variables
    assert (float(np.asarray(z2)), float(np.asarray(w2))) == (1.0, 2.0)


def test_two_templates_are_unique():
    t1 = make_template("scale_by_y", my_op, scalar_name="y")
    t2 = make_template("scale_by_y", my_op, scalar_name="y")
    t1(1.0)
    t2(1.0)
    t1(1.0)
    assert names() == ["scale_by_y/y:0", "scale_by_y_1/y:0"]
    assert t2.variable_scope_name == "scale_by_y_1/"


def test_names_depending_on_call_arguments_fail_on_reuse():
    def bad_op(x, name):
        return x * get_variable(name, [], initializer=init_ops.ones_initializer()).initialized_value()

    t = make_template("t", bad_op)
    t(1.0, "a")
    with pytest.raises(ValueError, match="Variable t/b does not exist, or was not created with get_variable"):
        t(1.0, "b")


# -- the Variable() guard ------------------------------------------------------------------------------

def test_trainable_variable_created_on_a_later_call_raises():
    def bad(x):
        v = tf.Variable(1.0, name="bad")
        return x * v.initialized_value()

    tb = make_template("tb", bad)
    tb(1.0)
    with pytest.raises(ValueError) as info:
        tb(1.0)
    msg = str(info.value)
    assert msg.startswith(
        "Trainable variable created when calling a template after the first time, perhaps you used tf.Variable "
        "when you meant tf.get_variable: [<gpuvars.Variable 'tb_1/bad:0'"
    )
    assert "originally defined at" in msg and "test_templates.py" in msg


def test_non_trainable_variable_on_a_later_call_is_allowed():
    def counter(x):
        c = tf.Variable(0, name="calls", trainable=False)
        return x + c.initialized_value()

    t = make_template("t", counter)
    t(1)
    assert int(np.asarray(t(1))) == 1
    assert [v.name for v in tf.global_variables()] == ["t/calls:0", "t_1/calls:0"]
    assert t.non_trainable_variables == [tf.global_variables()[0]]


# -- scope capture ----------------------------------------------------------------------------------------

def test_scope_is_captured_where_the_template_is_first_called():
    t = make_template("tmpl", my_op, scalar_name="y")
    assert t.variable_scope is None and t.variable_scope_name is None and t.variables == []
    with variable_scope("first"):
        t(1.0)
    with variable_scope("second"):
        t(2.0)
    assert names() == ["first/tmpl/y:0"]


def test_create_scope_now_captures_the_scope_at_construction():
    with variable_scope("outer"):
        t = make_template("now", my_op, create_scope_now_=True, scalar_name="y")
    assert t.variable_scope.name == "outer/now" and t.variables == []
    with variable_scope("elsewhere"):
        t(1.0)
    t(2.0)
    assert names() == ["outer/now/y:0"]
    assert [v.name for v in t.variables] == ["outer/now/y:0"]
    # The scope name was taken when the template was made: a second one is unique.
    with variable_scope("outer"):
        assert make_template("now", my_op, create_scope_now_=True, scalar_name="y").variable_scope.name == \
            "outer/now_1"


def test_unique_name_is_used_as_is():
    t1 = make_template("x", my_op, unique_name_="uniq", scalar_name="y")
    t1(1.0)
    assert t1.variable_scope_name == "uniq/" and names() == ["uniq/y:0"]


def test_custom_getter_applies_to_the_template_scope():
    def cg(getter, name, *args, **kwargs):
        return getter(name + "_s", *args, **kwargs)

    t = make_template("cg", my_op, custom_getter_=cg, scalar_name="y")
    t(1.0)
    t(1.0)
    assert [v.name for v in t.trainable_variables] == ["cg/y_s:0"]


def test_name_is_required():
    with pytest.raises(ValueError, match="^name cannot be None.$"):
        make_template(None, my_op)


def test_nested_templates_share_through_the_outer_one():
    def two(x):
        a = get_variable("a", [], initializer=init_ops.ones_initializer())
        b = get_variable("b", [], initializer=init_ops.zeros_initializer())
        return x * a.initialized_value() + b.initialized_value()

    inner = make_template("inner", two)
    outer = make_template("outer", lambda x: inner(x))
    outer(1.0)
    outer(2.0)
    assert [v.name for v in outer.variables] == ["outer/inner/a:0", "outer/inner/b:0"]
    assert names() == ["outer/inner/a:0", "outer/inner/b:0"]


def test_failed_first_call_is_retried_as_a_first_call():
    attempts = []

    def flaky(x):
        v = get_variable("v", [], initializer=init_ops.ones_initializer())
        attempts.append(v)
        if len(attempts) == 1:
            raise RuntimeError("boom")
        return x * v.initialized_value()

    t = make_template("flaky", flaky)
    with pytest.raises(RuntimeError, match="boom"):
        t(1.0)
    # The scope exists and the variable too: the retry runs as a first call again (no reuse), as TF.
    with pytest.raises(ValueError, match="Variable flaky/v already exists"):
        t(1.0)


def test_template_variable_lists():
    def f(x):
        w = get_variable("w", [2], initializer=init_ops.ones_initializer())
        s = get_variable("steps", [], dtype=tf.int64, trainable=False)
        loc = tf.Variable(0.0, name="loc", trainable=False, collections=[tf.GraphKeys.LOCAL_VARIABLES])
        return w, s, loc

    t = make_template("f", f)
    w, s, loc = t(1.0)
    assert t.trainable_variables == [w] == t.trainable_weights
    assert t.global_variables == [w, s]
    assert t.non_trainable_variables == [s] == t.non_trainable_weights
    assert t.local_variables == [loc]
    assert t.variables == [w, s, loc] == t.weights
    assert t.name == "f" and callable(t.func)


def test_kwargs_are_bound_and_reuse_is_restored_after_calls():
    t = make_template("scale", my_op, scalar_name="k")
    t(1.0)
    t(1.0)
    assert get_variable_scope().reuse is False and get_variable_scope().name == ""
    run_init()
    assert names() == ["scale/k:0"]
