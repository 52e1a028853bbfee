"""The checkpoint storage layer: safetensors files written incrementally, the index, reads into buffers."""

from __future__ import annotations

import hashlib
import json
import os
import struct
import weakref
from pathlib import Path

import numpy as np
import pytest
import safetensors.numpy as stnp
from hypothesis import given, settings
from hypothesis import strategies as st

from gpuvars import dtypes
from gpuvars.errors import DataLossError, NotFoundError
from gpuvars.train import _format as F
from gpuvars.train import _index as X
from gpuvars.train import checkpoint_management as cm

ALL_DTYPES = [d for d in dtypes.SUPPORTED]
NATIVE = [d for d in ALL_DTYPES if d != np.complex128 and d != dtypes.bfloat16]  # safetensors.numpy reads these


def sample(dtype: np.dtype, shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    if dtype == np.bool_:
        return rng.integers(0, 2, n).astype(np.bool_).reshape(shape)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return rng.integers(info.min, info.max, n, dtype=dtype, endpoint=True).reshape(shape)
    if dtype.kind == "c":
        return (rng.standard_normal(n) + 1j * rng.standard_normal(n)).astype(dtype).reshape(shape)
    return rng.standard_normal(n).astype(dtype).reshape(shape)


def write_arrays(path: str, arrays: dict[str, np.ndarray], metadata=None) -> dict[str, str]:
    layout = F.plan_file([(k, v.dtype, v.shape) for k, v in arrays.items()], metadata)
    _, sums = F.write_file(path, layout, lambda t: arrays[t.name])
    return sums


def record(name, arr, device="/cpu:0", slice_of=None):
    return X.TensorRecord(name, arr.dtype, arr.shape, device, lambda: arr, slice_of)


# --------------------------------------------------------------------------- the file format

GOLDEN = (
    b"p\x00\x00\x00\x00\x00\x00\x00"
    b'{"a":{"dtype":"F32","shape":[1,2],"data_offsets":[0,8]},"b":{"dtype":"I8","shape":[3],"data_offsets":[8,11]}}'
    b"   "
    b"\x00\x00\x80?\x00\x00\x00@\xff\x03\x07"
)


def test_golden_bytes_of_a_tiny_file(tmp_path):
    arrays = {"b": np.array([-1, 3, 7], np.int8), "a": np.array([[1, 2]], np.float32)}
    sums = write_arrays(str(tmp_path / "g.safetensors"), arrays)
    assert (tmp_path / "g.safetensors").read_bytes() == GOLDEN
    assert stnp.save(arrays) == GOLDEN  # the safetensors library agrees, byte for byte
    assert sums == {"a": "sum4k:4c1e20d1a8dfa540", "b": "sum4k:3a9f77a266597917"}


def test_empty_file_is_what_safetensors_writes(tmp_path):
    write_arrays(str(tmp_path / "e.safetensors"), {})
    assert (tmp_path / "e.safetensors").read_bytes() == stnp.save({}) == b"\x08" + b"\x00" * 7 + b"{}      "


_names = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=6).filter(
    lambda s: s != "__metadata__"
)


@settings(max_examples=40, deadline=None)
@given(
    st.dictionaries(
        _names,
        st.tuples(st.sampled_from(NATIVE), st.lists(st.integers(0, 4), max_size=3)),
        max_size=6,
    ),
    st.dictionaries(st.text(max_size=4), st.text(max_size=8), max_size=1),
)
def test_bytes_identical_to_safetensors_for_any_names_dtypes_shapes(tmp_path_factory, specs, metadata):
    arrays = {k: sample(dt, tuple(shape), i) for i, (k, (dt, shape)) in enumerate(specs.items())}
    path = str(tmp_path_factory.mktemp("h") / "x.safetensors")
    write_arrays(path, arrays, metadata or None)
    with open(path, "rb") as f:
        assert f.read() == stnp.save(arrays, metadata=metadata or None)


def test_bfloat16_layout_matches_safetensors_when_ml_dtypes_is_installed(tmp_path):
    if not dtypes.HAS_BFLOAT16:
        pytest.skip("ml_dtypes is not installed")
    from safetensors import TensorSpec, serialize

    bf = np.arange(4).astype(dtypes.bfloat16)
    h = np.ones(1, np.float16)
    i = np.ones(1, np.int32)
    specs = {
        name: TensorSpec(dtype=dt, shape=a.shape, data_ptr=a.ctypes.data, data_len=a.nbytes)
        for name, dt, a in (("bf", "bfloat16", bf), ("h", "float16", h), ("i", "int32", i))
    }
    write_arrays(str(tmp_path / "b.safetensors"), {"bf": bf, "h": h, "i": i})
    assert (tmp_path / "b.safetensors").read_bytes() == bytes(serialize(specs, metadata=None))


def test_complex128_is_stored_as_float64_pairs(tmp_path):
    c = sample(np.dtype(np.complex128), (2, 3))
    write_arrays(str(tmp_path / "c.safetensors"), {"c": c})
    loaded = stnp.load_file(str(tmp_path / "c.safetensors"))
    assert loaded["c"].dtype == np.float64 and loaded["c"].shape == (2, 3, 2)
    np.testing.assert_array_equal(loaded["c"][..., 0] + 1j * loaded["c"][..., 1], c)


def test_plan_file_rejects_bad_input():
    with pytest.raises(ValueError, match="unique"):
        F.plan_file([("a", "float32", (1,)), ("a", "float32", (2,))])
    with pytest.raises(ValueError, match="__metadata__"):
        F.plan_file([("__metadata__", "float32", (1,))])
    with pytest.raises(ValueError, match="non-negative"):
        F.plan_file([("a", "float32", (-1,))])
    with pytest.raises(ValueError, match="str to str"):
        F.plan_file([], {"k": 1})  # type: ignore[dict-item]
    with pytest.raises(TypeError, match="storable"):
        F.plan_file([("a", np.dtype("U3"), (1,))])


def test_producer_must_return_the_planned_array_and_nothing_is_left_behind(tmp_path):
    layout = F.plan_file([("a", "float32", (2,))])
    with pytest.raises(ValueError, match=r"dtype float32 and shape \[2\].*Received dtype float64"):
        F.write_file(str(tmp_path / "x.safetensors"), layout, lambda t: np.zeros(2))
    with pytest.raises(TypeError, match="host numpy.ndarray"):
        F.write_file(str(tmp_path / "x.safetensors"), layout, lambda t: [1.0, 2.0])
    assert os.listdir(tmp_path) == []


def test_non_contiguous_and_big_endian_arrays_are_written_correctly(tmp_path):
    base = np.arange(12, dtype=np.float32).reshape(3, 4)
    arrays = {"t": base.T, "be": np.arange(5, dtype=">i4")}
    layout = F.plan_file([("t", np.float32, (4, 3)), ("be", np.int32, (5,))])
    F.write_file(str(tmp_path / "x.safetensors"), layout, lambda t: arrays[t.name])
    loaded = stnp.load_file(str(tmp_path / "x.safetensors"))
    np.testing.assert_array_equal(loaded["t"], base.T)
    np.testing.assert_array_equal(loaded["be"], np.arange(5))


def test_tensors_are_produced_just_in_time_and_released(tmp_path):
    """Peak memory is one tensor: when the next producer runs, the previous array is gone."""
    alive: list[weakref.ref] = []
    seen_alive = []

    def produce(t):
        seen_alive.append(sum(r() is not None for r in alive))
        arr = np.full(t.shape, 1.0, np.float32)
        alive.append(weakref.ref(arr))
        return arr

    layout = F.plan_file([(f"v{i}", "float32", (300_000,)) for i in range(4)])  # > the coalescing threshold
    F.write_file(str(tmp_path / "x.safetensors"), layout, produce)
    assert seen_alive == [0, 0, 0, 0]
    small = F.plan_file([(f"s{i}", "float32", (3,)) for i in range(3)])  # small tensors are copied, then released
    alive.clear()
    seen_alive.clear()
    F.write_file(str(tmp_path / "y.safetensors"), small, produce)
    assert seen_alive == [0, 0, 0]


# --------------------------------------------------------------------------- checksum


def reference_sum4k(data: bytes) -> str:
    """The checksum's definition, in plain Python."""
    padded = data + b"\x00" * (-len(data) % 4096)
    h = hashlib.blake2b(digest_size=8)
    for r in range(0, len(padded), 4096):
        words = struct.unpack("<512Q", padded[r : r + 4096])
        h.update(struct.pack("<Q", sum(words) % 2**64))
    h.update(struct.pack("<Q", len(data)))
    return "sum4k:" + h.hexdigest()


@settings(max_examples=30, deadline=None)
@given(st.binary(max_size=20000), st.lists(st.integers(1, 9000), max_size=5))
def test_checksum_matches_its_definition_for_any_chunking(data, cuts):
    arr = np.frombuffer(data, np.uint8)
    assert F.checksum_array(arr) == reference_sum4k(data)
    c = F.Checksum()
    pos = 0
    for n in cuts:
        c.update(arr[pos : pos + n])
        pos += n
    c.update(arr[pos:])
    assert c.hexdigest() == reference_sum4k(data)


def test_checksum_catches_flips_page_swaps_and_zero_fill():
    data = np.random.default_rng(1).integers(0, 256, 5 * 4096 + 100, dtype=np.uint8)
    base = F.checksum_array(data)
    for pos in (0, 4095, 4096 * 3 + 17, data.size - 1):
        for bit in (0, 7):
            flipped = data.copy()
            flipped[pos] ^= 1 << bit
            assert F.checksum_array(flipped) != base
    swapped = data.copy()
    swapped[:4096], swapped[4096:8192] = data[4096:8192], data[:4096]
    assert F.checksum_array(swapped) != base
    zeroed = data.copy()
    zeroed[8192:12288] = 0
    assert F.checksum_array(zeroed) != base
    assert F.checksum_array(np.zeros(10, np.uint8)) != F.checksum_array(np.zeros(11, np.uint8))


# --------------------------------------------------------------------------- strict reading


def corrupt_header(tmp_path, header: bytes, data: bytes = b"") -> str:
    path = str(tmp_path / "bad.safetensors")
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(header)) + header + data)
    return path


@pytest.mark.parametrize(
    "header, data, message",
    [
        (b'{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', b"\0" * 7, "8 bytes of data"),
        (b'{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', b"\0" * 9, "but the file has"),
        (b'{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}', b"\0" * 4, "needs 8 bytes"),
        (
            b'{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},'
            b'"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}',
            b"\0" * 8,
            "overlaps",
        ),
        (
            b'{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},'
            b'"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}',
            b"\0" * 12,
            "gap",
        ),
        (
            b'{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},'
            b'"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}',
            b"\0" * 8,
            "repeats",
        ),
        (b'{"a":{"dtype":"Q9","shape":[1],"data_offsets":[0,4]}}', b"\0" * 4, "unknown dtype"),
        (b'{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}', b"\0" * 4, "non-negative"),
        (b'{"a":', b"", "not valid JSON"),
        (b"[1, 2]", b"", "start with"),
        (b'{"__metadata__":{"k":1}}', b"", "__metadata__"),
        (b'{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":1}}', b"\0" * 4, "expected keys"),
    ],
)
def test_invalid_headers_raise_data_loss_naming_the_file(tmp_path, header, data, message):
    path = corrupt_header(tmp_path, header, data)
    with pytest.raises(DataLossError, match=message) as info:
        F.read_layout(path)
    assert path in str(info.value)


def test_insane_header_length_and_tiny_files(tmp_path):
    path = str(tmp_path / "x.safetensors")
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", 2**40) + b"{}")
    with pytest.raises(DataLossError, match="header length field"):
        F.read_layout(path)
    with open(path, "wb") as f:
        f.write(b"\x01\x02")
    with pytest.raises(DataLossError, match="at least the 8-byte"):
        F.read_layout(path)
    with pytest.raises(NotFoundError, match="does not exist"):
        F.read_layout(str(tmp_path / "missing.safetensors"))


def test_read_into_verifies_checksum_and_rows_read_a_byte_range(tmp_path):
    a = sample(np.dtype(np.float32), (1000, 7))
    path = str(tmp_path / "x.safetensors")
    sums = write_arrays(path, {"a": a})
    with F.SafetensorsReader(path) as r:
        out = np.empty_like(a)
        r.read_into("a", out, checksum=sums["a"])
        np.testing.assert_array_equal(out, a)
        rows = np.empty((30, 7), np.float32)
        r.read_rows_into("a", 500, 530, rows)
        np.testing.assert_array_equal(rows, a[500:530])
        with pytest.raises(ValueError, match="0 <= start <= stop <= 1000"):
            r.read_rows_into("a", 990, 1001, rows)
        with pytest.raises(ValueError, match="bytes"):
            r.read_into("a", np.empty((3, 7), np.float32))
        with pytest.raises(ValueError, match="writable C-contiguous"):
            r.read_into("a", np.empty((7, 1000), np.float32).T)
        with pytest.raises(DataLossError, match=r"Checksum mismatch for tensor 'a'"):
            r.read_into("a", out, checksum="sum4k:0000000000000000")


@pytest.mark.parametrize("overlap", [True, False])
def test_checksums_on_a_helper_thread_or_inline_agree(tmp_path, monkeypatch, overlap):
    monkeypatch.setattr(F, "_OVERLAP", overlap)
    monkeypatch.setattr(F, "_BLOCK", 1 << 16)  # many blocks per tensor
    arrays = {"big": sample(np.dtype(np.float64), (300_000,)), "odd": sample(np.dtype(np.int8), (1_234_567,))}
    path = str(tmp_path / "x.safetensors")
    sums = write_arrays(path, arrays)
    assert sums == {k: reference_sum4k(v.tobytes()) for k, v in arrays.items()}
    with F.SafetensorsReader(path) as r:
        for name, arr in arrays.items():
            out = np.empty_like(arr)
            r.read_into(name, out, checksum=sums[name])
            np.testing.assert_array_equal(out, arr)
        out = np.empty_like(arrays["big"])
        with pytest.raises(DataLossError, match="Checksum mismatch"):
            r.read_into("big", out, checksum=sums["odd"])


# --------------------------------------------------------------------------- checkpoints


def test_every_dtype_round_trips_through_a_checkpoint(tmp_path):
    arrays = {f"v_{d.name}": sample(d, (3, 5), i) for i, d in enumerate(ALL_DTYPES)}
    arrays["scalar"] = np.array(2.5, np.float32)
    arrays["empty"] = np.zeros((0, 4), np.int16)
    prefix = str(tmp_path / "model.ckpt-3")
    X.write_checkpoint(prefix, [record(k, v) for k, v in arrays.items()], global_step=3)
    for name, arr in arrays.items():
        got = cm.load_variable(prefix, name)
        assert got.dtype == arr.dtype and got.shape == arr.shape
        np.testing.assert_array_equal(got, arr)
    (file,) = X.read_index(prefix).files
    loaded = stnp.load_file(str(tmp_path / file)) if not dtypes.HAS_BFLOAT16 else None
    if loaded is not None:
        for name, arr in arrays.items():
            want = arr.view(np.float64).reshape(arr.shape + (2,)) if arr.dtype == np.complex128 else arr
            np.testing.assert_array_equal(loaded[name], want)


def test_sharded_layout_one_file_per_device_and_index_fields(tmp_path):
    w = sample(np.dtype(np.float32), (4, 3))
    b = sample(np.dtype(np.int64), (3,))
    emb = sample(np.dtype(np.float64), (10, 4))
    recs = [
        record("w", w, "/job:localhost/replica:0/task:0/device:GPU:1"),
        record("b", b, "/job:localhost/replica:0/task:0/device:CPU:0"),
        record(
            "emb/part_0", emb[:6], "/job:localhost/replica:0/task:0/device:GPU:0", X.SliceInfo("emb", (10, 4), (0, 0))
        ),
        record(
            "emb/part_1", emb[6:], "/job:localhost/replica:0/task:0/device:GPU:1", X.SliceInfo("emb", (10, 4), (6, 0))
        ),
    ]
    prefix = str(tmp_path / "model.ckpt-12")
    index = X.write_checkpoint(prefix, recs, global_step=12, sharded=True)
    files = [f"model.ckpt-12-0000{i}-of-00003.safetensors" for i in range(3)]
    assert sorted(os.listdir(tmp_path)) == sorted(files + ["model.ckpt-12.index.json"])
    doc = json.loads((tmp_path / "model.ckpt-12.index.json").read_text())
    assert doc["metadata"] == {
        "format": "gpuvars",
        "format_version": 1,
        "global_step": 12,
        "total_size": w.nbytes + b.nbytes + emb.nbytes,
    }
    # Devices sorted by name, as TF's sharded saver: CPU:0, GPU:0, GPU:1.
    assert doc["weight_map"] == {"b": files[0], "emb/part_0": files[1], "emb/part_1": files[2], "w": files[2]}
    assert doc["tensors"]["emb/part_1"] == {
        "dtype": "float64",
        "shape": [4, 4],
        "file": files[2],
        "device": "/job:localhost/replica:0/task:0/device:GPU:1",
        "checksum": F.checksum_array(emb[6:]),
        "slice_of": {"name": "emb", "full_shape": [10, 4], "offset": [6, 0]},
    }
    assert doc["tensors"]["w"]["checksum"] == F.checksum_array(w)
    assert index.to_json() == doc
    for file in files:  # every file as the safetensors library reads it
        loaded = stnp.load_file(str(tmp_path / file))
        for name, arr in loaded.items():
            want = {"w": w, "b": b, "emb/part_0": emb[:6], "emb/part_1": emb[6:]}[name]
            np.testing.assert_array_equal(arr, want)
    assert cm.list_variables(prefix) == [("b", [3]), ("emb", [10, 4]), ("w", [4, 3])]
    np.testing.assert_array_equal(cm.load_variable(prefix, "emb"), emb)


def test_unsharded_puts_every_device_in_one_file(tmp_path):
    recs = [record("a", np.ones(2), "/gpu:0"), record("b", np.zeros(3), "/cpu:0")]
    index = X.write_checkpoint(str(tmp_path / "m"), recs)
    assert index.files == ["m-00000-of-00001.safetensors"] and index.global_step is None
    plans = X.plan_shards(recs, "m", sharded=False)
    assert [(p.file, p.devices, p.names, p.nbytes) for p in plans] == [
        ("m-00000-of-00001.safetensors", ("/gpu:0", "/cpu:0"), ("a", "b"), 40)
    ]


def test_write_checkpoint_validates_before_touching_disk(tmp_path):
    a = np.ones(4)
    with pytest.raises(ValueError, match="unique"):
        X.write_checkpoint(str(tmp_path / "m"), [record("a", a), record("a", a)])
    with pytest.raises(ValueError, match="missing or duplicated"):
        X.write_checkpoint(str(tmp_path / "m"), [record("p/part_0", a, slice_of=X.SliceInfo("p", (8,), (0,)))])
    with pytest.raises(ValueError, match="starts at 2"):
        X.write_checkpoint(
            str(tmp_path / "m"),
            [
                record("p/part_0", a, slice_of=X.SliceInfo("p", (8,), (0,))),
                record("p/part_1", a, slice_of=X.SliceInfo("p", (8,), (2,))),
            ],
        )
    with pytest.raises(ValueError, match="runs past"):
        X.write_checkpoint(str(tmp_path / "m"), [record("p/part_0", a, slice_of=X.SliceInfo("p", (4,), (1,)))])
    with pytest.raises(ValueError, match="whole variable"):
        X.write_checkpoint(
            str(tmp_path / "m"), [record("p", a), record("p/part_0", a, slice_of=X.SliceInfo("p", (4,), (0,)))]
        )
    with pytest.raises(ValueError, match="Parent directory of .* doesn't exist, can't save."):
        X.write_checkpoint(str(tmp_path / "nope" / "m"), [record("a", a)])
    with pytest.raises(TypeError, match="supported dtypes"):
        X.TensorRecord("s", np.dtype("U2"), (1,), "/cpu:0", lambda: None)
    assert os.listdir(tmp_path) == []


def test_failing_producer_leaves_no_checkpoint_and_no_temp_files(tmp_path):
    def boom():
        raise RuntimeError("device lost")

    recs = [record("a", np.ones(3), "/cpu:0"), X.TensorRecord("b", np.float32, (2,), "/gpu:0", boom)]
    for parallel in (True, False):
        with pytest.raises(RuntimeError, match="device lost"):
            X.write_checkpoint(str(tmp_path / "m"), recs, sharded=True, parallel=parallel)
        assert os.listdir(tmp_path) == []


def test_resaving_a_prefix_replaces_it_and_drops_orphan_shards(tmp_path):
    prefix = str(tmp_path / "m")
    recs = [record("a", np.ones(3), "/cpu:0"), record("b", np.zeros(2), "/gpu:0")]
    X.write_checkpoint(prefix, recs, sharded=True)
    assert len(X.read_index(prefix).files) == 2
    X.write_checkpoint(prefix, [record("a", np.full(3, 7.0), "/cpu:0")], global_step=2)
    assert sorted(os.listdir(tmp_path)) == ["m-00000-of-00001.safetensors", "m.index.json"]
    np.testing.assert_array_equal(cm.load_variable(prefix, "a"), np.full(3, 7.0))


def test_crash_while_resaving_a_prefix_falls_back_to_the_previous_checkpoint(tmp_path, monkeypatch):
    first, fixed = str(tmp_path / "m-1"), str(tmp_path / "m")
    X.write_checkpoint(first, [record("a", np.ones(3))], global_step=1)
    X.write_checkpoint(fixed, [record("a", np.full(3, 2.0))], global_step=2)
    cm.update_checkpoint_state(str(tmp_path), fixed, [first, fixed])
    real_replace = os.replace

    def crash_on_data(src, dst):
        if str(dst).endswith(".safetensors"):
            raise OSError("simulated crash between removing the old index and renaming the new data")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", crash_on_data)
    with pytest.raises(OSError, match="simulated crash"):
        X.write_checkpoint(fixed, [record("a", np.full(3, 3.0))], global_step=3)
    monkeypatch.setattr(os, "replace", real_replace)
    assert not X.checkpoint_exists(fixed)  # never a mix of old index and new data
    assert cm.latest_checkpoint(str(tmp_path)) == first
    np.testing.assert_array_equal(cm.load_variable(first, "a"), np.ones(3))
    assert not [n for n in os.listdir(tmp_path) if ".tmp." in n]


def test_delete_checkpoint_removes_its_files_only(tmp_path):
    for step in (1, 10):
        X.write_checkpoint(
            str(tmp_path / f"m-{step}"),
            [record("a", np.ones(2), "/cpu:0"), record("b", np.ones(2), "/gpu:0")],
            global_step=step,
            sharded=True,
        )
        (tmp_path / f"m-{step}.meta").write_text("{}")
    (tmp_path / "m-1-00000-of-00002.safetensors.tmp.999999999.0123abcd").write_bytes(b"partial")
    doc = json.loads((tmp_path / "m-1.index.json").read_text())  # a corrupt index naming another checkpoint's file
    doc["tensors"]["a"]["file"] = "m-10-00000-of-00002.safetensors"
    (tmp_path / "m-1.index.json").write_text(json.dumps(doc))
    X.delete_checkpoint(str(tmp_path / "m-1"))
    assert not X.checkpoint_exists(str(tmp_path / "m-1"))
    assert sorted(os.listdir(tmp_path)) == [
        "m-10-00000-of-00002.safetensors",
        "m-10-00001-of-00002.safetensors",
        "m-10.index.json",
        "m-10.meta",
    ]
    X.delete_checkpoint(str(tmp_path / "m-1"))  # twice is fine


def test_stale_temp_files_of_dead_writers_are_removed(tmp_path):
    dead = tmp_path / "m-00000-of-00001.safetensors.tmp.999999999.0123abcd"
    mine = tmp_path / f"m.index.json.tmp.{os.getpid()}.0123abcd"
    dead.write_bytes(b"x")
    mine.write_bytes(b"x")
    assert F.remove_stale_temp_files(tmp_path, min_age_s=3600) == []
    assert F.remove_stale_temp_files(tmp_path, min_age_s=0) == [str(dead)]
    assert mine.exists()


# --------------------------------------------------------------------------- corruption


@pytest.fixture
def saved(tmp_path):
    arrays = {"a": sample(np.dtype(np.float32), (64, 100)), "b": sample(np.dtype(np.int32), (5,))}
    prefix = str(tmp_path / "model.ckpt-1")
    X.write_checkpoint(prefix, [record(k, v) for k, v in arrays.items()], global_step=1)
    return prefix, arrays, str(tmp_path / "model.ckpt-1-00000-of-00001.safetensors")


def test_flipped_byte_is_data_loss_naming_file_and_tensor(saved):
    prefix, arrays, file = saved
    layout = F.read_layout(file)
    with open(file, "r+b") as f:
        pos = layout.data_start + layout["a"].begin + 1234
        f.seek(pos)
        byte = f.read(1)
        f.seek(pos)
        f.write(bytes([byte[0] ^ 0x10]))
    with pytest.raises(DataLossError, match="Checksum mismatch for tensor 'a'") as info:
        cm.load_variable(prefix, "a")
    assert file in str(info.value)
    np.testing.assert_array_equal(cm.load_variable(prefix, "b"), arrays["b"])  # the other tensor is intact


def test_truncated_file_is_data_loss_naming_the_file(saved):
    prefix, _, file = saved
    os.truncate(file, os.path.getsize(file) - 1)
    with pytest.raises(DataLossError, match="but the file has") as info:
        cm.load_variable(prefix, "b")
    assert file in str(info.value)


def test_header_that_disagrees_with_the_index_is_data_loss(saved, tmp_path):
    prefix, _, file = saved
    write_arrays(file, {"a": np.zeros((64, 100), np.float64), "b": np.zeros(5, np.int32)})
    with pytest.raises(DataLossError, match=r"stores 'a' as F64"):
        cm.load_variable(prefix, "b")


@pytest.mark.parametrize("bad", ["../outside.safetensors", "/etc/passwd", "sub/x.safetensors", "..", "", "a\\b"])
def test_index_paths_outside_the_folder_are_refused(saved, tmp_path, bad):
    prefix, _, _ = saved
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "x.safetensors").write_bytes(GOLDEN)
    (tmp_path.parent / "outside.safetensors").write_bytes(GOLDEN)
    doc = json.loads(Path(prefix + ".index.json").read_text())
    doc["tensors"]["b"]["file"] = doc["weight_map"]["b"] = bad
    with open(prefix + ".index.json", "w") as f:
        json.dump(doc, f)
    with pytest.raises(DataLossError, match="never followed"):
        cm.load_variable(prefix, "a")
    with pytest.raises(DataLossError):
        cm.list_variables(prefix)


def test_symlink_out_of_the_folder_is_refused(saved, tmp_path):
    prefix, _, file = saved
    outside = tmp_path.parent / "elsewhere.safetensors"
    os.replace(file, outside)
    os.symlink(outside, file)
    with pytest.raises(DataLossError, match="never followed"):
        cm.load_variable(prefix, "a")


def test_missing_data_file_is_data_loss_naming_it(saved):
    prefix, _, file = saved
    os.unlink(file)
    with pytest.raises(DataLossError, match="does not exist") as info:
        cm.load_variable(prefix, "a")
    assert file in str(info.value)


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda d: d.update(metadata={"format": "pt"}), "metadata.format"),
        (lambda d: d["tensors"]["a"].update(shape=[-1]), "non-negative"),
        (lambda d: d["tensors"]["a"].update(dtype="float128"), "unsupported dtype"),
        (lambda d: d["weight_map"].pop("a"), "weight_map"),
        (
            lambda d: d["tensors"]["a"].update(slice_of={"name": "z", "full_shape": [128, 100], "offset": [0, 0]}),
            "missing or duplicated",
        ),
    ],
)
def test_corrupt_index_is_data_loss(saved, edit, message):
    prefix, _, _ = saved
    doc = json.loads(Path(prefix + ".index.json").read_text())
    edit(doc)
    with open(prefix + ".index.json", "w") as f:
        json.dump(doc, f)
    with pytest.raises(DataLossError, match=message):
        X.read_index(prefix)


def test_unreadable_index_json_is_data_loss(saved):
    prefix, _, _ = saved
    with open(prefix + ".index.json", "w") as f:
        f.write('{"metadata": ')
    with pytest.raises(DataLossError, match="not valid UTF-8 JSON"):
        X.read_index(prefix)


# --------------------------------------------------------------------------- resharding


@pytest.fixture
def partitioned(tmp_path):
    full = sample(np.dtype(np.float32), (100, 6), 3)
    cuts = [0, 30, 64, 100]
    recs = [
        record(f"emb/part_{i}", full[a:b], f"/gpu:{i}", X.SliceInfo("emb", full.shape, (a, 0)))
        for i, (a, b) in enumerate(zip(cuts, cuts[1:]))
    ]
    cols = sample(np.dtype(np.int16), (5, 9), 4)
    recs += [
        record("cols/part_0", cols[:, :4], "/cpu:0", X.SliceInfo("cols", cols.shape, (0, 0))),
        record("cols/part_1", cols[:, 4:], "/cpu:0", X.SliceInfo("cols", cols.shape, (0, 4))),
    ]
    prefix = str(tmp_path / "model.ckpt-5")
    X.write_checkpoint(prefix, recs, global_step=5, sharded=True)
    return prefix, full, cols


@pytest.mark.parametrize("target", [(0, 100), (0, 50), (50, 100), (29, 31), (30, 64), (10, 90), (99, 100)])
def test_resharding_along_axis_0_reads_only_the_rows_it_needs(partitioned, monkeypatch, target):
    prefix, full, _ = partitioned
    reads: list[int] = []
    real = F._pread_into

    def counting(fd, buf, offset):
        reads.append(buf.size)
        return real(fd, buf, offset)

    monkeypatch.setattr(F, "_pread_into", counting)
    a, b = target
    out = np.empty((b - a, 6), np.float32)
    with X.CheckpointReader(prefix) as r:
        r.read_region_into("emb", (a, 0), out)
    np.testing.assert_array_equal(out, full[a:b])
    assert sum(reads) == out.nbytes  # straight into `out`, no byte beyond the needed rows


def test_resharding_along_another_axis_and_into_sub_boxes(partitioned):
    prefix, full, cols = partitioned
    with X.CheckpointReader(prefix) as r:
        out = np.empty((3, 4), np.int16)
        r.read_region_into("cols", (1, 2), out)
        np.testing.assert_array_equal(out, cols[1:4, 2:6])
        box = np.empty((40, 3), np.float32)
        r.read_region_into("emb", (20, 2), box)
        np.testing.assert_array_equal(box, full[20:60, 2:5])
        np.testing.assert_array_equal(r.read_variable("cols"), cols)
        with pytest.raises(ValueError, match="box inside 'emb'"):
            r.read_region_into("emb", (90, 0), np.empty((20, 6), np.float32))
        with pytest.raises(ValueError, match="checkpoint's dtype float32"):
            r.read_region_into("emb", (0, 0), np.empty((2, 6), np.float64))
        with pytest.raises(NotFoundError, match="Key nope not found in checkpoint"):
            r.variable("nope")


def test_whole_pieces_read_during_resharding_are_checksum_verified(partitioned):
    prefix, _, _ = partitioned
    index = X.read_index(prefix)
    file = index.file_path(index.tensors["emb/part_1"].file)
    layout = F.read_layout(file)
    with open(file, "r+b") as f:
        f.seek(layout.data_start + layout["emb/part_1"].begin + 4)
        f.write(b"\xff\xff")
    with X.CheckpointReader(prefix) as r, pytest.raises(DataLossError, match="emb/part_1"):
        r.read_region_into("emb", (0, 0), np.empty((100, 6), np.float32))
