/// Convolution lowered kernel tap by kernel tap ("shifted sgemm"), for small feature maps.
///
/// Why: im2col multiplies the zero padding too. A 3x3 same-padded conv on a 4x4 map has 100 of its
/// 144 tap-position products inside the image (69%), on 8x8 84%, on 16x16 92%. Lowering per tap
/// multiplies only the valid rectangle of each tap: for tap (i, j) with offset (di, dj) = (i-p, j-p)
/// the outputs (y, x) whose input (y+di, x+dj) lies inside the image form one rectangle, so
/// `T[O, N*R] = W_ij[O, C] x X_shifted[C, N*R]` is one sgemm (K = C), scatter-added into the output.
/// The weight gradient is per tap too: `dW_ij = G_rect[O, N*R] x X_shifted[C, N*R]^T`.
/// On large maps the gathers and scatter-adds cost more than the padding saves: see
/// `Tensor.convolutionLowering`.

/// How convolutions are lowered to sgemm.
public enum ConvolutionLowering: String, Sendable, CaseIterable {
    /// Tap by tap for maps of at most `Tensor.tapLoweringMaxPixels` pixels, else im2col.
    case automatic
    /// Always im2col: one sgemm with K = C*k*k over the whole (padded) neighbourhood.
    case im2col
    /// Always tap by tap: k*k sgemms with K = C over each tap's valid rectangle.
    case taps
}

extension Tensor {
    /// The lowering `conv2d` and `conv2dWeightGradient` use (benchmarks and tests pick one).
    public nonisolated(unsafe) static var convolutionLowering = ConvolutionLowering.automatic

    /// Largest H*W lowered tap by tap under `.automatic` (measured with `progan-mpi bench-kernels`:
    /// taps win at 4x4..16x16, im2col from 32x32 on).
    public nonisolated(unsafe) static var tapLoweringMaxPixels = 256

    /// Whether a convolution over maps of `pixels` pixels with a k x k kernel is lowered tap by tap.
    public static func lowersByTaps(pixels: Int, kernel k: Int) -> Bool {
        switch convolutionLowering {
        case .im2col: return false
        case .taps: return true
        case .automatic: return k > 1 && pixels <= tapLoweringMaxPixels
        }
    }

    /// The valid rectangle of tap (i, j): output rows `y0..<y1`, columns `x0..<x1`; input offset (di, dj).
    @inline(__always)
    static func tapRectangle(i: Int, j: Int, k: Int, h: Int, w: Int) -> (y0: Int, y1: Int, x0: Int, x1: Int, di: Int, dj: Int) {
        let p = k / 2, di = i - p, dj = j - p
        return (max(0, -di), min(h, h - di), max(0, -dj), min(w, w - dj), di, dj)
    }

    /// Copies, for samples `n0..<n1` of `src` [N, planes, H, W], the rectangle rows `y0..<y1`,
    /// columns `x0..<x1` shifted by (di, dj) into `dst` [planes, (n1-n0) * R], R the rectangle's size.
    @inline(__always)
    static func gatherRectangle(_ src: UnsafePointer<Float>, planes: Int, h: Int, w: Int, n0: Int, n1: Int,
                                y0: Int, y1: Int, x0: Int, x1: Int, di: Int, dj: Int,
                                into dst: UnsafeMutablePointer<Float>) {
        let hv = y1 - y0, wv = x1 - x0, r = hv * wv, cols = (n1 - n0) * r
        for plane in 0..<planes {
            for s in 0..<(n1 - n0) {
                let from = src + ((n0 + s) * planes + plane) * h * w + (y0 + di) * w + x0 + dj
                let to = dst + plane * cols + s * r
                for y in 0..<hv { (to + y * wv).update(from: from + y * w, count: wv) }
            }
        }
    }

    /// Tap-lowered `conv2d` (same contract).
    static func conv2dByTaps(_ x: Tensor, _ w: Tensor) -> Tensor {
        let (n, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (o, k) = (w.shape[0], w.shape[2])
        let taps = k * k, hw = h * wd
        // Per-tap weight matrices W_t[O, C] in one buffer: the sgemm's A operand must be contiguous.
        let packed = packPerTap(w, o: o, c: c, taps: taps)
        var out = [Float](repeating: 0, count: n * o * hw)
        let nb = chunkSize(n: n, perSample: max(c, o) * hw)
        var xs = [Float](unsafeUninitializedCapacity: c * nb * hw) { _, count in count = c * nb * hw }
        var ts = [Float](unsafeUninitializedCapacity: o * nb * hw) { _, count in count = o * nb * hw }
        x.data.withUnsafeBufferPointer { px in packed.withUnsafeBufferPointer { pw in
            out.withUnsafeMutableBufferPointer { po in xs.withUnsafeMutableBufferPointer { pxs in
                ts.withUnsafeMutableBufferPointer { pts in
                    var n0 = 0
                    while n0 < n {
                        let n1 = min(n, n0 + nb)
                        for i in 0..<k {
                            for j in 0..<k {
                                let t = tapRectangle(i: i, j: j, k: k, h: h, w: wd)
                                guard t.y1 > t.y0, t.x1 > t.x0 else { continue }
                                let hv = t.y1 - t.y0, wv = t.x1 - t.x0, r = hv * wv, cols = (n1 - n0) * r
                                gatherRectangle(px.baseAddress!, planes: c, h: h, w: wd, n0: n0, n1: n1,
                                                y0: t.y0, y1: t.y1, x0: t.x0, x1: t.x1, di: t.di, dj: t.dj,
                                                into: pxs.baseAddress!)
                                BLAS.sgemm(transA: false, transB: false, m: o, n: cols, k: c, alpha: 1,
                                           a: pw.baseAddress! + (i * k + j) * o * c, lda: c,
                                           b: pxs.baseAddress!, ldb: cols, beta: 0, c: pts.baseAddress!, ldc: cols)
                                // Scatter-add T[O, (s, y, x)] into out[s, O, y0+y, x0+x].
                                for s in 0..<(n1 - n0) {
                                    for oi in 0..<o {
                                        let from = pts.baseAddress! + oi * cols + s * r
                                        let to = po.baseAddress! + ((n0 + s) * o + oi) * hw + t.y0 * wd + t.x0
                                        for y in 0..<hv {
                                            let a = to + y * wd, b = from + y * wv
                                            for xq in 0..<wv { a[xq] += b[xq] }
                                        }
                                    }
                                }
                            }
                        }
                        n0 = n1
                    }
                } } } } }
        return Tensor(shape: [n, o, h, wd], data: out)
    }

    /// Tap-lowered `conv2dWeightGradient` (same contract).
    static func conv2dWeightGradientByTaps(_ x: Tensor, _ g: Tensor, kernel k: Int) -> Tensor {
        let (n, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let o = g.shape[1]
        let taps = k * k, hw = h * wd
        // dW per tap [taps, O, C], zero for taps whose rectangle is empty.
        var packed = [Float](repeating: 0, count: taps * o * c)
        let nb = chunkSize(n: n, perSample: (c + o) * hw)
        var xs = [Float](unsafeUninitializedCapacity: c * nb * hw) { _, count in count = c * nb * hw }
        var gs = [Float](unsafeUninitializedCapacity: o * nb * hw) { _, count in count = o * nb * hw }
        x.data.withUnsafeBufferPointer { px in g.data.withUnsafeBufferPointer { pg in
            packed.withUnsafeMutableBufferPointer { pd in xs.withUnsafeMutableBufferPointer { pxs in
                gs.withUnsafeMutableBufferPointer { pgs in
                    var n0 = 0
                    while n0 < n {
                        let n1 = min(n, n0 + nb)
                        for i in 0..<k {
                            for j in 0..<k {
                                let t = tapRectangle(i: i, j: j, k: k, h: h, w: wd)
                                guard t.y1 > t.y0, t.x1 > t.x0 else { continue }
                                let cols = (n1 - n0) * (t.y1 - t.y0) * (t.x1 - t.x0)
                                gatherRectangle(px.baseAddress!, planes: c, h: h, w: wd, n0: n0, n1: n1,
                                                y0: t.y0, y1: t.y1, x0: t.x0, x1: t.x1, di: t.di, dj: t.dj,
                                                into: pxs.baseAddress!)
                                gatherRectangle(pg.baseAddress!, planes: o, h: h, w: wd, n0: n0, n1: n1,
                                                y0: t.y0, y1: t.y1, x0: t.x0, x1: t.x1, di: 0, dj: 0,
                                                into: pgs.baseAddress!)
                                BLAS.sgemm(transA: false, transB: true, m: o, n: c, k: cols, alpha: 1,
                                           a: pgs.baseAddress!, lda: cols, b: pxs.baseAddress!, ldb: cols,
                                           beta: n0 == 0 ? 0 : 1, c: pd.baseAddress! + (i * k + j) * o * c, ldc: c)
                            }
                        }
                        n0 = n1
                    }
                } } } } }
        // [taps, O, C] -> [O, C, k, k]
        var out = [Float](unsafeUninitializedCapacity: o * c * taps) { _, count in count = o * c * taps }
        packed.withUnsafeBufferPointer { pd in out.withUnsafeMutableBufferPointer { po in
            for t in 0..<taps { for oc in 0..<(o * c) { po[oc * taps + t] = pd[t * o * c + oc] } }
        } }
        return Tensor(shape: [o, c, k, k], data: out)
    }

    /// [O, C, k, k] -> [k*k, O, C].
    static func packPerTap(_ w: Tensor, o: Int, c: Int, taps: Int) -> [Float] {
        var packed = [Float](unsafeUninitializedCapacity: taps * o * c) { _, count in count = taps * o * c }
        w.data.withUnsafeBufferPointer { pw in packed.withUnsafeMutableBufferPointer { pp in
            for oc in 0..<(o * c) { for t in 0..<taps { pp[t * o * c + oc] = pw[oc * taps + t] } }
        } }
        return packed
    }
}
