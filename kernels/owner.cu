// owner.cu -- "owner computes" scatter, the CPU's fast deterministic path.
//
// Each thread owns a rectangle of the variable (a contiguous range of rows,
// and of columns when rows are long), scans ALL indices in order and applies
// the updates that land in its rectangle. Every element is updated by one
// thread in occurrence order, so the result is bit-identical to np.add.at,
// without atomics or a sort (a sort of 1e6 indices alone costs more than
// this whole kernel on a CPU). It is a legal CUDA kernel, and compiles as one
// in CI, but wastes a GPU: there, use segment.cu.
//
// Launched with one CUDA thread per owner (grid = owners, block = 1).
//
// Entry points:
//   gv_owner_<op>_<T>_<I>(ref, idx, upd, n, dim0, row, row_parts, col_parts, flag)
//       op add/sub/mul/div: every dtype but bool; min/max: real dtypes
//   gv_owner_update_<S>_<I>(...)   S = element size s1..s16

#include "gv_common.cuh"

// How many indices ahead to prefetch (measured: 8 beats 4 and 12-16 on a
// 2-core EPYC, 1e6 x 64-float updates).
#define GV_OWNER_PREFETCH 8

// Column split points on 64-byte boundaries: two owners never write one
// cache line.
template <class T>
__device__ __forceinline__ long long gv_col_split(long long row, long long part, long long parts) {
    const long long per_line = sizeof(T) >= 64 ? 1 : (long long)(64 / sizeof(T));
    const long long lines = (row + per_line - 1) / per_line;
    const long long c = (lines * part / parts) * per_line;
    return c < row ? c : row;
}

template <class Op, class T, class I>
__device__ __forceinline__ void gv_owner_kernel(T* ref, const I* idx, const T* upd, long long n, long long dim0,
                                                long long row, long long row_parts, long long col_parts,
                                                const long long* flag) {
    if (*flag != GV_NO_ERROR) return;
    const long long owners = row_parts * col_parts;
    for (long long o = gv_tid(); o < owners; o += gv_nthreads()) {
        const long long rp = o / col_parts;
        const long long cp = o - rp * col_parts;
        const long long r0 = dim0 * rp / row_parts;
        const long long r1 = dim0 * (rp + 1) / row_parts;
        const long long c0 = gv_col_split<T>(row, cp, col_parts);
        const long long c1 = gv_col_split<T>(row, cp + 1, col_parts);
        if (r0 >= r1 || c0 >= c1) continue;
        const unsigned long long span = (unsigned long long)(r1 - r0);
        // Short rows (less than a cache line) stay in cache or are not worth a prefetch.
        const bool prefetch = (c1 - c0) * (long long)sizeof(T) >= 64;
        for (long long p = 0; p < n; ++p) {
            const long long r = (long long)idx[p];
            if ((unsigned long long)(r - r0) >= span) continue;  // someone else's row
            if (prefetch && p + GV_OWNER_PREFETCH < n) {  // the row GV_OWNER_PREFETCH updates ahead, if ours
                const long long ahead = (long long)idx[p + GV_OWNER_PREFETCH];
                if ((unsigned long long)(ahead - r0) < span) {
                    const char* q = reinterpret_cast<const char*>(ref + ahead * row + c0);
                    const char* end = reinterpret_cast<const char*>(ref + ahead * row + c1);
                    for (int line = 0; line < 8 && q < end; ++line, q += 64) gv_prefetch_write(q);
                }
            }
            T* __restrict__ d = ref + r * row;
            const T* __restrict__ s = upd + p * row;
            for (long long j = c0; j < c1; ++j) d[j] = Op::apply(d[j], s[j]);
        }
    }
}

// min_parallel = 1: a grid of two owners must still run on two threads.
#define GV_OWNER_ONE(OPN, OP, S, T, IS, I)                                                             \
    GV_KERNEL_EX(gv_owner_##OPN##_##S##_##IS, 1,                                                       \
                 (T * ref, const I* idx, const T* upd, long long n, long long dim0, long long row,      \
                  long long row_parts, long long col_parts, const long long* flag),                    \
                 (ref, idx, upd, n, dim0, row, row_parts, col_parts, flag)) {                          \
        gv_owner_kernel<OP, T, I>(ref, idx, upd, n, dim0, row, row_parts, col_parts, flag);            \
    }
#define GV_OWNER_BOTH(OPN, OP, S, T)                                                                   \
    GV_OWNER_ONE(OPN, OP, S, T, i32, int)                                                              \
    GV_OWNER_ONE(OPN, OP, S, T, i64, long long)
#define GV_OWNER_ARITH(S, T)                                                                           \
    GV_OWNER_BOTH(add, GvOpAdd, S, T)                                                                  \
    GV_OWNER_BOTH(sub, GvOpSub, S, T)                                                                  \
    GV_OWNER_BOTH(mul, GvOpMul, S, T)                                                                  \
    GV_OWNER_BOTH(div, GvOpDiv, S, T)
#define GV_OWNER_MINMAX(S, T)                                                                          \
    GV_OWNER_BOTH(min, GvOpMin, S, T)                                                                  \
    GV_OWNER_BOTH(max, GvOpMax, S, T)
#define GV_OWNER_UPDATE(S, T) GV_OWNER_BOTH(update, GvOpUpdate, S, T)
GV_ARITH_TYPES(GV_OWNER_ARITH)
GV_REAL_TYPES(GV_OWNER_MINMAX)
GV_SIZE_TYPES(GV_OWNER_UPDATE)
#undef GV_OWNER_ARITH
#undef GV_OWNER_MINMAX
#undef GV_OWNER_UPDATE
#undef GV_OWNER_BOTH
#undef GV_OWNER_ONE
