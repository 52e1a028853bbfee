// segment.cu -- deterministic scatter for GPUs: the result of the sequential
// loop `for i: ref[idx[i]] op= upd[i]` (np.add.at), bit for bit.
//
// The host side sorts the indices stably (keys = sorted rows, perm = their
// original positions). A thread group starts at the head of each run of equal
// keys and folds that run's updates, in order, into an accumulator that
// starts from the current row value: no atomics, so no order dependence.
// Row-vectorized like scatter.cu (2^lg_tpr threads per sorted position; all
// but the heads return at once).
//
// Entry points:
//   gv_segment_<op>_<T>(ref, keys, perm, upd, n, row, lg_tpr, flag)
//       op add/sub/mul/div: every dtype but bool; min/max: real dtypes
//   gv_segment_update_<S>(...)   S = element size s1..s16

#include "gv_common.cuh"

template <class Op, class T>
__device__ __forceinline__ void gv_segment_kernel(T* ref, const long long* keys, const long long* perm, const T* upd,
                                                  long long n, long long row, long long lg_tpr, const long long* flag) {
    if (*flag != GV_NO_ERROR) return;
    const long long tpr = 1LL << lg_tpr;
    const long long total = n << lg_tpr;
    for (long long t = gv_tid(); t < total; t += gv_nthreads()) {
        const long long p = t >> lg_tpr;
        const long long r = keys[p];
        if (p > 0 && keys[p - 1] == r) continue;  // not the head of its segment
        T* dst = ref + r * row;
        for (long long j = t & (tpr - 1); j < row; j += tpr) {
            T acc = dst[j];
            for (long long q = p; q < n && keys[q] == r; ++q) acc = Op::apply(acc, upd[perm[q] * row + j]);
            dst[j] = acc;
        }
    }
}

#define GV_SEGMENT_ONE(OPN, OP, S, T)                                                                  \
    GV_KERNEL(gv_segment_##OPN##_##S,                                                                  \
              (T * ref, const long long* keys, const long long* perm, const T* upd, long long n,        \
               long long row, long long lg_tpr, const long long* flag),                                \
              (ref, keys, perm, upd, n, row, lg_tpr, flag)) {                                          \
        gv_segment_kernel<OP, T>(ref, keys, perm, upd, n, row, lg_tpr, flag);                          \
    }
#define GV_SEGMENT_ARITH(S, T)                                                                         \
    GV_SEGMENT_ONE(add, GvOpAdd, S, T)                                                                 \
    GV_SEGMENT_ONE(sub, GvOpSub, S, T)                                                                 \
    GV_SEGMENT_ONE(mul, GvOpMul, S, T)                                                                 \
    GV_SEGMENT_ONE(div, GvOpDiv, S, T)
#define GV_SEGMENT_MINMAX(S, T)                                                                        \
    GV_SEGMENT_ONE(min, GvOpMin, S, T)                                                                 \
    GV_SEGMENT_ONE(max, GvOpMax, S, T)
#define GV_SEGMENT_UPDATE(S, T) GV_SEGMENT_ONE(update, GvOpUpdate, S, T)
GV_ARITH_TYPES(GV_SEGMENT_ARITH)
GV_REAL_TYPES(GV_SEGMENT_MINMAX)
GV_SIZE_TYPES(GV_SEGMENT_UPDATE)
#undef GV_SEGMENT_ARITH
#undef GV_SEGMENT_MINMAX
#undef GV_SEGMENT_UPDATE
#undef GV_SEGMENT_ONE
