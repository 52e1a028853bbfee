"""Building the kernels: the host shim, the cache, the error without a compiler, NVRTC."""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from gpuvars import kernels

needs_cxx = pytest.mark.skipif(kernels.host_compiler() is None, reason="no C++ compiler")


def _compile(tmp_path, source: str, *flags: str) -> subprocess.CompletedProcess[str]:
    src = tmp_path / "t.cu"
    src.write_text(source)
    inc = kernels.cuda_include_dir()
    cmd = [kernels.host_compiler(), *kernels.host_flags(), *flags, "-include", kernels.SHIM_HEADER,
           f"-I{kernels.kernel_dir()}", *([f"-I{inc}"] if inc else []), str(src)]
    return subprocess.run(cmd, capture_output=True, text=True)


@needs_cxx
@pytest.mark.parametrize(("snippet", "message"), [
    ("__syncthreads();", "__syncthreads() is not supported on emulated GPUs"),
    ("__shared__ float tile[32]; tile[0] = 1.0f; (void)tile;", "__shared__ memory is not supported"),
    ("int v = __shfl_down_sync(0xffffffffu, 1, 1); (void)v;", "__shfl_down_sync (warp shuffle) is not supported"),
    ("unsigned m = __ballot_sync(0xffffffffu, 1); (void)m;", "__ballot_sync (warp vote) is not supported"),
])
def test_shim_rejects_what_cannot_run_on_the_host(tmp_path, snippet, message):
    src = textwrap.dedent(f"""
        #include "gv_common.cuh"
        GV_KERNEL(bad_kernel, (float* x), (x)) {{
            {snippet}
            x[threadIdx.x] = 0.0f;
        }}
    """)
    res = _compile(tmp_path, src, "-fsyntax-only")
    assert res.returncode != 0
    assert message in res.stderr


@needs_cxx
def test_shim_requires_the_shim_for_host_builds(tmp_path):
    src = tmp_path / "t.cu"
    src.write_text('#include "gv_common.cuh"\n')
    res = subprocess.run([kernels.host_compiler(), "-std=c++17", "-x", "c++", "-fsyntax-only",
                          f"-I{kernels.kernel_dir()}", str(src)], capture_output=True, text=True)
    assert res.returncode != 0 and "-include gv_host_shim.h" in res.stderr


_HALF_PROBE = """
#include "gv_common.cuh"
GV_EXPORT void f2h(const float* in, unsigned short* out, long long n) {
    for (long long i = 0; i < n; ++i) out[i] = gv_to_bits<__half>(gv_f2h(in[i]));
}
GV_EXPORT void d2h(const double* in, unsigned short* out, long long n) {
    for (long long i = 0; i < n; ++i) out[i] = gv_to_bits<__half>(gv_cast<__half, double>(in[i]));
}
GV_EXPORT void h2f(const unsigned short* in, float* out, long long n) {
    for (long long i = 0; i < n; ++i) out[i] = gv_h2f(gv_from_bits<__half>(in[i]));
}
"""


@needs_cxx
@pytest.mark.parametrize("own_half", [True, False])
def test_host_half_conversions_match_numpy(tmp_path, own_half):
    if not own_half and kernels.cuda_include_dir() is None:
        pytest.skip("no cuda_fp16.h here")
    flags = ["-DGV_SHIM_NO_CUDA_FP16"] if own_half else []
    lib_path = tmp_path / "probe.so"
    res = _compile(tmp_path, _HALF_PROBE, "-shared", *flags, "-o", str(lib_path))
    assert res.returncode == 0, res.stderr
    lib = ctypes.CDLL(str(lib_path))
    for fn in (lib.f2h, lib.d2h, lib.h2f):
        fn.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_longlong]
        fn.restype = None

    every = np.arange(65536, dtype=np.uint32).astype(np.uint16)
    f = np.empty(65536, np.float32)
    lib.h2f(every.ctypes.data, f.ctypes.data, 65536)
    expected = every.view(np.float16).astype(np.float32)
    nan = np.isnan(expected)  # cuda_fp16.h's host conversion canonicalizes NaN payloads; NumPy keeps them
    assert np.array_equal(np.isnan(f), nan)
    assert np.array_equal(f[~nan].view(np.uint32), expected[~nan].view(np.uint32))

    rng = np.random.default_rng(0)
    halves = every.view(np.float16)
    finite = halves[np.isfinite(halves)].astype(np.float64)
    mids = (np.sort(finite)[:-1] + np.sort(finite)[1:]) / 2  # exact ties: round to even
    specials = np.array([0.0, -0.0, np.inf, -np.inf, 65504, 65519.99, 65520, 1e6, 2.0**-24, 2.0**-25,
                         2.0**-25 * 1.0000001, 2.0**-26, 6.1e-5, 5.96e-8, 1e-10])
    for values in (np.concatenate([finite, mids, specials, rng.standard_normal(20000) * 10.0 ** rng.integers(-9, 6, 20000)]),):
        with np.errstate(over="ignore"):
            want32 = values.astype(np.float32).astype(np.float16).view(np.uint16)
            want64 = values.astype(np.float16).view(np.uint16)
        v32 = values.astype(np.float32)
        got32 = np.empty(values.size, np.uint16)
        lib.f2h(v32.ctypes.data, got32.ctypes.data, values.size)
        assert np.array_equal(got32, want32)
        got64 = np.empty(values.size, np.uint16)
        lib.d2h(values.ctypes.data, got64.ctypes.data, values.size)
        assert np.array_equal(got64, want64)
    nan = np.array([np.nan], np.float32)
    out = np.empty(1, np.uint16)
    lib.f2h(nan.ctypes.data, out.ctypes.data, 1)
    assert np.isnan(out.view(np.float16)[0])


@needs_cxx
def test_build_is_cached_and_keyed_by_flags(tmp_path):
    t0 = time.perf_counter()
    first = kernels.build_host_library(tmp_path, files=["count.cu"])
    built = time.perf_counter() - t0
    t0 = time.perf_counter()
    again = kernels.build_host_library(tmp_path, files=["count.cu"])
    assert again == first and time.perf_counter() - t0 < max(built / 3, 0.5)
    other = kernels.build_host_library(tmp_path, files=["count.cu"], extra_flags=["-DGV_SHIM_NO_CUDA_FP16"])
    assert other != first and other.is_file()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".build-")]  # temporaries cleaned up
    lib = kernels.HostLibrary(first)
    assert lib.has("gv_count_up_to_i64") and not lib.has("gv_scatter_add_f32_i64")
    x = np.zeros((), np.int64)
    out = np.zeros(2, np.int64)
    lib.launch("gv_count_up_to_i64", 1, 1, (x, np.int64(3), out))
    assert int(x) == 1 and out.tolist() == [0, 0]


@needs_cxx
def test_concurrent_processes_build_once_safely(tmp_path):
    code = ("import sys; from gpuvars import kernels; "
            "print(kernels.build_host_library(sys.argv[1], files=['count.cu']))")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(kernels.kernel_dir().parent), *sys.path])}
    procs = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True, env=env)
             for _ in range(3)]
    outs = {p.communicate()[0].strip() for p in procs}
    assert all(p.returncode == 0 for p in procs)
    assert len(outs) == 1 and os.path.isfile(outs.pop())


def test_missing_compiler_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("CXX", str(tmp_path / "no-such-g++"))
    assert kernels.host_compiler() is None
    with pytest.raises(kernels.CompilerNotFoundError, match=r"apt-get install g\+\+") as info:
        kernels.build_host_library(tmp_path)
    assert isinstance(info.value, RuntimeError)
    assert "no-such-g++" in str(info.value) and "GPUVARS_EMULATED_GPUS" in str(info.value)


@needs_cxx
def test_compile_errors_name_the_file_and_show_the_output(tmp_path, monkeypatch):
    monkeypatch.setenv("CXX", kernels.host_compiler())
    with pytest.raises(kernels.KernelBuildError, match=r"count\.cu[\s\S]*BOOM"):
        kernels.build_host_library(tmp_path, files=["count.cu"], extra_flags=["-DBOOM=1", "-include", "/nonexistent/BOOM.h"])


def test_cuda_source_inlines_local_headers():
    src = kernels.cuda_source("scatter.cu")
    assert '#include "gv_common.cuh"' not in src
    assert "GV_COMMON_CUH" in src and "<cuda_fp16.h>" in src
    assert src.count("#define GV_COMMON_CUH") == 1


def test_kernel_file_lookup():
    assert kernels.kernel_file("gv_scatter_add_f32_i64") == "scatter.cu"
    assert kernels.kernel_file("gv_owner_update_s4_i32") == "owner.cu"
    assert kernels.kernel_file("gv_philox_bits") == "philox.cu"
    assert set(kernels.kernel_files()) >= {"dense.cu", "scatter.cu", "segment.cu", "owner.cu", "count.cu", "philox.cu"}
    with pytest.raises(KeyError):
        kernels.kernel_file("nope")


def test_nvrtc_compiles_what_cupy_would():
    nvrtc = pytest.importorskip("cuda.bindings.nvrtc")
    try:
        nvrtc.nvrtcVersion()
    except Exception as e:
        pytest.skip(f"NVRTC library not loadable: {e}")
    src = kernels.cuda_source("count.cu").encode()
    _, prog = nvrtc.nvrtcCreateProgram(src, b"count.cu", 0, [], [])
    opts = [o.encode() for o in (*kernels.nvrtc_options(), "--gpu-architecture=sm_80")]
    (res,) = nvrtc.nvrtcCompileProgram(prog, len(opts), opts)
    _, size = nvrtc.nvrtcGetProgramLogSize(prog)
    log = bytearray(size)  # never a bytes literal: NVRTC writes into it, and 1-byte bytes objects are shared
    nvrtc.nvrtcGetProgramLog(prog, log)
    nvrtc.nvrtcDestroyProgram(prog)
    assert res == nvrtc.nvrtcResult.NVRTC_SUCCESS, log.decode()


def test_importing_kernels_and_backends_does_not_import_cupy():
    code = ("import sys, gpuvars.kernels, gpuvars.backends.emulated, gpuvars.backends.cuda; "
            "assert 'cupy' not in sys.modules, 'cupy imported'")
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, "GPUVARS_HOST_KERNELS": "0"})


def test_host_kernels_can_be_disabled_for_cpu():
    code = "from gpuvars import kernels; assert kernels.cpu_kernels() is None; print('ok')"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "GPUVARS_HOST_KERNELS": "0"})
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr
