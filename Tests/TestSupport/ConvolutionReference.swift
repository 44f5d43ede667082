import TensorKit

/// Convolutions straight from their definitions, in Double, with the rounding scale of each
/// output (see `RoundingBound`): the sum of |terms| of the direct sum, and of the terms Winograd
/// F(2x2, 3x3) expands it into.
///
/// Shapes: x [N,C,H,W], w [O,C,k,k] (odd k, "same" zero padding, stride 1), g [N,O,H,W].
public enum ConvolutionReference {
    /// `y[n,o,h,w] = sum_{c,i,j} w[o,c,i,j] x[n,c,h+i-p,w+j-p]`. A float32 kernel rounds each
    /// output over at most `C k k` operations (a dot product of that length; padding terms are
    /// exact zeros), whether it runs as im2col + sgemm or any other summation order.
    public static func conv2d(_ x: Tensor, _ w: Tensor) -> BoundedReference {
        let (n, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (o, k) = (w.shape[0], w.shape[2])
        let p = k / 2
        var out = BoundedReference(count: n * o * h * wd)
        for s in 0..<n { for oi in 0..<o { for y in 0..<h { for xq in 0..<wd {
            let index = ((s * o + oi) * h + y) * wd + xq
            for ci in 0..<c { for i in 0..<k { for j in 0..<k {
                let (sy, sx) = (y + i - p, xq + j - p)
                guard sy >= 0, sy < h, sx >= 0, sx < wd else { continue }
                out.add(Double(w.data[((oi * c + ci) * k + i) * k + j]) * Double(x.data[((s * c + ci) * h + sy) * wd + sx]),
                        at: index)
            } } }
        } } } }
        return out
    }

    /// `dw[o,c,i,j] = sum_{n,h,w} g[n,o,h,w] x[n,c,h+i-p,w+j-p]`: `N H W` operations per output
    /// in float32 (chunks accumulated with beta = 1 are one more summation order).
    public static func conv2dWeightGradient(_ x: Tensor, _ g: Tensor, kernel k: Int) -> BoundedReference {
        let (n, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let o = g.shape[1], p = k / 2
        var out = BoundedReference(count: o * c * k * k)
        for oi in 0..<o { for ci in 0..<c { for i in 0..<k { for j in 0..<k {
            let index = ((oi * c + ci) * k + i) * k + j
            for s in 0..<n { for y in 0..<h { for xq in 0..<wd {
                let (sy, sx) = (y + i - p, xq + j - p)
                guard sy >= 0, sy < h, sx >= 0, sx < wd else { continue }
                out.add(Double(g.data[((s * o + oi) * h + y) * wd + xq]) * Double(x.data[((s * c + ci) * h + sy) * wd + sx]),
                        at: index)
            } } }
        } } } }
        return out
    }

    // F(2x2, 3x3)'s matrices (Lavin & Gray, 2016), as TensorKit uses them.
    static let g: [[Double]] = [[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]]
    static let bt: [[Double]] = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]
    static let at: [[Double]] = [[1, 1, 1, 0], [0, 1, -1, -1]]

    /// `|B^T| |d| |B|` for the 4x4 input patch of every tile: [N, C, H/2, W/2, 16].
    static func inputTransformMagnitudes(_ x: Tensor) -> [Double] {
        let (n, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (th, tw) = (h / 2, wd / 2)
        var v = [Double](repeating: 0, count: n * c * th * tw * 16)
        for s in 0..<n { for ci in 0..<c { for ty in 0..<th { for tx in 0..<tw {
            let base = (((s * c + ci) * th + ty) * tw + tx) * 16
            for a in 0..<4 { for b in 0..<4 {
                let (sy, sx) = (2 * ty - 1 + a, 2 * tx - 1 + b)
                guard sy >= 0, sy < h, sx >= 0, sx < wd else { continue }
                let d = abs(Double(x.data[((s * c + ci) * h + sy) * wd + sx]))
                for r in 0..<4 { for q in 0..<4 { v[base + 4 * r + q] += abs(bt[r][a]) * abs(bt[q][b]) * d } }
            } }
        } } } }
        return v
    }

    /// The float32 operations on the longest path of one Winograd forward output with `c` input
    /// channels: kernel transform 4 (two additions for `G g`, two for `(G g) G^T`; halving is
    /// exact), input transform 2, the dot product over channels `c`, output transform 4.
    public static func winogradRoundings(channels c: Int) -> Int { 4 + 2 + c + 4 }

    /// The same for a Winograd weight gradient over `tiles` tiles (N H W / 4): `A dY A^T` 2,
    /// input transform 2, the dot product over tiles, `G^T dU G` 4.
    public static func winogradWeightGradientRoundings(tiles: Int) -> Int { 2 + 2 + tiles + 4 }

    /// Sum of |terms| of each forward output when F(2x2, 3x3) expands it: for output (py, px) of
    /// a tile, `sum_ξ |A^T|[py,ξr] |A^T|[px,ξs] sum_c (|G| |w_oc| |G|^T)[ξ] (|B^T| |d_c| |B|)[ξ]`.
    /// At least the direct sum's (the expanded terms add up to the direct ones), larger by the
    /// transforms' growth. x [N,C,H,W] with even H, W; w [O,C,3,3]; returns [N,O,H,W].
    public static func winogradMagnitude(_ x: Tensor, _ w: Tensor) -> [Double] {
        let (n, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let o = w.shape[0]
        let (th, tw) = (h / 2, wd / 2)
        var u = [Double](repeating: 0, count: o * c * 16)
        for pair in 0..<(o * c) { for i in 0..<3 { for j in 0..<3 {
            let a = abs(Double(w.data[pair * 9 + 3 * i + j]))
            for r in 0..<4 { for q in 0..<4 { u[pair * 16 + 4 * r + q] += abs(g[r][i]) * abs(g[q][j]) * a } }
        } } }
        let v = inputTransformMagnitudes(x)
        var out = [Double](repeating: 0, count: n * o * h * wd)
        for s in 0..<n { for oi in 0..<o { for ty in 0..<th { for tx in 0..<tw {
            var m = [Double](repeating: 0, count: 16)
            for ci in 0..<c {
                let (ub, vb) = ((oi * c + ci) * 16, (((s * c + ci) * th + ty) * tw + tx) * 16)
                for e in 0..<16 { m[e] += u[ub + e] * v[vb + e] }
            }
            for py in 0..<2 { for px in 0..<2 {
                var t = 0.0
                for r in 0..<4 { for q in 0..<4 { t += abs(at[py][r]) * abs(at[px][q]) * m[4 * r + q] } }
                out[((s * o + oi) * h + 2 * ty + py) * wd + 2 * tx + px] = t
            } }
        } } } }
        return out
    }

    /// Sum of |terms| of each weight-gradient output in Winograd's expansion:
    /// `sum_ξ |G|[ξr,i] |G|[ξs,j] sum_tiles (|A| |g_o| |A^T|)[ξ] (|B^T| |d_c| |B|)[ξ]`; [O,C,3,3].
    public static func winogradWeightGradientMagnitude(_ x: Tensor, _ gy: Tensor) -> [Double] {
        let (n, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let o = gy.shape[1]
        let (th, tw) = (h / 2, wd / 2)
        let v = inputTransformMagnitudes(x)
        var dm = [Double](repeating: 0, count: n * o * th * tw * 16)
        for s in 0..<n { for oi in 0..<o { for ty in 0..<th { for tx in 0..<tw {
            let base = (((s * o + oi) * th + ty) * tw + tx) * 16
            for py in 0..<2 { for px in 0..<2 {
                let a = abs(Double(gy.data[((s * o + oi) * h + 2 * ty + py) * wd + 2 * tx + px]))
                for r in 0..<4 { for q in 0..<4 { dm[base + 4 * r + q] += abs(at[py][r]) * abs(at[px][q]) * a } }
            } }
        } } } }
        var out = [Double](repeating: 0, count: o * c * 9)
        for oi in 0..<o { for ci in 0..<c {
            var du = [Double](repeating: 0, count: 16)
            for s in 0..<n { for t in 0..<(th * tw) {
                let (mb, vb) = (((s * o + oi) * th * tw + t) * 16, ((s * c + ci) * th * tw + t) * 16)
                for e in 0..<16 { du[e] += dm[mb + e] * v[vb + e] }
            } }
            for i in 0..<3 { for j in 0..<3 {
                var t = 0.0
                for r in 0..<4 { for q in 0..<4 { t += abs(g[r][i]) * abs(g[q][j]) * du[4 * r + q] } }
                out[(oi * c + ci) * 9 + 3 * i + j] = t
            } }
        } }
        return out
    }
}
