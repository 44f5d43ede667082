/// Convolutions of a slab of rows with halo rows: the kernels of spatial parallelism.
///
/// A rank holding rows `a..<b` of an image needs, for the same-padded convolution's rows
/// `a..<b`, the `k/2` rows on either side of its slab (the halo, owned by the neighbouring
/// slabs; zeros at the image's top and bottom). These kernels take the halo as two separate
/// row tensors and read them where the same-padded kernels would write padding zeros: the
/// lowering to columns (im2col) copies a halo row where it would zero a row, and Winograd's input
/// transform loads it into its band of four rows. So the result is exactly the slab's rows, with
/// the same work as the convolution of the slab alone and no widened copy of the slab.
///
/// Why not a convolution "valid in H, same in W" of [halo; slab; halo]: that needs the widened
/// copy (a full pass over the slab, 12-40% of the convolution at 16 channels, 1024 wide, measured
/// by `bench-halo`), which is the cost this removes. Why not zero-padded convolution of the slab
/// plus a correction of its edge rows: the correction is a convolution of two rows with one
/// kernel row each and an addition into the output, more kernels for the same result.
///
/// Shapes: x [N,C,H,W], w [O,C,k,k] (odd k), halos [N,C,k/2,W] (nil: zero rows), g [N,O,H,W].
extension Tensor {
    /// Rows `0..<H` of the same-padded, stride-1 convolution of the stack [top; x; bottom]:
    /// `y[n,o,h,w] = sum_{c,i,j} w[o,c,i,j] X[n,c,h+i-p,w+j-p]`, where `X` is `x` inside rows
    /// `0..<H`, `top` above and `bottom` below it (zeros where nil), and zero beyond W.
    /// Returns [N,O,H,W]; with both halos nil this is `conv2d(x, w)`.
    public static func conv2d(_ x: Tensor, _ w: Tensor, top: Tensor?, bottom: Tensor?) -> Tensor {
        require(x.rank == 4 && w.rank == 4 && x.shape[1] == w.shape[1] && w.shape[2] == w.shape[3]
                     && w.shape[2] % 2 == 1, "conv2d: input \(x.shape) and weight \(w.shape) do not fit")
        requireHalos(x.shape, kernel: w.shape[2], top: top, bottom: bottom, "conv2d")
        return withHalos(top, bottom) { t, b in convolve(x, w, top: t, bottom: b) }
    }

    /// The weight gradient of `conv2d(x, w, top:, bottom:)`:
    /// `dw[o,c,i,j] = sum_{n,h,w} g[n,o,h,w] X[n,c,h+i-p,w+j-p]` with `X` the stack as there;
    /// returns [O,C,k,k].
    public static func conv2dWeightGradient(_ x: Tensor, _ g: Tensor, kernel k: Int, top: Tensor?, bottom: Tensor?) -> Tensor {
        require(x.rank == 4 && g.rank == 4 && x.shape[0] == g.shape[0] && x.shape[2] == g.shape[2]
                     && x.shape[3] == g.shape[3] && k % 2 == 1,
                     "conv2dWeightGradient: input \(x.shape) and gradient \(g.shape) do not fit")
        requireHalos(x.shape, kernel: k, top: top, bottom: bottom, "conv2dWeightGradient")
        return withHalos(top, bottom) { t, b in weightGradient(x, g, kernel: k, top: t, bottom: b) }
    }

    /// Halos must be [N,C,k/2,W] for `x` [N,C,H,W]; memory safety depends on it.
    static func requireHalos(_ shape: [Int], kernel k: Int, top: Tensor?, bottom: Tensor?, _ name: String) {
        let halo = [shape[0], shape[1], k / 2, shape[3]]
        for t in [top, bottom].compactMap({ $0 }) {
            require(t.shape == halo, "\(name): halo rows \(t.shape) do not fit input \(shape) (expected \(halo))")
        }
    }
}
