#ifndef CKERNELS_H
#define CKERNELS_H

/// Hand-vectorised convolution kernels for the layers sgemm serves badly: few channels on large
/// maps (16-64 channels at 256x256 and up), where the products are thin and the lowering passes
/// over memory cost more than the arithmetic. Each kernel is compiled for one instruction set
/// (function target attributes), so the rest of the binary stays portable; callers check
/// the CPU's features first (TensorKit's `CPUFeatures`).

#ifdef __cplusplus
extern "C" {
#endif

/// Floats of scratch `ck_winograd_conv_avx2` needs for `c` input and `o` output channels on
/// maps `w` wide.
long ck_winograd_conv_scratch(int c, int o, int w);

/// Tile rows `ty0..<ty1` of one sample's 3x3 same-padded convolution by Winograd F(2x2, 3x3),
/// each tile's transforms and its 16 channel sums done together in cache (no V or M buffers in
/// memory): output rows `2*ty0 ..< 2*ty1` of `out` [O, H, W] are written.
///
/// - `x`: the sample's input [C, H, W]; `top`, `bottom`: its rows above and below the map
///   ([C, W]), or NULL for zeros.
/// - `u`: the transformed kernel [16, O, C] (`G w G^T` for every output/input channel pair).
/// - `o` must be a multiple of 4, `h` and `w` even; `scratch` holds
///   `ck_winograd_conv_scratch(c, o, w)` floats, aligned to 32 bytes.
void ck_winograd_conv_avx2(const float *x, const float *top, const float *bottom, const float *u,
                           int c, int o, int h, int w, int ty0, int ty1, float *out, float *scratch);

/// `G g G^T` of F(4x4, 3x3) for every (o, c), computed in double and rounded once:
/// `w` [pairs, 3, 3] -> `u` [36, pairs].
void ck_winograd4_kernel(const float *w, long pairs, float *u);

/// Floats of scratch `ck_winograd4_conv_avx2` needs.
long ck_winograd4_conv_scratch(int c, int o, int w);

/// `ck_winograd_conv_avx2` by F(4x4, 3x3): tile rows `ty0..<ty1` of 4 output rows each; `u`
/// [36, O, C] from `ck_winograd4_kernel`; `h` and `w` multiples of 4.
void ck_winograd4_conv_avx2(const float *x, const float *top, const float *bottom, const float *u,
                            int c, int o, int h, int w, int ty0, int ty1, float *out, float *scratch);

/// Floats of scratch `ck_winograd_weight_gradient_avx2` needs.
long ck_winograd_weight_gradient_scratch(int c, int o, int w);

/// The transformed weight gradient of tile rows `ty0..<ty1` of one sample, the adjoint of
/// `ck_winograd_conv_avx2`: the sum over those tiles of `dM[ξ][o][t] V[ξ][c][t]`, with
/// `dM = A dY A^T` of `g` [O, H, W] (the output's gradient) and `V = B^T d B` of `x` (`top` and
/// `bottom` as there), is added to `du` [16, O, C]. `c` must be a multiple of 8, `o` of 4.
void ck_winograd_weight_gradient_avx2(const float *x, const float *top, const float *bottom, const float *g,
                                      int c, int o, int h, int w, int ty0, int ty1, float *du, float *scratch);

/// Floats of scratch `ck_winograd4_weight_gradient_avx2` needs.
long ck_winograd4_weight_gradient_scratch(int c, int o, int w);

/// `ck_winograd_weight_gradient_avx2` by F(4x4, 3x3): tile rows `ty0..<ty1` of 4 rows each add
/// their `dM[ξ][o][t] V[ξ][c][t]` (36 points; `dM = A dY A^T`, `V = B^T d B`) to `du` [36, O, C].
/// `c` a multiple of 8, `o` of 4, `h` and `w` of 4.
void ck_winograd4_weight_gradient_avx2(const float *x, const float *top, const float *bottom, const float *g,
                                       int c, int o, int h, int w, int ty0, int ty1, float *du, float *scratch);

/// `G^T dU G` of F(4x4, 3x3) for the pairs `first ..< first + count` of all `pairs` (o, c), in
/// double and rounded once: `du` [36, pairs] -> `out` [pairs, 3, 3] (the adjoint of
/// `ck_winograd4_kernel`).
void ck_winograd4_kernel_gradient(const float *du, long pairs, long first, long count, float *out);

#ifdef __cplusplus
}
#endif

#endif
