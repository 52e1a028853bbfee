"""Meta graphs (SPEC §11): a JSON document of the variables, collections and saver settings of a graph.

gpuvars runs eagerly, so there is no ``GraphDef`` of ops to record; what a TF
1.x program needs to restart from a meta graph is its variables, its
collections and its ``Saver``. The document (never pickle) is::

    {"format": "gpuvars.meta_graph", "format_version": 1,
     "meta_info_def": {"gpuvars_version": "0.1.0", ...},
     "graph_def": null,
     "variables": [{"name": "model/w", "dtype": "float32", "shape": [3, 2],
                    "device": "/device:GPU:0", "placed_on": "/device:GPU:0", "caching_device": null,
                    "trainable": true, "validate_shape": true,
                    "collections": ["variables", "trainable_variables"],
                    "initializer": {"class_name": "GlorotUniform", "config": {...}} or null,
                    "save_slice_info": {"full_name", "full_shape", "var_offset", "var_shape"} or null}, ...],
     "partitioned_variables": [{"name": "emb", "dtype": "float32", "shape": [10, 4],
                                "partitions": [3, 1], "variables": ["emb/part_0", ...]}],
     "collection_def": {"variables": [{"variable": "model/w"}], "train_op": [{"value": "sgd"}], ...},
     "skipped_collection_items": {"ops": "2 items of type Operation cannot be stored in JSON"},
     "saver_def": {... SaverDef fields ...} or null}

``import_meta_graph`` recreates the variables, uninitialized, in the default
graph, on the devices recorded (``clear_devices=True`` lets the current
scopes place them), with their initializers when they were made by
:mod:`gpuvars.init_ops` (``get_variable``'s initializers), so
``global_variables_initializer()`` works for those; a variable whose initial
value was a literal or a computed value cannot be re-initialized and says so
when its initializer runs (restore it from a checkpoint instead). Collections
come back in their order: variables by name, JSON values as they were;
other objects (ops, tensors, Savers) are left out and listed under
``skipped_collection_items``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from gpuvars import devices, dtypes, errors, init_ops
from gpuvars.graph import Graph, GraphKeys, get_default_graph
from gpuvars.partitioned import PartitionedVariable, SaveSliceInfo
from gpuvars.tensor import Tensor, TensorShape
from gpuvars.train.saver import SAVEABLE_OBJECTS, Saver, SaverDef, _prepend_scope, _strip_scope
from gpuvars.variables import Variable

__all__ = ["FORMAT", "FORMAT_VERSION", "MetaGraphDef", "export_meta_graph", "import_meta_graph", "read_meta_graph_file"]

logger = logging.getLogger(__name__)

FORMAT = "gpuvars.meta_graph"
FORMAT_VERSION = 1


class MetaGraphDef(dict):
    """A meta graph document: a ``dict`` of JSON values with TF's accessors.

    Example:
      >>> mg = gpuvars.train.export_meta_graph()
      >>> [v["name"] for v in mg.variables]
      ['w']
      >>> mg.HasField("saver_def")
      False
    """

    @property
    def saver_def(self) -> SaverDef | None:
        """The saver's settings, or None."""
        sd = self.get("saver_def")
        return None if sd is None else SaverDef.from_dict(sd)

    @property
    def collection_def(self) -> dict[str, list[dict[str, Any]]]:
        """Collection name → items (``{"variable": name}``, ``{"partitioned_variable": name}`` or ``{"value": v}``)."""
        return self.get("collection_def", {})

    @property
    def meta_info_def(self) -> dict[str, Any]:
        return self.get("meta_info_def", {})

    @property
    def variables(self) -> list[dict[str, Any]]:
        """The variable records, in creation order."""
        return self.get("variables", [])

    def HasField(self, name: str) -> bool:  # noqa: N802 - protobuf's name
        """Whether field ``name`` is present and set."""
        return self.get(name) is not None

    def SerializeToString(self) -> bytes:  # noqa: N802 - protobuf's name
        """Compact JSON bytes."""
        return json.dumps(self, ensure_ascii=False).encode("utf-8")

    @classmethod
    def FromString(cls, data: bytes) -> MetaGraphDef:  # noqa: N802 - protobuf's name
        """Parse and validate JSON bytes.

        Raises:
          ValueError: not a gpuvars meta graph.
        """
        try:
            doc = json.loads(bytes(data).decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
            raise ValueError(f"Expected a gpuvars meta graph (JSON). Could not parse it: {e}") from None
        return _validated(doc)


# --------------------------------------------------------------------------- export


class _NotPlain(Exception):
    pass


def _plain(x: Any) -> Any:
    """``x`` as JSON values (tuples become lists), or ``_NotPlain``."""
    if x is None or isinstance(x, (bool, str)):
        return x
    if isinstance(x, (int, float)) and type(x) in (int, float):
        return x
    if isinstance(x, (list, tuple)) and type(x) in (list, tuple):
        return [_plain(i) for i in x]
    if type(x) is dict and all(isinstance(k, str) for k in x):
        return {k: _plain(v) for k, v in x.items()}
    raise _NotPlain(type(x).__name__)


def _variables_of(graph: Graph) -> list[Variable]:
    """Every variable of the graph, in creation order (what TF's GraphDef would hold)."""
    out: list[Variable] = []
    seen: set[int] = set()
    for op in list(graph._ops_by_name.values()):
        v = getattr(op, "_variable", None)
        if isinstance(v, Variable) and id(v) not in seen and v.op is op:
            seen.add(id(v))
            out.append(v)
    return out


def _variable_record(v: Variable, name: str, export_scope: str | None, clear_devices: bool) -> dict[str, Any]:
    shape = v._shape.as_list() if v._shape.ndims is not None else None
    spec = v._initial_spec
    try:
        spec = _plain(spec)
    except _NotPlain:
        spec = None
    sl = None
    info = v._save_slice_info
    if info is not None:
        full_name = _strip_scope(info.full_name, export_scope) or info.full_name
        sl = {
            "full_name": full_name,
            "full_shape": list(info.full_shape or []),
            "var_offset": list(info.var_offset or []),
            "var_shape": list(info.var_shape or []),
        }
    return {
        "name": name,
        "dtype": v.dtype.name,
        "shape": shape,
        "device": "" if clear_devices else v._requested_device,
        "placed_on": "" if clear_devices else v.device,
        "caching_device": None if clear_devices else v.caching_device,
        "trainable": bool(v.trainable),
        "validate_shape": bool(v._validate_shape),
        "collections": list(v._collections),
        "initializer": spec,
        "save_slice_info": sl,
    }


def export_meta_graph(
    filename: str | os.PathLike[str] | None = None,
    meta_info_def: Mapping[str, Any] | None = None,
    graph_def: Any = None,
    saver_def: SaverDef | Mapping[str, Any] | None = None,
    collection_list: Sequence[str] | None = None,
    as_text: bool = False,
    graph: Graph | None = None,
    export_scope: str | None = None,
    clear_devices: bool = False,
    clear_extraneous_savers: bool = False,
    strip_default_attrs: bool = False,
    save_debug_info: bool = False,
    **kwargs: Any,
) -> MetaGraphDef:
    """Describe a graph's variables, collections and saver as a JSON meta graph; optionally write it.

    Args:
      filename: where to write it (atomically; its folder is created). Nothing is written when None.
      meta_info_def: extra JSON-able information stored under ``meta_info_def``.
      graph_def: a JSON-able value stored as is (gpuvars has no GraphDef of its own).
      saver_def: the :class:`~gpuvars.train.saver.SaverDef` to store (``Saver.export_meta_graph`` passes its own).
      collection_list: the collections to store (default: all).
      as_text: indent the JSON (both forms are JSON text).
      graph: the graph (default: the default graph).
      export_scope: only variables under this name scope, with the scope stripped from names.
      clear_devices: leave device placements out, so the importer's device scopes decide.
      clear_extraneous_savers: accepted for TF compatibility (only ``saver_def`` is stored anyway).
      strip_default_attrs: recorded in ``meta_info_def``.
      save_debug_info: accepted for TF compatibility; there is no debug info.
      **kwargs: ``unbound_inputs_col_name`` is accepted for TF compatibility and ignored.

    Returns:
      The :class:`MetaGraphDef`.

    Raises:
      TypeError: ``meta_info_def`` is not JSON-able, or an unknown keyword argument.
      OSError: the file cannot be written.

    Example:
      >>> v = gpuvars.get_variable("w", [2], initializer=gpuvars.zeros_initializer())
      >>> mg = gpuvars.train.export_meta_graph("/tmp/model.meta")
      >>> mg.variables[0]["initializer"]["class_name"]
      'Zeros'
    """
    unknown = set(kwargs) - {"unbound_inputs_col_name"}
    if unknown:
        raise TypeError(f"export_meta_graph() got unexpected keyword arguments: {sorted(unknown)}")
    del clear_extraneous_savers, save_debug_info
    import gpuvars

    graph = graph if graph is not None else get_default_graph()
    try:
        info = _plain(dict(meta_info_def or {}))
    except (_NotPlain, TypeError, ValueError) as e:
        raise TypeError(f"Expected `meta_info_def` to be a dict of JSON values. Received: {meta_info_def!r:.80}") from e
    info.setdefault("gpuvars_version", gpuvars.__version__)
    info.setdefault("stripped_default_attrs", bool(strip_default_attrs))
    try:
        graph_doc = _plain(graph_def)
    except _NotPlain:
        logger.warning("export_meta_graph: graph_def of type %s is not JSON-able; left out.", type(graph_def).__name__)
        graph_doc = None

    records: list[dict[str, Any]] = []
    exported: dict[int, str] = {}
    partitioned: dict[int, PartitionedVariable] = {}
    for v in _variables_of(graph):
        name = _strip_scope(v.op.name, export_scope)
        if name is None:
            continue
        records.append(_variable_record(v, name, export_scope, clear_devices))
        exported[id(v)] = name
        pv = getattr(v, "_partitioned", None)
        if isinstance(pv, PartitionedVariable):
            partitioned.setdefault(id(pv), pv)
    pv_records = []
    pv_names: dict[int, str] = {}
    for pv in partitioned.values():
        shards = pv._get_variable_list()
        pv_name = _strip_scope(pv.name, export_scope)
        if pv_name is None or any(id(s) not in exported for s in shards):
            continue
        pv_names[id(pv)] = pv_name
        pv_records.append(
            {
                "name": pv_name,
                "dtype": pv.dtype.name,
                "shape": list(pv._full),
                "partitions": pv._get_partitions(),
                "variables": [exported[id(s)] for s in shards],
            }
        )

    collections: dict[str, list[dict[str, Any]]] = {}
    skipped: dict[str, str] = {}
    keys = list(collection_list) if collection_list is not None else graph.get_all_collection_keys()
    for key in keys:
        if key == GraphKeys.SAVERS:
            skipped[key] = "savers are not stored; the saver_def field holds this saver's settings"
            continue
        items: list[dict[str, Any]] = []
        left_out: dict[str, int] = {}
        for obj in graph.get_collection(key):
            if isinstance(obj, Variable):
                if id(obj) in exported:
                    items.append({"variable": exported[id(obj)]})
            elif isinstance(obj, PartitionedVariable):
                if id(obj) in pv_names:
                    items.append({"partitioned_variable": pv_names[id(obj)]})
            else:
                try:
                    items.append({"value": _plain(obj)})
                except _NotPlain:
                    left_out[type(obj).__name__] = left_out.get(type(obj).__name__, 0) + 1
        collections[key] = items
        if left_out:
            kinds = ", ".join(sorted(left_out))
            skipped[key] = f"{sum(left_out.values())} item(s) of type {kinds} cannot be stored in JSON"

    sd: dict[str, Any] | None = None
    if saver_def is not None:
        sd = (saver_def if isinstance(saver_def, SaverDef) else SaverDef.from_dict(saver_def)).to_dict()
    doc = MetaGraphDef(
        format=FORMAT,
        format_version=FORMAT_VERSION,
        meta_info_def=info,
        graph_def=graph_doc,
        variables=records,
        partitioned_variables=pv_records,
        collection_def=collections,
        skipped_collection_items=skipped,
        saver_def=sd,
    )
    if filename is not None:
        from gpuvars.train import _format

        path = os.fspath(filename)
        folder = os.path.dirname(path)
        if folder:
            os.makedirs(folder, exist_ok=True)
        text = json.dumps(doc, indent=2 if as_text else None, ensure_ascii=False)
        _format.atomic_write_bytes(path, (text + "\n").encode("utf-8"))
    return doc


# --------------------------------------------------------------------------- reading and validation


def _fail(what: str) -> ValueError:
    return ValueError(f"Expected a gpuvars meta graph: {what}")


def _is_dims(x: Any, allow_none: bool) -> bool:
    return isinstance(x, list) and all((type(d) is int and d >= 0) or (allow_none and d is None) for d in x)


def _check_variable(rec: Any, i: int) -> None:
    if not isinstance(rec, dict):
        raise _fail(f"variables[{i}] is {rec!r:.80}; expected an object")
    name = rec.get("name")
    if not isinstance(name, str) or not name:
        raise _fail(f"variables[{i}] has name {name!r}; expected a non-empty string")
    try:
        dtypes.as_dtype(rec.get("dtype"))
    except (TypeError, ValueError):
        raise _fail(f"variable {name!r} has dtype {rec.get('dtype')!r}; expected a dtype name") from None
    shape = rec.get("shape")
    if shape is not None and not _is_dims(shape, allow_none=True):
        raise _fail(f"variable {name!r} has shape {shape!r}; expected a list of non-negative ints or null")
    checks: list[tuple[str, Callable[[Any], bool], str]] = [
        ("device", lambda x: isinstance(x, str), "a string"),
        ("caching_device", lambda x: x is None or isinstance(x, str), "a string or null"),
        ("trainable", lambda x: isinstance(x, bool), "true or false"),
        ("validate_shape", lambda x: isinstance(x, bool), "true or false"),
        ("collections", lambda x: isinstance(x, list) and all(isinstance(c, str) for c in x), "a list of strings"),
        (
            "initializer",
            lambda x: x is None or (isinstance(x, dict) and isinstance(x.get("class_name"), str)),
            "null or {class_name, config}",
        ),
    ]
    for key, ok, expected in checks:
        if not ok(rec.get(key)):
            raise _fail(f"variable {name!r} has {key} {rec.get(key)!r:.80}; expected {expected}")
    sl = rec.get("save_slice_info")
    if sl is not None:
        good = (
            isinstance(sl, dict)
            and isinstance(sl.get("full_name"), str)
            and all(_is_dims(sl.get(k), allow_none=False) for k in ("full_shape", "var_offset", "var_shape"))
            and len(sl["full_shape"]) == len(sl["var_offset"]) == len(sl["var_shape"])
        )
        if not good:
            raise _fail(
                f"variable {name!r} has save_slice_info {sl!r:.120}; expected full_name, full_shape, "
                "var_offset and var_shape of one rank"
            )


def _validated(doc: Any) -> MetaGraphDef:
    """Check the document's structure; return it as a MetaGraphDef."""
    if not isinstance(doc, dict):
        raise _fail(f"a JSON object, found {type(doc).__name__}")
    if doc.get("format") != FORMAT:
        raise _fail(f"format {FORMAT!r}, found {doc.get('format')!r:.80}")
    version = doc.get("format_version")
    if type(version) is not int:
        raise _fail(f"an integer format_version, found {version!r:.80}")
    if version > FORMAT_VERSION:
        raise errors.UnimplementedError(
            None,
            None,
            f"The meta graph has format_version {version}; this gpuvars reads up to {FORMAT_VERSION}. Upgrade gpuvars.",
        )
    variables = doc.get("variables")
    if not isinstance(variables, list):
        raise _fail("a 'variables' list")
    names: set[str] = set()
    for i, rec in enumerate(variables):
        _check_variable(rec, i)
        if rec["name"] in names:
            raise _fail(f"variable {rec['name']!r} is listed twice")
        names.add(rec["name"])
    by_name = {rec["name"]: rec for rec in variables}
    pvs = doc.get("partitioned_variables", [])
    if not isinstance(pvs, list):
        raise _fail("a 'partitioned_variables' list")
    pv_names: set[str] = set()
    for rec in pvs:
        ok = (
            isinstance(rec, dict)
            and isinstance(rec.get("name"), str)
            and _is_dims(rec.get("shape"), allow_none=False)
            and _is_dims(rec.get("partitions"), allow_none=False)
            and isinstance(rec.get("variables"), list)
            and rec["variables"]
            and all(isinstance(n, str) for n in rec["variables"])
        )
        if not ok:
            raise _fail(f"partitioned variable record {rec!r:.120}; expected name, shape, partitions, variables")
        for shard in rec["variables"]:
            info = by_name.get(shard, {}).get("save_slice_info")
            if info is None or info["full_name"] != rec["name"]:
                raise _fail(f"partitioned variable {rec['name']!r} lists {shard!r}, which is not one of its shards")
        pv_names.add(rec["name"])
    collections = doc.get("collection_def", {})
    if not isinstance(collections, dict):
        raise _fail("a 'collection_def' object")
    for key, items in collections.items():
        if not isinstance(items, list):
            raise _fail(f"collection {key!r} to be a list")
        for item in items:
            if not isinstance(item, dict) or len(item) != 1:
                raise _fail(
                    f"collection {key!r} holds {item!r:.80}; expected one of variable/partitioned_variable/value"
                )
            ((kind, value),) = item.items()
            if kind == "variable" and value in names:
                continue
            if kind == "partitioned_variable" and value in pv_names:
                continue
            if kind == "value":
                continue
            raise _fail(f"collection {key!r} holds {item!r:.80}, which names no recorded variable")
    sd = doc.get("saver_def")
    if sd is not None:
        SaverDef.from_dict(sd)  # raises ValueError
    for key in ("meta_info_def", "skipped_collection_items"):
        if not isinstance(doc.get(key, {}), dict):
            raise _fail(f"'{key}' to be an object")
    return doc if isinstance(doc, MetaGraphDef) else MetaGraphDef(doc)


def read_meta_graph_file(filename: str | os.PathLike[str]) -> MetaGraphDef:
    """Read and validate a meta graph file (JSON only; nothing is ever unpickled).

    Args:
      filename: the ``.meta`` file.

    Returns:
      The :class:`MetaGraphDef`.

    Raises:
      FileNotFoundError: "File {filename} does not exist." (an ``IOError``, as TF).
      OSError: "Cannot parse file {filename}: ..." for anything that is not a gpuvars JSON meta graph.

    Example:
      >>> mg = read_meta_graph_file("/tmp/model.ckpt-7.meta")
    """
    path = os.fspath(filename)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"File {path} does not exist.")
    with open(path, "rb") as f:
        raw = f.read()
    try:
        return MetaGraphDef.FromString(raw)
    except ValueError as e:
        raise OSError(
            f"Cannot parse file {path}: {e}. gpuvars meta graphs are JSON written by export_meta_graph or "
            "Saver.save (TensorFlow's binary MetaGraphDef files are not supported, and nothing is ever unpickled)."
        ) from None


# --------------------------------------------------------------------------- import


def _unrecorded_initial_value(name: str) -> Callable[[Any], Any]:
    def fail(backend: Any) -> Any:
        raise errors.FailedPreconditionError(
            None,
            name,
            f"The initial value of {name} is not in the meta graph it was imported from: only initializers from "
            "gpuvars.init_ops (get_variable's) are recorded, not literal or computed initial values. Restore "
            f"{name} from a checkpoint (saver.restore) instead of running its initializer.",
        )

    return fail


@contextlib.contextmanager
def _placed(device: str | None) -> Iterator[None]:
    with devices.device(None), devices.device(device):
        yield


def _make_variable(rec: dict[str, Any], graph: Graph, clear_devices: bool, scope: str | None) -> Variable:
    from gpuvars import scopes

    name = _prepend_scope(rec["name"], scope)
    dtype = dtypes.as_dtype(rec["dtype"])
    shape = TensorShape(rec["shape"]) if rec["shape"] is not None else TensorShape(None)
    sl = rec.get("save_slice_info")
    initial: Tensor | None = None
    spec = rec.get("initializer")
    if spec is not None and shape.is_fully_defined():
        try:
            initializer = init_ops.deserialize(spec)
            partition_info = (
                init_ops.PartitionInfo(full_shape=list(sl["full_shape"]), var_offset=list(sl["var_offset"]))
                if sl is not None
                else None
            )
            initial = scopes._deferred_initial_value(name, initializer, shape, dtype, partition_info, graph)
        except (TypeError, ValueError) as e:
            logger.warning("The initializer recorded for %s cannot be rebuilt (%s); restore it instead.", name, e)
            initial = None
    if initial is None:
        initial = Tensor(_unrecorded_initial_value(name), shape, dtype, f"{name}/initial_value", graph=graph)
    caching = None if clear_devices else rec["caching_device"]
    # The recorded placement replaces the current device scopes; with clear_devices those scopes decide.
    placement = contextlib.nullcontext() if clear_devices else _placed(rec["device"] or None)
    try:
        with placement, graph.name_scope(None):
            v = Variable(
                initial_value=initial,
                trainable=rec["trainable"],
                collections=rec["collections"],
                validate_shape=rec["validate_shape"],
                caching_device=caching,
                name=name,
                dtype=dtype,
            )
    except errors.InvalidArgumentError as e:
        raise errors.InvalidArgumentError(
            None,
            name,
            f"{e.message}\nThe meta graph places {name} on {rec['device']!r}; pass clear_devices=True to "
            "import_meta_graph to let the current device scopes place it.",
        ) from e
    v._initial_spec = spec
    if sl is not None:
        v._save_slice_info = SaveSliceInfo(
            _prepend_scope(sl["full_name"], scope), sl["full_shape"], sl["var_offset"], sl["var_shape"]
        )
    return v


def import_meta_graph(
    meta_graph_or_file: MetaGraphDef | Mapping[str, Any] | str | os.PathLike[str],
    clear_devices: bool = False,
    import_scope: str | None = None,
    **kwargs: Any,
) -> Saver | None:
    """Recreate a meta graph's variables (uninitialized), partitioned variables and collections; return its Saver.

    With ``saver.restore(sess, prefix)`` afterwards, training restarts from a
    checkpoint without the model code (seed 003's "restart training from a
    saved meta graph").

    Args:
      meta_graph_or_file: a :class:`MetaGraphDef` (or its dict) or the path of a ``.meta`` file.
      clear_devices: ignore the recorded devices; the current device scopes place the variables.
      import_scope: a name scope prepended to every variable name.
      **kwargs: ``restore_collections_predicate`` (a function of the collection name: restore it
        when true); ``input_map``, ``unbound_inputs_col_name`` and ``return_elements`` are accepted
        for TF compatibility and ignored (there are no graph inputs or ops).

    Returns:
      A ``Saver`` with the recorded settings over the recreated variables (all saveable
      variables when the meta graph has no saver), or None when it has no variables.

    Raises:
      FileNotFoundError: the file does not exist.
      OSError: the file is not a gpuvars JSON meta graph (never unpickled).
      ValueError: a malformed document passed as a dict.
      InvalidArgumentError: a recorded device does not exist here (use ``clear_devices=True``).

    Example:
      >>> with gpuvars.Session() as sess:
      ...     saver = gpuvars.train.import_meta_graph("my-save-dir/my-model-10000.meta")
      ...     saver.restore(sess, "my-save-dir/my-model-10000")
    """
    predicate = kwargs.pop("restore_collections_predicate", None) or (lambda key: True)
    unknown = set(kwargs) - {"input_map", "unbound_inputs_col_name", "return_elements"}
    if unknown:
        raise TypeError(f"import_meta_graph() got unexpected keyword arguments: {sorted(unknown)}")
    if isinstance(meta_graph_or_file, (str, os.PathLike)):
        doc = read_meta_graph_file(meta_graph_or_file)
    else:
        doc = _validated(meta_graph_or_file)
    graph = get_default_graph()

    by_name: dict[str, Variable] = {}
    for rec in doc["variables"]:
        by_name[rec["name"]] = _make_variable(rec, graph, clear_devices, import_scope)
    pvs: dict[str, PartitionedVariable] = {}
    for rec in doc.get("partitioned_variables", []):
        pvs[rec["name"]] = PartitionedVariable(
            name=_prepend_scope(rec["name"], import_scope),
            shape=rec["shape"],
            dtype=dtypes.as_dtype(rec["dtype"]),
            variable_list=[by_name[n] for n in rec["variables"]],
            partitions=rec["partitions"],
        )

    created = {id(v) for v in by_name.values()}
    for key, items in doc.get("collection_def", {}).items():
        if key == GraphKeys.SAVERS:
            continue
        ref = graph.get_collection_ref(key)
        # The constructor added each variable to its collections; the recorded order wins.
        ref[:] = [x for x in ref if id(x) not in created]
        if not predicate(key):
            continue
        for item in items:
            if "variable" in item:
                ref.append(by_name[item["variable"]])
            elif "partitioned_variable" in item:
                ref.append(pvs[item["partitioned_variable"]])
            else:
                ref.append(item["value"])

    if not by_name:
        logger.info("Saver not created because there are no variables in the graph to restore")
        return None
    sd = doc.saver_def
    if sd is not None:
        return Saver._from_def(sd, import_scope, by_name.get)
    if graph.get_collection(GraphKeys.GLOBAL_VARIABLES, import_scope) or graph.get_collection(
        SAVEABLE_OBJECTS, import_scope
    ):
        return Saver()
    logger.info("Saver not created because there are no variables in the graph to restore")
    return None
