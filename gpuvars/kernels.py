"""The CUDA kernels of ``kernels/*.cu``: found, built, loaded and launched.

One kernel source, three targets (SPEC §1, §8):

* real GPUs: each ``.cu`` file becomes a CuPy ``RawModule`` (NVRTC), compiled
  on first use and cached per device (``cuda_module``);
* emulated GPUs, and ``/cpu:0`` where it is faster than NumPy: every ``.cu``
  file is compiled by the host C++ compiler with ``gv_host_shim.h`` into ONE
  shared library per process (``host_library``), cached on disk under
  ``$GPUVARS_CACHE_DIR`` (default ``~/.cache/gpuvars``) keyed by a hash of the
  sources, the flags and the compiler version, and loaded with ctypes;
* CI: ``ci/check_kernels.py`` compiles every file with nvcc and NVRTC.

``KernelBackend`` holds the decisions every kernel-running backend shares
(which kernel, grid sizes, the bounds flag, dtype promotion), so that the
CUDA backend, which cannot run here, is thin glue over code the emulated
GPUs exercise.

Importing this module imports neither CuPy nor a compiler; both are looked
up on first use.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import logging
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from gpuvars import errors
from gpuvars.backends.base import SCATTER_OPS, Backend, index_error, nd_index_error

__all__ = [
    "BLOCK",
    "NO_ERROR",
    "KernelBuildError",
    "CompilerNotFoundError",
    "HostLibrary",
    "KernelBackend",
    "kernel_dir",
    "kernel_files",
    "kernel_file",
    "cuda_source",
    "cuda_include_dir",
    "nvrtc_options",
    "cuda_module",
    "host_compiler",
    "host_flags",
    "cache_dir",
    "build_host_library",
    "host_library",
    "host_kernels_available",
    "host_kernels_error",
    "host_pointer",
    "HostKernels",
    "cpu_kernels",
]

logger = logging.getLogger(__name__)

#: Threads per block for every launch (a multiple of the warp size).
BLOCK = 256
#: Elements per thread per tile in element-wise kernels (``GV_ILP`` in gv_common.cuh).
ILP = 4
#: Initial value of the bounds flag: no bad index seen (``GV_NO_ERROR``).
NO_ERROR = (1 << 63) - 1
#: Elements per chunk in the fused group kernels (a multiple of 16 bytes for every dtype).
GROUP_CHUNK = 1 << 16
_MAX_GRID = (1 << 31) - 1

SHIM_HEADER = "gv_host_shim.h"
_INCLUDE_RE = re.compile(r'^[ \t]*#[ \t]*include[ \t]*"([^"]+)"[ \t]*$', re.MULTILINE)


class KernelBuildError(RuntimeError):
    """The host compiler rejected the kernels (a bug in ``kernels/``, or a broken toolchain)."""


class CompilerNotFoundError(RuntimeError):
    """No C++ compiler to build the kernels for emulated GPUs."""


# ---------------------------------------------------------------------------
# Sources
# ---------------------------------------------------------------------------
def kernel_dir() -> Path:
    """The folder holding ``*.cu`` and ``gv_host_shim.h``.

    An installed package has them in ``gpuvars/_kernels`` (pyproject's
    force-include); a source checkout in ``<repo>/kernels``.

    Raises:
      FileNotFoundError: neither exists (a broken installation).
    """
    here = Path(__file__).resolve().parent
    for candidate in (here / "_kernels", here.parent / "kernels"):
        if (candidate / SHIM_HEADER).is_file():
            return candidate
    raise FileNotFoundError(
        f"gpuvars kernel sources not found: expected {here / '_kernels'} (installed package) or "
        f"{here.parent / 'kernels'} (source checkout) to hold {SHIM_HEADER} and *.cu. Reinstall gpuvars."
    )


def kernel_files() -> list[str]:
    """Names of the ``.cu`` files, sorted."""
    return sorted(p.name for p in kernel_dir().glob("*.cu"))


# Which file defines a kernel, by name prefix (the entry points of each file
# are listed at its top).
_FILE_BY_PREFIX = (
    ("gv_copy", "dense.cu"),
    ("gv_fill_", "dense.cu"),
    ("gv_cast_", "dense.cu"),
    ("gv_add_", "dense.cu"),
    ("gv_sub_", "dense.cu"),
    ("gv_group_", "dense.cu"),
    ("gv_validate_", "scatter.cu"),
    ("gv_nd_linearize_", "scatter.cu"),
    ("gv_scatter_", "scatter.cu"),
    ("gv_winner", "scatter.cu"),
    ("gv_segment_", "segment.cu"),
    ("gv_owner_", "owner.cu"),
    ("gv_count_up_to_", "count.cu"),
    ("gv_philox_", "philox.cu"),
)


def kernel_file(name: str) -> str:
    """The ``.cu`` file that defines kernel ``name``.

    Raises:
      KeyError: no file defines kernels with that prefix.
    """
    for prefix, filename in _FILE_BY_PREFIX:
        if name.startswith(prefix):
            return filename
    raise KeyError(f"No kernel file defines {name!r}; known prefixes: {[p for p, _ in _FILE_BY_PREFIX]}")


def cuda_source(filename: str, root: str | os.PathLike[str] | None = None) -> str:
    """The source of one ``.cu`` file with its local ``#include "..."`` inlined.

    CuPy caches compiled modules by source text and options; inlining the
    headers makes an edit to ``gv_common.cuh`` a cache miss, as it must be.
    ``root`` is the folder of the file and its headers (default ``kernel_dir()``).
    """
    root = Path(root) if root is not None else kernel_dir()
    seen: set[str] = set()

    def expand(name: str) -> str:
        if name in seen:
            return ""  # every header has include guards; one copy is enough
        seen.add(name)
        text = (root / name).read_text()

        def repl(m: re.Match[str]) -> str:
            inc = m.group(1)
            if (root / inc).is_file():
                return f"// ---- begin {inc}\n{expand(inc)}\n// ---- end {inc}"
            return m.group(0)

        return _INCLUDE_RE.sub(repl, text)

    return expand(filename)


# ---------------------------------------------------------------------------
# CUDA headers, NVRTC, CuPy
# ---------------------------------------------------------------------------
def _cuda_include_candidates() -> Iterator[Path]:
    for var in ("CUDA_PATH", "CUDA_HOME", "CUDA_ROOT"):
        if os.environ.get(var):
            yield Path(os.environ[var]) / "include"
    nvcc = shutil.which("nvcc")
    if nvcc:
        yield Path(nvcc).resolve().parent.parent / "include"
    yield Path("/usr/local/cuda/include")
    yield from sorted(Path("/usr/local").glob("cuda-*/include"), reverse=True)
    # pip's CUDA runtime wheels (CuPy's usual companions).
    for entry in sys.path:
        base = Path(entry) / "nvidia"
        if base.is_dir():
            yield from sorted(base.glob("cu*/include"), reverse=True)
            yield base / "cuda_runtime" / "include"


_cuda_include: list[str | None] = []


def cuda_include_dir() -> str | None:
    """A folder holding ``cuda_fp16.h``, or None.

    Looked up in ``$CUDA_PATH``/``$CUDA_HOME``, beside ``nvcc``, in
    ``/usr/local/cuda*``, and in pip's ``nvidia-*`` wheels.
    """
    if not _cuda_include:
        found = next((str(p) for p in _cuda_include_candidates() if (p / "cuda_fp16.h").is_file()), None)
        _cuda_include.append(found)
    return _cuda_include[0]


def nvrtc_options() -> tuple[str, ...]:
    """NVRTC options for the kernels (CuPy adds ``-arch`` itself).

    ``--fmad=false``: no fused multiply-add, so results match the host build
    (``-ffp-contract=off``) bit for bit.
    """
    opts = ["-std=c++17", "--fmad=false"]
    inc = cuda_include_dir()
    if inc:
        opts.append(f"-I{inc}")
    return tuple(opts)


_modules: dict[tuple[str, int], Any] = {}
_modules_lock = threading.Lock()


def cuda_module(filename: str, device: int) -> Any:
    """The CuPy ``RawModule`` of one ``.cu`` file on one CUDA device.

    Compiled by NVRTC on first use (CuPy also caches it on disk) and cached
    per (file, device) for the process.
    """
    key = (filename, device)
    mod = _modules.get(key)
    if mod is None:
        import cupy  # only ever reached on a machine with a GPU

        with _modules_lock:
            mod = _modules.get(key)
            if mod is None:
                with cupy.cuda.Device(device):
                    mod = cupy.RawModule(code=cuda_source(filename), options=nvrtc_options(), backend="nvrtc")
                    mod.compile()
                _modules[key] = mod
    return mod


# ---------------------------------------------------------------------------
# Host build
# ---------------------------------------------------------------------------
def host_compiler() -> str | None:
    """The host C++ compiler: ``$CXX``, else ``g++``, else ``c++``; None when there is none."""
    cxx = os.environ.get("CXX")
    if cxx:
        return shutil.which(cxx) or (cxx if os.path.isfile(cxx) else None)
    return shutil.which("g++") or shutil.which("c++")


def host_flags() -> tuple[str, ...]:
    """Compiler flags of the host build (the include and input come after them).

    ``-fvisibility=hidden``: only the ``*_launch`` entry points are exported.
    ``-fno-strict-aliasing``: kernels read 16-byte vectors through casts.
    ``-ffp-contract=off``: no FMA, so results match NVRTC's ``--fmad=false``.
    """
    return (
        "-std=c++17", "-O3", "-fopenmp", "-fPIC", "-fvisibility=hidden",
        "-fno-strict-aliasing", "-ffp-contract=off", "-x", "c++",
    )


def cache_dir() -> Path:
    """Where built libraries are kept: ``$GPUVARS_CACHE_DIR``, else ``$XDG_CACHE_HOME/gpuvars`` or ``~/.cache/gpuvars``."""
    env = os.environ.get("GPUVARS_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "gpuvars"


def _compiler_version(compiler: str) -> str:
    out = subprocess.run([compiler, "--version"], capture_output=True, text=True, timeout=60)
    return out.stdout.strip()


def _missing_compiler_message() -> str:
    cxx = os.environ.get("CXX")
    looked = f"$CXX={cxx!r}" if cxx else "g++ and c++ on PATH"
    return (
        "Emulated GPUs run the CUDA kernels of gpuvars compiled for the CPU, which needs a C++17 compiler "
        f"with OpenMP; none was found (looked for {looked}). Install one (Debian/Ubuntu: "
        "`apt-get install g++`; Fedora: `dnf install gcc-c++`; conda: `conda install gxx`) or point $CXX "
        "at it; or run without emulated GPUs (unset GPUVARS_EMULATED_GPUS)."
    )


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock between processes (so concurrent first uses build once)."""
    try:
        import fcntl
    except ImportError:  # Windows: no lock; the atomic rename still keeps builds safe
        yield
        return
    with open(path, "a+") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def build_host_library(
    directory: str | os.PathLike[str] | None = None,
    *,
    files: Sequence[str] | None = None,
    extra_flags: Sequence[str] = (),
    use_cuda_headers: bool = True,
) -> Path:
    """Compile ``kernels/*.cu`` for the host into one shared library, or reuse a cached one.

    Each file is compiled separately (in parallel), then linked. The result
    is named by a hash of the sources, headers, flags and compiler version,
    written under a temporary name and renamed into place, so concurrent
    processes are safe and a stale library is never loaded.

    Args:
      directory: cache folder (default ``cache_dir()``).
      files: ``.cu`` file names to build (default: all).
      extra_flags: more compiler flags (e.g. ``-DGV_SHIM_NO_CUDA_FP16``).
      use_cuda_headers: add ``-I`` for the CUDA include folder when found, so
        the shim takes ``__half`` from ``cuda_fp16.h``.

    Returns:
      The path of the shared library.

    Raises:
      CompilerNotFoundError: no C++ compiler.
      KernelBuildError: compilation failed (the message holds the compiler's output).

    Example:
      >>> lib = build_host_library()          # doctest: +SKIP
      >>> ctypes.CDLL(str(lib)).gv_host_num_threads()   # doctest: +SKIP
    """
    compiler = host_compiler()
    if compiler is None:
        raise CompilerNotFoundError(_missing_compiler_message())
    root = kernel_dir()
    names = list(files) if files is not None else kernel_files()
    out_dir = Path(directory) if directory is not None else cache_dir()
    includes = [f"-I{root}"]
    inc = cuda_include_dir() if use_cuda_headers else None
    if inc:
        includes.append(f"-I{inc}")
    flags = [*host_flags(), *extra_flags]

    h = hashlib.sha256()
    for part in (_compiler_version(compiler), " ".join(flags), " ".join(includes), sys.platform):
        h.update(part.encode() + b"\0")
    for p in sorted(root.glob("*.cuh")) + [root / SHIM_HEADER] + [root / n for n in sorted(names)]:
        h.update(p.name.encode() + b"\0" + p.read_bytes() + b"\0")
    if inc:  # a CUDA upgrade changes the host __half
        for hdr in ("cuda_fp16.h", "cuda_fp16.hpp"):
            if (Path(inc) / hdr).is_file():
                h.update((Path(inc) / hdr).read_bytes())
    target = out_dir / f"libgpuvars_kernels-{h.hexdigest()[:20]}.so"
    if target.is_file():
        return target

    out_dir.mkdir(parents=True, exist_ok=True)
    with _file_lock(out_dir / ".build.lock"):
        if target.is_file():  # another process built it while we waited
            return target
        logger.info("Compiling the gpuvars kernels for the host with %s (once; cached in %s)", compiler, out_dir)
        with tempfile.TemporaryDirectory(dir=out_dir, prefix=".build-") as tmp:
            objects = [Path(tmp) / (Path(n).stem + ".o") for n in names]

            def compile_one(name: str, obj: Path) -> subprocess.CompletedProcess[str]:
                cmd = [compiler, *flags, "-include", SHIM_HEADER, *includes, "-c", str(root / name), "-o", str(obj)]
                return subprocess.run(cmd, capture_output=True, text=True)

            with ThreadPoolExecutor(max_workers=max(1, min(len(names), os.cpu_count() or 1))) as pool:
                results = list(pool.map(compile_one, names, objects))
            failed = [(n, r) for n, r in zip(names, results) if r.returncode != 0]
            if failed:
                detail = "\n".join(f"--- {n}:\n{r.stderr[-4000:]}" for n, r in failed)
                raise KernelBuildError(
                    f"{compiler} could not build the gpuvars kernels for the host ({', '.join(n for n, _ in failed)})."
                    f" Expected a C++17 compiler with OpenMP (g++ >= 9). Compiler output:\n{detail}"
                )
            partial = Path(tmp) / target.name
            link = subprocess.run(
                [compiler, "-shared", "-fopenmp", "-o", str(partial), *map(str, objects)],
                capture_output=True, text=True,
            )
            if link.returncode != 0:
                raise KernelBuildError(f"Linking the gpuvars kernels failed:\n{link.stderr[-4000:]}")
            os.replace(partial, target)  # atomic: readers see the old state or the whole library
    return target


# ---------------------------------------------------------------------------
# The loaded host library
# ---------------------------------------------------------------------------
def _probe_data_offset() -> int | None:
    # ndarray.ctypes.data costs ~3 us; reading the `data` field of the
    # PyArrayObject (NumPy's public struct layout, right after the object
    # header) costs ~0.4 us. Found and verified here, else not used.
    if sys.implementation.name != "cpython":
        return None
    samples: list[np.ndarray] = [np.empty(3), np.empty((2, 5), np.int8), np.arange(7.0)[2:]]
    for off in range(8, 72, 8):
        try:
            if all(ctypes.c_void_p.from_address(id(a) + off).value == a.ctypes.data for a in samples):
                return off
        except (ValueError, OverflowError):
            return None
    return None


_DATA_OFFSET = _probe_data_offset()
_from_address = ctypes.c_void_p.from_address


def host_pointer(a: np.ndarray) -> int:
    """The address of a host array's first element."""
    if _DATA_OFFSET is not None:
        return _from_address(id(a) + _DATA_OFFSET).value or 0
    return a.__array_interface__["data"][0]


def _ctype_of(arg: Any) -> Any:
    if isinstance(arg, np.ndarray):
        return ctypes.c_void_p
    if isinstance(arg, np.uint32):
        return ctypes.c_uint
    if isinstance(arg, (int, np.integer)):
        return ctypes.c_longlong
    raise TypeError(f"Kernel arguments are arrays, numpy.int64 or numpy.uint32. Received: {type(arg).__name__}")


class HostLibrary:
    """The kernels compiled for the host, loaded with ctypes.

    ``launch(name, grid, block, args)`` runs kernel ``name`` over a 1-D grid
    on OpenMP threads (ctypes releases the GIL for the call, so launches from
    several Python threads really run at once).
    """

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        self._dll = ctypes.CDLL(str(self.path))
        self._fns: dict[str, Any] = {}
        self._dll.gv_host_num_threads.restype = ctypes.c_int
        self._dll.gv_host_has_cuda_fp16.restype = ctypes.c_int
        #: OpenMP threads a launch uses.
        self.num_threads = int(self._dll.gv_host_num_threads())
        #: Whether ``__half`` comes from ``cuda_fp16.h`` (else the shim's own).
        self.has_cuda_fp16 = bool(self._dll.gv_host_has_cuda_fp16())
        self._dll.gv_host_ilp.restype = ctypes.c_int
        #: Items per thread per tile in element-wise kernels (``GV_ILP`` of the host build).
        self.ilp = int(self._dll.gv_host_ilp())
        self._data_pointers = self._dll.gv_host_data_pointers
        self._data_pointers.argtypes = [ctypes.c_void_p, ctypes.c_longlong, ctypes.c_longlong, ctypes.c_void_p]
        self._data_pointers.restype = None

    def data_pointers(self, arrays: Sequence[np.ndarray]) -> np.ndarray:
        """The data addresses of many host arrays, as int64 (one C call instead of one lookup per array)."""
        n = len(arrays)
        if _DATA_OFFSET is None:
            return np.fromiter((host_pointer(a) for a in arrays), dtype=np.int64, count=n)
        objs = np.fromiter(map(id, arrays), dtype=np.int64, count=n)
        out = np.empty(n, dtype=np.int64)
        self._data_pointers(objs.ctypes.data, n, _DATA_OFFSET, out.ctypes.data)
        return out

    def __repr__(self) -> str:
        return f"<HostLibrary {self.path.name} threads={self.num_threads}>"

    def has(self, name: str) -> bool:
        """Whether kernel ``name`` exists in the library."""
        return hasattr(self._dll, name + "_launch")

    def _bind(self, name: str, args: Sequence[Any]) -> Any:
        try:
            fn = getattr(self._dll, name + "_launch")
        except AttributeError:
            raise KeyError(f"Kernel {name!r} is not in {self.path.name} (a dtype or op without a kernel)") from None
        fn.argtypes = [ctypes.c_uint, ctypes.c_uint, *(_ctype_of(a) for a in args)]
        fn.restype = None
        self._fns[name] = fn
        return fn

    def launch(self, name: str, grid: int, block: int, args: Sequence[Any]) -> None:
        """Run kernel ``name``; ``args`` are host arrays and numpy ``int64``/``uint32`` scalars."""
        fn = self._fns.get(name) or self._bind(name, args)
        if _DATA_OFFSET is not None:
            off = _DATA_OFFSET
            fn(grid, block, *[_from_address(id(a) + off).value if isinstance(a, np.ndarray) else int(a)
                              for a in args])
        else:
            fn(grid, block, *[host_pointer(a) if isinstance(a, np.ndarray) else int(a) for a in args])


_host_lock = threading.Lock()
_host_lib: HostLibrary | None = None
_host_error: BaseException | None = None


def host_library() -> HostLibrary:
    """The process's host kernel library, built (or found in the cache) on first call.

    Raises:
      CompilerNotFoundError: no C++ compiler (says how to install one).
      KernelBuildError: the build failed.
    """
    global _host_lib, _host_error
    lib = _host_lib
    if lib is not None:
        return lib
    with _host_lock:
        if _host_lib is None:
            if _host_error is not None:
                raise _host_error
            try:
                _host_lib = HostLibrary(build_host_library())
            except (CompilerNotFoundError, KernelBuildError, OSError) as e:
                _host_error = e
                raise
        return _host_lib


def host_kernels_available() -> bool:
    """Whether the host kernels can be used (building them on first call).

    False when ``$GPUVARS_HOST_KERNELS`` is ``0`` or the library cannot be
    built; ``/cpu:0`` then falls back to NumPy. Never raises.
    """
    if os.environ.get("GPUVARS_HOST_KERNELS", "1").strip() == "0":
        return False
    try:
        host_library()
    except (CompilerNotFoundError, KernelBuildError, OSError) as e:
        logger.warning("gpuvars host kernels unavailable, /cpu:0 uses NumPy: %s", str(e).splitlines()[0])
        return False
    return True


def host_kernels_error() -> BaseException | None:
    """Why the host kernels could not be built, if they could not."""
    return _host_error


# ---------------------------------------------------------------------------
# Backends that run the kernels
# ---------------------------------------------------------------------------
_INDEX_SUFFIX = {np.dtype(np.int32): "i32", np.dtype(np.int64): "i64"}
_SIZE_SUFFIX = {1: "s1", 2: "s2", 4: "s4", 8: "s8", 16: "s16"}
# dtype -> kernel suffix, for the dtypes that have kernels.
_SUFFIX: dict[np.dtype, str] = {
    np.dtype(np.float16): "f16", np.dtype(np.float32): "f32", np.dtype(np.float64): "f64",
    np.dtype(np.int8): "i8", np.dtype(np.int16): "i16", np.dtype(np.int32): "i32", np.dtype(np.int64): "i64",
    np.dtype(np.uint8): "u8", np.dtype(np.uint16): "u16", np.dtype(np.uint32): "u32", np.dtype(np.uint64): "u64",
    np.dtype(np.complex64): "c64", np.dtype(np.complex128): "c128", np.dtype(np.bool_): "b8",
}


def _suffix(dtype: np.dtype) -> str:
    try:
        return _SUFFIX[np.dtype(dtype)]
    except KeyError:
        raise TypeError(
            f"No kernels for dtype {dtype}. Expected one of {', '.join(str(d) for d in _SUFFIX)}."
        ) from None


# dtype -> (suffix, elements per 16-byte vector) for the dense fast path. complex64 is left out: NumPy
# aligns it to 4 bytes, the kernels to 8, so its views take the general path that checks.
_FAST_DENSE = {dt: (sfx, max(1, 16 // dt.itemsize)) for dt, sfx in _SUFFIX.items()
               if dt.kind in "fiu" or dt == np.complex128}
_ONE = np.int64(1)
# Dtypes with fused add/sub group kernels: every dtype with kernels but bool.
_FAST_DENSE_OR_C64 = {dt: sfx for dt, sfx in _SUFFIX.items() if dt.kind != "b"}
# Updated elements from which the owner-computes scatter uses every host thread.
_OWNER_PARALLEL_MIN = 1 << 16


def _dims(threads: int) -> tuple[int, int]:
    """(grid, block) for ``threads`` CUDA threads: full blocks, or one small block for small work.

    A block smaller than 256 (down to a warp) for small work costs a GPU
    nothing and saves the host a loop iteration per idle thread (~10 ns
    each: a 16-element update in a 256-thread block spent 3 us idle).
    """
    if threads >= BLOCK:
        return min(_MAX_GRID, -(-threads // BLOCK)), BLOCK
    return 1, max(32, 1 << max(threads - 1, 0).bit_length())


def _lg_threads_per_row(row: int) -> int:
    # Many threads per row, up to a block: row-vectorized updates.
    return min(max(row - 1, 0).bit_length(), BLOCK.bit_length() - 1)


def _check_scatter_dtype(op: str, dtype: np.dtype) -> None:
    if op not in SCATTER_OPS:
        raise ValueError(f"Argument `op` must be one of {SCATTER_OPS}. Received: {op!r}")
    if dtype not in _SUFFIX:
        _suffix(dtype)
    if op == "update":
        return
    if dtype.kind == "b":
        raise TypeError(f"scatter_{op} is not defined for bool variables; only scatter_update is.")
    if dtype.kind == "c" and op in ("min", "max"):
        raise TypeError(f"scatter_{op} needs an ordered dtype; complex {dtype} has no order.")


def _promotion_error(op: str, src: np.dtype, dst: np.dtype, via: np.dtype) -> TypeError:
    return TypeError(
        f"Cannot {op} a {src} value into a {dst} variable: the result is {via}, which does not cast to {dst} "
        f"under the 'same_kind' rule. Convert the value to {dst} first."
    )


class KernelBackend(Backend):
    """Backend hooks implemented with the kernels; subclasses say where buffers live and how to launch.

    A subclass provides ``empty``/``from_host``/``to_host``/``owns`` and:

    * ``_launch(name, grid, block, args)``: run one kernel;
    * ``_finish(ref, flag, make_error)``: act on a bounds flag after the
      update kernels were queued (raise now, or remember until the next sync);
    * ``_stable_argsort(keys)`` (optional): a stable sort on the device.

    Everything else (kernel choice, promotion, grids, flags) lives here, so
    the emulated GPUs exercise it on every CI run.
    """

    #: Use the owner-computes kernel (host threads) instead of atomics; set on host-memory backends
    #: that are not emulating a GPU.
    owner_computes = False
    #: Items per thread per tile (``GV_ILP`` of the build that runs the kernels).
    ilp = ILP
    #: Threads per block of the fused group kernels (a block takes one chunk of one buffer).
    group_block = BLOCK

    @staticmethod
    def supports_scatter(op: str, dtype: np.dtype) -> bool:
        """Whether ``scatter``/``scatter_nd`` has kernels for ``op`` on ``dtype`` (else it raises TypeError)."""
        try:
            _check_scatter_dtype(op, np.dtype(dtype))
        except (TypeError, ValueError):
            return False
        return True

    #: Converts integer kernel arguments: numpy.int64 (CuPy maps it to ``long long``); plain int on the host.
    _int: Callable[[int], Any] = np.int64

    def _run(self, name: str, threads: int, args: Sequence[Any]) -> None:
        """Launch ``name`` with at least ``threads`` CUDA threads (grid-stride loops take any grid)."""
        grid, block = _dims(threads)
        self._launch(name, grid, block, args)

    # -- subclass hooks -------------------------------------------------------
    def _launch(self, name: str, grid: int, block: int, args: Sequence[Any]) -> None:
        raise NotImplementedError

    def _finish(self, ref: Any, flag: Any, make_error: Callable[[int], Exception]) -> None:
        raise NotImplementedError

    def _stable_argsort(self, keys: Any) -> Any:
        return self.xp.argsort(keys, kind="stable")

    def _before_mutation(self, ref: Any) -> None:
        """Called before kernels that write ``ref`` (CUDA: wait for its last event)."""

    def _after_mutation(self, ref: Any) -> None:
        """Called after kernels that write ``ref`` were queued (CUDA: record an event)."""

    def _upload(self, host: np.ndarray) -> Any:
        """A small host array (a table, a shape) as a device buffer."""
        return self.from_host(host)

    def _read_back(self, buf: Any) -> np.ndarray:
        return self.to_host(buf)

    def _host_threads(self) -> int:
        return 1

    # -- helpers ----------------------------------------------------------------
    def _prepared(self, a: Any, dtype: np.dtype | None = None) -> Any:
        """``a`` as a C-contiguous, element-aligned buffer of this device (copied only if needed)."""
        if not self.owns(a):
            a = self.from_host(np.asarray(a, dtype=dtype))
        if dtype is not None and a.dtype != dtype:
            a = self.cast(a, dtype)
        if not a.flags.c_contiguous or not self._aligned(a):
            b = self.empty(a.shape, a.dtype)
            b[...] = a  # a plain device-side copy of a view (no kernel semantics involved)
            a = b
        return a

    def _aligned(self, a: Any) -> bool:
        return self._pointer(a) % min(a.dtype.itemsize, 8) == 0

    def _pointer(self, a: Any) -> int:
        raise NotImplementedError

    def _operand(self, src: Any, dst: Any) -> tuple[Any, int]:
        """(src buffer, src_stride): stride 0 broadcasts one element over ``dst``."""
        if not self.owns(src):
            src = self.from_host(np.asarray(src))
        if src.ndim == 0 or (src.size == 1 and dst.size != 1 and src.ndim <= dst.ndim):
            return self._prepared(src.reshape(())), 0
        if tuple(src.shape) != tuple(dst.shape):
            try:
                src = self.xp.broadcast_to(src, dst.shape)
            except ValueError:
                raise ValueError(
                    f"Shapes must be equal or broadcastable: the variable has shape {tuple(dst.shape)}, "
                    f"the value has shape {tuple(src.shape)}."
                ) from None
        return self._prepared(src), 1

    def _new_flag(self) -> Any:
        flag = self.empty((1,), np.dtype(np.int64))
        flag[...] = NO_ERROR
        return flag

    def _run_on_contiguous(self, dst: Any, fn: Callable[[Any], None]) -> None:
        # Variables' buffers are contiguous; a view is updated through a copy.
        if dst.flags.c_contiguous and self._aligned(dst):
            fn(dst)
            return
        tmp = self._prepared(dst)
        fn(tmp)
        dst[...] = tmp

    # -- dense --------------------------------------------------------------------
    def cast(self, src: Any, dtype: np.dtype) -> Any:
        """A new buffer holding ``src`` converted to ``dtype`` (the cast kernels, NumPy's rules)."""
        dtype = np.dtype(dtype)
        out = self.empty(src.shape, dtype)
        self._assign_into(out, src)
        return out

    def _assign_into(self, dst: Any, src: Any) -> None:
        n = dst.size
        if n == 0:
            return
        s, stride = self._operand(src, dst)
        if s.dtype == dst.dtype:
            if stride:
                self._run("gv_copy", -(-dst.nbytes // (16 * self.ilp)), (dst, s, self._int(dst.nbytes)))
            else:
                sz = dst.dtype.itemsize
                name = f"gv_fill_{_SIZE_SUFFIX[sz]}"
                self._run(name, -(-n // self.ilp), (dst, s, self._int(n)))
            return
        if not np.can_cast(s.dtype, dst.dtype, "same_kind"):
            raise TypeError(
                f"Cannot assign a {s.dtype} value to a {dst.dtype} variable under the 'same_kind' casting rule. "
                f"Convert the value to {dst.dtype} first."
            )
        name = f"gv_cast_{_suffix(dst.dtype)}_{_suffix(s.dtype)}"
        self._run(name, -(-n // self.ilp), (dst, s, self._int(n), self._int(stride)))

    def assign(self, dst: Any, src: Any) -> None:
        """``dst[...] = src`` with a "same_kind" cast (the copy or cast kernels)."""
        self._before_mutation(dst)
        self._run_on_contiguous(dst, lambda d: self._assign_into(d, src))
        self._after_mutation(dst)

    def _arith(self, op: str, dst: Any, src: Any) -> None:
        dt = dst.dtype
        fast = _FAST_DENSE.get(dt)
        if (fast is not None and self.owns(src) and src.dtype == dt and src.shape == dst.shape
                and dst.flags.c_contiguous and src.flags.c_contiguous):
            # The common case, without the general path's checks: ~3x less per-call overhead.
            n = dst.size
            if n:
                self._before_mutation(dst)
                self._run(f"gv_{op}_{fast[0]}", -(-n // (self.ilp * fast[1])), (dst, src, self._int(n), _ONE))
                self._after_mutation(dst)
            return
        if not self.owns(src):
            src = self.from_host(np.asarray(src))
        # NumPy computes in the promoted dtype, then casts to the output.
        via = np.result_type(dst.dtype, src.dtype)
        if via.kind == "b":
            raise TypeError(f"assign_{op} is not defined for bool variables (TensorFlow has no bool AssignAdd).")
        if not np.can_cast(via, dst.dtype, "same_kind"):
            raise _promotion_error(f"assign_{op}", src.dtype, dst.dtype, via)
        _suffix(via)

        def run(d: Any) -> None:
            if d.size == 0:
                return
            target = d if via == d.dtype else self.cast(d, via)
            s, stride = self._operand(src, target)
            if s.dtype != via:
                s = self.cast(s, via)
            n = target.size
            per = self.ilp * max(1, 16 // via.itemsize) if stride else self.ilp
            self._run(f"gv_{op}_{_suffix(via)}", -(-n // per), (target, s, self._int(n), self._int(stride)))
            if target is not d:
                self._assign_into(d, target)

        self._before_mutation(dst)
        self._run_on_contiguous(dst, run)
        self._after_mutation(dst)

    def assign_add(self, dst: Any, src: Any) -> None:
        """``dst += src`` (vectorized kernel; NumPy's promotion and "same_kind" cast)."""
        self._arith("add", dst, src)

    def assign_sub(self, dst: Any, src: Any) -> None:
        """``dst -= src``."""
        self._arith("sub", dst, src)

    def group_update(self, op: str, dsts: Sequence[Any], srcs: Sequence[Any]) -> None:
        """Fused ``assign``/``add``/``sub`` over many buffers: one kernel launch per dtype.

        Buffers that need a cast or a broadcast other than a scalar, or that
        are not contiguous, take the single-buffer path; the rest go into a
        chunk table (see dense.cu).
        """
        single = {"assign": self.assign, "add": self.assign_add, "sub": self.assign_sub}
        if op not in single:
            raise ValueError(f"Argument `op` must be 'assign', 'add' or 'sub'. Received: {op!r}")
        if len(dsts) != len(srcs):
            raise ValueError(f"group_update needs one value per variable: {len(dsts)} variables, {len(srcs)} values.")
        # dtype -> (dsts, srcs, src strides, element counts); the loop is the fused path's main cost, so it
        # touches each array as little as it can.
        by_dtype: dict[np.dtype, tuple[list[Any], list[Any], list[int], list[int]]] = {}
        owns = self.owns
        fused = _SUFFIX if op == "assign" else _FAST_DENSE_OR_C64
        for d, s in zip(dsts, srcs):
            if not owns(s):
                s = self.from_host(np.asarray(s))
            dt = d.dtype
            if s.dtype != dt or dt not in fused or not d.flags.c_contiguous:
                single[op](d, s)
                continue
            shape = d.shape
            if s.shape == shape and s.flags.c_contiguous:
                stride = 1
            elif s.size == 1 and s.ndim <= len(shape):
                stride = 0
            else:
                single[op](d, s)
                continue
            size = d.size
            if not size:
                continue
            entry = by_dtype.get(dt)
            if entry is None:
                entry = by_dtype[dt] = ([], [], [], [])
            entry[0].append(d)
            entry[1].append(s)
            entry[2].append(stride)
            entry[3].append(size)
        for dtype, (ds, ss, strides, sizes) in by_dtype.items():
            table = self._group_table(ds, ss, strides, dtype.itemsize, sizes)
            nchunks = table.shape[0]
            for d in ds:
                self._before_mutation(d)
            self._launch(f"gv_group_{op}_{_suffix(dtype)}", min(nchunks, _MAX_GRID), self.group_block,
                         (self._upload(table), self._int(nchunks)))
            for d in ds:
                self._after_mutation(d)

    def _pointers(self, arrays: Sequence[Any]) -> np.ndarray:
        return np.fromiter((self._pointer(a) for a in arrays), dtype=np.int64, count=len(arrays))

    def _group_table(self, ds: Sequence[Any], ss: Sequence[Any], strides: Sequence[int], itemsize: int,
                     sizes: Sequence[int] | None = None) -> np.ndarray:
        """The chunk table of a fused launch: rows of {dst address, src address, count, src stride}."""
        counts = np.array(sizes if sizes is not None else [d.size for d in ds], dtype=np.int64)
        dptr = self._pointers(ds)
        sptr = self._pointers(ss)
        stride = np.array(strides, dtype=np.int64)
        if int(counts.max()) <= GROUP_CHUNK:
            table = np.empty((len(ds), 4), dtype=np.int64)
            table[:, 0] = dptr
            table[:, 1] = sptr
            table[:, 2] = counts
            table[:, 3] = stride
            return table
        nch = -(-counts // GROUP_CHUNK)
        which = np.repeat(np.arange(len(ds)), nch)
        first = np.repeat(np.cumsum(nch) - nch, nch)
        start = (np.arange(int(nch.sum())) - first) * GROUP_CHUNK
        table = np.empty((which.size, 4), dtype=np.int64)
        table[:, 0] = dptr[which] + start * itemsize
        table[:, 1] = sptr[which] + start * itemsize * stride[which]
        table[:, 2] = np.minimum(GROUP_CHUNK, counts[which] - start)
        table[:, 3] = stride[which]
        return table

    # -- sparse -------------------------------------------------------------------
    def _scatter_strategy(self, op: str, dtype: np.dtype, locked: bool, deterministic: bool) -> str:
        """Which kernel family runs a scatter: ``owner``, ``segment``, ``locked`` or ``atomic``."""
        if self.owner_computes:
            return "owner"  # deterministic and fastest on CPU threads
        if deterministic:
            return "segment"
        if op == "update":
            return "locked" if locked else "atomic"
        if dtype == np.complex128 and op in ("mul", "div"):
            return "segment"  # no 16-byte compare-and-swap for an atomic complex128 product
        return "atomic"

    def _scatter_rows(self, op: str, ref: Any, idx: Any, upd: Any, n: int, dim0: int, row: int, flag: Any,
                      *, locked: bool, deterministic: bool) -> None:
        """The update kernels for ``ref`` viewed as ``(dim0, row)``; ``idx`` already validated into ``flag``."""
        dtype = ref.dtype
        isfx = _INDEX_SUFFIX[idx.dtype]
        tsfx = _SIZE_SUFFIX[dtype.itemsize] if op == "update" else _suffix(dtype)
        strategy = self._scatter_strategy(op, dtype, locked, deterministic)
        i64 = self._int
        n64, row64 = i64(n), i64(row)
        if strategy == "owner":
            # Small updates run on the caller's thread: waking a second thread costs more (and, on a busy
            # machine, a scheduler tick).
            threads = max(1, self._host_threads()) if n * row >= _OWNER_PARALLEL_MIN else 1
            if threads > 1 and row * dtype.itemsize >= 64 * threads:
                row_parts, col_parts = 1, threads  # split columns: balanced however skewed the indices
            else:
                row_parts, col_parts = min(threads, dim0), 1
            self._launch(f"gv_owner_{op}_{tsfx}_{isfx}", row_parts * col_parts, 1,
                         (ref, idx, upd, n64, i64(dim0), row64, i64(row_parts), i64(col_parts), flag))
            return
        lg = _lg_threads_per_row(row)
        threads = n << lg
        if strategy == "segment":
            perm = self._stable_argsort(idx)
            keys = self._prepared(idx[perm], np.dtype(np.int64))
            perm = self._prepared(perm, np.dtype(np.int64))
            self._run(f"gv_segment_{op}_{tsfx}", threads, (ref, keys, perm, upd, n64, row64, i64(lg), flag))
        elif strategy == "locked":
            winner = self.empty((dim0,), np.dtype(np.int64))
            t1 = -(-n // self.ilp)
            self._run(f"gv_winner_init_{isfx}", t1, (idx, n64, winner, flag))
            self._run(f"gv_winner_{isfx}", t1, (idx, n64, winner, flag))
            self._run(f"gv_scatter_locked_{tsfx}_{isfx}", threads, (ref, idx, upd, n64, row64, i64(lg), winner, flag))
        else:
            self._run(f"gv_scatter_{op}_{tsfx}_{isfx}", threads, (ref, idx, upd, n64, row64, i64(lg), flag))

    def _sparse_inputs(self, ref: Any, indices: Any, updates: Any) -> tuple[Any, Any]:
        idx = indices if self.owns(indices) else self.from_host(np.asarray(indices))
        if idx.dtype not in _INDEX_SUFFIX:
            if idx.dtype.kind not in "iu":
                raise TypeError(f"Indices must be int32 or int64. Received: {idx.dtype}")
            idx = self.cast(idx, np.dtype(np.int64))
        idx = self._prepared(idx)
        upd = updates if self.owns(updates) else self.from_host(np.asarray(updates))
        upd = self._prepared(upd, ref.dtype)
        return idx, upd

    def scatter(self, op: str, ref: Any, indices: Any, updates: Any, *, locked: bool, deterministic: bool) -> None:
        """``ref[indices[i]] op= updates[i]``: validation kernel + flag, then the update kernels.

        Raises:
          InvalidArgumentError: an index is out of range ("indices[2] = 6 is not in [0, 6)"); ``ref`` is unchanged.
          TypeError: the op is not defined for the dtype (bool arithmetic, complex min/max).
        """
        _check_scatter_dtype(op, ref.dtype)
        idx, upd = self._sparse_inputs(ref, indices, updates)
        idx = idx.reshape(-1)
        n = int(idx.size)
        dim0 = int(ref.shape[0]) if ref.ndim else 0
        row = int(math.prod(ref.shape[1:]))
        expected = (n, *ref.shape[1:])
        if tuple(upd.shape) != expected and upd.size != n * row:
            raise ValueError(
                f"updates must have shape indices.shape + ref.shape[1:] = {expected}. Received: {tuple(upd.shape)}"
            )
        if n == 0:
            return
        flag = self._new_flag()
        self._run(f"gv_validate_{_INDEX_SUFFIX[idx.dtype]}", -(-n // self.ilp), (idx, self._int(n), self._int(dim0), flag))

        def run(r: Any) -> None:
            if row:
                self._scatter_rows(op, r, idx, upd, n, dim0, row, flag, locked=locked, deterministic=deterministic)

        self._before_mutation(ref)
        self._run_on_contiguous(ref, run)
        self._after_mutation(ref)
        self._finish(ref, flag, lambda pos: index_error(pos, int(idx[pos]), dim0))

    def scatter_nd(self, op: str, ref: Any, indices: Any, updates: Any, *, locked: bool, deterministic: bool) -> None:
        """``ref[tuple(indices[i])] op= updates[i]`` for ``(N, K)`` indices: linearized by a kernel, then ``scatter``.

        Raises:
          InvalidArgumentError: "indices[1] = [6] does not index into shape [6]"; ``ref`` is unchanged.
        """
        if op not in ("update", "add", "sub"):
            raise ValueError(f"scatter_nd supports 'update', 'add' and 'sub'. Received: {op!r}")
        _check_scatter_dtype(op, ref.dtype)
        idx, upd = self._sparse_inputs(ref, indices, updates)
        if idx.ndim < 1:
            raise ValueError(f"scatter_nd indices must have at least one dimension (the last is K). Received shape {idx.shape}")
        k = int(idx.shape[-1])
        if k > ref.ndim:
            raise ValueError(
                f"The last dimension of indices ({k}) must not exceed the rank of the variable ({ref.ndim}, shape "
                f"{tuple(ref.shape)})."
            )
        n = int(math.prod(idx.shape[:-1]))
        idx2 = idx.reshape(n, k)  # explicit n: reshape(-1, 0) is ambiguous
        shape = tuple(int(s) for s in ref.shape)
        rows = int(math.prod(shape[:k]))
        row = int(math.prod(shape[k:]))
        if upd.size != n * row:
            raise ValueError(
                f"updates must have shape indices.shape[:-1] + ref.shape[{k}:] = "
                f"{(*idx.shape[:-1], *shape[k:])}. Received: {tuple(upd.shape)}"
            )
        if n == 0:
            return
        flag = self._new_flag()
        lin = self.empty((n,), np.dtype(np.int64))
        dims = self._upload(np.asarray(shape[:k] or (1,), dtype=np.int64))
        self._run(f"gv_nd_linearize_{_INDEX_SUFFIX[idx.dtype]}", -(-n // self.ilp),
                  (idx2, self._int(n), self._int(k), dims, lin, flag))

        def run(r: Any) -> None:
            if row:
                self._scatter_rows(op, r.reshape(rows, row), lin, upd, n, rows, row, flag,
                                   locked=locked, deterministic=deterministic)

        self._before_mutation(ref)
        self._run_on_contiguous(ref, run)
        self._after_mutation(ref)
        self._finish(ref, flag, lambda pos: nd_index_error(pos, [int(v) for v in idx2[pos]], shape))

    def count_up_to(self, ref: Any, limit: int) -> int:
        """Atomically increment a scalar int32/int64 buffer below ``limit``; return the old value.

        Raises:
          OutOfRangeError: "Reached limit of <limit>" (buffer unchanged).
        """
        if ref.dtype not in (np.int32, np.int64) or ref.size != 1:
            raise TypeError(f"count_up_to needs a scalar int32 or int64 variable. Received: {ref.dtype} {ref.shape}")
        out = self.empty((2,), np.dtype(np.int64))
        self._before_mutation(ref)
        self._launch(f"gv_count_up_to_{_suffix(ref.dtype)}", 1, 1, (ref, self._int(limit), out))
        self._after_mutation(ref)
        old, reached = (int(v) for v in self._read_back(out))
        if reached:
            raise errors.OutOfRangeError(None, None, f"Reached limit of {limit}")
        return old

    # kind -> {dtype: kernel}; elements per thread: 4 (one Philox block per
    # thread) for bits and 32-bit uniforms, 2 for float64 pairs, 1 for the
    # truncated normal (each element retries on its own).
    _FLOATS = ((np.float16, "f16"), (np.float32, "f32"), (np.float64, "f64"))
    _RANDOM: dict[str, dict[np.dtype, tuple[str, int]]] = {
        "bits": {np.dtype(np.uint32): ("gv_philox_bits", 4)},
        "uniform": {np.dtype(t): (f"gv_philox_uniform_{s}", 2 if s == "f64" else 4) for t, s in _FLOATS},
        "normal": {np.dtype(t): (f"gv_philox_normal_{s}", 2) for t, s in _FLOATS},
        "truncated_normal": {np.dtype(t): (f"gv_philox_truncnormal_{s}", 1) for t, s in _FLOATS},
    }

    def random(self, kind: str, shape: tuple[int, ...], dtype: np.dtype, key: tuple[int, int], counter: int,
               **params: float) -> Any:
        """Philox4x32-10 draws as a new buffer of this device (the contract is in ``gpuvars.random``).

        ``kind`` is ``bits`` (uint32), ``uniform`` (float16/32/64 in [0, 1)),
        ``normal`` or ``truncated_normal`` (float16/32/64, standard); the
        caller scales and shifts. Bit-identical to
        ``gpuvars.random.philox_reference`` for bits and uniforms; normals
        agree within an ulp or two (the host's libm vs NumPy's log/cos/sin).

        Raises:
          ValueError: an unknown kind, or a dtype the kind cannot produce (as the reference).
          NotImplementedError: a floating dtype without a kernel (bfloat16): the caller falls back to the reference.
          TypeError: distribution parameters (the caller applies them).
        """
        if params:
            raise TypeError(f"random() draws standard variates; scale them in the caller. Unexpected: {sorted(params)}")
        if kind not in self._RANDOM:
            raise ValueError(f"Argument `kind` must be one of {sorted(self._RANDOM)}. Received: {kind!r}")
        table = self._RANDOM[kind]
        dtype = np.dtype(dtype)
        if dtype not in table:
            if kind != "bits" and (dtype.kind == "f" or dtype.name == "bfloat16"):
                raise NotImplementedError(f"No Philox kernel for {kind} {dtype}; use gpuvars.random.philox_reference.")
            raise ValueError(f"random({kind!r}) produces {', '.join(str(d) for d in table)}. Received dtype {dtype}.")
        name, per = table[dtype]
        shape = tuple(int(s) for s in shape)
        n = int(math.prod(shape))
        out = self.empty(shape, dtype)
        if n:
            k0, k1 = (int(k) & 0xFFFFFFFF for k in key)
            self._run(name, -(-n // per),
                      (out, self._int(n), np.uint32(k0), np.uint32(k1), np.uint32(int(counter) & 0xFFFFFFFF)))
        return out


class HostKernels(KernelBackend):
    """The kernels over host memory (NumPy arrays), run by the host library.

    ``EmulatedGpuBackend`` subclasses it; ``/cpu:0`` uses an instance with
    ``owner_computes=True`` (``cpu_kernels()``) where it beats NumPy.
    """

    kind = "host"
    device_type = "CPU"
    xp = np
    _int = int  # ctypes converts (argtypes are set from the first call's arguments)

    def __init__(self, index: int = 0, library: HostLibrary | None = None, *, owner_computes: bool = False):
        super().__init__(index)
        self.library = library if library is not None else host_library()
        self.owner_computes = owner_computes
        self.ilp = self.library.ilp
        # A host block runs its threads one after another, and an idle thread still costs a loop
        # iteration: small blocks waste less on the many small buffers of a group update.
        self.group_block = 32

    def empty(self, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        return np.empty(shape, dtype)

    def from_host(self, array: np.ndarray) -> np.ndarray:
        return np.array(array, copy=True, order="C")

    def to_host(self, array: Any) -> np.ndarray:
        return np.array(array, copy=True)

    def owns(self, array: Any) -> bool:
        return isinstance(array, np.ndarray)

    def _pointer(self, a: Any) -> int:
        return host_pointer(a)

    def _pointers(self, arrays: Sequence[Any]) -> np.ndarray:
        return self.library.data_pointers(arrays)

    def _launch(self, name: str, grid: int, block: int, args: Sequence[Any]) -> None:
        self.library.launch(name, grid, block, args)

    def _finish(self, ref: Any, flag: Any, make_error: Callable[[int], Exception]) -> None:
        # Host launches are synchronous: the flag is final, raise now.
        pos = int(flag[0])
        if pos != NO_ERROR:
            raise make_error(pos)

    def _upload(self, host: np.ndarray) -> Any:
        return host

    def _read_back(self, buf: Any) -> np.ndarray:
        return np.asarray(buf)

    def _host_threads(self) -> int:
        return self.library.num_threads


_cpu_kernels: list[HostKernels | None] = []
_cpu_lock = threading.Lock()


def cpu_kernels() -> HostKernels | None:
    """The owner-computes host kernels for ``/cpu:0``, or None (no compiler, or ``GPUVARS_HOST_KERNELS=0``).

    Decided once per process; the first call may build the library.
    """
    if not _cpu_kernels:
        with _cpu_lock:
            if not _cpu_kernels:
                ok = host_kernels_available()
                _cpu_kernels.append(HostKernels(0, host_library(), owner_computes=True) if ok else None)
    return _cpu_kernels[0]
