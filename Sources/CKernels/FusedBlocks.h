// Pieces shared by the fused Winograd kernels (internal to CKernels).
#ifndef CKERNELS_FUSED_BLOCKS_H
#define CKERNELS_FUSED_BLOCKS_H

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

/// Tiles a block of the forward kernels holds: two vectors of 8, one tile per lane.
enum { FUSED_BLOCK = 16 };

/// `M[ξ][q] = sum_c U[ξ][o0 + q][c] V[ξ][c]` for 4 output channels and the block's 16 tiles, for
/// each of `points` transform points ξ: V [points][C][16] (point ξ at `v + ξ xs`), U [points][O][C],
/// M [points][4][16].
/// 4 x 2 accumulators: per channel 2 loads of V and 4 broadcasts of U feed 8 FMAs.
__attribute__((target("avx2,fma")))
static inline void block_products(const float *v, long xs, const float *u, int c, int o, int o0, int points, float *m) {
    for (int xi = 0; xi < points; xi++) {
        __m256 acc[4][2];
        for (int q = 0; q < 4; q++) acc[q][0] = acc[q][1] = _mm256_setzero_ps();
        const float *vx = v + xi * xs;
        const float *ux = u + ((long)xi * o + o0) * c;
        for (int ci = 0; ci < c; ci++) {
            __m256 v0 = _mm256_loadu_ps(vx + ci * FUSED_BLOCK), v1 = _mm256_loadu_ps(vx + ci * FUSED_BLOCK + 8);
            for (int q = 0; q < 4; q++) {
                __m256 b = _mm256_broadcast_ss(ux + (long)q * c + ci);
                acc[q][0] = _mm256_fmadd_ps(b, v0, acc[q][0]);
                acc[q][1] = _mm256_fmadd_ps(b, v1, acc[q][1]);
            }
        }
        for (int q = 0; q < 4; q++) {
            _mm256_storeu_ps(m + (xi * 4 + q) * FUSED_BLOCK, acc[q][0]);
            _mm256_storeu_ps(m + (xi * 4 + q) * FUSED_BLOCK + 8, acc[q][1]);
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
