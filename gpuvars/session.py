"""A thin ``Session`` for TF1 code (SPEC §12). Everything else is eager.

``Session.run`` evaluates fetches: an ``Operation`` runs (result None), a
``Variable`` or ``Tensor`` gives a host NumPy copy, an array is returned as a
host array, and lists/tuples/dicts/namedtuples are walked. ``feed_dict``
substitutes values for deferred ``Tensor``s while the fetches are evaluated.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np

from gpuvars import transfer
from gpuvars.graph import Graph, get_default_graph
from gpuvars.tensor import Operation, Tensor, eval_context
from gpuvars.variables import Variable

__all__ = ["Session", "InteractiveSession", "get_default_session"]


class _SessionStack(threading.local):
    def __init__(self) -> None:
        self.stack: list[Session] = []


_sessions = _SessionStack()


class Session:
    """``with gpuvars.Session() as sess: sess.run(init)``.

    Args:
      target: accepted for compatibility; only the local target ``''`` exists.
      graph: the graph (default: the default graph now).
      config: accepted and ignored (placement settings live in ``gpuvars.config``).
    """

    def __init__(self, target: str = "", graph: Graph | None = None, config: Any = None):
        if target not in ("", None, "local") and not str(target).startswith("grpc://"):
            raise ValueError(f"Expected target '' (the local process). Received: {target!r}")
        self._target = target
        self._graph = graph if graph is not None else get_default_graph()
        self._config = config
        soft = getattr(config, "allow_soft_placement", None)
        if soft is not None:
            from gpuvars import config as settings

            settings.set_soft_device_placement(bool(soft))
        self._closed = False
        self._context_stack: list[Any] = []

    @property
    def graph(self) -> Graph:
        return self._graph

    @property
    def sess_str(self) -> str:
        return self._target or ""

    def run(self, fetches: Any, feed_dict: dict | None = None, options: Any = None, run_metadata: Any = None) -> Any:
        """Evaluate ``fetches`` (an op, variable, tensor, array, name, or nested structure of them).

        Raises:
          RuntimeError: the session is closed.
          TypeError: a fetch of a type that cannot be evaluated.
        """
        if self._closed:
            raise RuntimeError("Attempted to use a closed Session.")
        with eval_context(feeds=feed_dict or None):
            return self._fetch(fetches)

    Run = run  # the earliest TF docs (seed 000) spell it sess.Run

    def _fetch(self, fetch: Any) -> Any:
        if isinstance(fetch, Operation):
            fetch.run()
            return None
        if isinstance(fetch, (Variable, Tensor)):
            return fetch.numpy()
        if isinstance(fetch, str):
            try:
                element = self._graph.as_graph_element(fetch)
            except KeyError as e:
                raise ValueError(f"Fetch argument {fetch!r} cannot be interpreted as a Tensor. ({e.args[0]})") from None
            return self._fetch(element)
        if getattr(fetch, "type", None) == "VariableV2" and hasattr(fetch, "_variable"):
            return None  # running a variable's op does nothing, as in TF
        if hasattr(fetch, "_get_variable_list") and hasattr(fetch, "as_tensor"):  # PartitionedVariable
            return transfer.to_host(fetch.as_tensor())
        if hasattr(fetch, "run") and hasattr(fetch, "name") and hasattr(fetch, "type"):
            fetch.run()
            return None
        if isinstance(fetch, dict):
            return type(fetch)((k, self._fetch(v)) for k, v in fetch.items())
        if isinstance(fetch, tuple) and hasattr(fetch, "_fields"):
            return type(fetch)(*(self._fetch(v) for v in fetch))
        if isinstance(fetch, (list, tuple)):
            return type(fetch)(self._fetch(v) for v in fetch)
        if fetch is None:
            raise TypeError("Fetch argument None has invalid type <class 'NoneType'>")
        if transfer.device_of(fetch) is not None:
            return transfer.to_host(fetch)
        if isinstance(fetch, (int, float, complex, bool, np.generic)):
            return np.asarray(fetch)
        raise TypeError(
            f"Fetch argument {fetch!r:.80} has invalid type {type(fetch)}, must be an Operation, Variable, "
            "Tensor, array, a name, or a list/tuple/dict of those."
        )

    def close(self) -> None:
        self._closed = True

    @contextlib.contextmanager
    def as_default(self) -> Iterator[Session]:
        """Make this the default session inside the block (does not close it, as in TF)."""
        _sessions.stack.append(self)
        try:
            yield self
        finally:
            _sessions.stack.pop()

    def __enter__(self) -> Session:
        _sessions.stack.append(self)
        cm = self._graph.as_default()
        cm.__enter__()
        self._context_stack.append(cm)
        return self

    def __exit__(self, *exc: Any) -> None:
        cm = self._context_stack.pop()
        cm.__exit__(*exc)
        _sessions.stack.pop()
        self.close()


class InteractiveSession(Session):
    """A Session that makes itself the default session, and its graph the default graph,
    in the creating thread until it is closed (as TF's)."""

    def __init__(self, target: str = "", graph: Graph | None = None, config: Any = None):
        super().__init__(target, graph, config)
        self._graph_cm = self._graph.as_default()
        self._graph_cm.__enter__()
        _sessions.stack.append(self)

    def close(self) -> None:
        if not self._closed:
            if self in _sessions.stack:
                _sessions.stack.remove(self)
            from gpuvars.graph import _default

            # Undo the default graph only where it is on top (the creating thread, closed in order).
            if _default.stack and _default.stack[-1] is self._graph:
                self._graph_cm.__exit__(None, None, None)
        super().close()


def get_default_session() -> Session | None:
    """The innermost default session of this thread (``with Session()``, ``as_default``, InteractiveSession)."""
    return _sessions.stack[-1] if _sessions.stack else None
