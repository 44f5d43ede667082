// Winograd F(2x2, 3x3) with its transforms and channel sums fused, for few-channel layers.
//
// The sgemm route (TensorKit's Tensor+Winograd.swift) writes V = B^T d B for a chunk of tiles to
// memory, runs 16 products [O, C] x [C, T] and reads M back for the output transform. With 16-64
// channels those products are thin (sgemm packs more than it multiplies) and each pass streams
// megabytes, so the layers at 256x256 and up ran at a third of the big layers' rate. Here a block
// of 16 tiles is transformed, multiplied and transformed back while it sits in L1: the input is
// read once (deinterleaved into a band of 4 rows), the output written once.
//
// Arithmetic is the same as the sgemm route's (same transforms; the channel sum in the order
// c = 0, 1, ..., with FMA), so results differ from the direct convolution by float rounding
// only; each tile is computed the same way whichever thread or call computes it.

#include "CKernels.h"
#include "FusedBlocks.h"

#include <stddef.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

/// Tiles a block of the weight gradient holds: its channel sums run over them, in registers.
enum { GRAD_BLOCK = 64 };
/// Row length of the weight gradient's V and dM blocks: 8 floats past the block, so that rows of
/// a 16-channel block do not lie a multiple of 4 KiB apart (loads then wait on unrelated stores).
enum { GRAD_LD = GRAD_BLOCK + 8 };

/// Length of one deinterleaved band row for blocks of `block` tiles: a block's reads reach
/// `block + 1` past its first tile.
static long band_length(int w, int block) {
    long tw = w / 2, blocks = (tw + block - 1) / block;
    return blocks * block + 24;
}

long ck_winograd_conv_scratch(int c, int o, int w) {
    (void)o;
    return (long)c * 8 * band_length(w, FUSED_BLOCK) + 16L * point_stride(c) + 16L * FUSED_GROUP * FUSED_BLOCK + 32;
}

/// Splits one padded input row into its even and odd columns: with `p[q]` the row shifted right
/// by one (`p[0]` and `p[w+1]` zero), `even[k] = p[2k]` and `odd[k] = p[2k+1]`, zero beyond.
/// Tile t's patch columns are then even[t], odd[t], even[t+1], odd[t+1]: plain vector loads.
__attribute__((target("avx2,fma")))
static void deinterleave_row(const float *src, int w, long len, float *even, float *odd) {
    if (!src) {
        memset(even, 0, sizeof(float) * len);
        memset(odd, 0, sizeof(float) * len);
        return;
    }
    even[0] = 0;
    int k = 0;
    // src[2k .. 2k+16): its even columns are odd[k..k+8), its odd ones even[k+1..k+9).
    for (; 2 * k + 16 <= w; k += 8) {
        __m256 a = _mm256_loadu_ps(src + 2 * k), b = _mm256_loadu_ps(src + 2 * k + 8);
        __m256 ev = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));
        __m256 od = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1));
        // The shuffles work per 128-bit half: put the 64-bit pairs back in order 0, 2, 1, 3.
        ev = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(ev), _MM_SHUFFLE(3, 1, 2, 0)));
        od = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(od), _MM_SHUFFLE(3, 1, 2, 0)));
        _mm256_storeu_ps(odd + k, ev);
        _mm256_storeu_ps(even + k + 1, od);
    }
    for (; 2 * k < w; k++) {
        odd[k] = src[2 * k];
        even[k + 1] = src[2 * k + 1];
    }
    // k == w/2 here: odd[w/2] is p[w+1] = 0, even[w/2 + 1] is p[w+2], past the row.
    for (long i = k; i < len; i++) odd[i] = 0;
    for (long i = k + 1; i < len; i++) even[i] = 0;
}

/// `V = B^T d B` of `vectors` x 8 tiles from tile `t0` of a deinterleaved band (4 rows of every
/// input channel, `deinterleave_row`), one tile per lane: V [16][C][ld] with points `xs` apart,
/// tile t0 + i at column i.
__attribute__((target("avx2,fma")))
static void input_transform(const float *band, int c, long len, int t0, int vectors, float *v, long ld, long xs) {
    for (int ci = 0; ci < c; ci++) {
        const float *rows = band + (long)ci * 8 * len;
        for (int k = 0; k < vectors; k++) {
            const int t = t0 + 8 * k;
            __m256 d[4][4];
            for (int a = 0; a < 4; a++) {
                const float *even = rows + a * 2 * len, *odd = even + len;
                d[a][0] = _mm256_loadu_ps(even + t);
                d[a][1] = _mm256_loadu_ps(odd + t);
                d[a][2] = _mm256_loadu_ps(even + t + 1);
                d[a][3] = _mm256_loadu_ps(odd + t + 1);
            }
            __m256 s[4][4];  // s = B^T d
            for (int j = 0; j < 4; j++) {
                s[0][j] = _mm256_sub_ps(d[0][j], d[2][j]);
                s[1][j] = _mm256_add_ps(d[1][j], d[2][j]);
                s[2][j] = _mm256_sub_ps(d[2][j], d[1][j]);
                s[3][j] = _mm256_sub_ps(d[1][j], d[3][j]);
            }
            const long step = xs;
            for (int a = 0; a < 4; a++) {
                float *dst = v + 4 * a * xs + (long)ci * ld + 8 * k;
                _mm256_storeu_ps(dst, _mm256_sub_ps(s[a][0], s[a][2]));
                _mm256_storeu_ps(dst + step, _mm256_add_ps(s[a][1], s[a][2]));
                _mm256_storeu_ps(dst + 2 * step, _mm256_sub_ps(s[a][2], s[a][1]));
                _mm256_storeu_ps(dst + 3 * step, _mm256_sub_ps(s[a][1], s[a][3]));
            }
        }
    }
}

/// Deinterleaves rows `2 ty - 1 ..< 2 ty + 3` of every channel of `x` [C, H, W] (rows beyond the
/// map from `top`/`bottom` [C, W], or zeros) into `band` [C][4 rows][even, odd][len].
__attribute__((target("avx2,fma")))
static void fill_band(const float *x, const float *top, const float *bottom, int c, int h, int w, int ty,
                      long len, float *band) {
    for (int ci = 0; ci < c; ci++) {
        for (int a = 0; a < 4; a++) {
            const float *src = input_row_source(x, top, bottom, ci, 2 * ty - 1 + a, h, w);
            float *even = band + ((long)ci * 4 + a) * 2 * len;
            deinterleave_row(src, w, len, even, even + len);
        }
    }
}

/// Writes the 2 x 8 outputs of 8 tiles whose results are `y0` (left column) and `y1` (right
/// column), interleaved, to `dst`: all 16 floats, or the first `2 * tiles` of them.
__attribute__((target("avx2,fma")))
static inline void store_interleaved(float *dst, __m256 y0, __m256 y1, int tiles) {
    __m256 lo = _mm256_unpacklo_ps(y0, y1), hi = _mm256_unpackhi_ps(y0, y1);
    __m256 first = _mm256_permute2f128_ps(lo, hi, 0x20), second = _mm256_permute2f128_ps(lo, hi, 0x31);
    if (tiles >= 8) {
        _mm256_storeu_ps(dst, first);
        _mm256_storeu_ps(dst + 8, second);
    } else {
        float tmp[16];
        _mm256_storeu_ps(tmp, first);
        _mm256_storeu_ps(tmp + 8, second);
        memcpy(dst, tmp, sizeof(float) * 2 * tiles);
    }
}

__attribute__((target("avx2,fma")))
void ck_winograd_conv_avx2(const float *x, const float *top, const float *bottom, const float *u,
                           int c, int o, int h, int w, int ty0, int ty1, float *out, float *scratch) {
    const long len = band_length(w, FUSED_BLOCK), hw = (long)h * w;
    const int tw = w / 2;
    float *band = scratch;                     // [C][4 rows][even, odd][len]
    const long xs = point_stride(c);
    float *v = band + (long)c * 8 * len;       // [16][C][FUSED_BLOCK], points xs apart
    float *m = v + 16L * xs;                   // [16][FUSED_GROUP][FUSED_BLOCK]
    for (int ty = ty0; ty < ty1; ty++) {
        fill_band(x, top, bottom, c, h, w, ty, len, band);
        for (int t0 = 0; t0 < tw; t0 += FUSED_BLOCK) {
            // V = B^T d B for the block's tiles, every input channel.
            input_transform(band, c, len, t0, FUSED_BLOCK / 8, v, FUSED_BLOCK, xs);
            const int valid0 = tw - t0 < 8 ? tw - t0 : 8;
            const int valid1 = tw - t0 - 8 < 0 ? 0 : (tw - t0 - 8 < 8 ? tw - t0 - 8 : 8);
            for (int o0 = 0, nq; o0 < o; o0 += nq) {
                // M[ξ][q] = sum_c U[ξ][o0 + q][c] V[ξ][c] for up to 6 output channels, 16 tiles.
                nq = fused_group(o, o0);
                block_products(v, xs, u, c, o, o0, 16, m, nq);
                // Y = A^T M A, each tile's 2x2 outputs into rows 2 ty and 2 ty + 1.
                for (int q = 0; q < nq; q++) {
                    float *row0 = out + (o0 + q) * hw + (long)(2 * ty) * w;
                    for (int half = 0; half < 2; half++) {
                        const int valid = half == 0 ? valid0 : valid1;
                        if (valid <= 0) continue;
                        __m256 mm[16];
                        for (int xi = 0; xi < 16; xi++) mm[xi] = _mm256_loadu_ps(m + (xi * FUSED_GROUP + q) * FUSED_BLOCK + 8 * half);
                        __m256 p00 = _mm256_add_ps(_mm256_add_ps(mm[0], mm[4]), mm[8]);
                        __m256 p10 = _mm256_sub_ps(_mm256_sub_ps(mm[4], mm[8]), mm[12]);
                        __m256 p01 = _mm256_add_ps(_mm256_add_ps(mm[1], mm[5]), mm[9]);
                        __m256 p11 = _mm256_sub_ps(_mm256_sub_ps(mm[5], mm[9]), mm[13]);
                        __m256 p02 = _mm256_add_ps(_mm256_add_ps(mm[2], mm[6]), mm[10]);
                        __m256 p12 = _mm256_sub_ps(_mm256_sub_ps(mm[6], mm[10]), mm[14]);
                        __m256 p03 = _mm256_add_ps(_mm256_add_ps(mm[3], mm[7]), mm[11]);
                        __m256 p13 = _mm256_sub_ps(_mm256_sub_ps(mm[7], mm[11]), mm[15]);
                        __m256 y00 = _mm256_add_ps(_mm256_add_ps(p00, p01), p02);
                        __m256 y01 = _mm256_sub_ps(_mm256_sub_ps(p01, p02), p03);
                        __m256 y10 = _mm256_add_ps(_mm256_add_ps(p10, p11), p12);
                        __m256 y11 = _mm256_sub_ps(_mm256_sub_ps(p11, p12), p13);
                        const int col = 2 * (t0 + 8 * half);
                        store_interleaved(row0 + col, y00, y01, valid);
                        store_interleaved(row0 + w + col, y10, y11, valid);
                    }
                }
            }
        }
    }
}

long ck_winograd_weight_gradient_scratch(int c, int o, int w) {
    long len = band_length(w, GRAD_BLOCK);
    return (long)c * 8 * len + (long)o * 4 * len + 16L * (c + o) * GRAD_LD + 16L * c * GRAD_BLOCK + 32;
}

__attribute__((target("avx2,fma")))
void ck_winograd_weight_gradient_avx2(const float *x, const float *top, const float *bottom, const float *g,
                                      int c, int o, int h, int w, int ty0, int ty1, float *du, float *scratch) {
    const long len = band_length(w, GRAD_BLOCK), hw = (long)h * w;
    const int tw = w / 2;
    float *band = scratch;                       // x: [C][4 rows][even, odd][len]
    float *gband = band + (long)c * 8 * len;     // g: [O][2 rows][even, odd][len]
    float *v = gband + (long)o * 4 * len;        // [16][C][GRAD_LD]
    float *dm = v + 16L * c * GRAD_LD;           // [16][O][GRAD_LD]
    float *vt = dm + 16L * o * GRAD_LD;          // V as [16][GRAD_BLOCK][C]
    for (int ty = ty0; ty < ty1; ty++) {
        fill_band(x, top, bottom, c, h, w, ty, len, band);
        // g's rows 2 ty and 2 ty + 1: deinterleave_row puts column 2k at odd[k], 2k + 1 at
        // even[k + 1], zeros past the row, so tiles past the map get dM = 0 and add nothing.
        for (int oi = 0; oi < o; oi++) {
            for (int a = 0; a < 2; a++) {
                float *even = gband + ((long)oi * 2 + a) * 2 * len;
                deinterleave_row(g + oi * hw + (long)(2 * ty + a) * w, w, len, even, even + len);
            }
        }
        for (int t0 = 0; t0 < tw; t0 += GRAD_BLOCK) {
            const int left = tw - t0 < GRAD_BLOCK ? tw - t0 : GRAD_BLOCK, vectors = (left + 7) / 8;
            input_transform(band, c, len, t0, vectors, v, GRAD_LD, (long)c * GRAD_LD);
            // dM = A dY A^T: rows of A dY are g0, g0 + g1, g0 - g1, -g1 (g0, g1 the tile's two
            // output rows), each row (h0, h1) times A^T is h0, h0 + h1, h0 - h1, -h1.
            for (int oi = 0; oi < o; oi++) {
                const float *r0 = gband + (long)oi * 4 * len, *r1 = r0 + 2 * len;
                for (int k = 0; k < vectors; k++) {
                    const int t = t0 + 8 * k;
                    __m256 g00 = _mm256_loadu_ps(r0 + len + t), g01 = _mm256_loadu_ps(r0 + t + 1);
                    __m256 g10 = _mm256_loadu_ps(r1 + len + t), g11 = _mm256_loadu_ps(r1 + t + 1);
                    __m256 rows[4][2] = {
                        {g00, g01},
                        {_mm256_add_ps(g00, g10), _mm256_add_ps(g01, g11)},
                        {_mm256_sub_ps(g00, g10), _mm256_sub_ps(g01, g11)},
                        {_mm256_sub_ps(_mm256_setzero_ps(), g10), _mm256_sub_ps(_mm256_setzero_ps(), g11)},
                    };
                    const long step = (long)o * GRAD_LD;
                    for (int a = 0; a < 4; a++) {
                        float *dst = dm + ((long)(4 * a) * o + oi) * GRAD_LD + 8 * k;
                        __m256 h0 = rows[a][0], h1 = rows[a][1];
                        _mm256_storeu_ps(dst, h0);
                        _mm256_storeu_ps(dst + step, _mm256_add_ps(h0, h1));
                        _mm256_storeu_ps(dst + 2 * step, _mm256_sub_ps(h0, h1));
                        _mm256_storeu_ps(dst + 3 * step, _mm256_sub_ps(_mm256_setzero_ps(), h1));
                    }
                }
            }
            // dU[ξ][o][c] += sum over the block's tiles of dM[ξ][o][t] V[ξ][c][t], vectors
            // across 8 input channels: V turned to [ξ][t][c], then for 4 output channels and
            // 16 input channels 8 accumulators; per tile 2 loads of V and 4 broadcasts of dM
            // feed 8 FMAs, and the sums go to memory once a block.
            const int tiles = 8 * vectors;
            for (int xi = 0; xi < 16; xi++)
                for (int c0 = 0; c0 < c; c0 += 8)
                    for (int k = 0; k < vectors; k++)
                        transpose8(v + ((long)xi * c + c0) * GRAD_LD + 8 * k, GRAD_LD,
                                   vt + ((long)xi * GRAD_BLOCK + 8 * k) * c + c0, c);
            grad_products(vt, dm, (long)o * GRAD_LD, GRAD_LD, GRAD_BLOCK, c, o, 16, tiles, du);
        }
    }
}

#else

long ck_winograd_conv_scratch(int c, int o, int w) { (void)c; (void)o; (void)w; return 0; }
long ck_winograd_weight_gradient_scratch(int c, int o, int w) { (void)c; (void)o; (void)w; return 0; }
void ck_winograd_weight_gradient_avx2(const float *x, const float *top, const float *bottom, const float *g,
                                      int c, int o, int h, int w, int ty0, int ty1, float *du, float *scratch) {
    (void)x; (void)top; (void)bottom; (void)g; (void)c; (void)o; (void)h; (void)w;
    (void)ty0; (void)ty1; (void)du; (void)scratch;
}
void ck_winograd_conv_avx2(const float *x, const float *top, const float *bottom, const float *u,
                           int c, int o, int h, int w, int ty0, int ty1, float *out, float *scratch) {
    (void)x; (void)top; (void)bottom; (void)u; (void)c; (void)o; (void)h; (void)w;
    (void)ty0; (void)ty1; (void)out; (void)scratch;
}

#endif
