// Winograd F(4x4, 3x3), fused like WinogradFused.c's F(2x2, 3x3): a block of 16 tiles is
// transformed, multiplied and transformed back in cache.
//
// Each 4x4 block of outputs comes from the 6x6 input patch around it through 36 products per
// channel pair instead of F(2x2)'s 64 for the same 16 outputs (and the direct sum's 144): 1.78x
// fewer multiply-adds than F(2x2), for transforms of about the same cost per output. The price
// is rounding: the transforms have coefficients up to 8 (and 1/24 in the kernel's), so each
// output's error bound is a few times F(2x2)'s (the tests derive it from the |terms|).
//
//     Y = A^T [(G g G^T) ⊙ (B^T d B)] A      (Lavin & Gray, 2016; points 0, ±1, ±2, ∞)
//
//     B^T = [4  0 -5  0 1 0]   G = [ 1/4     0     0]   A^T = [1 1  1 1  1 0]
//           [0 -4 -4  1 1 0]       [-1/6 -1/6  -1/6]         [0 1 -1 2 -2 0]
//           [0  4 -4 -1 1 0]       [-1/6  1/6  -1/6]         [0 1  1 4  4 0]
//           [0 -2 -1  2 1 0]       [1/24 1/12   1/6]         [0 1 -1 8 -8 1]
//           [0  2 -1 -2 1 0]       [1/24 -1/12  1/6]
//           [0  4  0 -5 0 1]       [ 0     0     1]
//
// Tiles step 4 columns: a row is split into its 4 column phases once, so that a tile's 6 patch
// columns are plain vector loads (phase j at t for j < 4, phases 0 and 1 at t + 1).

#include "CKernels.h"
#include "FusedBlocks.h"

#include <stddef.h>
#include <string.h>

/// F(4x4, 3x3)'s kernel transform G (the header's table), for the kernel and its gradient.
static const double transform_g[6][3] = {
    {1.0 / 4, 0, 0}, {-1.0 / 6, -1.0 / 6, -1.0 / 6}, {-1.0 / 6, 1.0 / 6, -1.0 / 6},
    {1.0 / 24, 1.0 / 12, 1.0 / 6}, {1.0 / 24, -1.0 / 12, 1.0 / 6}, {0, 0, 1},
};

/// G g G^T for every (o, c), in double and rounded once: [O,C,3,3] -> [36, O, C].
void ck_winograd4_kernel(const float *w, long pairs, float *u) {
    for (long i = 0; i < pairs; i++) {
        const float *k = w + i * 9;
        double t[6][3];  // G g
        for (int r = 0; r < 6; r++)
            for (int j = 0; j < 3; j++)
                t[r][j] = transform_g[r][0] * k[j] + transform_g[r][1] * k[3 + j] + transform_g[r][2] * k[6 + j];
        for (int r = 0; r < 6; r++)
            for (int q = 0; q < 6; q++)
                u[(6 * r + q) * pairs + i] =
                    (float)(t[r][0] * transform_g[q][0] + t[r][1] * transform_g[q][1] + t[r][2] * transform_g[q][2]);
    }
}

/// G^T dU G for pairs `first ..< first + count` of all `pairs` (o, c), in double and rounded
/// once: [36, pairs] -> [pairs, 3, 3]. The adjoint of `ck_winograd4_kernel`: the weight
/// gradient from the transformed kernel's.
void ck_winograd4_kernel_gradient(const float *du, long pairs, long first, long count, float *out) {
    for (long i = first; i < first + count; i++) {
        double t[6][3];  // dU G
        for (int r = 0; r < 6; r++)
            for (int j = 0; j < 3; j++) {
                double sum = 0;
                for (int q = 0; q < 6; q++) sum += (double)du[(6 * r + q) * pairs + i] * transform_g[q][j];
                t[r][j] = sum;
            }
        for (int a = 0; a < 3; a++)
            for (int j = 0; j < 3; j++) {
                double sum = 0;
                for (int r = 0; r < 6; r++) sum += transform_g[r][a] * t[r][j];
                out[i * 9 + 3 * a + j] = (float)sum;
            }
    }
}

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

/// Tiles a block of the weight gradient holds, and the row length of its V and dM (8 floats past
/// the block). Each channel sum runs over the block's 32 tiles in registers between trips to dU;
/// V, dM and V turned take 36 x 32 floats a channel each (about 1 MB at 64 channels, streamed
/// through L2). At 256 channels that is too much: the kernel ran 3x slower than sgemm's route
/// there (AMD EPYC, Zen 3, OpenBLAS's Zen kernel: 85-99 against 31-39 ms at 64x64), so it stops
/// at 128. Other block sizes are not measured yet.
enum { GRAD4_BLOCK = 32, GRAD4_LD = GRAD4_BLOCK + 8 };

/// Floats between the weight gradient's transform points for `n` channels: 8 past the rows, so
/// that at 128 channels the 36 points do not lie a multiple of 4 KiB apart.
static long grad4_point_stride(int n) { return (long)n * GRAD4_LD + 8; }

/// Length of one phase of a band row for blocks of `block` tiles: a block's reads reach
/// `block + 1` past its first tile.
static long phase_length(int w, int block) {
    long tw = w / 4, blocks = (tw + block - 1) / block;
    return blocks * block + 24;
}

long ck_winograd4_conv_scratch(int c, int o, int w) {
    (void)o;
    return (long)c * 24 * phase_length(w, FUSED_BLOCK) + 36L * point_stride(c) + 36L * FUSED_GROUP * FUSED_BLOCK + 32;
}

long ck_winograd4_weight_gradient_scratch(int c, int o, int w) {
    const long len = phase_length(w, GRAD4_BLOCK);
    return (long)c * 24 * len + (long)o * 16 * len + 36L * grad4_point_stride(c) + 36L * grad4_point_stride(o)
         + 36L * GRAD4_BLOCK * c + 32;
}

/// Splits one padded input row into its 4 column phases: with `p[q]` the row shifted right by one
/// (`p[0]` and `p[w+1]` zero), `ph[r][k] = p[4k + r]`, zero beyond. `w` is a multiple of 4.
__attribute__((target("avx2,fma")))
static void split_phases(const float *src, int w, long len, float *ph) {
    float *p0 = ph, *p1 = ph + len, *p2 = ph + 2 * len, *p3 = ph + 3 * len;
    if (!src) {
        memset(ph, 0, sizeof(float) * 4 * len);
        return;
    }
    // src[4k + m] is p[4k + m + 1]: phases 1, 2, 3 at k and phase 0 at k + 1.
    p0[0] = 0;
    int k = 0;
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    for (; 4 * k + 32 <= w; k += 8) {
        __m256 a = _mm256_loadu_ps(src + 4 * k), b = _mm256_loadu_ps(src + 4 * k + 8);
        __m256 c = _mm256_loadu_ps(src + 4 * k + 16), d = _mm256_loadu_ps(src + 4 * k + 24);
        __m256 t0 = _mm256_unpacklo_ps(a, b), t1 = _mm256_unpackhi_ps(a, b);
        __m256 t2 = _mm256_unpacklo_ps(c, d), t3 = _mm256_unpackhi_ps(c, d);
        // Per 128-bit half: [x(m), x(m+8), x(m+16), x(m+24) | x(m+4), ...]; then in order.
        __m256 s0 = _mm256_permutevar8x32_ps(_mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0)), order);
        __m256 s1 = _mm256_permutevar8x32_ps(_mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2)), order);
        __m256 s2 = _mm256_permutevar8x32_ps(_mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0)), order);
        __m256 s3 = _mm256_permutevar8x32_ps(_mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2)), order);
        _mm256_storeu_ps(p1 + k, s0);
        _mm256_storeu_ps(p2 + k, s1);
        _mm256_storeu_ps(p3 + k, s2);
        _mm256_storeu_ps(p0 + k + 1, s3);
    }
    for (; 4 * k < w; k++) {
        p1[k] = src[4 * k];
        p2[k] = src[4 * k + 1];
        p3[k] = src[4 * k + 2];
        p0[k + 1] = src[4 * k + 3];
    }
    // k == w/4: p[w + 1] (phase 1 at k) and everything after are zero.
    for (long i = k; i < len; i++) p1[i] = p2[i] = p3[i] = 0;
    for (long i = k + 1; i < len; i++) p0[i] = 0;
}

/// One row of B^T d (or of its transpose), the 6 inputs of a column: 2 roundings on any path.
__attribute__((target("avx2,fma")))
static inline void input_row(const __m256 d[6], __m256 r[6]) {
    const __m256 four = _mm256_set1_ps(4), five = _mm256_set1_ps(-5), two = _mm256_set1_ps(2);
    __m256 d42 = _mm256_sub_ps(d[4], d[2]);
    r[0] = _mm256_fmadd_ps(four, d[0], _mm256_fmadd_ps(five, d[2], d[4]));
    r[1] = _mm256_fnmadd_ps(four, _mm256_add_ps(d[1], d[2]), _mm256_add_ps(d[3], d[4]));
    r[2] = _mm256_fmadd_ps(four, _mm256_sub_ps(d[1], d[2]), _mm256_sub_ps(d[4], d[3]));
    r[3] = _mm256_fmadd_ps(two, _mm256_sub_ps(d[3], d[1]), d42);
    r[4] = _mm256_fmadd_ps(two, _mm256_sub_ps(d[1], d[3]), d42);
    r[5] = _mm256_fmadd_ps(four, d[1], _mm256_fmadd_ps(five, d[3], d[5]));
}

/// `V = B^T d B` of `vectors` x 8 tiles from tile `t0` of a band split into phases (6 rows of
/// every input channel, `split_phases`), one tile per lane: V [36][C][ld] with points `xs` apart,
/// tile t0 + i at column i.
__attribute__((target("avx2,fma")))
static void input_transform4(const float *band, int c, long len, int t0, int vectors, float *v, long ld, long xs) {
    for (int ci = 0; ci < c; ci++) {
        for (int k = 0; k < vectors; k++) {
            const int t = t0 + 8 * k;
            __m256 s[6][6];  // s = B^T d, row by row of the result
            for (int j = 0; j < 6; j++) {
                __m256 d[6];
                const long phase = j < 4 ? j : j - 4, shift = j < 4 ? 0 : 1;
                for (int a = 0; a < 6; a++)
                    d[a] = _mm256_loadu_ps(band + (((long)ci * 6 + a) * 4 + phase) * len + t + shift);
                __m256 r[6];
                input_row(d, r);
                for (int a = 0; a < 6; a++) s[a][j] = r[a];
            }
            for (int a = 0; a < 6; a++) {
                __m256 r[6];
                input_row(s[a], r);
                for (int b = 0; b < 6; b++)
                    _mm256_storeu_ps(v + (6 * a + b) * xs + (long)ci * ld + 8 * k, r[b]);
            }
        }
    }
}

/// Splits rows `4 ty - 1 ..< 4 ty + 5` of every channel of `x` [C, H, W] (rows beyond the map
/// from `top`/`bottom` [C, W], or zeros) into `band` [C][6 rows][4 phases][len].
__attribute__((target("avx2,fma")))
static void fill_band4(const float *x, const float *top, const float *bottom, int c, int h, int w, int ty,
                       long len, float *band) {
    for (int ci = 0; ci < c; ci++)
        for (int a = 0; a < 6; a++)
            split_phases(input_row_source(x, top, bottom, ci, 4 * ty - 1 + a, h, w), w, len,
                         band + ((long)ci * 6 + a) * 4 * len);
}

/// A^T applied to the 6 values of a column: 4 outputs, 3 roundings on any path.
__attribute__((target("avx2,fma")))
static inline void output_row(const __m256 m[6], __m256 y[4]) {
    __m256 s12 = _mm256_add_ps(m[1], m[2]), d12 = _mm256_sub_ps(m[1], m[2]);
    __m256 s34 = _mm256_add_ps(m[3], m[4]), d34 = _mm256_sub_ps(m[3], m[4]);
    y[0] = _mm256_add_ps(_mm256_add_ps(m[0], s12), s34);
    y[1] = _mm256_fmadd_ps(_mm256_set1_ps(2), d34, d12);
    y[2] = _mm256_fmadd_ps(_mm256_set1_ps(4), s34, s12);
    y[3] = _mm256_add_ps(_mm256_fmadd_ps(_mm256_set1_ps(8), d34, d12), m[5]);
}

/// Writes the 4 outputs of each of 8 tiles (`y[j]` holds column j of the 8 tiles' rows) as 32
/// adjacent floats, or the first `4 * tiles` of them.
__attribute__((target("avx2,fma")))
static inline void store_tiles4(float *dst, const __m256 y[4], int tiles) {
    __m256 t0 = _mm256_unpacklo_ps(y[0], y[1]), t1 = _mm256_unpackhi_ps(y[0], y[1]);
    __m256 t2 = _mm256_unpacklo_ps(y[2], y[3]), t3 = _mm256_unpackhi_ps(y[2], y[3]);
    __m256 u0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0)), u1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
    __m256 u2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0)), u3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
    __m256 r[4] = {
        _mm256_permute2f128_ps(u0, u1, 0x20), _mm256_permute2f128_ps(u2, u3, 0x20),
        _mm256_permute2f128_ps(u0, u1, 0x31), _mm256_permute2f128_ps(u2, u3, 0x31),
    };
    if (tiles >= 8) {
        for (int i = 0; i < 4; i++) _mm256_storeu_ps(dst + 8 * i, r[i]);
    } else {
        float tmp[32];
        for (int i = 0; i < 4; i++) _mm256_storeu_ps(tmp + 8 * i, r[i]);
        memcpy(dst, tmp, sizeof(float) * 4 * tiles);
    }
}

__attribute__((target("avx2,fma")))
void ck_winograd4_conv_avx2(const float *x, const float *top, const float *bottom, const float *u,
                            int c, int o, int h, int w, int ty0, int ty1, float *out, float *scratch) {
    const long len = phase_length(w, FUSED_BLOCK), hw = (long)h * w;
    const int tw = w / 4;
    float *band = scratch;                  // [C][6 rows][4 phases][len]
    const long xs = point_stride(c);
    float *v = band + (long)c * 24 * len;   // [36][C][FUSED_BLOCK], points xs apart
    float *m = v + 36L * xs;                // [36][FUSED_GROUP][FUSED_BLOCK]
    for (int ty = ty0; ty < ty1; ty++) {
        fill_band4(x, top, bottom, c, h, w, ty, len, band);
        for (int t0 = 0; t0 < tw; t0 += FUSED_BLOCK) {
            // V = B^T d B for the block's tiles, every input channel.
            input_transform4(band, c, len, t0, FUSED_BLOCK / 8, v, FUSED_BLOCK, xs);
            const int valid0 = tw - t0 < 8 ? tw - t0 : 8;
            const int valid1 = tw - t0 - 8 < 0 ? 0 : (tw - t0 - 8 < 8 ? tw - t0 - 8 : 8);
            for (int o0 = 0, nq; o0 < o; o0 += nq) {
                nq = fused_group(o, o0);
                block_products(v, xs, u, c, o, o0, 36, m, nq);
                // Y = A^T M A, each tile's 4x4 outputs into rows 4 ty ..< 4 ty + 4.
                for (int q = 0; q < nq; q++) {
                    float *row0 = out + (o0 + q) * hw + (long)(4 * ty) * w;
                    for (int half = 0; half < 2; half++) {
                        const int valid = half == 0 ? valid0 : valid1;
                        if (valid <= 0) continue;
                        __m256 p[4][6];  // A^T M: 4 rows of 6
                        for (int b = 0; b < 6; b++) {
                            __m256 col[6], y[4];
                            for (int a = 0; a < 6; a++)
                                col[a] = _mm256_loadu_ps(m + ((6 * a + b) * FUSED_GROUP + q) * FUSED_BLOCK + 8 * half);
                            output_row(col, y);
                            for (int i = 0; i < 4; i++) p[i][b] = y[i];
                        }
                        const int column = 4 * (t0 + 8 * half);
                        for (int i = 0; i < 4; i++) {
                            __m256 y[4];
                            output_row(p[i], y);
                            store_tiles4(row0 + (long)i * w + column, y, valid);
                        }
                    }
                }
            }
        }
    }
}

/// A applied to the 4 values of a column of the output's gradient: its 6 transform points
/// `d0, (d0 + d2) ± (d1 + d3), (d0 + 4 d2) ± 2 (d1 + 4 d3), d3`; 2 roundings on any path.
__attribute__((target("avx2,fma")))
static inline void gradient_row(const __m256 d[4], __m256 r[6]) {
    const __m256 four = _mm256_set1_ps(4), two = _mm256_set1_ps(2);
    __m256 e = _mm256_add_ps(d[0], d[2]), f = _mm256_add_ps(d[1], d[3]);
    __m256 e4 = _mm256_fmadd_ps(four, d[2], d[0]), f4 = _mm256_fmadd_ps(four, d[3], d[1]);
    r[0] = d[0];
    r[1] = _mm256_add_ps(e, f);
    r[2] = _mm256_sub_ps(e, f);
    r[3] = _mm256_fmadd_ps(two, f4, e4);
    r[4] = _mm256_fnmadd_ps(two, f4, e4);
    r[5] = d[3];
}

__attribute__((target("avx2,fma")))
void ck_winograd4_weight_gradient_avx2(const float *x, const float *top, const float *bottom, const float *g,
                                       int c, int o, int h, int w, int ty0, int ty1, float *du, float *scratch) {
    const long len = phase_length(w, GRAD4_BLOCK), hw = (long)h * w;
    const int tw = w / 4;
    const long xv = grad4_point_stride(c), xm = grad4_point_stride(o);
    float *band = scratch;                      // x: [C][6 rows][4 phases][len]
    float *gband = band + (long)c * 24 * len;   // g: [O][4 rows][4 phases][len]
    float *v = gband + (long)o * 16 * len;      // [36][C][GRAD4_LD], points xv apart
    float *dm = v + 36L * xv;                   // [36][O][GRAD4_LD], points xm apart
    float *vt = dm + 36L * xm;                  // V as [36][GRAD4_BLOCK][C]
    for (int ty = ty0; ty < ty1; ty++) {
        fill_band4(x, top, bottom, c, h, w, ty, len, band);
        // g's rows 4 ty ..< 4 ty + 4: split_phases puts column 4k + j at phase j + 1 of k
        // (j < 3) and phase 0 of k + 1 (j = 3), zeros past the row, so tiles past the map get
        // dM = 0 and add nothing.
        for (int oi = 0; oi < o; oi++)
            for (int a = 0; a < 4; a++)
                split_phases(g + oi * hw + (long)(4 * ty + a) * w, w, len, gband + ((long)oi * 4 + a) * 4 * len);
        for (int t0 = 0; t0 < tw; t0 += GRAD4_BLOCK) {
            const int left = tw - t0 < GRAD4_BLOCK ? tw - t0 : GRAD4_BLOCK, vectors = (left + 7) / 8;
            input_transform4(band, c, len, t0, vectors, v, GRAD4_LD, xv);
            // dM = A dY A^T, one tile per lane.
            for (int oi = 0; oi < o; oi++) {
                const float *rows = gband + (long)oi * 16 * len;
                for (int k = 0; k < vectors; k++) {
                    const int t = t0 + 8 * k;
                    __m256 s[6][4];  // A dY
                    for (int j = 0; j < 4; j++) {
                        const long phase = j < 3 ? j + 1 : 0, shift = j < 3 ? 0 : 1;
                        __m256 d[4], r[6];
                        for (int a = 0; a < 4; a++) d[a] = _mm256_loadu_ps(rows + (a * 4 + phase) * len + t + shift);
                        gradient_row(d, r);
                        for (int a = 0; a < 6; a++) s[a][j] = r[a];
                    }
                    for (int a = 0; a < 6; a++) {
                        __m256 r[6];
                        gradient_row(s[a], r);
                        for (int b = 0; b < 6; b++)
                            _mm256_storeu_ps(dm + (6 * a + b) * xm + (long)oi * GRAD4_LD + 8 * k, r[b]);
                    }
                }
            }
            // V turned to tiles x channels, then the block's channel sums into dU.
            for (int xi = 0; xi < 36; xi++)
                for (int c0 = 0; c0 < c; c0 += 8)
                    for (int k = 0; k < vectors; k++)
                        transpose8(v + xi * xv + (long)c0 * GRAD4_LD + 8 * k, GRAD4_LD,
                                   vt + ((long)xi * GRAD4_BLOCK + 8 * k) * c + c0, c);
            grad_products(vt, dm, xm, GRAD4_LD, GRAD4_BLOCK, c, o, 36, 8 * vectors, du);
        }
    }
}

#else

long ck_winograd4_conv_scratch(int c, int o, int w) { (void)c; (void)o; (void)w; return 0; }
long ck_winograd4_weight_gradient_scratch(int c, int o, int w) { (void)c; (void)o; (void)w; return 0; }
void ck_winograd4_weight_gradient_avx2(const float *x, const float *top, const float *bottom, const float *g,
                                       int c, int o, int h, int w, int ty0, int ty1, float *du, float *scratch) {
    (void)x; (void)top; (void)bottom; (void)g; (void)c; (void)o; (void)h; (void)w;
    (void)ty0; (void)ty1; (void)du; (void)scratch;
}
void ck_winograd4_conv_avx2(const float *x, const float *top, const float *bottom, const float *u,
                            int c, int o, int h, int w, int ty0, int ty1, float *out, float *scratch) {
    (void)x; (void)top; (void)bottom; (void)u; (void)c; (void)o; (void)h; (void)w;
    (void)ty0; (void)ty1; (void)out; (void)scratch;
}

#endif
