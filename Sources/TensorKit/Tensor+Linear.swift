/// Matrix products and convolutions on OpenBLAS sgemm.
///
/// Shape legend: N batch, C input channels, O output channels, H x W spatial size, k kernel size
/// (odd), p = k / 2 zero padding ("same"), stride 1. Convolution is cross-correlation, as in
/// PyTorch: `y[n,o,h,w] = sum_{c,i,j} w[o,c,i,j] * x[n,c,h+i-p,w+j-p]`.

extension Tensor {
    /// `op(a) * op(b)` for rank-2 tensors, `op` transposing when the flag is set.
    public static func matmul(_ a: Tensor, _ b: Tensor, transA: Bool = false, transB: Bool = false) -> Tensor {
        require(a.rank == 2 && b.rank == 2, "matmul: rank-2 operands expected, got \(a.shape) and \(b.shape)")
        let m = transA ? a.shape[1] : a.shape[0]
        let k = transA ? a.shape[0] : a.shape[1]
        let kb = transB ? b.shape[1] : b.shape[0]
        let n = transB ? b.shape[0] : b.shape[1]
        require(k == kb, "matmul: inner dimensions differ: \(a.shape)\(transA ? "^T" : "") x \(b.shape)\(transB ? "^T" : "")")
        var out = [Float](repeating: 0, count: m * n)
        a.data.withUnsafeBufferPointer { pa in b.data.withUnsafeBufferPointer { pb in
            out.withUnsafeMutableBufferPointer { pc in
                BLAS.sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: 1,
                           a: pa.baseAddress!, lda: a.shape[1], b: pb.baseAddress!, ldb: b.shape[1],
                           beta: 0, c: pc.baseAddress!, ldc: n)
            } } }
        return Tensor(shape: [m, n], data: out)
    }

    /// Most floats an im2col (or Winograd) buffer may hold before the rows are processed in chunks
    /// (16 MiB). Smaller chunks stay nearer the caches: bench-kernels at 16x16, 512 channels, was
    /// 3% faster alone and 3-8% faster with a second rank on the other core than with 64 MiB; at
    /// 4 MiB it was 5-15% slower (thin products).
    public nonisolated(unsafe) static var im2colBudget = 4 << 20

    /// Lowers image rows `r0..<r1` of `x` [N,C,H,W] to columns `[C*k*k, (r1-r0)*W]`, where row
    /// `r` is row `r % H` of sample `r / H`: chunks are runs of whole rows, across samples, so a
    /// chunk can be smaller than one sample (at 1024x1024 one sample's columns would be 600 MB).
    /// Rows above and below the image are zeros, or read from `top` and `bottom` ([N,C,k/2,W],
    /// halo rows of a slab, `conv2d(_:_:top:bottom:)`) where given.
    @usableFromInline
    static func im2col(_ x: UnsafePointer<Float>, c: Int, h: Int, w: Int, k: Int, rows r0: Int, _ r1: Int,
                       top: UnsafePointer<Float>? = nil, bottom: UnsafePointer<Float>? = nil,
                       into col: UnsafeMutablePointer<Float>) {
        let p = k / 2, hw = h * w, ld = (r1 - r0) * w
        // Channels in parallel: each writes its own k*k rows of columns.
        Parallel.forRanges(c, floatsEach: k * k * ld) { channels in
            for ci in channels {
                for i in 0..<k {
                    for j in 0..<k {
                        let row = col + ((ci * k + i) * k + j) * ld
                        // Columns whose source x+j-p falls outside [0, w) are padding.
                        let lo = max(0, p - j), hi = min(w, w + p - j)
                        for r in r0..<r1 {
                            let (n, y) = (r / h, r % h)
                            let sy = y + i - p
                            let d = row + (r - r0) * w
                            let s: UnsafePointer<Float>
                            if sy < 0 {
                                guard let top else { d.update(repeating: 0, count: w); continue }
                                s = top + ((n * c + ci) * p + sy + p) * w
                            } else if sy >= h {
                                guard let bottom else { d.update(repeating: 0, count: w); continue }
                                s = bottom + ((n * c + ci) * p + sy - h) * w
                            } else {
                                s = x + (n * c + ci) * hw + sy * w
                            }
                            if lo > 0 { d.update(repeating: 0, count: lo) }
                            if hi > lo { (d + lo).update(from: s + lo + j - p, count: hi - lo) }
                            if hi < w { (d + hi).update(repeating: 0, count: w - hi) }
                        }
                    }
                }
            }
        }
    }

    /// Image rows a chunk may hold so its columns (`perRow` floats a row) fit `im2colBudget`.
    @usableFromInline
    static func rowsPerChunk(rows: Int, perRow: Int) -> Int {
        max(1, min(rows, im2colBudget / max(1, perRow)))
    }

    /// Calls `body(n, y0, y1, offset)` for each sample's part of the row range `r0..<r1`: rows
    /// `y0..<y1` of sample `n`, whose columns start at `offset` in the chunk.
    @inline(__always)
    static func forEachSampleSegment(rows r0: Int, _ r1: Int, h: Int, w: Int,
                                     _ body: (_ n: Int, _ y0: Int, _ y1: Int, _ offset: Int) -> Void) {
        var r = r0
        while r < r1 {
            let (n, y0) = (r / h, r % h)
            let y1 = min(h, y0 + (r1 - r))
            body(n, y0, y1, (r - r0) * w)
            r += y1 - y0
        }
    }

    /// Same-padded, stride-1 2-D convolution: `x` [N,C,H,W], `w` [O,C,k,k] -> [N,O,H,W].
    public static func conv2d(_ x: Tensor, _ w: Tensor) -> Tensor {
        require(x.rank == 4 && w.rank == 4 && x.shape[1] == w.shape[1] && w.shape[2] == w.shape[3]
                     && w.shape[2] % 2 == 1, "conv2d: input \(x.shape) and weight \(w.shape) do not fit")
        return convolve(x, w, top: nil, bottom: nil)
    }

    /// Calls `body` with pointers to the halo tensors' storage (nil for a missing one).
    @inline(__always)
    static func withHalos<R>(_ top: Tensor?, _ bottom: Tensor?,
                             _ body: (UnsafePointer<Float>?, UnsafePointer<Float>?) -> R) -> R {
        func bottomThen(_ t: UnsafePointer<Float>?) -> R {
            guard let bottom else { return body(t, nil) }
            return bottom.data.withUnsafeBufferPointer { body(t, $0.baseAddress) }
        }
        guard let top else { return bottomThen(nil) }
        return top.data.withUnsafeBufferPointer { bottomThen($0.baseAddress) }
    }

    /// `conv2d` whose rows beyond the image are zeros or, where given, the halo rows `top` and
    /// `bottom` ([N,C,k/2,W], checked by the caller).
    static func convolve(_ x: Tensor, _ w: Tensor, top: UnsafePointer<Float>?, bottom: UnsafePointer<Float>?) -> Tensor {
        let (n, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (o, k) = (w.shape[0], w.shape[2])
        let hw = h * wd, ck = c * k * k
        let fused = usesFusedWinograd(c: c, o: o, h: h, w: wd, k: k)
        let winograd = !fused && usesWinograd(c: c, o: o, h: h, w: wd, k: k, forward: true)
        let started = Profiler.convolutionStart()
        defer { Profiler.convolutionEnd(started, multiplyAdds: n * o * hw * ck, countSlot: winograd || fused) }
        // Every element is written below: no need to zero it first.
        var out = [Float](unsafeUninitializedCapacity: n * o * hw) { _, count in count = n * o * hw }
        if fused || winograd {
            x.data.withUnsafeBufferPointer { px in w.data.withUnsafeBufferPointer { pw in
                out.withUnsafeMutableBufferPointer { po in
                    let run = fused ? fusedWinogradConv2d : winogradConv2d
                    run(px.baseAddress!, pw.baseAddress!, n, c, o, h, wd, top, bottom, po.baseAddress!)
                } } }
            return Tensor(shape: [n, o, h, wd], data: out)
        }
        let rows = n * h, chunk = rowsPerChunk(rows: rows, perRow: ck * wd)
        // Scratch fully written before it is read (im2col writes its zeros itself).
        var col = [Float](unsafeUninitializedCapacity: ck * chunk * wd) { _, count in count = ck * chunk * wd }
        var tmp = [Float](unsafeUninitializedCapacity: o * chunk * wd) { _, count in count = o * chunk * wd }
        x.data.withUnsafeBufferPointer { px in w.data.withUnsafeBufferPointer { pw in
            out.withUnsafeMutableBufferPointer { po in col.withUnsafeMutableBufferPointer { pc in
                tmp.withUnsafeMutableBufferPointer { pt in
                    var r0 = 0
                    while r0 < rows {
                        let r1 = min(rows, r0 + chunk), cols = (r1 - r0) * wd
                        im2col(px.baseAddress!, c: c, h: h, w: wd, k: k, rows: r0, r1, top: top, bottom: bottom,
                               into: pc.baseAddress!)
                        BLAS.sgemm(transA: false, transB: false, m: o, n: cols, k: ck, alpha: 1,
                                   a: pw.baseAddress!, lda: ck, b: pc.baseAddress!, ldb: cols,
                                   beta: 0, c: pt.baseAddress!, ldc: cols)
                        // [O, cols] -> each sample's rows of [N, O, H, W], output channels in parallel
                        Parallel.forRanges(o, floatsEach: cols) { channels in
                            forEachSampleSegment(rows: r0, r1, h: h, w: wd) { s, y0, y1, offset in
                                for oi in channels {
                                    (po.baseAddress! + (s * o + oi) * hw + y0 * wd)
                                        .update(from: pt.baseAddress! + oi * cols + offset, count: (y1 - y0) * wd)
                                }
                            }
                        }
                        r0 = r1
                    }
                } } } } }
        return Tensor(shape: [n, o, h, wd], data: out)
    }

    /// The weight gradient of `conv2d`: `dw[o,c,i,j] = sum_{n,h,w} g[n,o,h,w] * x[n,c,h+i-p,w+j-p]`
    /// for `x` [N,C,H,W] and `g` [N,O,H,W]; returns [O,C,k,k].
    public static func conv2dWeightGradient(_ x: Tensor, _ g: Tensor, kernel k: Int) -> Tensor {
        require(x.rank == 4 && g.rank == 4 && x.shape[0] == g.shape[0] && x.shape[2] == g.shape[2]
                     && x.shape[3] == g.shape[3] && k % 2 == 1,
                     "conv2dWeightGradient: input \(x.shape) and gradient \(g.shape) do not fit")
        return weightGradient(x, g, kernel: k, top: nil, bottom: nil)
    }

    /// `conv2dWeightGradient` whose rows of `x` beyond the image are zeros or, where given, the
    /// halo rows `top` and `bottom` ([N,C,k/2,W], checked by the caller).
    static func weightGradient(_ x: Tensor, _ g: Tensor, kernel k: Int,
                               top: UnsafePointer<Float>?, bottom: UnsafePointer<Float>?) -> Tensor {
        let (n, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let o = g.shape[1]
        let hw = h * wd, ck = c * k * k
        let fused = usesFusedWeightGradient(c: c, o: o, h: h, w: wd, k: k)
        let winograd = !fused && usesWinograd(c: c, o: o, h: h, w: wd, k: k, forward: false)
        let started = Profiler.convolutionStart()
        defer { Profiler.convolutionEnd(started, multiplyAdds: n * o * hw * ck, countSlot: winograd || fused) }
        if winograd || fused {
            var out = [Float](unsafeUninitializedCapacity: o * ck) { _, count in count = o * ck }
            x.data.withUnsafeBufferPointer { px in g.data.withUnsafeBufferPointer { pg in
                out.withUnsafeMutableBufferPointer { po in
                    let run = fused ? fusedWinogradWeightGradient : winogradWeightGradient
                    run(px.baseAddress!, pg.baseAddress!, n, c, o, h, wd, top, bottom, po.baseAddress!)
                } } }
            return Tensor(shape: [o, c, k, k], data: out)
        }
        var out = [Float](repeating: 0, count: o * ck)
        let rows = n * h, chunk = rowsPerChunk(rows: rows, perRow: ck * wd)
        var col = [Float](unsafeUninitializedCapacity: ck * chunk * wd) { _, count in count = ck * chunk * wd }
        var gt = [Float](unsafeUninitializedCapacity: o * chunk * wd) { _, count in count = o * chunk * wd }
        x.data.withUnsafeBufferPointer { px in g.data.withUnsafeBufferPointer { pg in
            out.withUnsafeMutableBufferPointer { po in col.withUnsafeMutableBufferPointer { pc in
                gt.withUnsafeMutableBufferPointer { pt in
                    var r0 = 0
                    while r0 < rows {
                        let r1 = min(rows, r0 + chunk), cols = (r1 - r0) * wd
                        im2col(px.baseAddress!, c: c, h: h, w: wd, k: k, rows: r0, r1, top: top, bottom: bottom,
                               into: pc.baseAddress!)
                        // Each sample's rows of [N, O, H, W] -> [O, cols], output channels in parallel
                        Parallel.forRanges(o, floatsEach: cols) { channels in
                            forEachSampleSegment(rows: r0, r1, h: h, w: wd) { s, y0, y1, offset in
                                for oi in channels {
                                    (pt.baseAddress! + oi * cols + offset)
                                        .update(from: pg.baseAddress! + (s * o + oi) * hw + y0 * wd, count: (y1 - y0) * wd)
                                }
                            }
                        }
                        BLAS.sgemm(transA: false, transB: true, m: o, n: ck, k: cols, alpha: 1,
                                   a: pt.baseAddress!, lda: cols, b: pc.baseAddress!, ldb: cols,
                                   beta: r0 == 0 ? 0 : 1, c: po.baseAddress!, ldc: ck)
                        r0 = r1
                    }
                } } } } }
        return Tensor(shape: [o, c, k, k], data: out)
    }

    /// Swaps the two channel axes of a kernel and flips it spatially: [O,C,k,k] -> [C,O,k,k] with
    /// `r[c,o,i,j] = w[o,c,k-1-i,k-1-j]`. `conv2d(g, flippedTransposed(w))` is the input gradient of
    /// `conv2d(x, w)`; the map is its own inverse.
    public func flippedTransposedKernel() -> Tensor {
        require(rank == 4 && shape[2] == shape[3], "flippedTransposedKernel: kernel shape \(shape)")
        let (o, c, k) = (shape[0], shape[1], shape[2])
        var out = [Float](unsafeUninitializedCapacity: count) { _, n in n = count }
        data.withUnsafeBufferPointer { pa in out.withUnsafeMutableBufferPointer { pr in
            // Pointers bound here: the closure would otherwise reread an inout buffer per element.
            let (a, r) = (pa.baseAddress!, pr.baseAddress!)
            // Input channels of the result in parallel; every element is written once. Blocks of
            // 8 input channels: for each output channel the block's 8 k x k kernels are read as one
            // run (one input channel at a time would read k*k floats every C*k*k: a cache line for
            // 36 bytes), and written to 8 rows that each advance k*k floats.
            let kk = k * k, block = 8
            Parallel.forRanges(c, floatsEach: o * kk) { channels in
                var c0 = channels.lowerBound
                while c0 < channels.upperBound {
                    let c1 = min(channels.upperBound, c0 + block)
                    for oi in 0..<o {
                        for ci in c0..<c1 {
                            let src = a + (oi * c + ci) * kk, dst = r + (ci * o + oi) * kk
                            for t in 0..<kk { dst[t] = src[kk - 1 - t] }
                        }
                    }
                    c0 = c1
                }
            }
        } }
        return Tensor(shape: [c, o, k, k], data: out)
    }
}
