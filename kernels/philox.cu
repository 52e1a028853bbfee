// philox.cu -- counter-based random numbers, Philox4x32-10 (Random123),
// bit-identical to gpuvars/random.py's NumPy implementation of the same
// contract, on every device:
//
//   key = (k0, k1); counter words for block b (a 64-bit block index):
//   (c0, c1) = (low, high 32 bits of b), c2 = `ctr` (a per-op run count),
//   c3 = `attempt` (0 except for the truncated normal).
//   bits            element i = philox(i / 4)[i % 4]                (uint32)
//   uniform f32     (bits_i >> 8) * 2^-24 (f16: that value rounded to f16)
//   uniform f64     block i / 2, words (a, b) = lanes 2*(i%2), 2*(i%2)+1:
//                   ((a >> 5) * 2^26 + (b >> 6)) * 2^-53
//   normal          block i / 2: u1 from (x0, x1), u2 from (x2, x3) by the
//                   f64 rule; r = sqrt(-2 log(1 - u1)), t = 2 pi u2;
//                   lane 0 -> r cos t, lane 1 -> r sin t, in double, then
//                   rounded once to the output dtype
//   truncated       element i takes attempts c3 = 0, 1, 2, ... of its normal
//   normal          and keeps the first |z| <= 2 (0 after 64 attempts)
//
// Entry points (n elements of out):
//   gv_philox_bits(out, n, k0, k1, ctr)
//   gv_philox_uniform_<f16|f32|f64>(out, n, k0, k1, ctr)
//   gv_philox_normal_<f16|f32|f64>(out, n, k0, k1, ctr)
//   gv_philox_truncnormal_<f16|f32|f64>(out, n, k0, k1, ctr)

#include "gv_common.cuh"

struct gv_philox_out {
    unsigned int x[4];
};

__device__ __forceinline__ gv_philox_out gv_philox4x32_10(unsigned long long block, unsigned int ctr,
                                                          unsigned int attempt, unsigned int k0, unsigned int k1) {
    unsigned int c0 = (unsigned int)block;
    unsigned int c1 = (unsigned int)(block >> 32);
    unsigned int c2 = ctr;
    unsigned int c3 = attempt;
    for (int r = 0; r < 10; ++r) {
        if (r > 0) {  // the key is bumped between rounds
            k0 += 0x9E3779B9u;
            k1 += 0xBB67AE85u;
        }
        const unsigned int hi0 = __umulhi(0xD2511F53u, c0);
        const unsigned int lo0 = 0xD2511F53u * c0;
        const unsigned int hi1 = __umulhi(0xCD9E8D57u, c2);
        const unsigned int lo1 = 0xCD9E8D57u * c2;
        c0 = hi1 ^ c1 ^ k0;
        c1 = lo1;
        c2 = hi0 ^ c3 ^ k1;
        c3 = lo0;
    }
    gv_philox_out o;
    o.x[0] = c0;
    o.x[1] = c1;
    o.x[2] = c2;
    o.x[3] = c3;
    return o;
}

// Exact: integers below 2^53 scaled by powers of two.
__device__ __forceinline__ double gv_u53(unsigned int a, unsigned int b) {
    return __dmul_rn(__dadd_rn((double)(a >> 5) * 67108864.0, (double)(b >> 6)), 1.1102230246251565e-16);
}

// One Box-Muller pair in double; `lane` picks cos (0) or sin (1).
__device__ __forceinline__ double gv_box_muller(const gv_philox_out& o, int lane) {
    const double u1 = gv_u53(o.x[0], o.x[1]);
    const double u2 = gv_u53(o.x[2], o.x[3]);
    const double r = sqrt(__dmul_rn(-2.0, log(__dsub_rn(1.0, u1))));
    const double t = __dmul_rn(6.283185307179586, u2);
    return __dmul_rn(r, lane == 0 ? cos(t) : sin(t));
}

template <class T>
__device__ __forceinline__ T gv_from_double(double v) {
    return gv_cast<T, double>(v);
}

GV_KERNEL(gv_philox_bits, (unsigned int* out, long long n, unsigned int k0, unsigned int k1, unsigned int ctr),
          (out, n, k0, k1, ctr)) {
    const long long blocks = (n + 3) / 4;
    gv_tiled_for<1>(blocks, [&](long long b) {
        const gv_philox_out o = gv_philox4x32_10((unsigned long long)b, ctr, 0u, k0, k1);
        for (int l = 0; l < 4; ++l) {
            const long long i = 4 * b + l;
            if (i < n) out[i] = o.x[l];
        }
    });
}

GV_KERNEL(gv_philox_uniform_f32, (float* out, long long n, unsigned int k0, unsigned int k1, unsigned int ctr),
          (out, n, k0, k1, ctr)) {
    const long long blocks = (n + 3) / 4;
    gv_tiled_for<1>(blocks, [&](long long b) {
        const gv_philox_out o = gv_philox4x32_10((unsigned long long)b, ctr, 0u, k0, k1);
        for (int l = 0; l < 4; ++l) {
            const long long i = 4 * b + l;
            if (i < n) out[i] = (float)(o.x[l] >> 8) * 5.9604644775390625e-08f;
        }
    });
}

// float16: the float32 value rounded to nearest even (it may round up to 1.0;
// gpuvars.random.draw clamps, as for the NumPy reference).
GV_KERNEL(gv_philox_uniform_f16, (__half* out, long long n, unsigned int k0, unsigned int k1, unsigned int ctr),
          (out, n, k0, k1, ctr)) {
    const long long blocks = (n + 3) / 4;
    gv_tiled_for<1>(blocks, [&](long long b) {
        const gv_philox_out o = gv_philox4x32_10((unsigned long long)b, ctr, 0u, k0, k1);
        for (int l = 0; l < 4; ++l) {
            const long long i = 4 * b + l;
            if (i < n) out[i] = gv_f2h((float)(o.x[l] >> 8) * 5.9604644775390625e-08f);
        }
    });
}

GV_KERNEL(gv_philox_uniform_f64, (double* out, long long n, unsigned int k0, unsigned int k1, unsigned int ctr),
          (out, n, k0, k1, ctr)) {
    const long long blocks = (n + 1) / 2;
    gv_tiled_for<1>(blocks, [&](long long b) {
        const gv_philox_out o = gv_philox4x32_10((unsigned long long)b, ctr, 0u, k0, k1);
        out[2 * b] = gv_u53(o.x[0], o.x[1]);
        if (2 * b + 1 < n) out[2 * b + 1] = gv_u53(o.x[2], o.x[3]);
    });
}

template <class T>
__device__ __forceinline__ void gv_normal_kernel(T* out, long long n, unsigned int k0, unsigned int k1,
                                                 unsigned int ctr) {
    const long long blocks = (n + 1) / 2;
    gv_tiled_for<1>(blocks, [&](long long b) {
        const gv_philox_out o = gv_philox4x32_10((unsigned long long)b, ctr, 0u, k0, k1);
        out[2 * b] = gv_from_double<T>(gv_box_muller(o, 0));
        if (2 * b + 1 < n) out[2 * b + 1] = gv_from_double<T>(gv_box_muller(o, 1));
    });
}

template <class T>
__device__ __forceinline__ void gv_truncnormal_kernel(T* out, long long n, unsigned int k0, unsigned int k1,
                                                      unsigned int ctr) {
    gv_tiled_for<1>(n, [&](long long i) {
        double z = 0.0;
        for (unsigned int a = 0; a < 64u; ++a) {
            const gv_philox_out o = gv_philox4x32_10((unsigned long long)(i / 2), ctr, a, k0, k1);
            const double c = gv_box_muller(o, (int)(i & 1));
            if (c <= 2.0 && c >= -2.0) {
                z = c;
                break;
            }
        }
        out[i] = gv_from_double<T>(z);
    });
}

#define GV_NORMAL(S, T)                                                                                   \
    GV_KERNEL(gv_philox_normal_##S, (T * out, long long n, unsigned int k0, unsigned int k1, unsigned int ctr), \
              (out, n, k0, k1, ctr)) {                                                                    \
        gv_normal_kernel<T>(out, n, k0, k1, ctr);                                                         \
    }                                                                                                     \
    GV_KERNEL(gv_philox_truncnormal_##S,                                                                  \
              (T * out, long long n, unsigned int k0, unsigned int k1, unsigned int ctr),                 \
              (out, n, k0, k1, ctr)) {                                                                    \
        gv_truncnormal_kernel<T>(out, n, k0, k1, ctr);                                                    \
    }
GV_NORMAL(f16, __half)
GV_NORMAL(f32, float)
GV_NORMAL(f64, double)
#undef GV_NORMAL
