"""Device names, the ``device()`` scope, and the registry of backends (SPEC §1).

``DeviceSpec`` parses TensorFlow's device grammar (``/cpu:0``, ``/gpu:1``,
``/device:GPU:1``, ``GPU:1``, ``/job:ps/task:7``, ...). ``device(spec)``
scopes merge field by field, inner wins; ``device(None)`` clears; a callable
is a device function. The registry maps a resolved placement to a backend
object (NumPy CPU, emulated GPU, CuPy GPU, parameter server), starting each
kind lazily and remembering why a kind failed to start.
"""

from __future__ import annotations

import contextlib
import gc
import threading
import warnings
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from gpuvars import config, errors
from gpuvars.backends.base import Backend

__all__ = [
    "DeviceSpec",
    "DeviceRecord",
    "SoftPlacementWarning",
    "device",
    "list_devices",
    "canonical_name",
    "register_backend_factory",
]


class SoftPlacementWarning(UserWarning):
    """A requested device does not exist; the variable was placed on /cpu:0."""


_LOCAL_JOBS = (None, "localhost")


@dataclass(eq=True)
class DeviceSpec:
    """A (possibly partial) device specification, as ``tf.DeviceSpec`` (v1 and v2 methods).

    Fields can be set (TF v1); ``replace``/``make_merged_spec`` return new specs (TF v2).

    Example:
      >>> DeviceSpec.from_string("/job:ps/task:1/gpu:0").to_string()
      '/job:ps/task:1/device:GPU:0'
    """

    job: str | None = None
    replica: int | None = None
    task: int | None = None
    device_type: str | None = None
    device_index: int | None = None

    def __setattr__(self, field: str, value: Any) -> None:
        # Normalize on every write: ints for indices, "CPU"/"GPU" upper-cased (TF's rule).
        if value is not None:
            if field in ("replica", "task", "device_index"):
                value = int(value)
            elif field == "device_type":
                value = str(value).upper() if str(value).upper() in ("CPU", "GPU") else str(value)
            elif field == "job":
                value = str(value)
        object.__setattr__(self, field, value)

    def __hash__(self) -> int:
        return hash(self.to_string())

    @classmethod
    def from_string(cls, spec: str | None) -> DeviceSpec:
        """Parse a device string (None or "" is the empty spec); ``ValueError`` names an unknown attribute."""
        if spec is None:
            return cls()
        if not isinstance(spec, str):
            raise TypeError(f"Expected a device string such as '/gpu:0'. Received: {spec!r}")
        job = replica = task = device_type = device_index = None
        for part in spec.split("/"):
            if not part:
                continue
            fields = part.split(":")
            n = len(fields)
            key = fields[0]
            try:
                if n == 2 and key == "job":
                    job = fields[1]
                elif n == 2 and key == "replica":
                    replica = int(fields[1])
                elif n == 2 and key == "task":
                    task = int(fields[1])
                elif n in (1, 2) and key.upper() in ("CPU", "GPU"):
                    if device_type is not None:
                        raise ValueError(f"Multiple device types are not allowed while parsing the device spec: {spec}.")
                    device_type = key.upper()
                    if n == 2 and fields[1] != "*":
                        device_index = int(fields[1])
                elif n == 3 and key == "device":
                    if device_type is not None:
                        raise ValueError(f"Multiple device types are not allowed while parsing the device spec: {spec}.")
                    device_type = fields[1].upper() if fields[1].upper() in ("CPU", "GPU") else fields[1]
                    if fields[2] != "*":
                        device_index = int(fields[2])
                else:
                    raise ValueError(
                        f"Unknown attribute '{key}' is encountered while parsing the device spec: '{spec}'. "
                        "Expected a string like '/cpu:0', '/gpu:1', '/device:GPU:1' or '/job:ps/task:7'."
                    )
            except ValueError as e:
                if "Unknown attribute" in str(e) or "Multiple device" in str(e):
                    raise
                raise ValueError(
                    f"Expected an integer index in the device spec '{spec}'. Received the part '{part}'."
                ) from None
        return cls(job, replica, task, device_type, device_index)

    def to_string(self) -> str:
        """The canonical string (``/job:ps/replica:0/task:1/device:GPU:0``)."""
        out = ""
        if self.job is not None:
            out += f"/job:{self.job}"
        if self.replica is not None:
            out += f"/replica:{self.replica}"
        if self.task is not None:
            out += f"/task:{self.task}"
        if self.device_type is not None:
            index = "*" if self.device_index is None else str(self.device_index)
            out += f"/device:{self.device_type}:{index}"
        return out

    def __str__(self) -> str:
        return self.to_string()

    def make_merged_spec(self, dev: DeviceSpec | str) -> DeviceSpec:
        """A new spec: ``dev``'s fields where set, else this spec's."""
        if isinstance(dev, str):
            dev = DeviceSpec.from_string(dev)
        return DeviceSpec(
            dev.job if dev.job is not None else self.job,
            dev.replica if dev.replica is not None else self.replica,
            dev.task if dev.task is not None else self.task,
            dev.device_type if dev.device_type is not None else self.device_type,
            dev.device_index if dev.device_index is not None else self.device_index,
        )

    def replace(self, **kwargs: Any) -> DeviceSpec:
        fields: dict[str, Any] = dict(job=self.job, replica=self.replica, task=self.task,
                                      device_type=self.device_type, device_index=self.device_index)
        fields.update(kwargs)
        return DeviceSpec(**fields)

    def parse_from_string(self, spec: str) -> DeviceSpec:
        """TF v1: set this spec's fields from ``spec`` (all of them) and return it."""
        parsed = DeviceSpec.from_string(spec)
        for field in ("job", "replica", "task", "device_type", "device_index"):
            setattr(self, field, getattr(parsed, field))
        return self

    def merge_from(self, dev: DeviceSpec | str) -> None:
        """TF v1: copy the fields ``dev`` sets into this spec (in place)."""
        merged = self.make_merged_spec(dev)
        for field in ("job", "replica", "task", "device_type", "device_index"):
            setattr(self, field, getattr(merged, field))

    @property
    def is_parameter_server(self) -> bool:
        return self.job not in _LOCAL_JOBS


def _as_spec(value: DeviceSpec | str | None) -> DeviceSpec:
    if value is None:
        return DeviceSpec()
    if isinstance(value, DeviceSpec):
        return value
    if hasattr(value, "to_string"):  # a tf.DeviceSpec-like object
        return DeviceSpec.from_string(value.to_string())
    return DeviceSpec.from_string(value)


def canonical_name(value: DeviceSpec | str) -> str:
    """Full canonical name of a concrete device: ``/device:GPU:1``."""
    spec = _as_spec(value)
    if spec.job not in _LOCAL_JOBS:
        return DeviceSpec(spec.job, spec.replica or 0, spec.task or 0, "CPU" if spec.device_type is None
                          else spec.device_type, spec.device_index or 0).to_string()
    return f"/device:{spec.device_type or 'CPU'}:{spec.device_index or 0}"


# -- the device() scope -----------------------------------------------------

class _PlacementOp:
    """What a device function sees: the op being placed (TF's ``op`` argument)."""

    def __init__(self, name: str, type_: str, device: str, shape: Any = None, dtype: Any = None):
        self.name = name
        self.type = type_
        self.device = device
        self.shape = shape
        self.dtype = dtype
        self.node_def = self

    def _set_device(self, device: str) -> None:
        self.device = device


class _ScopeState(threading.local):
    def __init__(self) -> None:
        self.stack: list[Any] = []  # DeviceSpec | callable | None (None clears)


_scope = _ScopeState()


@contextlib.contextmanager
def device(device_name_or_function: Any) -> Iterator[None]:
    """Place every variable created inside on a device (SPEC §1).

    Args:
      device_name_or_function: a device string or ``DeviceSpec`` (merged
        field by field into the enclosing scope, inner wins), ``None`` (clears
        the enclosing scopes), or a device function ``f(op) -> str | None``.

    Example:
      >>> with gpuvars.device("/gpu:1"):
      ...     v = gpuvars.Variable([1.0, 2.0])
    """
    entry: Any
    if device_name_or_function is None or callable(device_name_or_function):
        entry = device_name_or_function
    else:
        entry = _as_spec(device_name_or_function)
    _scope.stack.append(entry)
    try:
        yield
    finally:
        _scope.stack.pop()


def current_spec(op_name: str = "", op_type: str = "VariableV2", shape: Any = None, dtype: Any = None) -> DeviceSpec:
    """The device the scopes in force give to a new op.

    As TF's ``_apply_device_functions``: scopes apply innermost first; a string
    fills only the fields not set yet (the inner scope wins), a device function
    sees the op with the device so far and its result replaces it, and
    ``device(None)`` stops the outer scopes from applying.
    """
    spec = DeviceSpec()
    for entry in reversed(_scope.stack):
        if entry is None:
            break
        if isinstance(entry, DeviceSpec):
            spec = entry.make_merged_spec(spec)
        else:
            op = _PlacementOp(op_name, op_type, spec.to_string(), shape, dtype)
            result = entry(op)
            if result is not None:
                spec = _as_spec(result)
    return spec


def current_device_string() -> str:
    return current_spec().to_string()


# -- the registry -----------------------------------------------------------

@dataclass(frozen=True)
class DeviceRecord:
    """One entry of ``list_devices()``."""

    name: str
    kind: str
    index: int
    memory_bytes: int | None


BackendFactory = Callable[[], "list[Backend]"]
_factories: dict[str, BackendFactory] = {}
_registry_lock = threading.RLock()
_backends: dict[str, list[Backend]] | None = None  # kind group -> backends
_errors: dict[str, str] = {}
_in_use = False
_warned: set[str] = set()


def register_backend_factory(group: str, factory: BackendFactory) -> None:
    """Register a named factory returning the backends of one device group.

    Groups: ``"cpu"``, ``"gpu"``. A factory that raises is remembered: its
    error is shown when a device of that group is requested and missing.
    """
    with _registry_lock:
        _factories[group] = factory
        _reset_registry()


def _cpu_factory() -> list[Backend]:
    from gpuvars.backends.cpu import CpuBackend

    return [CpuBackend(0)]


def _gpu_factory() -> list[Backend]:
    n = config.get_emulated_gpus()
    if n:
        from gpuvars.backends.emulated import EmulatedGpuBackend

        return [EmulatedGpuBackend(i) for i in range(n)]
    import importlib.util

    if importlib.util.find_spec("cupy") is None:
        raise RuntimeError("CuPy is not installed (pip install 'gpuvars[cuda12]' or 'gpuvars[cuda13]')")
    from gpuvars.backends.cuda import CudaBackend, device_count

    return [CudaBackend(i) for i in range(device_count())]


_factories["cpu"] = _cpu_factory
_factories["gpu"] = _gpu_factory


def _start() -> dict[str, list[Backend]]:
    global _backends
    with _registry_lock:
        if _backends is None:
            config.get_emulated_gpus()  # a malformed GPUVARS_EMULATED_GPUS is an error, not "no GPUs"
            backends: dict[str, list[Backend]] = {}
            for group, factory in _factories.items():
                try:
                    backends[group] = list(factory())
                except Exception as e:  # remembered for the "no such device" message
                    backends[group] = []
                    _errors[group] = f"{type(e).__name__}: {e}"
            _backends = backends
        return _backends


def _reset_registry() -> None:
    global _backends, _in_use
    with _registry_lock:
        _backends = None
        _errors.clear()
        _warned.clear()
        _in_use = False


_live_variables: weakref.WeakSet[Any] = weakref.WeakSet()


def _track(variable: Any) -> None:
    """Remember a live variable, so the GPU set is not changed under it (``config.set_emulated_gpus``)."""
    _live_variables.add(variable)


def _registry_in_use() -> bool:
    """Whether a live variable sits on a GPU (real or emulated): then the GPU set must not change."""
    if not _in_use:
        return False
    gc.collect()  # variables of dropped graphs live in reference cycles until collected
    return any(v._backend.kind != "cpu" for v in list(_live_variables))


def _all_backends() -> list[Backend]:
    return [b for group in _start().values() for b in group]


def list_devices() -> list[DeviceRecord]:
    """Every local device: ``/device:CPU:0`` then the GPUs (real or emulated).

    Example:
      >>> [d.name for d in gpuvars.list_devices()]
      ['/device:CPU:0', '/device:GPU:0', '/device:GPU:1']
    """
    return [DeviceRecord(b.name, b.kind, b.index, b.memory_bytes) for b in _all_backends()]


def backend_for_name(name: str) -> Backend:
    """The backend of an existing canonical device name (``/device:GPU:1``)."""
    for b in _all_backends():
        if b.name == name:
            return b
    raise errors.InvalidArgumentError(None, None, f"No device {name}. Devices that exist: {_existing()}")


def _existing() -> str:
    return ", ".join(b.name for b in _all_backends())


def default_backend() -> Backend:
    """``/gpu:0`` when a GPU (real or emulated) exists, else ``/cpu:0`` (as TF places)."""
    backends = _start()
    gpus = backends.get("gpu") or []
    return gpus[0] if gpus else backends["cpu"][0]


def resolve(spec: DeviceSpec | str | None) -> Backend:
    """The backend for a (merged) placement; soft or strict placement when missing."""
    global _in_use
    spec = _as_spec(spec)
    backends = _start()
    _in_use = True
    if spec.job not in _LOCAL_JOBS:
        group, index = "ps", spec.task or 0
        found = None
    elif spec.device_type is None:
        return default_backend()
    else:
        group = spec.device_type.lower()
        index = spec.device_index or 0
        members = backends.get(group, [])
        found = members[index] if index < len(members) else None
        if found is not None:
            return found
    requested = spec.to_string()
    why = _errors.get(group)
    detail = f" ({group} backends failed to start: {why})" if why else ""
    if group == "ps":
        detail = " (parameter-server placement needs the Ray backend, which this build does not provide)"
    if not config.get_soft_device_placement():
        raise errors.InvalidArgumentError(
            None, None,
            f"Cannot assign a device for operation: the requested device '{requested}' does not exist"
            f"{detail}. Devices that exist: {_existing()}. Request one of those, or enable soft placement "
            "with gpuvars.config.set_soft_device_placement(True).",
        )
    with _registry_lock:
        first = requested not in _warned
        _warned.add(requested)
    if first:
        warnings.warn(
            f"Device '{requested}' does not exist{detail}; placing on /device:CPU:0 instead "
            f"(soft placement). Devices that exist: {_existing()}.",
            SoftPlacementWarning,
            stacklevel=4,
        )
    return backends["cpu"][0]
