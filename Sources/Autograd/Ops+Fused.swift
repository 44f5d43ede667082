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

/// `leakyReLUMask(g, by: y, slope:)` for g, y [N,O,H,W] and, from the same pass, its sums over
/// N, H and W ([O], a bias gradient), in Double rounded once to Float.
///
/// Each (sample, channel) plane is summed by one thread into 8 partial sums, one per index
/// mod 8 (independent chains, which pipeline and vectorize where a single chain waits on every
/// add), combined in a fixed tree; the planes' sums are then added over the samples in order.
/// So the bits do not depend on the thread count. The order is not `Tensor.sum(to:)`'s (one
/// chain per plane): the two agree within their Double rounding.
func leakyReLUMaskAndChannelSums(_ g: Tensor, by y: Tensor, slope: Float) -> (masked: Tensor, sums: Tensor) {
    require(g.shape == y.shape && g.rank == 4,
            "leakyReLUMaskAndChannelSums: shapes \(g.shape) and \(y.shape) must be equal, [N,O,H,W]")
    let (n, o) = (g.shape[0], g.shape[1])
    let hw = g.shape[2] * g.shape[3], planes = n * o
    // No elements (a rank holding no samples): nothing to add up, and no buffers to bind.
    if g.count == 0 { return (g, Tensor.zeros([o])) }
    var partial = [Double](repeating: 0, count: planes)
    // Every element is written below: no need to zero it first.
    let out = [Float](unsafeUninitializedCapacity: g.count) { buffer, count in
        g.data.withUnsafeBufferPointer { pg in y.data.withUnsafeBufferPointer { py in
            partial.withUnsafeMutableBufferPointer { pp in
                // Bound once (see the note at the top of the file).
                let (c, s, a, b) = (buffer.baseAddress!, pp.baseAddress!, pg.baseAddress!, py.baseAddress!)
                // Planes in parallel: reads two floats and writes one per element.
                Parallel.forRanges(planes, floatsEach: 3 * hw) { range in
                    for plane in range {
                        let base = plane * hw
                        s[plane] = maskAndSum(a + base, by: b + base, into: c + base, count: hw, slope: slope)
                    }
                }
            } } }
        count = g.count
    }
    var sums = [Float](repeating: 0, count: o)
    for ch in 0..<o {
        var t = 0.0
        for sample in 0..<n { t += partial[sample * o + ch] }
        sums[ch] = Float(t)
    }
    return (Tensor(shape: g.shape, data: out), Tensor(shape: [o], data: sums))
}

/// Writes `count` masked gradients (as `leakyReLUMask`) to `out` and returns their sum: lane k
/// adds the elements at indices k mod 8 below the last multiple of 8, the tail is one more chain,
/// and the lanes combine as ((0+1)+(2+3))+((4+5)+(6+7)), then + tail.
@inline(__always)
private func maskAndSum(_ g: UnsafePointer<Float>, by y: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>,
                        count: Int, slope: Float) -> Double {
    @inline(__always) func mask(_ i: Int) -> Float { y[i] > 0 ? g[i] : g[i] * slope }
    var (s0, s1, s2, s3, s4, s5, s6, s7) = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    var i = 0
    while i + 8 <= count {
        // Loads, stores and adds in groups of eight: `out` may alias the inputs as far as the
        // compiler knows, so a load after a store could not join a vector load with the others.
        let v0 = mask(i), v1 = mask(i + 1), v2 = mask(i + 2), v3 = mask(i + 3)
        let v4 = mask(i + 4), v5 = mask(i + 5), v6 = mask(i + 6), v7 = mask(i + 7)
        out[i] = v0; out[i + 1] = v1; out[i + 2] = v2; out[i + 3] = v3
        out[i + 4] = v4; out[i + 5] = v5; out[i + 6] = v6; out[i + 7] = v7
        s0 += Double(v0); s1 += Double(v1); s2 += Double(v2); s3 += Double(v3)
        s4 += Double(v4); s5 += Double(v5); s6 += Double(v6); s7 += Double(v7)
        i += 8
    }
    var tail = 0.0
    while i < count { let v = mask(i); out[i] = v; tail += Double(v); i += 1 }
    return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7)) + tail
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
        return masked(leakyReLUMask(value, by: y, slope: slope), by: y, slope: slope)
    }

    /// The node `leakyReLUMasked(by: y, slope:)` makes, for a `value` its caller has computed:
    /// the same rule, so a recorded graph is the same.
    func masked(_ value: Tensor, by y: Tensor, slope: Float) -> Var {
        Var.op(value, [self]) { _, u, _ in [try u.leakyReLUMasked(by: y, slope: slope)] }
    }

    /// `leakyReLUMasked(by: y, slope:)` of this gradient [N,O,H,W] and the bias gradient, its
    /// sum over N, H and W as [O], from one pass over the gradient
    /// (`leakyReLUMaskAndChannelSums`) where the composed ops take two. The nodes are those of
    /// the composed ops (`leakyReLUMasked`, then `sum(to: [1,O,1,1])` and `reshape([O])`), so
    /// that double backprop through them is unchanged.
    func leakyReLUMaskedWithBiasGradient(by y: Tensor, slope: Float) throws -> (masked: Var, bias: Var) {
        guard y.shape == shape, shape.count == 4 else {
            throw ShapeError("leakyReLUMaskedWithBiasGradient", "gradient \(shape) and output \(y.shape) must be equal, [N,O,H,W]")
        }
        let o = shape[1]
        let (m, sums) = leakyReLUMaskAndChannelSums(value, by: y, slope: slope)
        let gm = masked(m, by: y, slope: slope)
        return (gm, try gm.summed(to: [1, o, 1, 1], value: sums.reshaped([1, o, 1, 1])).reshape([o]))
    }

    /// The masked gradient and, where `needsBias`, the bias gradient, for the rules of the fused
    /// convolutions with bias and leaky ReLU.
    static func maskedGradients(_ g: Var, by y: Tensor, slope: Float, needsBias: Bool) throws -> (masked: Var, bias: Var?) {
        if needsBias { return try g.leakyReLUMaskedWithBiasGradient(by: y, slope: slope) }
        return (try g.leakyReLUMasked(by: y, slope: slope), nil)
    }

    /// `leakyReLU(conv2d(x, w) + b)` as one node holding only its output: `x` [N,C,H,W],
    /// `w` [O,C,k,k] (odd k, same padding), `b` [O] -> [N,O,H,W].
    ///
    /// The rule needs the output only for its sign: `g' = g` masked by the output (see
    /// `leakyReLUMasked`), then conv2d's rules on `g'` and the bias gradient `sum_{n,h,w} g'`,
    /// summed in the pass that masks.
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
            let (gm, gb) = try maskedGradients(g, by: node.value, slope: slope, needsBias: needs[2])
            return [needs[0] ? try conv2d(gm, w.flippedTransposedKernel()) : nil,
                    needs[1] ? try conv2dWeightGradient(x, gm, kernel: k) : nil,
                    gb]
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
