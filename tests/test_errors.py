"""gpuvars.errors: TF-named OpError subclasses (SPEC §15)."""

from __future__ import annotations

import pickle

import pytest

from gpuvars import errors

NAMES = [
    "InvalidArgumentError", "NotFoundError", "AlreadyExistsError", "FailedPreconditionError", "OutOfRangeError",
    "UnavailableError", "DataLossError", "UnimplementedError", "ResourceExhaustedError",
]


@pytest.mark.parametrize("name", NAMES)
def test_subclasses_of_op_error(name):
    cls = getattr(errors, name)
    err = cls(None, "my_op", "something went wrong")
    assert isinstance(err, errors.OpError) and isinstance(err, Exception)
    assert err.message == "something went wrong" and str(err) == "something went wrong"
    assert err.op == "my_op" and err.node_def is None
    again = pickle.loads(pickle.dumps(err))
    assert type(again) is cls and again.message == err.message and again.op == "my_op"


def test_error_codes_match_tensorflow():
    assert errors.InvalidArgumentError.error_code == 3
    assert errors.NotFoundError.error_code == 5
    assert errors.FailedPreconditionError.error_code == 9
    assert errors.OutOfRangeError.error_code == 11
    assert errors.DataLossError.error_code == 15


def test_message_only_constructor():
    err = errors.NotFoundError("Key x not found in checkpoint")
    assert err.message == "Key x not found in checkpoint" and err.op is None
