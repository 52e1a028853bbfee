"""DeviceSpec, device() scopes, the registry, soft and strict placement (SPEC §1)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import gpuvars as tf
from gpuvars import config, devices, errors
from gpuvars.devices import DeviceSpec

PARSE_TABLE = [
    ("/cpu:0", DeviceSpec(device_type="CPU", device_index=0), "/device:CPU:0"),
    ("/CPU:0", DeviceSpec(device_type="CPU", device_index=0), "/device:CPU:0"),
    ("/gpu:1", DeviceSpec(device_type="GPU", device_index=1), "/device:GPU:1"),
    ("/device:GPU:1", DeviceSpec(device_type="GPU", device_index=1), "/device:GPU:1"),
    ("/device:gpu:1", DeviceSpec(device_type="GPU", device_index=1), "/device:GPU:1"),
    ("GPU:1", DeviceSpec(device_type="GPU", device_index=1), "/device:GPU:1"),
    ("gpu", DeviceSpec(device_type="GPU"), "/device:GPU:*"),
    ("/device:CPU:*", DeviceSpec(device_type="CPU"), "/device:CPU:*"),
    ("/job:ps/task:7", DeviceSpec(job="ps", task=7), "/job:ps/task:7"),
    (
        "/job:worker/replica:0/task:1/device:GPU:0",
        DeviceSpec("worker", 0, 1, "GPU", 0),
        "/job:worker/replica:0/task:1/device:GPU:0",
    ),
    ("/job:ps/replica:1/task:2/cpu:3", DeviceSpec("ps", 1, 2, "CPU", 3), "/job:ps/replica:1/task:2/device:CPU:3"),
    ("", DeviceSpec(), ""),
]


@pytest.mark.parametrize("text,spec,canonical", PARSE_TABLE)
def test_parse_table(text, spec, canonical):
    parsed = DeviceSpec.from_string(text)
    assert parsed == spec
    assert parsed.to_string() == canonical
    assert DeviceSpec.from_string(canonical) == parsed


@pytest.mark.parametrize("bad,name", [("/tpu:0", "tpu"), ("/job:ps/foo:1", "foo"), ("/blah", "blah")])
def test_unknown_attribute_is_named(bad, name):
    with pytest.raises(ValueError, match=f"Unknown attribute '{name}'"):
        DeviceSpec.from_string(bad)


def test_bad_index_and_multiple_types():
    with pytest.raises(ValueError, match="integer index"):
        DeviceSpec.from_string("/gpu:x")
    with pytest.raises(ValueError, match="Multiple device types"):
        DeviceSpec.from_string("/cpu:0/gpu:0")
    with pytest.raises(TypeError):
        DeviceSpec.from_string(3)


def test_merge_inner_wins_field_by_field():
    outer = DeviceSpec.from_string("/job:ps/task:1/device:CPU:0")
    merged = outer.make_merged_spec(DeviceSpec.from_string("/gpu:2"))
    assert merged.to_string() == "/job:ps/task:1/device:GPU:2"
    assert outer.make_merged_spec("/task:3").to_string() == "/job:ps/task:3/device:CPU:0"
    assert merged.replace(task=None).to_string() == "/job:ps/device:GPU:2"


def test_device_scopes_merge_and_clear():
    with tf.device("/job:ps"):
        with tf.device("/task:2"):
            assert devices.current_device_string() == "/job:ps/task:2"
            with tf.device("/cpu:0"):
                assert devices.current_device_string() == "/job:ps/task:2/device:CPU:0"
            with tf.device(None):
                assert devices.current_device_string() == ""
    assert devices.current_device_string() == ""


def test_device_function_receives_op_and_is_merged():
    seen = []

    def fn(op):
        seen.append((op.name, op.type))
        return "/cpu:0"

    with tf.device(fn):
        v = tf.Variable([1.0, 2.0], name="placed")
    assert seen == [("placed", "VariableV2")]
    assert v.device == "/device:CPU:0"


def test_device_function_returning_none_keeps_scope():
    with tf.device("/cpu:0"), tf.device(lambda op: None):
        v = tf.Variable(1.0)
    assert v.device == "/device:CPU:0"


def test_cpu_placement_and_canonical_name():
    with tf.device("/cpu:0"):
        v = tf.Variable(np.zeros(3))
    v.initializer.run()
    assert v.device == "/device:CPU:0"
    assert isinstance(v.value(), np.ndarray)


def test_list_devices_records():
    records = tf.list_devices()
    assert records[0].name == "/device:CPU:0"
    assert records[0].kind == "cpu" and records[0].index == 0
    for r in records[1:]:
        assert r.kind in ("cuda", "emulated_gpu")
        assert r.name == f"/device:GPU:{r.index}"


def test_default_placement_without_gpu(no_gpus):
    v = tf.Variable(1.0)
    assert v.device == "/device:CPU:0"


def test_default_placement_with_emulated_gpus(emulated_gpus):
    v = tf.Variable(1.0)
    assert v.device == "/device:GPU:0"
    assert [d.name for d in tf.list_devices()] == ["/device:CPU:0", "/device:GPU:0", "/device:GPU:1"]
    assert {d.kind for d in tf.list_devices()[1:]} == {"emulated_gpu"}


def test_soft_placement_warns_once_per_device(no_gpus):
    with pytest.warns(devices.SoftPlacementWarning, match="/device:GPU:7"):
        with tf.device("/gpu:7"):
            a = tf.Variable(1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with tf.device("/gpu:7"):
            b = tf.Variable(2.0)
    assert a.device == b.device == "/device:CPU:0"
    assert issubclass(devices.SoftPlacementWarning, UserWarning)


def test_strict_placement_names_device_and_existing(no_gpus):
    config.set_soft_device_placement(False)
    with pytest.raises(errors.InvalidArgumentError) as info:
        with tf.device("/gpu:7"):
            tf.Variable(1.0)
    msg = str(info.value)
    assert "/device:GPU:7" in msg and "/device:CPU:0" in msg


def test_strict_placement_with_emulated_gpus(emulated_gpus):
    config.set_soft_device_placement(False)
    with tf.device("/gpu:1"):
        v = tf.Variable([1.0])
    assert v.device == "/device:GPU:1"
    with pytest.raises(errors.InvalidArgumentError, match="GPU:5.*/device:GPU:1"):
        with tf.device("/gpu:5"):
            tf.Variable(1.0)


def test_set_emulated_gpus_validates_and_refuses_when_in_use():
    with pytest.raises(ValueError, match="non-negative int"):
        config.set_emulated_gpus(-1)
    with pytest.raises(ValueError):
        config.set_emulated_gpus(1.5)
    with tf.device("/gpu:0"):
        v = tf.Variable(1.0)
    n = config.get_emulated_gpus()
    if v.device.startswith("/device:GPU"):
        with pytest.raises(RuntimeError, match="before any variable"):
            config.set_emulated_gpus(n + 1)
    del v
    tf.reset_default_graph()  # the graph held the variable: once dropped, the GPU set may change
    config.set_emulated_gpus(n + 1)
    assert len(tf.list_devices()) == n + 2
    config.set_emulated_gpus(n)


def test_env_variable_is_validated(monkeypatch):
    monkeypatch.setenv("GPUVARS_EMULATED_GPUS", "two")
    with pytest.raises(ValueError, match="GPUVARS_EMULATED_GPUS"):
        config._env_int("GPUVARS_EMULATED_GPUS")


def test_failed_backend_start_is_remembered(no_gpus):
    def broken():
        raise RuntimeError("driver too old")

    saved = dict(devices._factories)
    try:
        devices.register_backend_factory("gpu", broken)
        config.set_soft_device_placement(False)
        with pytest.raises(errors.InvalidArgumentError, match="driver too old"):
            with tf.device("/gpu:0"):
                tf.Variable(1.0)
    finally:
        devices._factories.clear()
        devices._factories.update(saved)
        devices._reset_registry()


def test_device_scope_is_thread_local():
    import threading

    seen = []
    with tf.device("/cpu:0"):
        t = threading.Thread(target=lambda: seen.append(devices.current_device_string()))
        t.start()
        t.join()
    assert seen == [""]


def test_device_spec_v1_api():
    d = DeviceSpec.from_string("/gpu:0")
    d.job = "ps"
    d.device_type = "cpu"
    assert d.to_string() == "/job:ps/device:CPU:0"
    d.merge_from("/task:3/gpu:1")
    assert d.to_string() == "/job:ps/task:3/device:GPU:1"
    assert d.parse_from_string("/cpu:2") is d and d.to_string() == "/device:CPU:2"
    assert DeviceSpec.from_string(None) == DeviceSpec()
    assert {DeviceSpec.from_string("/gpu:0"): 1}[DeviceSpec.from_string("/device:GPU:0")] == 1


def test_device_functions_apply_innermost_first_as_tf():
    seen = []

    def fn(op):
        seen.append(op.device)
        return "/job:ps/task:1"

    with tf.device(fn):
        with tf.device("/cpu:0"):
            assert devices.current_device_string() == "/job:ps/task:1"
    assert seen == ["/device:CPU:0"]
    with tf.device("/gpu:0"), tf.device(lambda op: op.device + "/task:4" if op.device else "/task:4"):
        assert devices.current_device_string() == "/task:4/device:GPU:0"


def test_malformed_env_variable_is_an_error(monkeypatch):
    monkeypatch.setenv("GPUVARS_EMULATED_GPUS", "abc")
    saved = config._emulated_gpus
    try:
        config._emulated_gpus = None
        devices._reset_registry()
        with pytest.raises(ValueError, match="GPUVARS_EMULATED_GPUS"):
            tf.list_devices()
    finally:
        config._emulated_gpus = saved
        devices._reset_registry()
