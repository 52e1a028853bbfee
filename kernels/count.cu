// count.cu -- count_up_to: increment a scalar integer unless it has reached
// `limit`, atomically, returning the old value (concurrent callers get
// distinct values).
//
// Entry points: gv_count_up_to_<T>(ref, limit, out), T = i32 or i64.
// out[0] = the value before the call; out[1] = 1 when the limit was reached
// (ref unchanged), else 0.

#include "gv_common.cuh"

template <class T, class U>
__device__ __forceinline__ void gv_count_up_to_kernel(T* ref, long long limit, long long* out) {
    if (gv_tid() != 0) return;
    U* q = reinterpret_cast<U*>(ref);
    U old = *q;
    for (;;) {
        const T cur = (T)old;
        if ((long long)cur >= limit) {
            out[0] = (long long)cur;
            out[1] = 1;
            return;
        }
        const U prev = atomicCAS(q, old, (U)(old + (U)1));
        if (prev == old) {
            out[0] = (long long)cur;
            out[1] = 0;
            return;
        }
        old = prev;
    }
}

GV_KERNEL(gv_count_up_to_i32, (int* ref, long long limit, long long* out), (ref, limit, out)) {
    gv_count_up_to_kernel<int, unsigned int>(ref, limit, out);
}
GV_KERNEL(gv_count_up_to_i64, (long long* ref, long long limit, long long* out), (ref, limit, out)) {
    gv_count_up_to_kernel<long long, unsigned long long>(ref, limit, out);
}
