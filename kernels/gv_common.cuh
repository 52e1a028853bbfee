// gv_common.cuh -- types, arithmetic, casts and atomics shared by kernels/*.cu.
//
// Compiles three ways: nvcc, NVRTC (CuPy RawModule on real GPUs) and a host
// C++ compiler with gv_host_shim.h (emulated GPUs). Hence:
//   * no standard headers on the device side (NVRTC has none): own traits,
//     `long long` rather than int64_t;
//   * floating-point results must be bit-identical on all three, so the
//     arithmetic goes through the _rn intrinsics (no fused multiply-add on
//     the device; the host builds with -ffp-contract=off) and float16 math is
//     done in float32 and rounded once, which is what NumPy does (and, since
//     float32 has more than 2*11+2 significand bits, equals IEEE half math);
//   * integer arithmetic is done in unsigned types, so overflow wraps (as in
//     NumPy) instead of being undefined behaviour.
//
// Every entry point is `extern "C"`, one per dtype (suffixes as in
// gpuvars/dtypes.py: f16 f32 f64 i8 i16 i32 i64 u8 u16 u32 u64 b8 c64 c128),
// with a template behind it.

#ifndef GV_COMMON_CUH
#define GV_COMMON_CUH

#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
#include <cuda_fp16.h>
#define GV_DEVICE 1
#define GV_KERNEL(name, params, args) extern "C" __global__ void name params
#define GV_KERNEL_EX(name, min_parallel, params, args) extern "C" __global__ void name params
#define GV_UNROLL _Pragma("unroll")
#elif defined(GV_HOST)
#define GV_UNROLL
#else
#error "kernels/*.cu are CUDA sources: build them with nvcc/NVRTC, or with a host compiler and -include gv_host_shim.h."
#endif

// "No bad index seen": the initial value of the bounds flag (apex's noop flag).
#define GV_NO_ERROR 0x7fffffffffffffffLL

// Elements each thread handles per tile in element-wise kernels: independent
// loads in flight on the GPU, fewer thread switches on the host.
#ifndef GV_ILP
#define GV_ILP 4
#endif

// ---------------------------------------------------------------------------
// Types and traits
// ---------------------------------------------------------------------------
struct alignas(8) gv_c64 {
    float re, im;
};
// 8-byte aligned, as NumPy's complex128 is; loads use two 8-byte words.
struct alignas(8) gv_c128 {
    double re, im;
};
// Opaque element types for byte copies (update is a copy, whatever the dtype).
struct alignas(8) gv_b16 {
    unsigned long long lo, hi;
};

template <class A, class B>
struct gv_same {
    static constexpr bool value = false;
};
template <class A>
struct gv_same<A, A> {
    static constexpr bool value = true;
};
template <class T>
struct gv_is_complex {
    static constexpr bool value = false;
};
template <>
struct gv_is_complex<gv_c64> {
    static constexpr bool value = true;
    typedef float real;
};
template <>
struct gv_is_complex<gv_c128> {
    static constexpr bool value = true;
    typedef double real;
};
template <class T>
struct gv_is_half {
    static constexpr bool value = gv_same<T, __half>::value;
};
template <class T>
struct gv_is_float {  // float or double
    static constexpr bool value = gv_same<T, float>::value || gv_same<T, double>::value;
};
template <class T>
struct gv_is_signed_int {
    static constexpr bool value = gv_same<T, signed char>::value || gv_same<T, short>::value ||
                                  gv_same<T, int>::value || gv_same<T, long long>::value;
};
// The unsigned type integer arithmetic is done in (wraps on overflow).
template <class T>
struct gv_uarith {
    typedef unsigned int type;
};
template <>
struct gv_uarith<long long> {
    typedef unsigned long long type;
};
template <>
struct gv_uarith<unsigned long long> {
    typedef unsigned long long type;
};
// Unsigned integers of each size, for bit patterns.
template <int N>
struct gv_uint_of;
template <>
struct gv_uint_of<1> {
    typedef unsigned char type;
};
template <>
struct gv_uint_of<2> {
    typedef unsigned short type;
};
template <>
struct gv_uint_of<4> {
    typedef unsigned int type;
};
template <>
struct gv_uint_of<8> {
    typedef unsigned long long type;
};

// ---------------------------------------------------------------------------
// Thread indexing
// ---------------------------------------------------------------------------
__device__ __forceinline__ long long gv_tid() { return (long long)blockIdx.x * blockDim.x + threadIdx.x; }
__device__ __forceinline__ long long gv_nthreads() { return (long long)gridDim.x * blockDim.x; }

// Calls f(i) for every i in [0, n) this thread owns: the grid walks tiles of
// blockDim*ILP items. On a GPU thread t takes t, t+blockDim, ... inside each
// tile, so each of a warp's ILP accesses is coalesced. On the host, where a
// block's threads run one after another, thread t takes ILP consecutive
// items: the block then walks memory as one sequential stream (the GPU order
// made ILP streams 4 KiB apart, whose loads and stores alias in the CPU's
// store buffer: 3x slower). A thread whose items are all in range runs them
// without bounds checks (~10% faster on the host).
template <int ILP, class F>
__device__ __forceinline__ void gv_tiled_for(long long n, const F& f) {
    const long long bd = blockDim.x;
    const long long tile = bd * ILP;
    const long long step = (long long)gridDim.x * tile;
#ifdef GV_HOST
    const long long offset = (long long)threadIdx.x * ILP, gap = 1;
#else
    const long long offset = threadIdx.x, gap = bd;
#endif
    for (long long base = (long long)blockIdx.x * tile; base < n; base += step) {
        const long long first = base + offset;
        if (first + (ILP - 1) * gap < n) {
            GV_UNROLL
            for (int k = 0; k < ILP; ++k) f(first + k * gap);
        } else {
            for (int k = 0; k < ILP; ++k) {
                const long long i = first + k * gap;
                if (i < n) f(i);
            }
        }
    }
}

// The same over [0, n) for one block's threads (the fused group kernels give
// each block a chunk of its own).
template <int ILP, class F>
__device__ __forceinline__ void gv_block_tiled_for(long long n, const F& f) {
    const long long bd = blockDim.x;
    for (long long base = 0; base < n; base += bd * ILP) {
        GV_UNROLL
        for (int k = 0; k < ILP; ++k) {
#ifdef GV_HOST
            const long long i = base + (long long)threadIdx.x * ILP + k;
#else
            const long long i = base + threadIdx.x + k * bd;
#endif
            if (i < n) f(i);
        }
    }
}

// Prefetch for writing: a CPU's hardware prefetcher cannot guess the rows of
// a scatter, and prefetching a few indices ahead halves the host scatter
// time. GPUs hide that latency with other warps: a no-op there.
#ifdef GV_HOST
#define gv_prefetch_write(p) __builtin_prefetch((const void*)(p), 1)
#else
#define gv_prefetch_write(p) ((void)(p))
#endif

template <class T>
__device__ __forceinline__ bool gv_aligned16(const T* p) {
    return (((unsigned long long)p) & 15ull) == 0;
}

// ---------------------------------------------------------------------------
// Bit patterns (for compare-and-swap loops)
// ---------------------------------------------------------------------------
__device__ __forceinline__ float gv_h2f(__half h) { return __half2float(h); }
__device__ __forceinline__ __half gv_f2h(float f) { return __float2half_rn(f); }

template <class T>
__device__ __forceinline__ typename gv_uint_of<sizeof(T)>::type gv_to_bits(T v) {
    union {
        T t;
        typename gv_uint_of<sizeof(T)>::type u;
    } x;
    x.u = 0;
    x.t = v;
    return x.u;
}
template <>
__device__ __forceinline__ unsigned short gv_to_bits<__half>(__half v) {
    const __half_raw r = v;
    return r.x;
}
template <class T>
__device__ __forceinline__ T gv_from_bits(typename gv_uint_of<sizeof(T)>::type b) {
    union {
        T t;
        typename gv_uint_of<sizeof(T)>::type u;
    } x;
    x.u = b;
    return x.t;
}
template <>
__device__ __forceinline__ __half gv_from_bits<__half>(unsigned short b) {
    __half_raw r;
    r.x = b;
    return __half(r);
}

// ---------------------------------------------------------------------------
// Casts, NumPy's rules: to float16 through float32 (double directly), complex
// to real keeps the real part, to bool is "!= 0".
// ---------------------------------------------------------------------------
template <class D, class S>
__device__ __forceinline__ D gv_cast(S s) {
    if constexpr (gv_same<D, S>::value) {
        return s;
    } else if constexpr (gv_is_complex<S>::value) {
        if constexpr (gv_is_complex<D>::value) {
            D d;
            d.re = (typename gv_is_complex<D>::real)s.re;
            d.im = (typename gv_is_complex<D>::real)s.im;
            return d;
        } else if constexpr (gv_same<D, bool>::value) {
            return s.re != 0 || s.im != 0;
        } else {
            return gv_cast<D>(s.re);
        }
    } else if constexpr (gv_is_complex<D>::value) {
        D d;
        d.re = gv_cast<typename gv_is_complex<D>::real>(s);
        d.im = 0;
        return d;
    } else if constexpr (gv_is_half<D>::value) {
        if constexpr (gv_same<S, double>::value) {
            return __double2half(s);
        } else {
            return gv_f2h((float)s);
        }
    } else if constexpr (gv_is_half<S>::value) {
        const float f = gv_h2f(s);
        if constexpr (gv_same<D, bool>::value) {
            return f != 0.0f;
        } else {
            return (D)f;
        }
    } else if constexpr (gv_same<D, bool>::value) {
        return s != 0;
    } else {
        return (D)s;
    }
}

// ---------------------------------------------------------------------------
// Arithmetic, one overload set per dtype family
// ---------------------------------------------------------------------------
// Integers (and bool for min/max/update only): wrap-around arithmetic.
template <class T>
__device__ __forceinline__ T gv_add(T a, T b) {
    typedef typename gv_uarith<T>::type U;
    return (T)(U)((U)a + (U)b);
}
template <class T>
__device__ __forceinline__ T gv_sub(T a, T b) {
    typedef typename gv_uarith<T>::type U;
    return (T)(U)((U)a - (U)b);
}
template <class T>
__device__ __forceinline__ T gv_mul(T a, T b) {
    typedef typename gv_uarith<T>::type U;
    return (T)(U)((U)a * (U)b);
}
// Division truncates toward zero (TensorFlow's integer scatter_div). Division
// by zero gives 0 (NumPy's integer convention; TF leaves it undefined) and
// MIN / -1 wraps to MIN, so no input traps.
template <class T>
__device__ __forceinline__ T gv_div(T a, T b) {
    if (b == 0) return (T)0;
    if constexpr (gv_is_signed_int<T>::value) {
        if (b == (T)-1) return gv_sub<T>((T)0, a);
    }
    return (T)(a / b);
}
template <class T>
__device__ __forceinline__ T gv_min(T a, T b) {
    return (a <= b) ? a : b;
}
template <class T>
__device__ __forceinline__ T gv_max(T a, T b) {
    return (a >= b) ? a : b;
}

// float / double: IEEE, no contraction. min/max propagate NaN and return the
// first operand on ties, exactly NumPy's minimum/maximum.
#define GV_FLOAT_ARITH(T, ADD, SUB, MUL, DIV)                                                    \
    template <>                                                                                  \
    __device__ __forceinline__ T gv_add<T>(T a, T b) { return ADD(a, b); }                       \
    template <>                                                                                  \
    __device__ __forceinline__ T gv_sub<T>(T a, T b) { return SUB(a, b); }                       \
    template <>                                                                                  \
    __device__ __forceinline__ T gv_mul<T>(T a, T b) { return MUL(a, b); }                       \
    template <>                                                                                  \
    __device__ __forceinline__ T gv_div<T>(T a, T b) { return DIV(a, b); }                       \
    template <>                                                                                  \
    __device__ __forceinline__ T gv_min<T>(T a, T b) { return (a <= b || a != a) ? a : b; }     \
    template <>                                                                                  \
    __device__ __forceinline__ T gv_max<T>(T a, T b) { return (a >= b || a != a) ? a : b; }
GV_FLOAT_ARITH(float, __fadd_rn, __fsub_rn, __fmul_rn, __fdiv_rn)
GV_FLOAT_ARITH(double, __dadd_rn, __dsub_rn, __dmul_rn, __ddiv_rn)
#undef GV_FLOAT_ARITH

// float16: computed in float32, rounded once.
template <>
__device__ __forceinline__ __half gv_add<__half>(__half a, __half b) {
    return gv_f2h(__fadd_rn(gv_h2f(a), gv_h2f(b)));
}
template <>
__device__ __forceinline__ __half gv_sub<__half>(__half a, __half b) {
    return gv_f2h(__fsub_rn(gv_h2f(a), gv_h2f(b)));
}
template <>
__device__ __forceinline__ __half gv_mul<__half>(__half a, __half b) {
    return gv_f2h(__fmul_rn(gv_h2f(a), gv_h2f(b)));
}
template <>
__device__ __forceinline__ __half gv_div<__half>(__half a, __half b) {
    return gv_f2h(__fdiv_rn(gv_h2f(a), gv_h2f(b)));
}
template <>
__device__ __forceinline__ __half gv_min<__half>(__half a, __half b) {
    const float x = gv_h2f(a), y = gv_h2f(b);
    return (x <= y || x != x) ? a : b;
}
template <>
__device__ __forceinline__ __half gv_max<__half>(__half a, __half b) {
    const float x = gv_h2f(a), y = gv_h2f(b);
    return (x >= y || x != x) ? a : b;
}

// Complex: NumPy's formulas (Smith's algorithm for division), each operation
// rounded separately.
#define GV_COMPLEX_ARITH(C, R, ADD, SUB, MUL, DIV, ABS)                                     \
    template <>                                                                             \
    __device__ __forceinline__ C gv_add<C>(C a, C b) {                                      \
        C r;                                                                                \
        r.re = ADD(a.re, b.re);                                                             \
        r.im = ADD(a.im, b.im);                                                             \
        return r;                                                                           \
    }                                                                                       \
    template <>                                                                             \
    __device__ __forceinline__ C gv_sub<C>(C a, C b) {                                      \
        C r;                                                                                \
        r.re = SUB(a.re, b.re);                                                             \
        r.im = SUB(a.im, b.im);                                                             \
        return r;                                                                           \
    }                                                                                       \
    template <>                                                                             \
    __device__ __forceinline__ C gv_mul<C>(C a, C b) {                                      \
        C r;                                                                                \
        r.re = SUB(MUL(a.re, b.re), MUL(a.im, b.im));                                       \
        r.im = ADD(MUL(a.re, b.im), MUL(a.im, b.re));                                       \
        return r;                                                                           \
    }                                                                                       \
    template <>                                                                             \
    __device__ __forceinline__ C gv_div<C>(C a, C b) {                                      \
        const R abs_re = ABS(b.re), abs_im = ABS(b.im);                                     \
        C r;                                                                                \
        if (abs_re >= abs_im) {                                                             \
            if (abs_re == (R)0 && abs_im == (R)0) {                                         \
                r.re = DIV(a.re, abs_re);                                                   \
                r.im = DIV(a.im, abs_re);                                                   \
            } else {                                                                        \
                const R rat = DIV(b.im, b.re);                                              \
                const R scl = DIV((R)1, ADD(b.re, MUL(b.im, rat)));                         \
                r.re = MUL(ADD(a.re, MUL(a.im, rat)), scl);                                 \
                r.im = MUL(SUB(a.im, MUL(a.re, rat)), scl);                                 \
            }                                                                               \
        } else { /* also taken when b has a NaN, as in NumPy */                             \
            const R rat = DIV(b.re, b.im);                                                  \
            const R scl = DIV((R)1, ADD(b.im, MUL(b.re, rat)));                             \
            r.re = MUL(ADD(MUL(a.re, rat), a.im), scl);                                     \
            r.im = MUL(SUB(MUL(a.im, rat), a.re), scl);                                     \
        }                                                                                   \
        return r;                                                                           \
    }
__device__ __forceinline__ float gv_fabsf(float x) { return x < 0.0f ? -x : (x == 0.0f ? 0.0f : x); }
__device__ __forceinline__ double gv_fabs(double x) { return x < 0.0 ? -x : (x == 0.0 ? 0.0 : x); }
GV_COMPLEX_ARITH(gv_c64, float, __fadd_rn, __fsub_rn, __fmul_rn, __fdiv_rn, gv_fabsf)
GV_COMPLEX_ARITH(gv_c128, double, __dadd_rn, __dsub_rn, __dmul_rn, __ddiv_rn, gv_fabs)
#undef GV_COMPLEX_ARITH

// ---------------------------------------------------------------------------
// Operations as types (kernels are templates over them)
// ---------------------------------------------------------------------------
struct GvOpUpdate {
    template <class T>
    __device__ __forceinline__ static T apply(T, T b) {
        return b;
    }
};
struct GvOpAdd {
    template <class T>
    __device__ __forceinline__ static T apply(T a, T b) {
        return gv_add<T>(a, b);
    }
};
struct GvOpSub {
    template <class T>
    __device__ __forceinline__ static T apply(T a, T b) {
        return gv_sub<T>(a, b);
    }
};
struct GvOpMul {
    template <class T>
    __device__ __forceinline__ static T apply(T a, T b) {
        return gv_mul<T>(a, b);
    }
};
struct GvOpDiv {
    template <class T>
    __device__ __forceinline__ static T apply(T a, T b) {
        return gv_div<T>(a, b);
    }
};
struct GvOpMin {
    template <class T>
    __device__ __forceinline__ static T apply(T a, T b) {
        return gv_min<T>(a, b);
    }
};
struct GvOpMax {
    template <class T>
    __device__ __forceinline__ static T apply(T a, T b) {
        return gv_max<T>(a, b);
    }
};

// ---------------------------------------------------------------------------
// Atomics
// ---------------------------------------------------------------------------
// *p = Op(*p, v) atomically, by compare-and-swap: on the element's own width
// for 4- and 8-byte types, on the aligned 32-bit word holding it for 1- and
// 2-byte types (GPUs have no narrower atomics; GPU allocations are 256-byte
// aligned and host ones 16-byte aligned, so the word stays in bounds).
template <class Op, class T>
__device__ __forceinline__ void gv_atomic_rmw(T* p, T v) {
    if constexpr (sizeof(T) == 4 || sizeof(T) == 8) {
        typedef typename gv_uint_of<sizeof(T)>::type U;
        U* q = reinterpret_cast<U*>(p);
        U old = *q;
        for (;;) {
            const U assumed = old;
            const U next = gv_to_bits<T>(Op::apply(gv_from_bits<T>(assumed), v));
            if (next == assumed) return;  // nothing to change (min/max)
            old = atomicCAS(q, assumed, next);
            if (old == assumed) return;
        }
    } else {
        static_assert(sizeof(T) == 1 || sizeof(T) == 2, "gv_atomic_rmw: element of 1, 2, 4 or 8 bytes");
        typedef typename gv_uint_of<sizeof(T)>::type U;
        const unsigned long long addr = (unsigned long long)p;
        unsigned int* word = reinterpret_cast<unsigned int*>(addr & ~3ull);
        const unsigned int shift = (unsigned int)(addr & 3ull) * 8u;
        const unsigned int mask = ((1u << (8u * sizeof(T))) - 1u) << shift;
        unsigned int old = *word;
        for (;;) {
            const unsigned int assumed = old;
            const T cur = gv_from_bits<T>((U)((assumed & mask) >> shift));
            const unsigned int bits = (unsigned int)gv_to_bits<T>(Op::apply(cur, v));
            const unsigned int next = (assumed & ~mask) | ((bits << shift) & mask);
            if (next == assumed) return;
            old = atomicCAS(word, assumed, next);
            if (old == assumed) return;
        }
    }
}

// Native instructions where CUDA has them; CAS otherwise.
template <class T>
__device__ __forceinline__ void gv_atomic_add(T* p, T v) {
    gv_atomic_rmw<GvOpAdd, T>(p, v);
}
template <>
__device__ __forceinline__ void gv_atomic_add<float>(float* p, float v) {
    atomicAdd(p, v);
}
template <>
__device__ __forceinline__ void gv_atomic_add<double>(double* p, double v) {
    atomicAdd(p, v);
}
template <>
__device__ __forceinline__ void gv_atomic_add<int>(int* p, int v) {
    atomicAdd(p, v);
}
template <>
__device__ __forceinline__ void gv_atomic_add<unsigned int>(unsigned int* p, unsigned int v) {
    atomicAdd(p, v);
}
template <>
__device__ __forceinline__ void gv_atomic_add<unsigned long long>(unsigned long long* p, unsigned long long v) {
    atomicAdd(p, v);
}
template <>
__device__ __forceinline__ void gv_atomic_add<long long>(long long* p, long long v) {
    atomicAdd(reinterpret_cast<unsigned long long*>(p), (unsigned long long)v);  // two's complement
}
template <>
__device__ __forceinline__ void gv_atomic_add<__half>(__half* p, __half v) {
#if defined(GV_HOST) || (defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 700)
    atomicAdd(p, v);
#else
    gv_atomic_rmw<GvOpAdd, __half>(p, v);  // no f16 atomic add before sm_70
#endif
}
template <>
__device__ __forceinline__ void gv_atomic_add<gv_c64>(gv_c64* p, gv_c64 v) {
    atomicAdd(&p->re, v.re);  // addition is component-wise, so two atomics suffice
    atomicAdd(&p->im, v.im);
}
template <>
__device__ __forceinline__ void gv_atomic_add<gv_c128>(gv_c128* p, gv_c128 v) {
    atomicAdd(&p->re, v.re);
    atomicAdd(&p->im, v.im);
}

// a - b == a + (-b) exactly for IEEE types and in two's complement.
template <class T>
__device__ __forceinline__ void gv_atomic_sub(T* p, T v) {
    gv_atomic_rmw<GvOpSub, T>(p, v);
}
template <>
__device__ __forceinline__ void gv_atomic_sub<float>(float* p, float v) {
    atomicAdd(p, -v);
}
template <>
__device__ __forceinline__ void gv_atomic_sub<double>(double* p, double v) {
    atomicAdd(p, -v);
}
template <>
__device__ __forceinline__ void gv_atomic_sub<int>(int* p, int v) {
    atomicSub(p, v);
}
template <>
__device__ __forceinline__ void gv_atomic_sub<unsigned int>(unsigned int* p, unsigned int v) {
    atomicSub(p, v);
}
template <>
__device__ __forceinline__ void gv_atomic_sub<unsigned long long>(unsigned long long* p, unsigned long long v) {
    atomicAdd(p, 0ull - v);
}
template <>
__device__ __forceinline__ void gv_atomic_sub<long long>(long long* p, long long v) {
    atomicAdd(reinterpret_cast<unsigned long long*>(p), 0ull - (unsigned long long)v);
}
template <>
__device__ __forceinline__ void gv_atomic_sub<__half>(__half* p, __half v) {
    gv_atomic_add<__half>(p, gv_from_bits<__half>((unsigned short)(gv_to_bits<__half>(v) ^ 0x8000u)));
}
template <>
__device__ __forceinline__ void gv_atomic_sub<gv_c64>(gv_c64* p, gv_c64 v) {
    atomicAdd(&p->re, -v.re);
    atomicAdd(&p->im, -v.im);
}
template <>
__device__ __forceinline__ void gv_atomic_sub<gv_c128>(gv_c128* p, gv_c128 v) {
    atomicAdd(&p->re, -v.re);
    atomicAdd(&p->im, -v.im);
}

template <class T>
__device__ __forceinline__ void gv_atomic_min(T* p, T v) {
    gv_atomic_rmw<GvOpMin, T>(p, v);
}
template <class T>
__device__ __forceinline__ void gv_atomic_max(T* p, T v) {
    gv_atomic_rmw<GvOpMax, T>(p, v);
}
#define GV_NATIVE_MINMAX(T)                                               \
    template <>                                                           \
    __device__ __forceinline__ void gv_atomic_min<T>(T * p, T v) {        \
        atomicMin(p, v);                                                  \
    }                                                                     \
    template <>                                                           \
    __device__ __forceinline__ void gv_atomic_max<T>(T * p, T v) {        \
        atomicMax(p, v);                                                  \
    }
GV_NATIVE_MINMAX(int)
GV_NATIVE_MINMAX(unsigned int)
GV_NATIVE_MINMAX(long long)
GV_NATIVE_MINMAX(unsigned long long)
#undef GV_NATIVE_MINMAX

// The atomic form of each operation.
template <class Op>
struct GvAtomic;
template <>
struct GvAtomic<GvOpUpdate> {
    template <class T>
    __device__ __forceinline__ static void apply(T* p, T v) {
        *p = v;  // unlocked update: some occurrence wins
    }
};
template <>
struct GvAtomic<GvOpAdd> {
    template <class T>
    __device__ __forceinline__ static void apply(T* p, T v) {
        gv_atomic_add<T>(p, v);
    }
};
template <>
struct GvAtomic<GvOpSub> {
    template <class T>
    __device__ __forceinline__ static void apply(T* p, T v) {
        gv_atomic_sub<T>(p, v);
    }
};
template <>
struct GvAtomic<GvOpMul> {
    template <class T>
    __device__ __forceinline__ static void apply(T* p, T v) {
        gv_atomic_rmw<GvOpMul, T>(p, v);
    }
};
template <>
struct GvAtomic<GvOpDiv> {
    template <class T>
    __device__ __forceinline__ static void apply(T* p, T v) {
        gv_atomic_rmw<GvOpDiv, T>(p, v);
    }
};
template <>
struct GvAtomic<GvOpMin> {
    template <class T>
    __device__ __forceinline__ static void apply(T* p, T v) {
        gv_atomic_min<T>(p, v);
    }
};
template <>
struct GvAtomic<GvOpMax> {
    template <class T>
    __device__ __forceinline__ static void apply(T* p, T v) {
        gv_atomic_max<T>(p, v);
    }
};

// ---------------------------------------------------------------------------
// X-macro lists of dtypes: X(suffix, C type).
// ---------------------------------------------------------------------------
#define GV_INT_TYPES(X)   \
    X(i8, signed char)    \
    X(i16, short)         \
    X(i32, int)           \
    X(i64, long long)     \
    X(u8, unsigned char)  \
    X(u16, unsigned short) \
    X(u32, unsigned int)  \
    X(u64, unsigned long long)
#define GV_REAL_TYPES(X) \
    X(f16, __half)       \
    X(f32, float)        \
    X(f64, double)       \
    GV_INT_TYPES(X)
#define GV_ARITH_TYPES(X) \
    GV_REAL_TYPES(X)      \
    X(c64, gv_c64)        \
    X(c128, gv_c128)
// Types with an atomic mul/div (complex128 would need a 16-byte CAS; its
// mul/div run the sorted-segment kernel instead).
#define GV_MULDIV_ATOMIC_TYPES(X) \
    GV_REAL_TYPES(X)              \
    X(c64, gv_c64)
#define GV_ALL_TYPES(X) \
    GV_ARITH_TYPES(X)   \
    X(b8, bool)
// Element sizes for dtype-agnostic copies (update): X(suffix, C type).
#define GV_SIZE_TYPES(X)      \
    X(s1, unsigned char)      \
    X(s2, unsigned short)     \
    X(s4, unsigned int)       \
    X(s8, unsigned long long) \
    X(s16, gv_b16)
// Index dtypes.
#define GV_INDEX_TYPES(X) \
    X(i32, int)           \
    X(i64, long long)

#endif  // GV_COMMON_CUH
