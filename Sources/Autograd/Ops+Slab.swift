import TensorKit

// Ops on row slabs for spatial parallelism (docs/ARCHITECTURE.md, "Spatial parallelism"): a
// rank of a spatial group holds rows of each of its group's images. The gathers along H are the
// all-gather / reduce-scatter pair of `Ops+Collective.swift` on axis 2 instead of axis 0, each
// other's adjoint and both linear; the sum over the group is its own adjoint. So every rule is
// again one of these ops, and double backward (the gradient penalty) is exact.

extension Var {
    /// Sums this tensor over the ranks of `comm` (equal shapes): every rank gets the sum. Its
    /// adjoint is the same sum of the upstream gradients: each rank's copy of the sum feeds its
    /// own loss, and the total loss is the sum over ranks. (The gradient penalty's per-sample
    /// squared norm: partial sums over each slab, summed over the spatial group.)
    public func allReduceSum(_ comm: Collective) -> Var {
        if comm.size == 1 { return self }
        var data = value.data
        comm.allReduceSum(&data)
        return Var.op(Tensor(shape: shape, data: data), [self]) { _, g, _ in [g.allReduceSum(comm)] }
    }

    /// Concatenates the ranks' row slabs along H (axis 2), in rank order, where rank r holds
    /// `rows[r]` rows: [N, C, rows[rank], W] -> [N, C, sum(rows), W] on every rank (N, C and W
    /// equal on all ranks). Its backward is `reduceScatterRows`.
    /// - Throws: `ShapeError` if this is not NCHW with `rows[rank]` rows or `rows` does not have
    ///   one entry a rank.
    public func allGatherRows(_ comm: Collective, rows: [Int]) throws -> Var {
        guard shape.count == 4, rows.count == comm.size, rows.allSatisfy({ $0 >= 1 }), shape[2] == rows[comm.rank] else {
            throw ShapeError("allGatherRows", "rank \(comm.rank) holds \(shape), rows per rank \(rows)")
        }
        if comm.size == 1 { return self }
        let (n, c, w) = (shape[0], shape[1], shape[3])
        let flat = comm.allGather(value.data, counts: rows.map { n * c * $0 * w })
        var parts: [Tensor] = []
        var offset = 0
        for h in rows {
            let count = n * c * h * w
            parts.append(Tensor(shape: [n, c, h, w], data: Array(flat[offset ..< offset + count])))
            offset += count
        }
        return Var.op(Tensor.concat(parts, axis: 2), [self]) { _, g, _ in [try g.reduceScatterRows(comm, rows: rows)] }
    }

    /// Sums the ranks' whole maps [N, C, sum(rows), W] (equal shapes) and keeps this rank's
    /// slab: the `rows[rank]` rows after those of the lower ranks. The adjoint of
    /// `allGatherRows`, and its backward is that gather.
    /// - Throws: `ShapeError` if `rows` does not sum to H or does not have one entry a rank.
    public func reduceScatterRows(_ comm: Collective, rows: [Int]) throws -> Var {
        guard shape.count == 4, rows.count == comm.size, rows.allSatisfy({ $0 >= 1 }), rows.reduce(0, +) == shape[2] else {
            throw ShapeError("reduceScatterRows", "H of \(shape) is not the sum of the rows per rank \(rows)")
        }
        if comm.size == 1 { return self }
        let (n, c, w) = (shape[0], shape[1], shape[3])
        // Rank-major blocks, so that each rank's slab is one contiguous block of the sum.
        var flat: [Float] = []
        flat.reserveCapacity(value.count)
        var first = 0
        for h in rows {
            flat += value.narrowed(axis: 2, start: first, length: h).data
            first += h
        }
        let mine = comm.reduceScatter(flat, counts: rows.map { n * c * $0 * w })
        return Var.op(Tensor(shape: [n, c, rows[comm.rank], w], data: mine), [self]) { _, g, _ in
            [try g.allGatherRows(comm, rows: rows)]
        }
    }

    /// The rows of `conv2d(whole image, w)` that fall in this rank's slab `x` [N, C, h, W]
    /// (3x3 or 1x1 kernel): one halo row from each neighbour (`haloRows`; zeros at the image's
    /// edges, as the whole image's padding) and the convolution of the slab that reads them in
    /// place of its padding (`Tensor.conv2d(_:_:top:bottom:)`): exactly the slab's rows, with
    /// the work of the slab's own convolution. A 1x1 kernel needs no halo. Every rank of the
    /// spatial group must call it, and differentiate through it, together.
    ///
    /// The rules are those of the whole image's convolution, cut into slabs. Its input gradient
    /// is the whole image's same-padded `conv2d(g, flipT(w))`, whose rows on this slab are
    /// `slabConv2d(g, flipT(w))`: the upstream gradient's edge rows are exchanged as the input's
    /// were, and each rank computes its rows' gradient whole, the terms its rows get through the
    /// neighbours' outputs included. (Differentiating through `haloRows` would compute the
    /// halo rows' gradients on the neighbours, send them back and add them into the edge rows:
    /// two extra one-row convolutions and two full-size additions a pass, for the same sums.)
    /// The weight gradient is this rank's part of the whole image's,
    /// `conv2dWeightGradient(x, g, top:, bottom:)` on the exchanged halo rows, and the
    /// all-reduce over ranks adds the parts; its own rules send the halo rows' gradients back
    /// to their owners through the exchange's adjoint (second order).
    /// - Throws: `ShapeError` for other kernels or shapes that do not fit.
    public static func slabConv2d(_ x: Var, _ w: Var, _ comm: Collective, above: Int?, below: Int?) throws -> Var {
        try checkSlab(x, w, "slabConv2d")
        if w.shape[2] == 1 { return try conv2d(x, w) }
        let halo = try x.haloRows(comm, above: above, below: below)
        let y = Tensor.conv2d(x.value, w.value, top: halo.top.value, bottom: halo.bottom.value)
        return Var.op(y, [x, w]) { _, g, needs in
            try slabRules(x, w, halo, g, comm, above: above, below: below, needs)
        }
    }

    /// `leakyReLU(conv2d(x, w) + b)` on a slab, as `slabConv2d`: bias and activation are
    /// pointwise, so the rules are `slabConv2d`'s on the upstream gradient masked by the output's
    /// sign, and the bias gradient its sum over N, h and W (summed in the pass that masks).
    public static func slabConv2dBiasLeakyReLU(_ x: Var, _ w: Var, _ b: Var, slope: Float,
                                               _ comm: Collective, above: Int?, below: Int?) throws -> Var {
        try checkSlab(x, w, "slabConv2dBiasLeakyReLU")
        if w.shape[2] == 1 { return try conv2dBiasLeakyReLU(x, w, b, slope: slope) }
        guard b.shape == [w.shape[0]] else {
            throw ShapeError("slabConv2dBiasLeakyReLU", "bias \(b.shape) does not fit weight \(w.shape)")
        }
        let halo = try x.haloRows(comm, above: above, below: below)
        var y = Tensor.conv2d(x.value, w.value, top: halo.top.value, bottom: halo.bottom.value)
        addBiasLeakyReLU(&y, b.value, slope: slope)
        return Var.op(y, [x, w, b]) { node, g, needs in
            let (gm, gb) = try maskedGradients(g, by: node.value, slope: slope, needsBias: needs[2])
            return try slabRules(x, w, halo, gm, comm, above: above, below: below, [needs[0], needs[1]]) + [gb]
        }
    }

    /// [dx, dw] of the slab convolution for the upstream gradient g (see `slabConv2d`).
    private static func slabRules(_ x: Var, _ w: Var, _ halo: (top: Var, bottom: Var), _ g: Var, _ comm: Collective,
                                  above: Int?, below: Int?, _ needs: [Bool]) throws -> [Var?] {
        [needs[0] ? try slabConv2d(g, w.flippedTransposedKernel(), comm, above: above, below: below) : nil,
         needs[1] ? try conv2dWeightGradient(x, g, kernel: w.shape[2], top: halo.top, bottom: halo.bottom) : nil]
    }

    private static func checkSlab(_ x: Var, _ w: Var, _ name: String) throws {
        guard x.shape.count == 4, w.shape.count == 4, w.shape[2] == w.shape[3], w.shape[2] == 3 || w.shape[2] == 1 else {
            throw ShapeError(name, "a slab [N,C,h,W] and a 3x3 or 1x1 kernel expected, got \(x.shape) and \(w.shape)")
        }
    }
}

/// `y = leakyReLU(y + b)` in place, b [O] broadcast over [N,O,H,W].
func addBiasLeakyReLU(_ y: inout Tensor, _ b: Tensor, slope: Float) {
    let (planes, o) = (y.shape[0] * y.shape[1], y.shape[1])
    let hw = y.shape[2] * y.shape[3]
    y.data.withUnsafeMutableBufferPointer { py in b.data.withUnsafeBufferPointer { pb in
        // Planes (sample, channel) in parallel.
        Parallel.forRanges(planes, floatsEach: hw) { range in
            for plane in range {
                let bias = pb[plane % o], base = plane * hw
                for i in base..<(base + hw) {
                    let v = py[i] + bias
                    py[i] = v > 0 ? v : v * slope
                }
            }
        }
    } }
}
