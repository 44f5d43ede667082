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

    // F(4x4, 3x3)'s (points 0, ±1, ±2, ∞), as CKernels uses them.
    static let g4: [[Double]] = [[1.0 / 4, 0, 0], [-1.0 / 6, -1.0 / 6, -1.0 / 6], [-1.0 / 6, 1.0 / 6, -1.0 / 6],
                                 [1.0 / 24, 1.0 / 12, 1.0 / 6], [1.0 / 24, -1.0 / 12, 1.0 / 6], [0, 0, 1]]
    static let bt4: [[Double]] = [[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0],
                                  [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]]
    static let at4: [[Double]] = [[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]]

    /// `|B^T| |d| |B|` for the input patch of every tile of F(m x m, 3x3) (m = 2 or 4; patches of
    /// m + 2 rows and columns, tiles every m): [N, C, H/m, W/m, (m+2)^2].
    static func inputTransformMagnitudes(_ x: Tensor, outputTile m: Int = 2) -> [Double] {
        let (n, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (th, tw, a, bt) = (h / m, wd / m, m + 2, m == 2 ? bt : bt4)
        var v = [Double](repeating: 0, count: n * c * th * tw * a * a)
        for s in 0..<n { for ci in 0..<c { for ty in 0..<th { for tx in 0..<tw {
            let base = (((s * c + ci) * th + ty) * tw + tx) * a * a
            for i in 0..<a { for j in 0..<a {
                let (sy, sx) = (m * ty - 1 + i, m * tx - 1 + j)
                guard sy >= 0, sy < h, sx >= 0, sx < wd else { continue }
                let d = abs(Double(x.data[((s * c + ci) * h + sy) * wd + sx]))
                for r in 0..<a { for q in 0..<a { v[base + a * r + q] += abs(bt[r][i]) * abs(bt[q][j]) * d } }
            } }
        } } } }
        return v
    }

    /// The float32 operations on the longest path of one Winograd forward output with `c` input
    /// channels: kernel transform 4 (two additions for `G g`, two for `(G g) G^T`; halving is
    /// exact), input transform 2, the dot product over channels `c`, output transform 4.
    public static func winogradRoundings(channels c: Int) -> Int { 4 + 2 + c + 4 }

    /// The same for F(4x4, 3x3) as CKernels computes it: the kernel transform in double, rounded
    /// once (1); the input transform 2 a dimension (4: `4 d1 + (d3 + d4)` and the like, with FMA);
    /// the channel sum `c`; the output transform 3 a dimension (6: `(m0 + (m1 + m2)) + (m3 + m4)`).
    public static func winograd4Roundings(channels c: Int) -> Int { 1 + 4 + c + 6 }

    /// The same for a Winograd weight gradient over `tiles` tiles (N H W / 4): `A dY A^T` 2,
    /// input transform 2, the dot product over tiles, `G^T dU G` 4.
    public static func winogradWeightGradientRoundings(tiles: Int) -> Int { 2 + 2 + tiles + 4 }

    /// The same for CKernels' F(4x4, 3x3) weight gradient over `tiles` tiles (N H W / 16):
    /// `A dY A^T` 4 (2 a dimension, with FMA), input transform 4, the dot product over a part's
    /// tiles with one addition a block into the part's sums (at most one a tile: `2 tiles`), the
    /// parts' sum (at most 16), `G^T dU G` in double rounded once (1).
    public static func winograd4WeightGradientRoundings(tiles: Int) -> Int { 4 + 4 + 2 * tiles + 16 + 1 }

    /// Sum of |terms| of each forward output when F(2x2, 3x3) expands it: for output (py, px) of
    /// a tile, `sum_ξ |A^T|[py,ξr] |A^T|[px,ξs] sum_c (|G| |w_oc| |G|^T)[ξ] (|B^T| |d_c| |B|)[ξ]`.
    /// At least the direct sum's (the expanded terms add up to the direct ones), larger by the
    /// transforms' growth. x [N,C,H,W] with even H, W; w [O,C,3,3]; returns [N,O,H,W].
    /// `outputTile` 4: the same for F(4x4, 3x3) (H, W multiples of 4).
    public static func winogradMagnitude(_ x: Tensor, _ w: Tensor, outputTile mt: Int = 2) -> [Double] {
        let (n, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let o = w.shape[0]
        let (th, tw, a) = (h / mt, wd / mt, mt + 2)
        let (g, at) = mt == 2 ? (g, at) : (g4, at4)
        var u = [Double](repeating: 0, count: o * c * a * a)
        for pair in 0..<(o * c) { for i in 0..<3 { for j in 0..<3 {
            let k = abs(Double(w.data[pair * 9 + 3 * i + j]))
            for r in 0..<a { for q in 0..<a { u[pair * a * a + a * r + q] += abs(g[r][i]) * abs(g[q][j]) * k } }
        } } }
        let v = inputTransformMagnitudes(x, outputTile: mt)
        var out = [Double](repeating: 0, count: n * o * h * wd)
        for s in 0..<n { for oi in 0..<o { for ty in 0..<th { for tx in 0..<tw {
            var m = [Double](repeating: 0, count: a * a)
            for ci in 0..<c {
                let (ub, vb) = ((oi * c + ci) * a * a, (((s * c + ci) * th + ty) * tw + tx) * a * a)
                for e in 0..<(a * a) { m[e] += u[ub + e] * v[vb + e] }
            }
            for py in 0..<mt { for px in 0..<mt {
                var t = 0.0
                for r in 0..<a { for q in 0..<a { t += abs(at[py][r]) * abs(at[px][q]) * m[a * r + q] } }
                out[((s * o + oi) * h + mt * ty + py) * wd + mt * tx + px] = t
            } }
        } } } }
        return out
    }

    /// Sum of |terms| of each weight-gradient output in Winograd's expansion:
    /// `sum_ξ |G|[ξr,i] |G|[ξs,j] sum_tiles (|A| |g_o| |A^T|)[ξ] (|B^T| |d_c| |B|)[ξ]`; [O,C,3,3].
    /// `outputTile` 4: the same for F(4x4, 3x3) (H, W multiples of 4).
    public static func winogradWeightGradientMagnitude(_ x: Tensor, _ gy: Tensor, outputTile mt: Int = 2) -> [Double] {
        let (n, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let o = gy.shape[1]
        let (th, tw, a) = (h / mt, wd / mt, mt + 2)
        let (g, at) = mt == 2 ? (g, at) : (g4, at4)
        let points = a * a
        let v = inputTransformMagnitudes(x, outputTile: mt)
        var dm = [Double](repeating: 0, count: n * o * th * tw * points)
        for s in 0..<n { for oi in 0..<o { for ty in 0..<th { for tx in 0..<tw {
            let base = (((s * o + oi) * th + ty) * tw + tx) * points
            for py in 0..<mt { for px in 0..<mt {
                let d = abs(Double(gy.data[((s * o + oi) * h + mt * ty + py) * wd + mt * tx + px]))
                for r in 0..<a { for q in 0..<a { dm[base + a * r + q] += abs(at[py][r]) * abs(at[px][q]) * d } }
            } }
        } } } }
        var out = [Double](repeating: 0, count: o * c * 9)
        for oi in 0..<o { for ci in 0..<c {
            var du = [Double](repeating: 0, count: points)
            for s in 0..<n { for t in 0..<(th * tw) {
                let (mb, vb) = (((s * o + oi) * th * tw + t) * points, ((s * c + ci) * th * tw + t) * points)
                for e in 0..<points { du[e] += dm[mb + e] * v[vb + e] }
            } }
            for i in 0..<3 { for j in 0..<3 {
                var t = 0.0
                for r in 0..<a { for q in 0..<a { t += abs(g[r][i]) * abs(g[q][j]) * du[a * r + q] } }
                out[(oi * c + ci) * 9 + 3 * i + j] = t
            } }
        } }
        return out
    }
}
