// Pieces shared by the fused Winograd kernels (internal to CKernels).
#ifndef CKERNELS_FUSED_BLOCKS_H
#define CKERNELS_FUSED_BLOCKS_H

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

/// Tiles a block of the forward kernels holds: two vectors of 8, one tile per lane.
enum { FUSED_BLOCK = 16 };

/// Output channels the forward kernels' products take at once (fewer for the last group).
enum { FUSED_GROUP = 6 };

/// `M[ξ][q] = sum_c U[ξ][o0 + q][c] V[ξ][c]` for `nq` output channels (6, 4 or 2) and the block's
/// 16 tiles, for each of `points` transform points ξ: V [points][C][16] (point ξ at `v + ξ xs`),
/// U [points][O][C], M [points][FUSED_GROUP][16]. The channel sum runs c = 0, 1, ... with FMA
/// whatever `nq` is. With 6 channels, 12 accumulators: per channel 2 loads of V and 6 broadcasts
/// of U feed 12 FMAs, enough independent chains to cover the FMA latency with loads to spare
/// (4 channels gave 8, which left the FMA units waiting: 6 ran the forward kernels 5-8% faster
/// at 16-256 channels on an AMD EPYC, Zen 3).
__attribute__((target("avx2,fma"), always_inline))
static inline void block_products_n(const float *v, long xs, const float *u, int c, int o, int o0, int points,
                                    float *m, const int nq) {
    for (int xi = 0; xi < points; xi++) {
        __m256 acc[FUSED_GROUP][2];
        for (int q = 0; q < nq; q++) acc[q][0] = acc[q][1] = _mm256_setzero_ps();
        const float *vx = v + xi * xs;
        const float *ux = u + ((long)xi * o + o0) * c;
        for (int ci = 0; ci < c; ci++) {
            __m256 v0 = _mm256_loadu_ps(vx + ci * FUSED_BLOCK), v1 = _mm256_loadu_ps(vx + ci * FUSED_BLOCK + 8);
            for (int q = 0; q < nq; q++) {
                __m256 b = _mm256_broadcast_ss(ux + (long)q * c + ci);
                acc[q][0] = _mm256_fmadd_ps(b, v0, acc[q][0]);
                acc[q][1] = _mm256_fmadd_ps(b, v1, acc[q][1]);
            }
        }
        for (int q = 0; q < nq; q++) {
            _mm256_storeu_ps(m + (xi * FUSED_GROUP + q) * FUSED_BLOCK, acc[q][0]);
            _mm256_storeu_ps(m + (xi * FUSED_GROUP + q) * FUSED_BLOCK + 8, acc[q][1]);
        }
    }
}

/// `block_products_n` with its channel count a constant in each branch, so that the loops over
/// the group unroll and the accumulators stay in registers. `nq` is 6, 4 or 2.
__attribute__((target("avx2,fma")))
static inline void block_products(const float *v, long xs, const float *u, int c, int o, int o0, int points,
                                  float *m, int nq) {
    switch (nq) {
    case 6: block_products_n(v, xs, u, c, o, o0, points, m, 6); break;
    case 4: block_products_n(v, xs, u, c, o, o0, points, m, 4); break;
    default: block_products_n(v, xs, u, c, o, o0, points, m, 2); break;
    }
}

/// The size of the group of output channels from `o0` (`o` a multiple of 2): 6, or what is left.
static inline int fused_group(int o, int o0) { return o - o0 < FUSED_GROUP ? o - o0 : FUSED_GROUP; }

/// Transposes the 8 x 8 floats at `src` (rows `ls` apart) into `dst` (rows `ld` apart).
__attribute__((target("avx2,fma")))
static inline void transpose8(const float *src, long ls, float *dst, long ld) {
    __m256 r[8], t[8];
    for (int i = 0; i < 8; i++) r[i] = _mm256_loadu_ps(src + i * ls);
    for (int i = 0; i < 4; i++) {
        t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 2; i++) {
        for (int j = 0; j < 2; j++) {
            __m256 a = t[4 * i + j], b = t[4 * i + 2 + j];
            r[4 * i + 2 * j] = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(1, 0, 1, 0));
            r[4 * i + 2 * j + 1] = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 2, 3, 2));
        }
    }
    // r[0..3]: columns 0, 1, 2, 3 of rows 0-3 (low half) and columns 4-7 (high half); r[4..7] rows 4-7.
    for (int i = 0; i < 4; i++) {
        _mm256_storeu_ps(dst + i * ld, _mm256_permute2f128_ps(r[i], r[4 + i], 0x20));
        _mm256_storeu_ps(dst + (4 + i) * ld, _mm256_permute2f128_ps(r[i], r[4 + i], 0x31));
    }
}

/// `dU[ξ][o][c] += sum_t dM[ξ][o][t] V[ξ][c][t]` over `tiles` tiles for each of `points` points,
/// vectors across 8 input channels: V as [points][block][C] (`vt`, tiles by channels), dM rows
/// `ld` floats long with points `xm` apart, dU [points][O][C]. For 4 output channels and 16 input
/// channels 8 accumulators; per tile 2 loads of V and 4 broadcasts of dM feed 8 FMAs, and the
/// sums go to memory once a call. `c` a multiple of 8, `o` of 4. (Groups of 6 output channels,
/// which speed the forward kernels' products, measured slower here at 16, 64 and 128 channels on
/// an AMD EPYC, Zen 3: 22.7 -> 27.7 ms at 64.)
__attribute__((target("avx2,fma")))
static inline void grad_products(const float *vt, const float *dm, long xm, long ld, int block, int c, int o,
                                 int points, int tiles, float *du) {
    for (int xi = 0; xi < points; xi++) {
        const float *mx = dm + xi * xm, *vx = vt + (long)xi * block * c;
        float *ux = du + (long)xi * o * c;
        for (int o0 = 0; o0 < o; o0 += 4) {
            for (int c0 = 0; c0 < c; c0 += 16) {
                const int pair = c0 + 8 < c;
                __m256 acc[4][2];
                for (int q = 0; q < 4; q++) acc[q][0] = acc[q][1] = _mm256_setzero_ps();
                for (int t = 0; t < tiles; t++) {
                    __m256 v0 = _mm256_loadu_ps(vx + (long)t * c + c0);
                    __m256 v1 = pair ? _mm256_loadu_ps(vx + (long)t * c + c0 + 8) : _mm256_setzero_ps();
                    for (int q = 0; q < 4; q++) {
                        __m256 b = _mm256_broadcast_ss(mx + (long)(o0 + q) * ld + t);
                        acc[q][0] = _mm256_fmadd_ps(b, v0, acc[q][0]);
                        acc[q][1] = _mm256_fmadd_ps(b, v1, acc[q][1]);
                    }
                }
                for (int q = 0; q < 4; q++) {
                    float *dst = ux + (long)(o0 + q) * c + c0;
                    _mm256_storeu_ps(dst, _mm256_add_ps(_mm256_loadu_ps(dst), acc[q][0]));
                    if (pair) _mm256_storeu_ps(dst + 8, _mm256_add_ps(_mm256_loadu_ps(dst + 8), acc[q][1]));
                }
            }
        }
    }
}

/// Input row `sy` of channel `ci` of `x` [C, H, W]: rows above and below the map come from the
/// halo rows `top`/`bottom` [C, W] of a slab, or are zeros (NULL).
static inline const float *input_row_source(const float *x, const float *top, const float *bottom,
                                            int ci, int sy, int h, int w) {
    if (sy < 0) return top ? top + (long)ci * w : NULL;
    if (sy >= h) return bottom ? bottom + (long)ci * w : NULL;
    return x + ((long)ci * h + sy) * w;
}

/// Floats between transform points in a block's V: `c` rows of 16, and 8 more so that the points
/// do not lie a multiple of 4 KiB apart (at 64, 128 or 256 channels they would, and loads would
/// wait on unrelated stores: 4K aliasing).
static inline long point_stride(int c) { return (long)c * FUSED_BLOCK + 8; }

#endif
#endif
