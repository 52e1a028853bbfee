#!/usr/bin/env python3
"""Compile every kernels/*.cu for the GPU and the host; exit non-zero on any failure.

Checks, for each file:
  * nvcc, sm_80 and sm_90, -ptx and -cubin, with -Werror all-warnings;
  * NVRTC (through cuda-bindings), on exactly the source and options CuPy's
    RawModule gets at run time (gpuvars.kernels.cuda_source/nvrtc_options),
    for sm_80 and sm_90; skipped, with a message, only when cuda-bindings or
    the NVRTC library is not installed (`pip install cuda-bindings
    'nvidia-cuda-nvrtc==13.0.*'`, pinned to the installed nvcc's version);
  * the host compiler through gv_host_shim.h with -Wall -Wextra -Werror
    (the build the emulated GPUs use, with warnings as errors).

Usage: python ci/check_kernels.py [--jobs N] [--skip-nvcc] [--skip-nvrtc] [--skip-host] [FILE.cu ...]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gpuvars import kernels  # noqa: E402

ARCHS = ("sm_80", "sm_90")


def _find_nvcc() -> str | None:
    for cand in (os.environ.get("NVCC"), shutil.which("nvcc"), "/usr/local/cuda/bin/nvcc"):
        if cand and os.path.isfile(cand):
            return cand
    return None


def nvcc_jobs(nvcc: str, files: list[Path], out: Path) -> list[tuple[str, list[str]]]:
    jobs = []
    for f in files:
        for arch in ARCHS:
            for mode in ("-ptx", "-cubin"):
                target = out / f"{f.stem}.{arch}.{mode[1:]}"
                cmd = [nvcc, "-std=c++17", f"-I{f.parent}", f"-arch={arch}", mode,
                       "-Werror", "all-warnings", str(f), "-o", str(target)]
                jobs.append((f"nvcc {arch} {mode} {f.name}", cmd))
    return jobs


def host_jobs(files: list[Path], out: Path) -> list[tuple[str, list[str]]]:
    cxx = kernels.host_compiler()
    if cxx is None:
        return [("host compiler", ["sh", "-c", "echo 'no C++ compiler (g++) found' >&2; exit 1"])]
    inc = kernels.cuda_include_dir()
    jobs = []
    for variant, extra in (("cuda_fp16", []), ("own __half", ["-DGV_SHIM_NO_CUDA_FP16"])):
        if variant == "cuda_fp16" and not inc:
            continue
        for f in files:
            cmd = [cxx, *kernels.host_flags(), "-Wall", "-Wextra", "-Werror", *extra,
                   "-include", kernels.SHIM_HEADER, f"-I{f.parent}", *([f"-I{inc}"] if inc else []),
                   "-fsyntax-only" if variant != "cuda_fp16" else "-c", str(f),
                   *(["-o", str(out / f"{f.stem}.o")] if variant == "cuda_fp16" else [])]
            jobs.append((f"host ({variant}) {f.name}", cmd))
    return jobs


def run_jobs(jobs: list[tuple[str, list[str]]], workers: int) -> list[str]:
    failures: list[str] = []

    def one(job: tuple[str, list[str]]) -> tuple[str, subprocess.CompletedProcess[str], float]:
        t0 = time.perf_counter()
        res = subprocess.run(job[1], capture_output=True, text=True)
        return job[0], res, time.perf_counter() - t0

    with ThreadPoolExecutor(max_workers=workers) as pool:
        for label, res, dt in pool.map(one, jobs):
            ok = res.returncode == 0
            print(f"  {'ok  ' if ok else 'FAIL'} {label} ({dt:.1f}s)", flush=True)
            if not ok:
                failures.append(f"{label}:\n{(res.stdout + res.stderr)[-6000:]}")
    return failures


def nvrtc_check(files: list[Path], workers: int) -> tuple[list[str], str | None]:
    """Compile with NVRTC; returns (failures, skip reason)."""
    try:
        from cuda.bindings import nvrtc
    except ImportError:
        return [], "cuda-bindings is not installed (pip install cuda-bindings 'nvidia-cuda-nvrtc==13.0.*')"
    try:
        err, major, minor = nvrtc.nvrtcVersion()
    except Exception as e:  # the bindings exist but libnvrtc does not load
        return [], f"the NVRTC library did not load ({e}); pip install 'nvidia-cuda-nvrtc==13.0.*'"
    print(f"NVRTC {major}.{minor}; options {' '.join(kernels.nvrtc_options())}")

    def one(job: tuple[Path, str]) -> tuple[str, bool, str, float]:
        f, arch = job
        t0 = time.perf_counter()
        src = kernels.cuda_source(f.name, f.parent).encode()
        err, prog = nvrtc.nvrtcCreateProgram(src, f.name.encode(), 0, [], [])
        opts = [o.encode() for o in (*kernels.nvrtc_options(), f"--gpu-architecture={arch}")]
        (res,) = nvrtc.nvrtcCompileProgram(prog, len(opts), opts)
        _, size = nvrtc.nvrtcGetProgramLogSize(prog)
        log = bytearray(size)  # never a bytes literal: NVRTC writes into it, and 1-byte bytes objects are shared
        nvrtc.nvrtcGetProgramLog(prog, log)
        nvrtc.nvrtcDestroyProgram(prog)
        text = log.decode(errors="replace").strip("\x00 \n")
        # A warning fails the check too, as -Werror does for nvcc.
        ok = res == nvrtc.nvrtcResult.NVRTC_SUCCESS and "warning" not in text.lower()
        return f"nvrtc {arch} {f.name}", ok, f"{res}: {text[-6000:]}", time.perf_counter() - t0

    failures = []
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for label, ok, text, dt in pool.map(one, [(f, a) for f in files for a in ARCHS]):
            print(f"  {'ok  ' if ok else 'FAIL'} {label} ({dt:.1f}s)", flush=True)
            if not ok:
                failures.append(f"{label}:\n{text}")
    return failures, None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="*", help="kernel files (default: every kernels/*.cu)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--skip-nvcc", action="store_true")
    ap.add_argument("--skip-nvrtc", action="store_true")
    ap.add_argument("--skip-host", action="store_true")
    args = ap.parse_args(argv)

    kdir = kernels.kernel_dir()
    files = [Path(f).resolve() for f in args.files] or sorted(kdir.glob("*.cu"))
    if not files:
        print(f"no kernels found in {kdir}", file=sys.stderr)
        return 1
    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix="gv-check-") as tmp:
        out = Path(tmp)
        jobs: list[tuple[str, list[str]]] = []
        if not args.skip_nvcc:
            nvcc = _find_nvcc()
            if nvcc is None:
                failures.append("nvcc not found (set $NVCC or put the CUDA toolkit's bin on PATH)")
            else:
                print(f"nvcc: {nvcc}")
                jobs += nvcc_jobs(nvcc, files, out)
        if not args.skip_host:
            jobs += host_jobs(files, out)
        print(f"compiling {len(files)} kernel files: {len(jobs)} compiler runs on {args.jobs} workers")
        failures += run_jobs(jobs, args.jobs)
    if not args.skip_nvrtc:
        nv_fail, skipped = nvrtc_check(files, args.jobs)
        if skipped:
            print(f"SKIPPED NVRTC: {skipped}")
        failures += nv_fail
    if failures:
        print(f"\n{len(failures)} kernel compile check(s) failed:", file=sys.stderr)
        for f in failures:
            print(f"\n{f}", file=sys.stderr)
        return 1
    print("all kernel compile checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
