import TensorKit

// Fused ops: one graph node where the composed ops would keep 3-5 full-size values alive (every
// node holds its value, and a child retains its parents). Each computes its whole forward in
// place on one tensor; its rule is still written in Var ops, so double backprop (the WGAN-GP
// penalty) stays exact. Shape legend: N batch, C/O channels in/out, H x W spatial, k kernel.
//
// Loops that `Parallel` splits write through a pointer bound before the loop, not through the
// inout buffer `withUnsafeMutableBufferPointer` passes: a closure holds that buffer by address,
// and where it runs as a function of its own (on more than one thread) it rereads the address at
// every element and does not vectorize.

/// `g` where `y > 0`, `slope * g` elsewhere, for equal-shaped tensors, in one pass and without
/// temporaries. The loop names its arithmetic itself rather than calling a closure: a closure
/// captured by a loop that `Parallel` runs on other threads is called once per element there,
/// unvectorized.
func leakyReLUMask(_ g: Tensor, by y: Tensor, slope: Float) -> Tensor {
    require(g.shape == y.shape, "leakyReLUMask: shapes \(g.shape) and \(y.shape) differ")
    let n = g.count
    // Every element is written below: no need to zero it first.
    let out = [Float](unsafeUninitializedCapacity: n) { buffer, count in
        g.data.withUnsafeBufferPointer { pg in y.data.withUnsafeBufferPointer { py in
            // Bound once (see the note at the top of the file).
            let c = buffer.baseAddress!
            Parallel.forRanges(n, grain: 1 << 15) { range in
                for i in range { c[i] = py[i] > 0 ? pg[i] : pg[i] * slope }
            }
        } }
        count = n
    }
    return Tensor(shape: g.shape, data: out)
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
        return Var.op(leakyReLUMask(value, by: y, slope: slope), [self]) { _, u, _ in
            [try u.leakyReLUMasked(by: y, slope: slope)]
        }
    }

    /// `leakyReLU(conv2d(x, w) + b)` as one node holding only its output: `x` [N,C,H,W],
    /// `w` [O,C,k,k] (odd k, same padding), `b` [O] -> [N,O,H,W].
    ///
    /// The rule needs the output only for its sign: `g' = g` masked by the output (see
    /// `leakyReLUMasked`), then conv2d's rules on `g'` and the bias gradient `sum_{n,h,w} g'`.
    public static func conv2dBiasLeakyReLU(_ x: Var, _ w: Var, _ b: Var, slope: Float) throws -> Var {
        guard x.shape.count == 4, w.shape.count == 4, w.shape[2] == w.shape[3], w.shape[2] % 2 == 1,
              x.shape[1] == w.shape[1], b.shape == [w.shape[0]] else {
            throw ShapeError("conv2dBiasLeakyReLU", "input must be [N,C,H,W], weight [O,C,k,k] with odd k and bias [O]; "
                             + "got \(x.shape), \(w.shape) and \(b.shape)")
        }
        let (n, o, k) = (x.shape[0], w.shape[0], w.shape[2])
        let hw = x.shape[2] * x.shape[3]
        var y = Tensor.conv2d(x.value, w.value)
        // Bias and activation in place on the convolution's output (uniquely held: no copy).
        y.data.withUnsafeMutableBufferPointer { out in b.value.data.withUnsafeBufferPointer { pb in
            let py = out.baseAddress!  // bound once: see the note at the top of the file
            // Planes (sample, channel) in parallel.
            Parallel.forRanges(n * o, floatsEach: hw) { planes in
                for plane in planes {
                    let bias = pb[plane % o], base = plane * hw
                    for i in base..<(base + hw) {
                        let v = py[i] + bias
                        py[i] = v > 0 ? v : v * slope
                    }
                }
            }
        } }
        return Var.op(y, [x, w, b]) { node, g, needs in
            let gm = try g.leakyReLUMasked(by: node.value, slope: slope)
            return [needs[0] ? try conv2d(gm, w.flippedTransposedKernel()) : nil,
                    needs[1] ? try conv2dWeightGradient(x, gm, kernel: k) : nil,
                    needs[2] ? try gm.sum(to: [1, o, 1, 1]).reshape([o]) : nil]
        }
    }

    /// Pixelwise feature normalization over axis 1, as one node holding only its output:
    /// `y = a * r`, `r = rsqrt(mean_c(a^2) + epsilon)` for each position of the other axes
    /// (`a` [N,C,...], e.g. [N,C,H,W] features or [N,C] latents).
    ///
    /// Rule: `da = r * (g - y * mean_c(g * y))`. A plain backward uses `r` kept by the op
    /// ([N,1,...], 1/C of the output); one that records a graph (createGraph) rebuilds `r` from
    /// the input with Var ops, so that the gradient is differentiable again.
    public static func pixelNorm(_ a: Var, epsilon: Float) throws -> Var {
        // N = 0 is allowed: a rank holding no samples of an unevenly dealt batch.
        guard a.shape.count >= 2, a.shape[1] > 0 else {
            throw ShapeError("pixelNorm", "input must be [N,C,...] with C > 0; got \(a.shape)")
        }
        let (n, c) = (a.shape[0], a.shape[1])
        let s = Tensor.count(of: Array(a.shape.dropFirst(2)))
        let rShape = [n, 1] + a.shape.dropFirst(2)
        // Mean square as the composed ops round it: float squares summed in Double, then * (1/C).
        let invC = 1 / Float(c)
        var r = [Float](repeating: 0, count: n * s)
        var y = [Float](repeating: 0, count: a.value.count)
        a.value.data.withUnsafeBufferPointer { pa in y.withUnsafeMutableBufferPointer { yBuffer in
            r.withUnsafeMutableBufferPointer { rBuffer in
                let (py, pr) = (yBuffer.baseAddress!, rBuffer.baseAddress!)  // bound once: see the note at the top of the file
                // Samples in parallel, each with its own accumulators.
                Parallel.forRanges(n, floatsEach: 2 * c * s) { samples in
                    var acc = [Double](repeating: 0, count: s)
                    for i in samples {
                        for j in 0..<s { acc[j] = 0 }
                        for ch in 0..<c {
                            let base = (i * c + ch) * s
                            for j in 0..<s { let v = pa[base + j]; acc[j] += Double(v * v) }
                        }
                        for j in 0..<s { pr[i * s + j] = 1 / (Float(acc[j]) * invC + epsilon).squareRoot() }
                        for ch in 0..<c {
                            let base = (i * c + ch) * s
                            for j in 0..<s { py[base + j] = pa[base + j] * pr[i * s + j] }
                        }
                    }
                }
            } } }
        let kept = Tensor(shape: rShape, data: r)
        return Var.op(Tensor(shape: a.shape, data: y), [a]) { node, g, _ in
            if GradMode.isEnabled {
                let r = try (node.parents[0].square().mean(axes: [1], keepDims: true) + epsilon).rsqrt()
                return [try r * (g - node * (g * node).mean(axes: [1], keepDims: true))]
            }
            return [Var(pixelNormBackward(g.value, y: node.value, r: kept))]
        }
    }
}

/// `r * (g - y * mean_c(g * y))` for `g`, `y` [N,C,S...] and `r` [N,1,S...], in one pass per sample.
func pixelNormBackward(_ g: Tensor, y: Tensor, r: Tensor) -> Tensor {
    let (n, c) = (y.shape[0], y.shape[1])
    let s = Tensor.count(of: Array(y.shape.dropFirst(2)))
    let invC = 1 / Double(c)
    var out = [Float](repeating: 0, count: y.count)
    g.data.withUnsafeBufferPointer { pg in y.data.withUnsafeBufferPointer { py in
        r.data.withUnsafeBufferPointer { pr in out.withUnsafeMutableBufferPointer { outBuffer in
            let po = outBuffer.baseAddress!  // bound once: see the note at the top of the file
            Parallel.forRanges(n, floatsEach: 3 * c * s) { samples in
                var m = [Double](repeating: 0, count: s)
                for i in samples {
                    for j in 0..<s { m[j] = 0 }
                    for ch in 0..<c {
                        let base = (i * c + ch) * s
                        for j in 0..<s { m[j] += Double(pg[base + j]) * Double(py[base + j]) }
                    }
                    for ch in 0..<c {
                        let base = (i * c + ch) * s
                        for j in 0..<s {
                            po[base + j] = pr[i * s + j] * (pg[base + j] - py[base + j] * Float(m[j] * invC))
                        }
                    }
                }
            }
        } } } }
    return Tensor(shape: y.shape, data: out)
}
