"""gpuvars.dtypes: as_dtype's inputs and errors, the unavailable names (string, bfloat16 without ml_dtypes)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import gpuvars as tf
from gpuvars import dtypes

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.parametrize(
    "value, expected",
    [
        ("float32", np.float32),
        (np.float16, np.float16),
        (np.dtype("int64"), np.int64),
        (dtypes.complex64, np.complex64),
        ("bool", np.bool_),
        (bool, np.bool_),
        (float, np.float64),
    ],
)
def test_as_dtype_accepts_dtype_likes(value, expected):
    assert dtypes.as_dtype(value) == np.dtype(expected)


def test_as_dtype_accepts_objects_with_as_numpy_dtype():
    class TfLike:
        as_numpy_dtype = np.int32

    assert dtypes.as_dtype(TfLike()) == np.int32


def test_as_dtype_of_none_is_a_type_error_not_float64():
    # np.dtype(None) is float64; TF says "Cannot convert None to a dtype".
    with pytest.raises(TypeError, match=r"Cannot convert None to a dtype\. Expected a dtype such as 'float32'"):
        dtypes.as_dtype(None)


@pytest.mark.parametrize(
    "make",
    [
        lambda: tf.zeros([2], dtype=None),
        lambda: tf.ones([2], dtype=None),
        lambda: tf.random_normal([2], dtype=None),
        lambda: tf.random_uniform([2], dtype=None),
    ],
    ids=["zeros", "ones", "random_normal", "random_uniform"],
)
def test_ops_given_dtype_none_raise(make):
    with pytest.raises(TypeError, match="Cannot convert None to a dtype"):
        make()


@pytest.mark.parametrize("value", ["nope", 3.5, object()])
def test_as_dtype_rejects_non_dtypes_saying_what_was_expected(value):
    with pytest.raises(TypeError, match="Expected a dtype such as 'float32' or numpy.float32. Received: "):
        dtypes.as_dtype(value)


@pytest.mark.parametrize("value", ["float128" if hasattr(np, "float128") else "longdouble", object, "V4"])
def test_as_dtype_rejects_unsupported_numpy_dtypes(value):
    with pytest.raises(TypeError, match=r"Expected one of the supported dtypes \(float16, float32"):
        dtypes.as_dtype(value)


def test_string_is_an_unavailable_dtype():
    s = dtypes.string
    assert isinstance(s, dtypes.UnavailableDtype) and s.name == "string"
    assert "string dtypes are not supported" in repr(s)
    message = "gpuvars variables hold numbers; string dtypes are not supported"
    for value in (s, "string"):
        with pytest.raises(TypeError, match=message):
            dtypes.as_dtype(value)
    for value in (str, bytes, "U5", "S3"):  # NumPy's string dtypes get the same reason
        with pytest.raises(TypeError, match=message):
            dtypes.as_dtype(value)
    with pytest.raises(TypeError, match=message):
        np.dtype(s)  # NumPy reads the ``dtype`` attribute: never a silent fallback
    with pytest.raises(TypeError, match=message):
        tf.zeros([2], dtype=s)
    with pytest.raises(TypeError, match=message):
        tf.Variable([1.0], dtype=s)
    with pytest.raises(TypeError, match=message):
        dtypes.kernel_suffix(s)


def test_supported_holds_numpy_dtypes_only():
    assert all(isinstance(d, np.dtype) for d in dtypes.SUPPORTED)
    assert len(set(dtypes.SUPPORTED)) == len(dtypes.SUPPORTED)
    assert np.dtype(np.float64) in dtypes.SUPPORTED and np.dtype(np.complex128) in dtypes.SUPPORTED
    assert dtypes.string not in dtypes.SUPPORTED
    assert (dtypes.bfloat16 in dtypes.SUPPORTED) == dtypes.HAS_BFLOAT16
    assert dtypes.HAS_BFLOAT16 == (importlib.util.find_spec("ml_dtypes") is not None)


def test_dtype_predicates_and_suffixes_do_not_touch_an_unavailable_bfloat16():
    for dt in dtypes.SUPPORTED:
        dtypes.is_floating(dt)
        dtypes.is_integer(dt)
        dtypes.is_complex(dt)
        assert isinstance(dtypes.kernel_suffix(dt), str)
    assert dtypes.is_floating(dtypes.float32) and not dtypes.is_floating(dtypes.int32)
    assert dtypes.kernel_suffix("float32") == "f32"


@pytest.mark.skipif(dtypes.HAS_BFLOAT16, reason="ml_dtypes is installed")
def test_bfloat16_without_ml_dtypes_is_a_clear_type_error():
    bf = dtypes.bfloat16
    assert isinstance(bf, dtypes.UnavailableDtype) and bf.name == "bfloat16"
    message = "bfloat16 needs the ml_dtypes package: pip install ml_dtypes"
    for value in (bf, "bfloat16"):
        with pytest.raises(TypeError, match=message):
            dtypes.as_dtype(value)
    with pytest.raises(TypeError, match=message):
        np.zeros(2, bf)
    with pytest.raises(TypeError, match=message):
        tf.zeros([2], dtype=bf)
    with pytest.raises(TypeError, match=message):
        tf.Variable([1.0], dtype=bf)
    with pytest.raises(TypeError, match=message):
        dtypes.kernel_suffix(bf)


@pytest.mark.skipif(not dtypes.HAS_BFLOAT16, reason="ml_dtypes is not installed")
def test_bfloat16_with_ml_dtypes_is_the_real_dtype():
    bf = dtypes.bfloat16
    assert isinstance(bf, np.dtype) and bf.name == "bfloat16"
    assert dtypes.as_dtype("bfloat16") == bf and dtypes.as_dtype(bf) == bf
    assert dtypes.is_floating(bf) and dtypes.kernel_suffix(bf) == "bf16"


def test_bfloat16_is_unavailable_when_ml_dtypes_cannot_be_imported():
    # Whatever this environment has: hide ml_dtypes and check the fallback in a fresh interpreter.
    code = textwrap.dedent(
        """
        import sys
        sys.modules["ml_dtypes"] = None  # import ml_dtypes now raises ImportError
        import numpy as np
        from gpuvars import dtypes
        assert not dtypes.HAS_BFLOAT16
        assert isinstance(dtypes.bfloat16, dtypes.UnavailableDtype)
        assert all(isinstance(d, np.dtype) for d in dtypes.SUPPORTED) and len(dtypes.SUPPORTED) == 14
        try:
            dtypes.as_dtype(dtypes.bfloat16)
        except TypeError as e:
            print(e)
        print(dtypes.is_floating(dtypes.float16), dtypes.kernel_suffix(dtypes.float16))
        """
    )
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["bfloat16 needs the ml_dtypes package: pip install ml_dtypes", "True f16"]
