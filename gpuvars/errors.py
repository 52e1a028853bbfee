"""TensorFlow-named runtime errors (SPEC §15).

Bad arguments raise ``ValueError``/``TypeError`` as TensorFlow does; runtime
conditions raise the ``OpError`` subclasses below. Every message says what was
expected and what was found.
"""

from __future__ import annotations

__all__ = [
    "OpError",
    "CancelledError",
    "UnknownError",
    "InvalidArgumentError",
    "NotFoundError",
    "AlreadyExistsError",
    "PermissionDeniedError",
    "FailedPreconditionError",
    "OutOfRangeError",
    "UnimplementedError",
    "InternalError",
    "UnavailableError",
    "DataLossError",
    "ResourceExhaustedError",
    "AbortedError",
    "DeadlineExceededError",
    "ShapeMismatchError",
]

# TensorFlow's error codes (tensorflow/core/protobuf/error_codes.proto).
OK = 0
CANCELLED = 1
UNKNOWN = 2
INVALID_ARGUMENT = 3
DEADLINE_EXCEEDED = 4
NOT_FOUND = 5
ALREADY_EXISTS = 6
PERMISSION_DENIED = 7
RESOURCE_EXHAUSTED = 8
FAILED_PRECONDITION = 9
ABORTED = 10
OUT_OF_RANGE = 11
UNIMPLEMENTED = 12
INTERNAL = 13
UNAVAILABLE = 14
DATA_LOSS = 15


class OpError(Exception):
    """Base class for runtime errors, as ``tf.errors.OpError``.

    Attributes:
      message: the human-readable message.
      op: the operation (or variable) name involved, when known, else None.
      node_def: always None (kept for TensorFlow compatibility).
      error_code: TensorFlow's numeric error code.
    """

    error_code = UNKNOWN

    def __init__(self, node_def=None, op=None, message: str = "", error_code=None):
        # TF's signature is (node_def, op, message); also accept OpError("msg").
        if message == "" and isinstance(node_def, str) and op is None:
            message, node_def = node_def, None
        super().__init__(message)
        self.message = message
        self.node_def = node_def
        self.op = op
        if error_code is not None:
            self.error_code = error_code

    def __str__(self) -> str:
        return self.message

    def __reduce__(self):
        return (type(self), (self.node_def, self.op, self.message, self.error_code))


class CancelledError(OpError):
    """An operation was cancelled."""

    error_code = CANCELLED


class UnknownError(OpError):
    """An unknown error."""

    error_code = UNKNOWN


class InvalidArgumentError(OpError):
    """An argument had an invalid value (shape, index, device)."""

    error_code = INVALID_ARGUMENT


class DeadlineExceededError(OpError):
    """A deadline expired."""

    error_code = DEADLINE_EXCEEDED


class NotFoundError(OpError):
    """A requested entity (file, checkpoint key) was not found."""

    error_code = NOT_FOUND


class AlreadyExistsError(OpError):
    """An entity already exists."""

    error_code = ALREADY_EXISTS


class PermissionDeniedError(OpError):
    """Permission denied."""

    error_code = PERMISSION_DENIED


class ResourceExhaustedError(OpError):
    """A resource (such as GPU memory) was exhausted."""

    error_code = RESOURCE_EXHAUSTED


class FailedPreconditionError(OpError):
    """The system is not in a state to run the operation (uninitialized)."""

    error_code = FAILED_PRECONDITION


class AbortedError(OpError):
    """An operation was aborted."""

    error_code = ABORTED


class OutOfRangeError(OpError):
    """An operation went past a valid range (count_up_to)."""

    error_code = OUT_OF_RANGE


class UnimplementedError(OpError):
    """The operation is not implemented here."""

    error_code = UNIMPLEMENTED


class InternalError(OpError):
    """An internal invariant was broken."""

    error_code = INTERNAL


class UnavailableError(OpError):
    """A service (such as a parameter server) is unavailable."""

    error_code = UNAVAILABLE


class DataLossError(OpError):
    """Unrecoverable data loss or corruption (bad checkpoint)."""

    error_code = DATA_LOSS


class ShapeMismatchError(InvalidArgumentError, ValueError):
    """A value of the wrong shape: an ``InvalidArgumentError`` that is also a ``ValueError``.

    TensorFlow raises ``ValueError`` at graph construction and
    ``InvalidArgumentError`` at run time for the same mistake; SPEC §2 allows
    either, so this class is both.
    """
