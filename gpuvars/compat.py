"""Small TF1 names that porting code reaches for around variables.

Execution is eager, so ``group``/``no_op`` are Operations that run what they
hold, ``control_dependencies`` orders nothing (everything already ran in
program order), and ``ConfigProto``/``GPUOptions`` only record their fields
(placement settings live in ``gpuvars.config``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from gpuvars.graph import get_default_graph
from gpuvars.tensor import Operation

__all__ = ["ConfigProto", "GPUOptions", "group", "no_op", "identity", "control_dependencies"]


class _Proto:
    """Keyword fields, readable as attributes; unknown fields are kept too."""

    def __init__(self, **fields: Any):
        for key, value in fields.items():
            setattr(self, key, value)

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({inner})"


class GPUOptions(_Proto):
    """``tf.GPUOptions(allow_growth=True, ...)``: accepted and recorded."""


class ConfigProto(_Proto):
    """``tf.ConfigProto(allow_soft_placement=True, ...)`` for ``Session(config=...)``.

    ``allow_soft_placement`` is honoured by ``Session`` (it sets
    ``gpuvars.config.set_soft_device_placement``); other fields are recorded.
    """

    def __init__(self, allow_soft_placement: bool | None = None, log_device_placement: bool = False,
                 gpu_options: GPUOptions | None = None, **fields: Any):
        super().__init__(allow_soft_placement=allow_soft_placement, log_device_placement=log_device_placement,
                         gpu_options=gpu_options or GPUOptions(), **fields)


def _run_all(items: tuple[Any, ...]) -> None:
    for item in items:
        if isinstance(item, (list, tuple)):
            _run_all(tuple(item))
        elif hasattr(item, "run") and callable(item.run):
            item.run()


def group(*inputs: Any, name: str | None = None) -> Operation:
    """An Operation that runs every Operation among ``inputs`` (values and variables are already computed)."""
    graph = get_default_graph()
    return Operation(graph.unique_name(name or "group_deps"), lambda: _run_all(inputs), graph, "NoOp", inputs)


def no_op(name: str | None = None) -> Operation:
    graph = get_default_graph()
    return Operation(graph.unique_name(name or "NoOp"), None, graph, "NoOp")


def identity(value: Any, name: str | None = None) -> Any:
    """The value itself (a Variable's current value, read on its device)."""
    if hasattr(value, "_gv_read_for_conversion"):
        return value.read_value()
    return value


@contextlib.contextmanager
def control_dependencies(control_inputs: Any) -> Iterator[None]:
    """Eager execution runs ops in program order, so there is nothing to add; accepted for TF1 code."""
    yield
