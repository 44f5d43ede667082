import TensorKit

// A new resolution fades in at three places, each a blend by alpha from the path of the
// resolution below to the new one: G's output (`Generator`: the lower toRGB, upsampled 2x, to the
// new toRGB), D's input (`Discriminator`: fromRGB of the 2x average-pooled image to the new
// block's pooled output) and the real images D is shown (below), so that reals and fakes go
// through the same blend.

extension Tensor {
    /// Real images as D sees them during a fade-in at `alpha`: the full-resolution image blended
    /// with its 2x average-pooled, nearest-upsampled version, `lerp(up(pool(x)), x, alpha)`, the
    /// same blend G's output undergoes (the authors' `process_reals`).
    public func fadedReals(alpha: Float) -> Tensor {
        // The width, not the rows: a spatial step's slab of a 8x8 image has 4 rows or fewer.
        if alpha >= 1 || shape[3] <= 4 { return self }
        let low = avgPooled2x().upsampled2x()
        return low + (self - low) * alpha
    }
}
