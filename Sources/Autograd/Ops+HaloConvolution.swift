import TensorKit

// Convolutions of a row slab with its halo rows (`Tensor.conv2d(_:_:top:bottom:)`): the slab's
// rows of a same-padded convolution, computed from the slab and the k/2 rows on either side of
// it, given as separate tensors (each rank gets them from its neighbours, `Var.haloRows`). Shape
// legend: x [N,C,H,W], w [O,C,k,k] (odd k > 1, p = k/2), halos [N,C,p,W], g [N,O,H,W].
//
// Write X for the stack [top; x; bottom] (H + 2p rows, zero beyond W). The op is the "valid in H,
// same in W" convolution of X, and its adjoint in X is the "full in H" convolution of g with the
// flipped, transposed kernel K = flipT(w): rows of g outside 0..<H are zero. Its rows that fall
// on x are exactly the same-padded `conv2d(g, K)`; those that fall on the halos are the p rows
// just above g and just below it, which only g's first (last) p rows reach. Those are computed
// as this same op on p zero rows whose bottom (top) halo is g's first (last) p rows: p rows of
// work, and still an op of this family. The weight gradient is the same-padded one with X's
// halo rows read in place, and its rules are again these convolutions. So the family is closed
// under differentiation, and double backward (the gradient penalty) is exact.
//
// `Var.slabConv2d` (Ops+Slab.swift) computes its forward with the same kernel and takes its
// weight gradient from here; its input gradient is the whole image's, cut into slabs.

extension Var {
    /// Rows `0..<H` of the same-padded convolution of the stack [top; x; bottom]
    /// (`Tensor.conv2d(_:_:top:bottom:)`): [N,O,H,W], as `conv2d` of the whole image would give
    /// them when `top` and `bottom` are the rows next to `x` in it.
    ///
    /// Rules (K = flipT(w)): dx = conv2d(g, K); dtop, dbottom = the p rows of the full-in-H
    /// convolution of g with K above and below g; dw = `conv2dWeightGradient(x, g, top:, bottom:)`.
    /// - Throws: `ShapeError` unless x is [N,C,H,W] with H >= p, w [O,C,k,k] with odd k > 1 and the
    ///   halos [N,C,p,W].
    public static func conv2d(_ x: Var, _ w: Var, top: Var, bottom: Var) throws -> Var {
        try checkHaloShapes("conv2d(top:bottom:)", x, w, top, bottom)
        let y = Tensor.conv2d(x.value, w.value, top: top.value, bottom: bottom.value)
        return Var.op(y, [x, w, top, bottom]) { _, g, needs in
            try haloConvolutionRules(x, w, top, bottom, g, needs)
        }
    }

    /// The weight gradient of `conv2d(x, w, top:, bottom:)` as a differentiable op of
    /// (x, g, halos): `r[o,c,i,j] = sum_{n,h,w} g[n,o,h,w] X[n,c,h+i-p,w+j-p]`, [O,C,k,k].
    ///
    /// For an upstream gradient R of its output: d/dg = conv2d(x, R, top:, bottom:), and d/dX is
    /// the full-in-H convolution of g with flipT(R) (its x rows `conv2d(g, flipT(R))`, its halo
    /// rows as in `conv2d(_:_:top:bottom:)`), since `<R, r> = <g, conv2d(X, R)>`.
    public static func conv2dWeightGradient(_ x: Var, _ g: Var, kernel k: Int, top: Var, bottom: Var) throws -> Var {
        guard x.shape.count == 4, g.shape.count == 4, x.shape[0] == g.shape[0], x.shape[2] == g.shape[2],
              x.shape[3] == g.shape[3], k % 2 == 1, k > 1, x.shape[2] >= k / 2 else {
            throw ShapeError("conv2dWeightGradient(top:bottom:)", "input \(x.shape) and gradient \(g.shape) do not fit (kernel \(k))")
        }
        let halo = [x.shape[0], x.shape[1], k / 2, x.shape[3]]
        guard top.shape == halo, bottom.shape == halo else {
            throw ShapeError("conv2dWeightGradient(top:bottom:)", "halos \(top.shape), \(bottom.shape) do not fit input \(x.shape) (expected \(halo))")
        }
        let r = Tensor.conv2dWeightGradient(x.value, g.value, kernel: k, top: top.value, bottom: bottom.value)
        return Var.op(r, [x, g, top, bottom]) { _, u, needs in
            let kernel = try u.flippedTransposedKernel()
            let input = try fullRowsAdjoint(g, kernel, [needs[0], needs[2], needs[3]])
            return [input[0], needs[1] ? try conv2d(x, u, top: top, bottom: bottom) : nil, input[1], input[2]]
        }
    }

    private static func checkHaloShapes(_ name: String, _ x: Var, _ w: Var, _ top: Var, _ bottom: Var) throws {
        guard x.shape.count == 4, w.shape.count == 4, w.shape[2] == w.shape[3], w.shape[2] % 2 == 1, w.shape[2] > 1,
              x.shape[1] == w.shape[1], x.shape[2] >= w.shape[2] / 2 else {
            throw ShapeError(name, "input must be [N,C,H,W] with H >= k/2 and weight [O,C,k,k] with odd k > 1; "
                             + "got \(x.shape) and \(w.shape)")
        }
        let halo = [x.shape[0], x.shape[1], w.shape[2] / 2, x.shape[3]]
        guard top.shape == halo, bottom.shape == halo else {
            throw ShapeError(name, "halos \(top.shape), \(bottom.shape) do not fit input \(x.shape) (expected \(halo))")
        }
    }

    /// [dx, dw, dtop, dbottom] of `conv2d(x, w, top:, bottom:)` for the upstream gradient g
    /// (nil where `needs` says no).
    private static func haloConvolutionRules(_ x: Var, _ w: Var, _ top: Var, _ bottom: Var, _ g: Var,
                                             _ needs: [Bool]) throws -> [Var?] {
        let k = w.shape[2]
        let input = needs[0] || needs[2] || needs[3]
            ? try fullRowsAdjoint(g, w.flippedTransposedKernel(), [needs[0], needs[2], needs[3]])
            : [nil, nil, nil]
        return [input[0], needs[1] ? try conv2dWeightGradient(x, g, kernel: k, top: top, bottom: bottom) : nil,
                input[1], input[2]]
    }

    /// The full-in-H convolution of g [N,O,H,W] with `kernel` [C,O,k,k], split into its rows on
    /// x (the same-padded `conv2d`), the p rows above and the p rows below: [mid, above, below],
    /// nil where `needs` says no.
    private static func fullRowsAdjoint(_ g: Var, _ kernel: Var, _ needs: [Bool]) throws -> [Var?] {
        let (n, h, wd, p) = (g.shape[0], g.shape[2], g.shape[3], kernel.shape[2] / 2)
        // p zero rows of g's channels, with zero rows on their far side: only the halo on g's
        // side reaches their output rows.
        let zero = Var(Tensor.zeros([n, g.shape[1], p, wd]))
        return [needs[0] ? try conv2d(g, kernel) : nil,
                needs[1] ? try conv2d(zero, kernel, top: zero, bottom: g.narrow(axis: 2, start: 0, length: p)) : nil,
                needs[2] ? try conv2d(zero, kernel, top: g.narrow(axis: 2, start: h - p, length: p), bottom: zero) : nil]
    }
}
