import TensorKit

// Matrix product and convolution. Shape legend: N batch, C/O channels in/out, H x W spatial, k
// kernel (odd, same padding, stride 1). The input gradient of a convolution is a convolution with
// the flipped, transposed kernel; its weight gradient is `conv2dWeightGradient`, a bilinear op
// whose own rules are again convolutions: the family is closed under differentiation.

extension Var {
    /// `op(a) * op(b)` for rank-2 operands.
    ///
    /// Rules (G the upstream gradient): dA = G op(B)^T (or its transpose when A is used
    /// transposed), dB = op(A)^T G (likewise).
    public static func matmul(_ a: Var, _ b: Var, transA: Bool = false, transB: Bool = false) throws -> Var {
        guard a.shape.count == 2, b.shape.count == 2 else {
            throw ShapeError("matmul", "rank-2 operands expected, got \(a.shape) and \(b.shape)")
        }
        let k1 = transA ? a.shape[0] : a.shape[1], k2 = transB ? b.shape[1] : b.shape[0]
        guard k1 == k2 else {
            throw ShapeError("matmul", "inner dimensions differ: \(a.shape)\(transA ? "ᵀ" : "") x \(b.shape)\(transB ? "ᵀ" : "")")
        }
        return Var.op(Tensor.matmul(a.value, b.value, transA: transA, transB: transB), [a, b]) { _, g, needs in
            let da: Var? = needs[0]
                ? (transA ? try matmul(b, g, transA: transB, transB: true) : try matmul(g, b, transA: false, transB: !transB))
                : nil
            let db: Var? = needs[1]
                ? (transB ? try matmul(g, a, transA: true, transB: transA) : try matmul(a, g, transA: !transA, transB: false))
                : nil
            return [da, db]
        }
    }

    /// Same-padded stride-1 convolution (cross-correlation): `x` [N,C,H,W], `w` [O,C,k,k] -> [N,O,H,W].
    public static func conv2d(_ x: Var, _ w: Var) throws -> Var {
        guard x.shape.count == 4, w.shape.count == 4, w.shape[2] == w.shape[3], w.shape[2] % 2 == 1 else {
            throw ShapeError("conv2d", "input must be [N,C,H,W] and weight [O,C,k,k] with odd k; got \(x.shape) and \(w.shape)")
        }
        guard x.shape[1] == w.shape[1] else {
            throw ShapeError("conv2d", "input has \(x.shape[1]) channels but weight \(w.shape) expects \(w.shape[1])")
        }
        let k = w.shape[2]
        return Var.op(Tensor.conv2d(x.value, w.value), [x, w]) { _, g, needs in
            [needs[0] ? try conv2d(g, w.flippedTransposedKernel()) : nil,
             needs[1] ? try conv2dWeightGradient(x, g, kernel: k) : nil]
        }
    }

    /// The weight gradient of `conv2d` as a differentiable op of `(x, g)`:
    /// `r[o,c,i,j] = sum_{n,h,w} g[n,o,h,w] x[n,c,h+i-p,w+j-p]`, shape [O,C,k,k].
    ///
    /// For an upstream gradient R of this op's output: d/dg = conv2d(x, R) and
    /// d/dx = conv2d(g, flipT(R)), since `<R, r(x, g)> = <g, conv2d(x, R)>`.
    public static func conv2dWeightGradient(_ x: Var, _ g: Var, kernel k: Int) throws -> Var {
        guard x.shape.count == 4, g.shape.count == 4, x.shape[0] == g.shape[0],
              x.shape[2] == g.shape[2], x.shape[3] == g.shape[3], k % 2 == 1 else {
            throw ShapeError("conv2dWeightGradient", "input \(x.shape) and gradient \(g.shape) do not fit (kernel \(k))")
        }
        return Var.op(Tensor.conv2dWeightGradient(x.value, g.value, kernel: k), [x, g]) { _, r, needs in
            [needs[0] ? try conv2d(g, r.flippedTransposedKernel()) : nil,
             needs[1] ? try conv2d(x, r) : nil]
        }
    }

    /// Kernel [O,C,k,k] -> [C,O,k,k] flipped spatially; linear and its own adjoint.
    public func flippedTransposedKernel() throws -> Var {
        guard shape.count == 4, shape[2] == shape[3] else {
            throw ShapeError("flippedTransposedKernel", "kernel [O,C,k,k] expected, got \(shape)")
        }
        return Var.op(value.flippedTransposedKernel(), [self]) { _, g, _ in [try g.flippedTransposedKernel()] }
    }
}
