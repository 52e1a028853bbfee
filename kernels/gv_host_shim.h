// gv_host_shim.h -- build the CUDA kernels of kernels/*.cu with a host C++ compiler.
//
// gpuvars runs the SAME kernel sources on real GPUs (NVRTC through CuPy) and
// on emulated GPUs (this shim + g++, SPEC section 1). The host build is
//
//     g++ -std=c++17 -O3 -fopenmp -fPIC -shared -fvisibility=hidden
//         -fno-strict-aliasing -ffp-contract=off -x c++
//         -include gv_host_shim.h -Ikernels [-I<cuda>/include] kernels/X.cu
//
// What the shim provides, and why:
//   * CUDA's qualifiers (__global__, __device__, ...) as plain C++.
//   * threadIdx/blockIdx/blockDim/gridDim as thread-local variables with the
//     initial-exec TLS model: the default (global-dynamic) model in a shared
//     library calls __tls_get_addr on every read, which made kernels 3-4x
//     slower. Initial-exec TLS comes from glibc's small static TLS surplus,
//     so ALL kernels are linked into ONE library per process.
//   * CUDA's atomic overload set, exactly (so host-only overloads cannot hide
//     a kernel that would not compile for the GPU), on GCC __atomic builtins.
//   * A launcher that runs the blocks of a 1-D grid on OpenMP threads, each
//     block's threads one after another. Kernels are launched with the full
//     grid on the host too: grid-stride loops over a small grid were 2x slower.
//   * __syncthreads, __shared__ and warp intrinsics are rejected at compile
//     time with a readable message: a block's threads run sequentially here,
//     so a barrier cannot be honoured. Kernels use global memory and atomics.
//   * __half: cuda_fp16.h from the CUDA include folder when the compiler finds
//     it (its host conversions are exact), else a software __half below.
//
// Kernels declare entry points with GV_KERNEL (see gv_common.cuh); in host
// builds it also emits `extern "C" void NAME_launch(unsigned grid,
// unsigned block, PARAMS...)`, the symbol gpuvars/kernels.py calls.

#ifndef GV_HOST_SHIM_H
#define GV_HOST_SHIM_H

#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
#error "gv_host_shim.h maps CUDA built-ins to host code: include it only in host (g++) builds, never with nvcc/NVRTC."
#endif

#ifndef __cplusplus
#error "gv_host_shim.h needs C++17: compile the kernels with g++ -std=c++17 -x c++."
#endif

#define GV_HOST 1

// Items per thread per tile in element-wise kernels (GV_ILP in gv_common.cuh;
// the GPU uses 4). A host "thread" is a loop iteration: more work per
// iteration amortizes its overhead (measured on a 64 MiB assign_add: 8 beats
// 4 by ~15%, 16 beats 8 by ~5-10%, 32 is no better than 16).
#ifndef GV_ILP_HOST
#define GV_ILP_HOST 16
#endif
#define GV_ILP GV_ILP_HOST

#include <climits>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#ifdef _OPENMP
#include <omp.h>
#endif

// ---------------------------------------------------------------------------
// __half, dim3, uint3
// ---------------------------------------------------------------------------
#if !defined(GV_SHIM_NO_CUDA_FP16) && defined(__has_include)
#if __has_include(<cuda_fp16.h>)
#include <cuda_fp16.h>  // host __half, __half_raw, conversions; also vector_types.h (uint3, dim3)
#define GV_HAVE_CUDA_FP16 1
#endif
#endif

#ifndef GV_HAVE_CUDA_FP16
// Software float16 with round-to-nearest-even conversions, bit-compatible
// with cuda_fp16.h and NumPy (tests compare all 65536 values).
struct __half_raw {
    unsigned short x;
};
struct __half {
    unsigned short __x;
    __half() = default;
    __half(const __half_raw& r) : __x(r.x) {}
    operator __half_raw() const {
        __half_raw r;
        r.x = __x;
        return r;
    }
};

static inline float __half2float(const __half h) {
    const unsigned s = (unsigned)(h.__x & 0x8000u) << 16;
    const unsigned e = (h.__x >> 10) & 0x1fu;
    unsigned m = h.__x & 0x3ffu;
    unsigned bits;
    if (e == 0x1fu) {
        bits = s | 0x7f800000u | (m << 13);  // inf / NaN (payload kept)
    } else if (e != 0) {
        bits = s | ((e + 112u) << 23) | (m << 13);
    } else if (m == 0) {
        bits = s;  // signed zero
    } else {
        unsigned ee = 113;  // normalize the subnormal
        while ((m & 0x400u) == 0) {
            m <<= 1;
            --ee;
        }
        bits = s | (ee << 23) | ((m & 0x3ffu) << 13);
    }
    float f;
    std::memcpy(&f, &bits, sizeof f);
    return f;
}

// Round the integer significand `m` (value m * 2^-shift in half units) to
// nearest, ties to even.
static inline unsigned long long gv_rne_shift(unsigned long long m, unsigned shift) {
    const unsigned long long r = m >> shift;
    const unsigned long long rem = m & ((1ull << shift) - 1ull);
    const unsigned long long half = 1ull << (shift - 1);
    return r + ((rem > half || (rem == half && (r & 1ull))) ? 1ull : 0ull);
}

static inline __half gv_make_half(unsigned bits) {
    __half_raw r;
    r.x = (unsigned short)bits;
    return __half(r);
}

static inline __half __float2half_rn(const float f) {
    unsigned x;
    std::memcpy(&x, &f, sizeof x);
    const unsigned sign = (x >> 16) & 0x8000u;
    const unsigned absx = x & 0x7fffffffu;
    if (absx >= 0x7f800000u) {  // inf or NaN: keep a quiet NaN's top payload bits
        return gv_make_half(sign | (absx == 0x7f800000u ? 0x7c00u : (0x7e00u | ((absx >> 13) & 0x3ffu))));
    }
    const unsigned e = absx >> 23;
    if (e < 102) return gv_make_half(sign);  // below half the smallest subnormal
    if (e < 113) {                           // half subnormal
        const unsigned long long m = (absx & 0x7fffffu) | 0x800000u;
        return gv_make_half(sign | (unsigned)gv_rne_shift(m, 126u - e));
    }
    if (e > 142) return gv_make_half(sign | 0x7c00u);  // overflow to infinity
    const unsigned long long m = ((unsigned long long)(e - 112u) << 23) | (absx & 0x7fffffu);
    const unsigned r = (unsigned)gv_rne_shift(m, 13);  // a carry rounds up into the exponent (or to inf)
    return gv_make_half(sign | r);
}

static inline __half __double2half(const double d) {
    unsigned long long x;
    std::memcpy(&x, &d, sizeof x);
    const unsigned sign = (unsigned)(x >> 48) & 0x8000u;
    const unsigned long long absx = x & 0x7fffffffffffffffull;
    if (absx >= 0x7ff0000000000000ull) {
        return gv_make_half(sign | (absx == 0x7ff0000000000000ull
                                        ? 0x7c00u
                                        : (0x7e00u | (unsigned)((absx >> 42) & 0x3ffu))));
    }
    const unsigned e = (unsigned)(absx >> 52);
    if (e < 998) return gv_make_half(sign);
    if (e < 1009) {
        const unsigned long long m = (absx & 0xfffffffffffffull) | 0x10000000000000ull;
        return gv_make_half(sign | (unsigned)gv_rne_shift(m, 1051u - e));
    }
    if (e > 1038) return gv_make_half(sign | 0x7c00u);
    // 5 exponent bits + 52 significand bits fit in 64; round off 42 of them.
    const unsigned long long m = ((unsigned long long)(e - 1008u) << 52) | (absx & 0xfffffffffffffull);
    return gv_make_half(sign | (unsigned)gv_rne_shift(m, 42));
}

struct uint3 {
    unsigned int x, y, z;
};
struct dim3 {
    unsigned int x, y, z;
    constexpr dim3(unsigned int vx = 1, unsigned int vy = 1, unsigned int vz = 1) : x(vx), y(vy), z(vz) {}
};
#endif  // !GV_HAVE_CUDA_FP16

// ---------------------------------------------------------------------------
// Qualifiers. cuda_fp16.h defines them as GNU attributes that g++ ignores
// with a warning; plain C++ is what the host needs.
// ---------------------------------------------------------------------------
#undef __global__
#undef __device__
#undef __host__
#undef __forceinline__
#undef __noinline__
#undef __constant__
#undef __launch_bounds__
#undef __managed__
#undef __grid_constant__
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline __attribute__((always_inline))
#define __noinline__ __attribute__((noinline))
#define __constant__ const
#define __launch_bounds__(...)
#define __grid_constant__

// ---------------------------------------------------------------------------
// Built-in variables: one copy per host thread (see the header comment).
// ---------------------------------------------------------------------------
#define GV_TLS __attribute__((tls_model("initial-exec")))
inline thread_local uint3 threadIdx GV_TLS = {0, 0, 0};
inline thread_local uint3 blockIdx GV_TLS = {0, 0, 0};
inline thread_local dim3 blockDim GV_TLS = dim3(1, 1, 1);
inline thread_local dim3 gridDim GV_TLS = dim3(1, 1, 1);

// ---------------------------------------------------------------------------
// What cannot run here: rejected at compile time, readably.
// ---------------------------------------------------------------------------
#define GV_UNSUPPORTED(what)                                                                       \
    ([]() -> int {                                                                                 \
        static_assert(sizeof(int) == 0, "gpuvars host shim: " what " is not supported on emulated " \
                                        "GPUs (a block's threads run one after another on the "     \
                                        "host). Use grid-stride loops and atomics on global memory.");\
        return 0;                                                                                  \
    }())
#undef __shared__
#define __shared__ static_assert(sizeof(int) == 0, "gpuvars host shim: __shared__ memory is not supported " \
                                 "on emulated GPUs. Use global memory and atomics.");
#define __syncthreads() GV_UNSUPPORTED("__syncthreads()")
#define __syncthreads_count(...) GV_UNSUPPORTED("__syncthreads_count()")
#define __syncthreads_and(...) GV_UNSUPPORTED("__syncthreads_and()")
#define __syncthreads_or(...) GV_UNSUPPORTED("__syncthreads_or()")
#define __syncwarp(...) GV_UNSUPPORTED("__syncwarp()")
#define __shfl_sync(...) GV_UNSUPPORTED("__shfl_sync (warp shuffle)")
#define __shfl_up_sync(...) GV_UNSUPPORTED("__shfl_up_sync (warp shuffle)")
#define __shfl_down_sync(...) GV_UNSUPPORTED("__shfl_down_sync (warp shuffle)")
#define __shfl_xor_sync(...) GV_UNSUPPORTED("__shfl_xor_sync (warp shuffle)")
#define __ballot_sync(...) GV_UNSUPPORTED("__ballot_sync (warp vote)")
#define __any_sync(...) GV_UNSUPPORTED("__any_sync (warp vote)")
#define __all_sync(...) GV_UNSUPPORTED("__all_sync (warp vote)")
#define __activemask() GV_UNSUPPORTED("__activemask()")
#define __match_any_sync(...) GV_UNSUPPORTED("__match_any_sync (warp match)")
#define __match_all_sync(...) GV_UNSUPPORTED("__match_all_sync (warp match)")
#define __reduce_add_sync(...) GV_UNSUPPORTED("__reduce_add_sync (warp reduce)")
#define __reduce_min_sync(...) GV_UNSUPPORTED("__reduce_min_sync (warp reduce)")
#define __reduce_max_sync(...) GV_UNSUPPORTED("__reduce_max_sync (warp reduce)")

// ---------------------------------------------------------------------------
// Intrinsics with an exact host meaning. The build uses -ffp-contract=off,
// so the _rn arithmetic is plain IEEE arithmetic, as on the device.
// ---------------------------------------------------------------------------
static inline float __fadd_rn(float a, float b) { return a + b; }
static inline float __fsub_rn(float a, float b) { return a - b; }
static inline float __fmul_rn(float a, float b) { return a * b; }
static inline float __fdiv_rn(float a, float b) { return a / b; }
static inline double __dadd_rn(double a, double b) { return a + b; }
static inline double __dsub_rn(double a, double b) { return a - b; }
static inline double __dmul_rn(double a, double b) { return a * b; }
static inline double __ddiv_rn(double a, double b) { return a / b; }
static inline unsigned int __umulhi(unsigned int a, unsigned int b) {
    return (unsigned int)(((unsigned long long)a * b) >> 32);
}
static inline unsigned long long __umul64hi(unsigned long long a, unsigned long long b) {
    return (unsigned long long)(((unsigned __int128)a * b) >> 64);
}
static inline unsigned int __float_as_uint(float f) {
    unsigned int u;
    std::memcpy(&u, &f, sizeof u);
    return u;
}
static inline float __uint_as_float(unsigned int u) {
    float f;
    std::memcpy(&f, &u, sizeof f);
    return f;
}
static inline int __float_as_int(float f) { return (int)__float_as_uint(f); }
static inline float __int_as_float(int i) { return __uint_as_float((unsigned int)i); }
static inline long long __double_as_longlong(double d) {
    long long i;
    std::memcpy(&i, &d, sizeof i);
    return i;
}
static inline double __longlong_as_double(long long i) {
    double d;
    std::memcpy(&d, &i, sizeof d);
    return d;
}
static inline int __popc(unsigned int x) { return __builtin_popcount(x); }
static inline int __popcll(unsigned long long x) { return __builtin_popcountll(x); }
static inline int __clz(int x) { return x == 0 ? 32 : __builtin_clz((unsigned)x); }
static inline int __clzll(long long x) { return x == 0 ? 64 : __builtin_clzll((unsigned long long)x); }
static inline int __ffs(int x) { return __builtin_ffs(x); }
static inline int __ffsll(long long x) { return __builtin_ffsll(x); }
template <class T>
static inline T __ldg(const T* p) { return *p; }
static inline void __threadfence() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
static inline void __threadfence_block() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
static inline void __threadfence_system() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }

// ---------------------------------------------------------------------------
// Atomics: CUDA's overload set (relaxed ordering, as CUDA's atomics are).
// Float and __half arithmetic uses compare-and-swap loops, as on GPUs that
// lack the instruction.
// ---------------------------------------------------------------------------
#define GV_RELAXED __ATOMIC_RELAXED

#define GV_ATOMIC_INT_SET(T)                                                                             \
    static inline T atomicAdd(T* p, T v) { return __atomic_fetch_add(p, v, GV_RELAXED); }               \
    static inline T atomicExch(T* p, T v) { return __atomic_exchange_n(p, v, GV_RELAXED); }             \
    static inline T atomicAnd(T* p, T v) { return __atomic_fetch_and(p, v, GV_RELAXED); }               \
    static inline T atomicOr(T* p, T v) { return __atomic_fetch_or(p, v, GV_RELAXED); }                 \
    static inline T atomicXor(T* p, T v) { return __atomic_fetch_xor(p, v, GV_RELAXED); }               \
    static inline T atomicCAS(T* p, T compare, T v) {                                                   \
        __atomic_compare_exchange_n(p, &compare, v, false, GV_RELAXED, GV_RELAXED);                     \
        return compare; /* the old value, whether or not the swap happened */                         \
    }
GV_ATOMIC_INT_SET(int)
GV_ATOMIC_INT_SET(unsigned int)
GV_ATOMIC_INT_SET(unsigned long long)
#undef GV_ATOMIC_INT_SET

static inline int atomicSub(int* p, int v) { return __atomic_fetch_sub(p, v, GV_RELAXED); }
static inline unsigned int atomicSub(unsigned int* p, unsigned int v) { return __atomic_fetch_sub(p, v, GV_RELAXED); }

// 16-bit compare-and-swap exists on sm_70+.
static inline unsigned short atomicCAS(unsigned short* p, unsigned short compare, unsigned short v) {
    __atomic_compare_exchange_n(p, &compare, v, false, GV_RELAXED, GV_RELAXED);
    return compare;
}

template <class T>
static inline T gv_shim_atomic_min(T* p, T v) {
    T old = __atomic_load_n(p, GV_RELAXED);
    while (v < old && !__atomic_compare_exchange_n(p, &old, v, true, GV_RELAXED, GV_RELAXED)) {
    }
    return old;
}
template <class T>
static inline T gv_shim_atomic_max(T* p, T v) {
    T old = __atomic_load_n(p, GV_RELAXED);
    while (v > old && !__atomic_compare_exchange_n(p, &old, v, true, GV_RELAXED, GV_RELAXED)) {
    }
    return old;
}
#define GV_ATOMIC_MINMAX(T)                                                             \
    static inline T atomicMin(T* p, T v) { return gv_shim_atomic_min<T>(p, v); }      \
    static inline T atomicMax(T* p, T v) { return gv_shim_atomic_max<T>(p, v); }
GV_ATOMIC_MINMAX(int)
GV_ATOMIC_MINMAX(unsigned int)
GV_ATOMIC_MINMAX(long long)
GV_ATOMIC_MINMAX(unsigned long long)
#undef GV_ATOMIC_MINMAX

template <class F, class U>
static inline F gv_shim_atomic_fadd(F* p, F v) {
    static_assert(sizeof(F) == sizeof(U), "bit type must match");
    U* q = reinterpret_cast<U*>(p);
    U old = __atomic_load_n(q, GV_RELAXED);
    for (;;) {
        F cur;
        std::memcpy(&cur, &old, sizeof cur);
        const F next = cur + v;
        U nbits;
        std::memcpy(&nbits, &next, sizeof nbits);
        if (__atomic_compare_exchange_n(q, &old, nbits, true, GV_RELAXED, GV_RELAXED)) return cur;
    }
}
static inline float atomicAdd(float* p, float v) { return gv_shim_atomic_fadd<float, unsigned int>(p, v); }
static inline double atomicAdd(double* p, double v) {
    return gv_shim_atomic_fadd<double, unsigned long long>(p, v);
}
static inline float atomicExch(float* p, float v) {
    return __uint_as_float(atomicExch(reinterpret_cast<unsigned int*>(p), __float_as_uint(v)));
}
// Device-only in cuda_fp16.h (sm_70+); the host needs its own.
static inline __half atomicAdd(__half* p, __half v) {
    unsigned short* q = reinterpret_cast<unsigned short*>(p);
    unsigned short old = __atomic_load_n(q, GV_RELAXED);
    for (;;) {
        __half_raw raw;
        raw.x = old;
        const __half cur = __half(raw);
        const __half_raw next = __half(__float2half_rn(__half2float(cur) + __half2float(v)));
        if (__atomic_compare_exchange_n(q, &old, next.x, true, GV_RELAXED, GV_RELAXED)) return cur;
    }
}

// ---------------------------------------------------------------------------
// The launcher.
// ---------------------------------------------------------------------------
#ifndef GV_HOST_SERIAL_THREADS
// Grids with fewer CUDA threads than this run on the caller's thread: waking
// the OpenMP team costs a few microseconds, more than a small kernel.
#define GV_HOST_SERIAL_THREADS 16384
#endif

// Runs blocks [lo, hi) of a grid, each block's threads in order. One
// instance per kernel, with the kernel body inlined into the thread loop.
template <class Body>
static void gv_host_run_blocks(unsigned lo, unsigned hi, unsigned grid, unsigned block, const void* ctx) {
    // A local copy of the closure (which holds the kernel's arguments by
    // value): its address does not escape, so the compiler keeps the
    // arguments in registers instead of reloading them after every store
    // (with -fno-strict-aliasing any store could otherwise alias them).
    const Body body = *static_cast<const Body*>(ctx);
    gridDim = dim3(grid, 1, 1);
    blockDim = dim3(block, 1, 1);
    threadIdx.y = threadIdx.z = 0;
    blockIdx.y = blockIdx.z = 0;
    for (unsigned b = lo; b < hi; ++b) {
        blockIdx.x = b;
        for (unsigned t = 0; t < block; ++t) {
            threadIdx.x = t;
            body();
        }
    }
}

typedef void (*gv_host_blocks_fn)(unsigned lo, unsigned hi, unsigned grid, unsigned block, const void* ctx);

// Run a 1-D grid: contiguous ranges of blocks on the OpenMP threads.
// `min_parallel` is the grid size (in CUDA threads) from which to go
// parallel. Type-erased so that the OpenMP region is compiled once, not once
// per kernel (the library has hundreds of kernels; this halves its build).
static __attribute__((noinline)) void gv_host_launch_erased(unsigned grid, unsigned block, long long min_parallel,
                                                            gv_host_blocks_fn run, const void* ctx) {
    if (grid == 0 || block == 0) return;
#ifdef _OPENMP
    const long long total = (long long)grid * (long long)block;
    if (grid > 1 && total >= min_parallel && omp_get_max_threads() > 1 && !omp_in_parallel()) {
#pragma omp parallel
        {
            const unsigned nt = (unsigned)omp_get_num_threads();
            const unsigned id = (unsigned)omp_get_thread_num();
            const unsigned lo = (unsigned)((unsigned long long)grid * id / nt);
            const unsigned hi = (unsigned)((unsigned long long)grid * (id + 1) / nt);
            run(lo, hi, grid, block, ctx);
        }
        return;
    }
#else
    (void)min_parallel;
#endif
    run(0, grid, grid, block, ctx);
}

template <class Body>
static inline void gv_host_launch(unsigned grid, unsigned block, long long min_parallel, const Body& body) {
    gv_host_launch_erased(grid, block, min_parallel, &gv_host_run_blocks<Body>, &body);
}

#define GV_EXPORT extern "C" __attribute__((visibility("default")))
#define GV_UNPAREN(...) __VA_ARGS__

// GV_KERNEL_EX(name, min_parallel, (params), (args)) { body }
// declares the kernel as an always-inlined static function and exports
// `name_launch(grid, block, params...)`, which runs it over the grid.
#define GV_KERNEL_EX(name, min_parallel, params, args)                                        \
    static inline __attribute__((always_inline)) void name params;                            \
    GV_EXPORT void name##_launch(unsigned gv_grid, unsigned gv_block, GV_UNPAREN params) {    \
        gv_host_launch(gv_grid, gv_block, (long long)(min_parallel),                          \
                       [=]() __attribute__((always_inline)) { name args; });                   \
    }                                                                                         \
    static inline __attribute__((always_inline)) void name params

#define GV_KERNEL(name, params, args) GV_KERNEL_EX(name, GV_HOST_SERIAL_THREADS, params, args)

// Library-level entry points (not kernels). Weak: every kernel file includes
// the shim, and the linker keeps one copy.
GV_EXPORT __attribute__((weak)) int gv_host_num_threads(void) {
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}
// The data addresses of many NumPy arrays at once, for the fused group
// kernels' tables: objs holds CPython object addresses (id()), `offset` the
// position of PyArrayObject's data field, which gpuvars/kernels.py finds and
// verifies at import. ~20x cheaper than ndarray.ctypes.data per array.
GV_EXPORT __attribute__((weak)) void gv_host_data_pointers(const long long* objs, long long n, long long offset,
                                                          long long* out) {
    for (long long i = 0; i < n; ++i) std::memcpy(&out[i], reinterpret_cast<const char*>(objs[i]) + offset, 8);
}
GV_EXPORT __attribute__((weak)) int gv_host_ilp(void) { return GV_ILP_HOST; }
GV_EXPORT __attribute__((weak)) int gv_host_has_cuda_fp16(void) {
#ifdef GV_HAVE_CUDA_FP16
    return 1;
#else
    return 0;
#endif
}

#endif  // GV_HOST_SHIM_H
