// scatter.cu -- sparse updates with atomics (the GPU's default path), the
// bounds-validation kernel whose flag gates them, scatter_nd's index
// linearization, and the locked last-writer-wins scatter_update.
//
// The flag (one int64 in device memory, initialized to GV_NO_ERROR by the
// host) receives the smallest bad position via atomicMin. Every kernel that
// uses an index as an address reads it first and returns when it is set: the
// variable is left unchanged, and the host learns of the error at its next
// synchronization, with no sync in the hot path (apex's noop flag).
//
// Row-vectorized: 2^lg_tpr threads share one index (one row), each taking
// every 2^lg_tpr-th element of the row, so a row of 64 floats is 64 threads.
//
// Entry points (I = index suffix i32 or i64):
//   gv_validate_<I>(idx, n, dim0, flag)
//   gv_nd_linearize_<I>(idx, n, k, shape, out, flag)      (N, K) -> flat row
//   gv_scatter_<op>_<T>_<I>(ref, idx, upd, n, row, lg_tpr, flag)
//       op add/sub: every dtype but bool; mul/div: real + complex64;
//       min/max: real dtypes
//   gv_scatter_update_<S>_<I>(...)  unlocked update, S = element size s1..s16
//   gv_winner_init_<I>(idx, n, winner, flag); gv_winner_<I>(idx, n, winner, flag)
//   gv_scatter_locked_<S>_<I>(ref, idx, upd, n, row, lg_tpr, winner, flag)

#include "gv_common.cuh"

template <class I>
__device__ __forceinline__ void gv_validate_kernel(const I* idx, long long n, long long dim0, long long* flag) {
    gv_tiled_for<GV_ILP>(n, [&](long long p) {
        const long long r = (long long)idx[p];
        if (r < 0 || r >= dim0) atomicMin(flag, p);
    });
}

// scatter_nd: (N, K) indices into shape[0..K) become row numbers of the
// variable viewed as (prod(shape[:K]), prod(shape[K:])), checked per component.
template <class I>
__device__ __forceinline__ void gv_nd_linearize_kernel(const I* idx, long long n, long long k, const long long* shape,
                                                       long long* out, long long* flag) {
    gv_tiled_for<GV_ILP>(n, [&](long long p) {
        long long lin = 0;
        bool bad = false;
        for (long long d = 0; d < k; ++d) {
            const long long v = (long long)idx[p * k + d];
            bad = bad || v < 0 || v >= shape[d];
            lin = lin * shape[d] + v;
        }
        if (bad) {
            atomicMin(flag, p);
        } else {
            out[p] = lin;
        }
    });
}

#define GV_PER_INDEX(MAC)                                                                              \
    MAC(i32, int)                                                                                      \
    MAC(i64, long long)

#define GV_VALIDATE(IS, I)                                                                             \
    GV_KERNEL(gv_validate_##IS, (const I* idx, long long n, long long dim0, long long* flag),          \
              (idx, n, dim0, flag)) {                                                                  \
        gv_validate_kernel<I>(idx, n, dim0, flag);                                                     \
    }                                                                                                  \
    GV_KERNEL(gv_nd_linearize_##IS,                                                                    \
              (const I* idx, long long n, long long k, const long long* shape, long long* out,         \
               long long* flag),                                                                       \
              (idx, n, k, shape, out, flag)) {                                                         \
        gv_nd_linearize_kernel<I>(idx, n, k, shape, out, flag);                                        \
    }
GV_PER_INDEX(GV_VALIDATE)
#undef GV_VALIDATE

// ref[idx[p], j] = Op(ref[idx[p], j], upd[p, j]) with an atomic per element:
// duplicates combine, in no particular order.
template <class Op, class T, class I>
__device__ __forceinline__ void gv_scatter_kernel(T* ref, const I* idx, const T* upd, long long n, long long row,
                                                  long long lg_tpr, const long long* flag) {
    if (*flag != GV_NO_ERROR) return;
    const long long tpr = 1LL << lg_tpr;
    const long long total = n << lg_tpr;
    for (long long t = gv_tid(); t < total; t += gv_nthreads()) {
        const long long p = t >> lg_tpr;
        T* dst = ref + (long long)idx[p] * row;
        const T* src = upd + p * row;
        for (long long j = t & (tpr - 1); j < row; j += tpr) GvAtomic<Op>::apply(dst + j, src[j]);
    }
}

#define GV_SCATTER_ONE(OPN, OP, S, T, IS, I)                                                           \
    GV_KERNEL(gv_scatter_##OPN##_##S##_##IS,                                                           \
              (T * ref, const I* idx, const T* upd, long long n, long long row, long long lg_tpr,      \
               const long long* flag),                                                                 \
              (ref, idx, upd, n, row, lg_tpr, flag)) {                                                 \
        gv_scatter_kernel<OP, T, I>(ref, idx, upd, n, row, lg_tpr, flag);                              \
    }
#define GV_SCATTER_BOTH(OPN, OP, S, T)                                                                 \
    GV_SCATTER_ONE(OPN, OP, S, T, i32, int)                                                            \
    GV_SCATTER_ONE(OPN, OP, S, T, i64, long long)
#define GV_SCATTER_ADDSUB(S, T)                                                                        \
    GV_SCATTER_BOTH(add, GvOpAdd, S, T)                                                                \
    GV_SCATTER_BOTH(sub, GvOpSub, S, T)
#define GV_SCATTER_MULDIV(S, T)                                                                        \
    GV_SCATTER_BOTH(mul, GvOpMul, S, T)                                                                \
    GV_SCATTER_BOTH(div, GvOpDiv, S, T)
#define GV_SCATTER_MINMAX(S, T)                                                                        \
    GV_SCATTER_BOTH(min, GvOpMin, S, T)                                                                \
    GV_SCATTER_BOTH(max, GvOpMax, S, T)
#define GV_SCATTER_UPDATE(S, T) GV_SCATTER_BOTH(update, GvOpUpdate, S, T)
GV_ARITH_TYPES(GV_SCATTER_ADDSUB)
GV_MULDIV_ATOMIC_TYPES(GV_SCATTER_MULDIV)
GV_REAL_TYPES(GV_SCATTER_MINMAX)
GV_SIZE_TYPES(GV_SCATTER_UPDATE)
#undef GV_SCATTER_ADDSUB
#undef GV_SCATTER_MULDIV
#undef GV_SCATTER_MINMAX
#undef GV_SCATTER_UPDATE

// ---------------------------------------------------------------------------
// Locked scatter_update: the LAST occurrence of each row wins, whole rows.
// Pass 1 resets winner[row] for the rows touched, pass 2 takes the largest
// position per row with atomicMax, pass 3 copies only the winners' rows (one
// writer per row, so no row mixes two updates).
// ---------------------------------------------------------------------------
template <class I>
__device__ __forceinline__ void gv_winner_init_kernel(const I* idx, long long n, long long* winner,
                                                      const long long* flag) {
    if (*flag != GV_NO_ERROR) return;
    gv_tiled_for<GV_ILP>(n, [&](long long p) { winner[(long long)idx[p]] = -1; });
}
template <class I>
__device__ __forceinline__ void gv_winner_kernel(const I* idx, long long n, long long* winner, const long long* flag) {
    if (*flag != GV_NO_ERROR) return;
    gv_tiled_for<GV_ILP>(n, [&](long long p) { atomicMax(winner + (long long)idx[p], p); });
}
template <class T, class I>
__device__ __forceinline__ void gv_scatter_locked_kernel(T* ref, const I* idx, const T* upd, long long n,
                                                         long long row, long long lg_tpr, const long long* winner,
                                                         const long long* flag) {
    if (*flag != GV_NO_ERROR) return;
    const long long tpr = 1LL << lg_tpr;
    const long long total = n << lg_tpr;
    for (long long t = gv_tid(); t < total; t += gv_nthreads()) {
        const long long p = t >> lg_tpr;
        const long long r = (long long)idx[p];
        if (winner[r] != p) continue;
        T* dst = ref + r * row;
        const T* src = upd + p * row;
        for (long long j = t & (tpr - 1); j < row; j += tpr) dst[j] = src[j];
    }
}

#define GV_WINNER(IS, I)                                                                               \
    GV_KERNEL(gv_winner_init_##IS, (const I* idx, long long n, long long* winner, const long long* flag), \
              (idx, n, winner, flag)) {                                                                \
        gv_winner_init_kernel<I>(idx, n, winner, flag);                                                \
    }                                                                                                  \
    GV_KERNEL(gv_winner_##IS, (const I* idx, long long n, long long* winner, const long long* flag),   \
              (idx, n, winner, flag)) {                                                                \
        gv_winner_kernel<I>(idx, n, winner, flag);                                                     \
    }
GV_PER_INDEX(GV_WINNER)
#undef GV_WINNER

#define GV_LOCKED_ONE(S, T, IS, I)                                                                     \
    GV_KERNEL(gv_scatter_locked_##S##_##IS,                                                            \
              (T * ref, const I* idx, const T* upd, long long n, long long row, long long lg_tpr,      \
               const long long* winner, const long long* flag),                                        \
              (ref, idx, upd, n, row, lg_tpr, winner, flag)) {                                         \
        gv_scatter_locked_kernel<T, I>(ref, idx, upd, n, row, lg_tpr, winner, flag);                   \
    }
#define GV_LOCKED(S, T)                                                                                \
    GV_LOCKED_ONE(S, T, i32, int)                                                                      \
    GV_LOCKED_ONE(S, T, i64, long long)
GV_SIZE_TYPES(GV_LOCKED)
#undef GV_LOCKED
#undef GV_LOCKED_ONE
