import TensorKit

// Fused ops: one graph node where the composed ops would keep 3-5 full-size values alive (every
// node holds its value, and a child retains its parents). Each computes its whole forward in
// place on one tensor; its rule is still written in Var ops, so double backprop (the WGAN-GP
// penalty) stays exact. Shape legend: N batch, C/O channels in/out, H x W spatial, k kernel.

/// `f(a[i], b[i])` for equal-shaped tensors, in one pass and without temporaries.
@inline(__always)
func zipElements(_ a: Tensor, _ b: Tensor, _ f: (Float, Float) -> Float) -> Tensor {
    precondition(a.shape == b.shape, "zipElements: shapes \(a.shape) and \(b.shape) differ")
    let n = a.count
    // Every element is written below: no need to zero it first.
    let out = [Float](unsafeUninitializedCapacity: n) { c, count in
        a.data.withUnsafeBufferPointer { pa in b.data.withUnsafeBufferPointer { pb in
            for i in 0..<n { c[i] = f(pa[i], pb[i]) } } }
        count = n
    }
    return Tensor(shape: a.shape, data: out)
}

extension Var {
    /// The gradient through a leaky ReLU whose output is `y`: this gradient where `y > 0`,
    /// `slope` times it elsewhere (the sign of the output is that of the input, as `slope > 0`).
    ///
    /// Computed in one pass, without a mask tensor. `y` is a constant and the map is linear in
    /// this gradient, so the rule is the same op applied to the upstream gradient (the mask's own
    /// derivative is zero almost everywhere).
    public func leakyReLUMasked(by y: Tensor, slope: Float) throws -> Var {
        guard y.shape == shape else {
            throw ShapeError("leakyReLUMasked", "gradient \(shape) and output \(y.shape) differ")
        }
        return Var.op(zipElements(value, y) { g, v in v > 0 ? g : g * slope }, [self]) { _, u, _ in
            [try u.leakyReLUMasked(by: y, slope: slope)]
        }
    }
}
