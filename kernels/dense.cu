// dense.cu -- whole-buffer updates: assign (copy or cast), assign_add,
// assign_sub, and their fused multi-buffer forms (apex multi_tensor_apply).
//
// Entry points (n elements; src_stride is 1, or 0 to broadcast src[0]):
//   gv_copy(dst, src, nbytes)                         same-dtype assign
//   gv_fill_<S>(dst, src, n)                          same-dtype broadcast, S = size s1..s16
//   gv_cast_<D>_<S>(dst, src, n, src_stride)          assign with a cast
//   gv_add_<T>, gv_sub_<T>(dst, src, n, src_stride)   assign_add / assign_sub
//   gv_group_{assign,add,sub}_<T>(table, nchunks)     fused, see below

#include "gv_common.cuh"

// 16-byte vectors of T where T divides 16 bytes.
template <class T>
struct gv_vec_width {
    static constexpr int value = (sizeof(T) < 16 && 16 % sizeof(T) == 0) ? (int)(16 / sizeof(T)) : 1;
};
template <class T, int V>
struct alignas(16) gv_pack {
    T v[V];
};

// dst[i] = Op(dst[i], src[i * src_stride]) over this block's share of [0, n):
// 16-byte vector loads when both pointers are 16-byte aligned (the buffers
// gpuvars allocates always are; views may not be), a scalar tail.
template <class Op, class T>
__device__ __forceinline__ void gv_dense_binary(T* dst, const T* src, long long n, long long src_stride) {
    if (src_stride == 0) {
        const T s = src[0];
        gv_tiled_for<GV_ILP>(n, [&](long long i) { dst[i] = Op::apply(dst[i], s); });
        return;
    }
    constexpr int V = gv_vec_width<T>::value;
    if (V > 1 && gv_aligned16(dst) && gv_aligned16(src)) {
        typedef gv_pack<T, V> P;
        const long long nvec = n / V;
        P* vd = reinterpret_cast<P*>(dst);
        const P* vs = reinterpret_cast<const P*>(src);
        gv_tiled_for<GV_ILP>(nvec, [&](long long v) {
            P a = vd[v];
            const P b = vs[v];
            GV_UNROLL
            for (int j = 0; j < V; ++j) a.v[j] = Op::apply(a.v[j], b.v[j]);
            vd[v] = a;
        });
        const long long tail = nvec * V;
        for (long long i = tail + gv_tid(); i < n; i += gv_nthreads()) dst[i] = Op::apply(dst[i], src[i]);
    } else {
        gv_tiled_for<GV_ILP>(n, [&](long long i) { dst[i] = Op::apply(dst[i], src[i]); });
    }
}

// Same-dtype assign: a byte copy, 16 bytes at a time where aligned.
GV_KERNEL(gv_copy, (unsigned char* dst, const unsigned char* src, long long nbytes), (dst, src, nbytes)) {
    gv_dense_binary<GvOpUpdate, unsigned char>(dst, src, nbytes, 1);
}

// assign with a cast (NumPy's "same_kind" pairs are checked by the caller).
template <class D, class S>
__device__ __forceinline__ void gv_cast_kernel(D* dst, const S* src, long long n, long long src_stride) {
    gv_tiled_for<GV_ILP>(n, [&](long long i) { dst[i] = gv_cast<D, S>(src[i * src_stride]); });
}
// NumPy's "same_kind" casts between distinct dtypes: X(dst suffix, dst type, src suffix, src type).
// Generated from numpy.can_cast(src, dst, 'same_kind'); same-dtype assign is gv_copy.
#define GV_CAST_PAIRS(X) \
    X(f32, float, f16, __half) \
    X(f64, double, f16, __half) \
    X(c64, gv_c64, f16, __half) \
    X(c128, gv_c128, f16, __half) \
    X(f16, __half, f32, float) \
    X(f64, double, f32, float) \
    X(c64, gv_c64, f32, float) \
    X(c128, gv_c128, f32, float) \
    X(f16, __half, f64, double) \
    X(f32, float, f64, double) \
    X(c64, gv_c64, f64, double) \
    X(c128, gv_c128, f64, double) \
    X(f16, __half, i8, signed char) \
    X(f32, float, i8, signed char) \
    X(f64, double, i8, signed char) \
    X(i16, short, i8, signed char) \
    X(i32, int, i8, signed char) \
    X(i64, long long, i8, signed char) \
    X(c64, gv_c64, i8, signed char) \
    X(c128, gv_c128, i8, signed char) \
    X(f16, __half, i16, short) \
    X(f32, float, i16, short) \
    X(f64, double, i16, short) \
    X(i8, signed char, i16, short) \
    X(i32, int, i16, short) \
    X(i64, long long, i16, short) \
    X(c64, gv_c64, i16, short) \
    X(c128, gv_c128, i16, short) \
    X(f16, __half, i32, int) \
    X(f32, float, i32, int) \
    X(f64, double, i32, int) \
    X(i8, signed char, i32, int) \
    X(i16, short, i32, int) \
    X(i64, long long, i32, int) \
    X(c64, gv_c64, i32, int) \
    X(c128, gv_c128, i32, int) \
    X(f16, __half, i64, long long) \
    X(f32, float, i64, long long) \
    X(f64, double, i64, long long) \
    X(i8, signed char, i64, long long) \
    X(i16, short, i64, long long) \
    X(i32, int, i64, long long) \
    X(c64, gv_c64, i64, long long) \
    X(c128, gv_c128, i64, long long) \
    X(f16, __half, u8, unsigned char) \
    X(f32, float, u8, unsigned char) \
    X(f64, double, u8, unsigned char) \
    X(i8, signed char, u8, unsigned char) \
    X(i16, short, u8, unsigned char) \
    X(i32, int, u8, unsigned char) \
    X(i64, long long, u8, unsigned char) \
    X(u16, unsigned short, u8, unsigned char) \
    X(u32, unsigned int, u8, unsigned char) \
    X(u64, unsigned long long, u8, unsigned char) \
    X(c64, gv_c64, u8, unsigned char) \
    X(c128, gv_c128, u8, unsigned char) \
    X(f16, __half, u16, unsigned short) \
    X(f32, float, u16, unsigned short) \
    X(f64, double, u16, unsigned short) \
    X(i8, signed char, u16, unsigned short) \
    X(i16, short, u16, unsigned short) \
    X(i32, int, u16, unsigned short) \
    X(i64, long long, u16, unsigned short) \
    X(u8, unsigned char, u16, unsigned short) \
    X(u32, unsigned int, u16, unsigned short) \
    X(u64, unsigned long long, u16, unsigned short) \
    X(c64, gv_c64, u16, unsigned short) \
    X(c128, gv_c128, u16, unsigned short) \
    X(f16, __half, u32, unsigned int) \
    X(f32, float, u32, unsigned int) \
    X(f64, double, u32, unsigned int) \
    X(i8, signed char, u32, unsigned int) \
    X(i16, short, u32, unsigned int) \
    X(i32, int, u32, unsigned int) \
    X(i64, long long, u32, unsigned int) \
    X(u8, unsigned char, u32, unsigned int) \
    X(u16, unsigned short, u32, unsigned int) \
    X(u64, unsigned long long, u32, unsigned int) \
    X(c64, gv_c64, u32, unsigned int) \
    X(c128, gv_c128, u32, unsigned int) \
    X(f16, __half, u64, unsigned long long) \
    X(f32, float, u64, unsigned long long) \
    X(f64, double, u64, unsigned long long) \
    X(i8, signed char, u64, unsigned long long) \
    X(i16, short, u64, unsigned long long) \
    X(i32, int, u64, unsigned long long) \
    X(i64, long long, u64, unsigned long long) \
    X(u8, unsigned char, u64, unsigned long long) \
    X(u16, unsigned short, u64, unsigned long long) \
    X(u32, unsigned int, u64, unsigned long long) \
    X(c64, gv_c64, u64, unsigned long long) \
    X(c128, gv_c128, u64, unsigned long long) \
    X(c128, gv_c128, c64, gv_c64) \
    X(c64, gv_c64, c128, gv_c128) \
    X(f16, __half, b8, bool) \
    X(f32, float, b8, bool) \
    X(f64, double, b8, bool) \
    X(i8, signed char, b8, bool) \
    X(i16, short, b8, bool) \
    X(i32, int, b8, bool) \
    X(i64, long long, b8, bool) \
    X(u8, unsigned char, b8, bool) \
    X(u16, unsigned short, b8, bool) \
    X(u32, unsigned int, b8, bool) \
    X(u64, unsigned long long, b8, bool) \
    X(c64, gv_c64, b8, bool) \
    X(c128, gv_c128, b8, bool)
#define GV_CAST(DS, DT, SS, ST)                                                                    \
    GV_KERNEL(gv_cast_##DS##_##SS, (DT * dst, const ST* src, long long n, long long src_stride),   \
              (dst, src, n, src_stride)) {                                                         \
        gv_cast_kernel<DT, ST>(dst, src, n, src_stride);                                           \
    }
GV_CAST_PAIRS(GV_CAST)
#undef GV_CAST

#define GV_DENSE_ARITH(S, T)                                                                         \
    GV_KERNEL(gv_add_##S, (T * dst, const T* src, long long n, long long src_stride),                \
              (dst, src, n, src_stride)) {                                                           \
        gv_dense_binary<GvOpAdd, T>(dst, src, n, src_stride);                                        \
    }                                                                                                \
    GV_KERNEL(gv_sub_##S, (T * dst, const T* src, long long n, long long src_stride),                \
              (dst, src, n, src_stride)) {                                                           \
        gv_dense_binary<GvOpSub, T>(dst, src, n, src_stride);                                        \
    }
GV_ARITH_TYPES(GV_DENSE_ARITH)
#undef GV_DENSE_ARITH

// ---------------------------------------------------------------------------
// Fused updates of many buffers in one launch. The host splits every buffer
// into chunks and passes a table of 4 x int64 per chunk:
//     {dst address, src address, element count, src_stride (0 or 1)}
// Block b processes chunks b, b + gridDim.x, ...; its threads split the chunk.
// ---------------------------------------------------------------------------
template <class Op, class T>
__device__ __forceinline__ void gv_group_kernel(const long long* table, long long nchunks) {
    constexpr int V = gv_vec_width<T>::value;
    typedef gv_pack<T, V> P;
    for (long long c = blockIdx.x; c < nchunks; c += gridDim.x) {
        T* dst = reinterpret_cast<T*>((unsigned long long)table[4 * c]);
        const T* src = reinterpret_cast<const T*>((unsigned long long)table[4 * c + 1]);
        const long long n = table[4 * c + 2];
        const long long stride = table[4 * c + 3];
        if (stride == 0) {
            const T s = src[0];
            gv_block_tiled_for<GV_ILP>(n, [&](long long i) { dst[i] = Op::apply(dst[i], s); });
        } else if (V > 1 && gv_aligned16(dst) && gv_aligned16(src)) {
            const long long nvec = n / V;
            P* vd = reinterpret_cast<P*>(dst);
            const P* vs = reinterpret_cast<const P*>(src);
            gv_block_tiled_for<GV_ILP>(nvec, [&](long long v) {
                P a = vd[v];
                const P b = vs[v];
                GV_UNROLL
                for (int j = 0; j < V; ++j) a.v[j] = Op::apply(a.v[j], b.v[j]);
                vd[v] = a;
            });
            for (long long i = nvec * V + threadIdx.x; i < n; i += blockDim.x) dst[i] = Op::apply(dst[i], src[i]);
        } else {
            gv_block_tiled_for<GV_ILP>(n, [&](long long i) { dst[i] = Op::apply(dst[i], src[i]); });
        }
    }
}

// Host: parallel from 32 blocks. The host runs group launches with small
// blocks (a block per small buffer), so a thread count says little about
// the work; 32 chunks are worth a second thread.
#define GV_GROUP_KERNEL(NAME, OP, T)                                                             \
    GV_KERNEL_EX(NAME, 1024, (const long long* table, long long nchunks), (table, nchunks)) {    \
        gv_group_kernel<OP, T>(table, nchunks);                                                  \
    }
#define GV_GROUP_ASSIGN(S, T) GV_GROUP_KERNEL(gv_group_assign_##S, GvOpUpdate, T)
#define GV_GROUP_ARITH(S, T)                                                                     \
    GV_GROUP_KERNEL(gv_group_add_##S, GvOpAdd, T)                                                \
    GV_GROUP_KERNEL(gv_group_sub_##S, GvOpSub, T)
GV_ALL_TYPES(GV_GROUP_ASSIGN)
GV_ARITH_TYPES(GV_GROUP_ARITH)
#undef GV_GROUP_ASSIGN
#undef GV_GROUP_ARITH
#undef GV_GROUP_KERNEL

// Same-dtype assign of one broadcast element (by element size: a copy is a copy).
#define GV_FILL(S, T)                                                                           \
    GV_KERNEL(gv_fill_##S, (T * dst, const T* src, long long n), (dst, src, n)) {              \
        gv_dense_binary<GvOpUpdate, T>(dst, src, n, 0);                                         \
    }
GV_SIZE_TYPES(GV_FILL)
#undef GV_FILL
