"""``Graph``: collections, the name registry and name scopes (SPEC §4).

Execution is eager; a graph only records what TensorFlow 1.x code asks of it:
which variables exist (collections), which names are taken, the graph-level
random seed, and the state of ``variable_scope``/``get_variable``.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Iterator
from typing import Any

__all__ = [
    "Graph",
    "GraphKeys",
    "get_default_graph",
    "reset_default_graph",
    "add_to_collection",
    "add_to_collections",
    "get_collection",
    "get_collection_ref",
    "global_variables",
    "all_variables",
    "trainable_variables",
    "local_variables",
    "model_variables",
    "moving_average_variables",
    "name_scope",
]

_VALID_OP_NAME = re.compile(r"^[A-Za-z0-9.][A-Za-z0-9_.\\/>-]*$")
_VALID_SCOPED_NAME = re.compile(r"^[A-Za-z0-9_.\\/>-]*$")


def check_op_name(name: object, scoped: bool = False) -> str:
    """TF's op-name rule (a name inside a scope may also start with ``_``); raises ``TypeError``/``ValueError``."""
    if not isinstance(name, str):
        raise TypeError(f"Expected a string name. Received {name!r} of type {type(name).__name__}.")
    if not (_VALID_SCOPED_NAME if scoped else _VALID_OP_NAME).match(name):
        raise ValueError(
            f"'{name}' is not a valid scope name: expected letters, digits and '._-/>' "
            "(starting with a letter, digit or '.'), and no ':'."
        )
    return name


class GraphKeys:
    """Standard collection names, as ``tf.GraphKeys``."""

    GLOBAL_VARIABLES = "variables"
    VARIABLES = GLOBAL_VARIABLES
    LOCAL_VARIABLES = "local_variables"
    METRIC_VARIABLES = "metric_variables"
    MODEL_VARIABLES = "model_variables"
    TRAINABLE_VARIABLES = "trainable_variables"
    MOVING_AVERAGE_VARIABLES = "moving_average_variables"
    REGULARIZATION_LOSSES = "regularization_losses"
    GLOBAL_STEP = "global_step"
    SAVERS = "savers"
    SUMMARIES = "summaries"
    INIT_OP = "init_op"
    LOCAL_INIT_OP = "local_init_op"
    READY_OP = "ready_op"
    UPDATE_OPS = "update_ops"
    LOSSES = "losses"
    CONCATENATED_VARIABLES = "concatenated_variables"


class _NameScopeState(threading.local):
    stack = ""


class Graph:
    """Holds collections, the name registry and scope state of one model.

    Example:
      >>> g = gpuvars.Graph()
      >>> with g.as_default():
      ...     v = gpuvars.Variable(1.0)
      >>> v.graph is g
      True
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._collections: dict[str, list[Any]] = {}
        self._names_in_use: dict[str, int] = {}
        self._ops_by_name: dict[str, Any] = {}
        self._name_scope_state = _NameScopeState()
        self._last_id = 0
        self.seed: int | None = None
        self._finalized = False
        # Per-thread variable_scope stacks and the get_variable store live in gpuvars.scopes;
        # they hang off the graph so that they reset with it.
        self._scope_state: Any = None
        self._var_store: Any = None

    # -- ids and seeds ---------------------------------------------------
    def _next_id(self) -> int:
        with self._lock:
            self._last_id += 1
            return self._last_id

    def _next_op_seed(self) -> int:
        """The op seed TF derives from the graph when only the graph seed is set."""
        return self._next_id()

    # -- names -------------------------------------------------------------
    @property
    def _name_stack(self) -> str:
        return self._name_scope_state.stack

    @_name_stack.setter
    def _name_stack(self, value: str) -> None:
        self._name_scope_state.stack = value

    def get_name_scope(self) -> str:
        return self._name_stack

    def _check_not_finalized(self) -> None:
        if self._finalized:
            raise RuntimeError("Graph is finalized and cannot be modified.")

    def unique_name(self, name: str, mark_as_used: bool = True) -> str:
        """``name`` under the current name scope, made unique with ``_1``, ``_2`` (TF's rule)."""
        if mark_as_used:
            self._check_not_finalized()
        if self._name_stack:
            name = self._name_stack + "/" + name
        with self._lock:
            name_key = name.lower()
            i = self._names_in_use.get(name_key, 0)
            if mark_as_used:
                self._names_in_use[name_key] = i + 1
            if i > 0:
                base_name_key = name_key
                while name_key in self._names_in_use:
                    name_key = f"{base_name_key}_{i}"
                    i += 1
                if mark_as_used:
                    self._names_in_use[name_key] = 1
                name = f"{name}_{i - 1}"
        return name

    @contextlib.contextmanager
    def name_scope(self, name: str | None) -> Iterator[str]:
        """TF1's ``Graph.name_scope``: yields the scope name with a trailing ``/``.

        ``None`` or ``""`` resets to the top level; a name ending in ``/`` is
        used as is (re-entering a captured scope); otherwise it is made unique.
        """
        old = self._name_stack
        if not name:
            new = ""
        elif name.endswith("/"):
            new = name[:-1]
        else:
            new = self.unique_name(name)
        self._name_stack = new
        try:
            yield (new + "/") if new else ""
        finally:
            self._name_stack = old

    def _register_op(self, name: str, op: Any) -> None:
        self._check_not_finalized()
        with self._lock:
            self._ops_by_name[name] = op

    def get_operation_by_name(self, name: str) -> Any:
        try:
            return self._ops_by_name[name]
        except KeyError:
            raise KeyError(f"The name '{name}' refers to an Operation not in the graph.") from None

    def as_graph_element(self, obj: Any) -> Any:
        """Look up ``"v:0"`` (a variable) or ``"init"`` (an operation) by name."""
        if not isinstance(obj, str):
            return obj
        if ":" in obj:
            op_name = obj.rsplit(":", 1)[0]
            op = self._ops_by_name.get(op_name)
            if op is not None and hasattr(op, "_variable"):
                return op._variable
            raise KeyError(f"The name '{obj}' refers to a Tensor which does not exist in this graph.")
        return self.get_operation_by_name(obj)

    # -- collections -------------------------------------------------------
    def add_to_collection(self, name: str, value: Any) -> None:
        with self._lock:
            self._collections.setdefault(name, []).append(value)

    def add_to_collections(self, names: Any, value: Any) -> None:
        names = (names,) if isinstance(names, str) else set(names)
        for name in names:
            self.add_to_collection(name, value)

    def get_collection_ref(self, name: str) -> list[Any]:
        """The collection list itself (mutations are seen by the graph)."""
        with self._lock:
            return self._collections.setdefault(name, [])

    def get_collection(self, name: str, scope: str | None = None) -> list[Any]:
        """A copy of a collection, filtered by ``re.match(scope, item.name)`` when ``scope`` is given."""
        with self._lock:
            items = list(self._collections.get(name, ()))
        if scope is None:
            return items
        pattern = re.compile(scope)
        return [item for item in items if hasattr(item, "name") and pattern.match(item.name)]

    def get_all_collection_keys(self) -> list[str]:
        with self._lock:
            return [k for k, v in self._collections.items() if isinstance(v, list)]

    def clear_collection(self, name: str) -> None:
        with self._lock:
            self._collections.pop(name, None)

    # -- default graph -----------------------------------------------------
    @contextlib.contextmanager
    def as_default(self) -> Iterator[Graph]:
        """Make this the default graph of the current thread inside the block."""
        _default.stack.append(self)
        try:
            yield self
        finally:
            _default.stack.pop()

    def finalize(self) -> None:
        """Forbid new variables and ops in this graph (TF: "Graph is finalized and cannot be modified.")."""
        self._finalized = True

    @property
    def finalized(self) -> bool:
        return self._finalized

    @property
    def version(self) -> int:
        return self._last_id


class _DefaultGraphState(threading.local):
    def __init__(self) -> None:
        self.stack: list[Graph] = []


_default = _DefaultGraphState()
_global_default_graph = Graph()


def get_default_graph() -> Graph:
    """The innermost ``Graph.as_default()`` of this thread, else the global graph."""
    stack = _default.stack
    return stack[-1] if stack else _global_default_graph


def reset_default_graph() -> None:
    """Replace the global default graph with a new empty one.

    Raises:
      AssertionError: called inside a ``with graph.as_default()`` block, as TF.
    """
    global _global_default_graph
    if _default.stack:
        raise AssertionError(
            "Do not use reset_default_graph() to clear nested graphs. If you need a cleared graph, "
            "exit the nesting and create a new graph."
        )
    _global_default_graph = Graph()


def add_to_collection(name: str, value: Any) -> None:
    get_default_graph().add_to_collection(name, value)


def add_to_collections(names: Any, value: Any) -> None:
    get_default_graph().add_to_collections(names, value)


def get_collection(key: str, scope: str | None = None) -> list[Any]:
    """Items of a collection of the default graph, filtered by a regex on names."""
    return get_default_graph().get_collection(key, scope)


def get_collection_ref(key: str) -> list[Any]:
    return get_default_graph().get_collection_ref(key)


def global_variables(scope: str | None = None) -> list[Any]:
    return get_collection(GraphKeys.GLOBAL_VARIABLES, scope)


def all_variables() -> list[Any]:
    """Deprecated alias of ``global_variables()``."""
    return global_variables()


def trainable_variables(scope: str | None = None) -> list[Any]:
    return get_collection(GraphKeys.TRAINABLE_VARIABLES, scope)


def local_variables(scope: str | None = None) -> list[Any]:
    return get_collection(GraphKeys.LOCAL_VARIABLES, scope)


def model_variables(scope: str | None = None) -> list[Any]:
    return get_collection(GraphKeys.MODEL_VARIABLES, scope)


def moving_average_variables(scope: str | None = None) -> list[Any]:
    return get_collection(GraphKeys.MOVING_AVERAGE_VARIABLES, scope)


def name_scope(name: str | None, default_name: str | None = None, values: Any = None):
    """TF1's ``tf.name_scope``: prefixes ``Variable()`` and op names, not ``get_variable``."""
    if name is None and default_name is not None:
        name = default_name
    return get_default_graph().name_scope(name)
