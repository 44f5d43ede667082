import CKernels

/// Winograd F(2x2, 3x3) and F(4x4, 3x3) for few-channel layers, transforms and channel sums
/// fused in one hand-vectorised kernel (CKernels, AVX2 + FMA).
///
/// The layers from 256x256 up have 16-64 channels. There the sgemm route's 16 products
/// `[O, C] x [C, T]` are thin and its V and M buffers stream through memory; im2col's columns are
/// 9x the input. A fused kernel transforms a block of 16 tiles, multiplies it by `U` and
/// transforms it back while it is in cache, reading the input once and writing the output once.
extension Tensor {
    /// Convolutions with at most this many input channels take the fused kernel (where the CPU
    /// runs AVX2 and FMA); 0 turns it off. Above it the sgemm products are deep enough to win.
    public nonisolated(unsafe) static var fusedWinogradMaxChannels = 256

    /// Whether this CPU and OS run the fused kernel's instructions.
    static let fusedWinogradSupported = CPUFeatures.current.avx2FMA

    /// Whether a forward convolution of this shape takes the fused kernel. The rule looks at the
    /// channels and the width only, so a slab of rows takes the path its whole map takes.
    static func usesFusedWinograd(c: Int, o: Int, h: Int, w: Int, k: Int) -> Bool {
        k == 3 && c <= fusedWinogradMaxChannels && o % 4 == 0 && h % 2 == 0 && w % 2 == 0 && w >= 16
            && fusedWinogradSupported
    }

    /// Convolutions with at most this many input channels take F(4x4, 3x3) (on maps whose sides
    /// are multiples of 4, at least 32 wide); 0 turns it off. Its blocks hold 36 transformed
    /// values a tile and channel, so above 128 channels they no longer fit the caches and the
    /// F(2x2) kernel (or sgemm) takes over.
    public nonisolated(unsafe) static var fusedWinograd4MaxChannels = 128

    /// Whether a forward convolution that takes a fused kernel takes F(4x4, 3x3) rather than
    /// F(2x2, 3x3). The rule needs the height to be a multiple of 4, so a slab of rows of
    /// another height takes F(2x2) where its whole map takes F(4x4): the same result but for
    /// rounding.
    static func usesFusedWinograd4(c: Int, h: Int, w: Int) -> Bool {
        c <= fusedWinograd4MaxChannels && h % 4 == 0 && w % 4 == 0 && w >= 32
    }

    /// `conv2d` by a fused kernel (F(4x4) where `usesFusedWinograd4`, else F(2x2)); `out`
    /// [N,O,H,W] is fully written. `top`/`bottom` are the halo rows [N,C,1,W] of a slab, or nil
    /// for zeros.
    static func fusedWinogradConv2d(_ x: UnsafePointer<Float>, _ wt: UnsafePointer<Float>, n: Int, c: Int, o: Int,
                                    h: Int, w: Int, top: UnsafePointer<Float>?, bottom: UnsafePointer<Float>?,
                                    into out: UnsafeMutablePointer<Float>) {
        let four = usesFusedWinograd4(c: c, h: h, w: w)
        let (m, points) = four ? (4, 36) : (2, 16)
        let u = UnsafeMutablePointer<Float>.allocate(capacity: points * o * c)
        defer { u.deallocate() }
        if four { ck_winograd4_kernel(wt, o * c, u) } else { winogradKernel(wt, pairs: o * c, into: u) }
        let th = h / m, hw = h * w
        let scratch = four ? ck_winograd4_conv_scratch(Int32(c), Int32(o), Int32(w))
                           : ck_winograd_conv_scratch(Int32(c), Int32(o), Int32(w))
        let kernel = four ? ck_winograd4_conv_avx2 : ck_winograd_conv_avx2
        // Tile rows of all samples in parallel; each range works in its own scratch.
        Profiler.fusedKernel { Parallel.forRanges(n * th, floatsEach: m * (c + o) * w) { rows in
            let buffer = UnsafeMutableRawPointer.allocate(byteCount: scratch * 4, alignment: 64)
            defer { buffer.deallocate() }
            let s = buffer.bindMemory(to: Float.self, capacity: scratch)
            var r = rows.lowerBound
            while r < rows.upperBound {
                let (sample, ty0) = (r / th, r % th)
                let ty1 = min(th, ty0 + (rows.upperBound - r))
                kernel(x + sample * c * hw, top.map { $0 + sample * c * w }, bottom.map { $0 + sample * c * w },
                       u, Int32(c), Int32(o), Int32(h), Int32(w), Int32(ty0), Int32(ty1), out + sample * o * hw, s)
                r += ty1 - ty0
            }
        } }
    }
}

extension Tensor {
    /// Convolutions with at most this many input and output channels take the fused weight
    /// gradient; 0 turns it off. Its channel sums hold a [16, O, C] block per part in cache, so it
    /// stops at fewer channels than the forward kernel.
    public nonisolated(unsafe) static var fusedWeightGradientMaxChannels = 32

    /// Convolutions with at most this many input and output channels take the fused F(4x4, 3x3)
    /// weight gradient (on maps whose sides are multiples of 4, at least 32 wide); 0 turns it
    /// off. It does 1.78x fewer multiply-adds than F(2x2)'s; its blocks hold 36 transformed values
    /// a tile and channel.
    public nonisolated(unsafe) static var fusedWeightGradient4MaxChannels = 128

    /// Whether a weight gradient of this shape takes a fused kernel (F(4x4) or F(2x2)): channels
    /// and width only, as `usesFusedWinograd`, but for F(4x4)'s height multiple of 4.
    static func usesFusedWeightGradient(c: Int, o: Int, h: Int, w: Int, k: Int) -> Bool {
        guard k == 3 && c % 8 == 0 && o % 4 == 0 && fusedWinogradSupported else { return false }
        return usesFusedWeightGradient4(c: c, o: o, h: h, w: w)
            || (max(c, o) <= fusedWeightGradientMaxChannels && h % 2 == 0 && w % 2 == 0 && w >= 16)
    }

    /// Whether a weight gradient that takes a fused kernel takes F(4x4, 3x3).
    static func usesFusedWeightGradient4(c: Int, o: Int, h: Int, w: Int) -> Bool {
        max(c, o) <= fusedWeightGradient4MaxChannels && h % 4 == 0 && w % 4 == 0 && w >= 32
    }

    /// Parts the tile rows of a fused weight gradient are cut into: each sums its own tiles, and
    /// the parts' sums are added in order. The cut depends on the shape only, so the result is
    /// the same for any thread count.
    static let fusedWeightGradientParts = 16

    /// `conv2dWeightGradient` by a fused kernel (F(4x4) where `usesFusedWeightGradient4`, else
    /// F(2x2)): `out` [O,C,3,3] is fully written.
    static func fusedWinogradWeightGradient(_ x: UnsafePointer<Float>, _ g: UnsafePointer<Float>, n: Int, c: Int, o: Int,
                                            h: Int, w: Int, top: UnsafePointer<Float>?, bottom: UnsafePointer<Float>?,
                                            into out: UnsafeMutablePointer<Float>) {
        let four = usesFusedWeightGradient4(c: c, o: o, h: h, w: w)
        let (m, points) = four ? (4, 36) : (2, 16)
        let th = h / m, hw = h * w, rows = n * th, size = points * o * c
        // At least one part: a rank holding no samples still returns a zero gradient.
        let parts = max(1, min(rows, fusedWeightGradientParts))
        let du = UnsafeMutablePointer<Float>.allocate(capacity: parts * size)
        defer { du.deallocate() }
        let scratch = four ? ck_winograd4_weight_gradient_scratch(Int32(c), Int32(o), Int32(w))
                           : ck_winograd_weight_gradient_scratch(Int32(c), Int32(o), Int32(w))
        let kernel = four ? ck_winograd4_weight_gradient_avx2 : ck_winograd_weight_gradient_avx2
        Profiler.fusedKernel { Parallel.forRanges(parts) { range in
            let buffer = UnsafeMutableRawPointer.allocate(byteCount: scratch * 4, alignment: 64)
            defer { buffer.deallocate() }
            let s = buffer.bindMemory(to: Float.self, capacity: scratch)
            for part in range {
                // Each part zeroes its own sums, on the thread that fills them.
                (du + part * size).initialize(repeating: 0, count: size)
                var r = rows * part / parts
                let end = rows * (part + 1) / parts
                while r < end {
                    let (sample, ty0) = (r / th, r % th)
                    let ty1 = min(th, ty0 + (end - r))
                    kernel(x + sample * c * hw, top.map { $0 + sample * c * w }, bottom.map { $0 + sample * c * w },
                           g + sample * o * hw, Int32(c), Int32(o), Int32(h), Int32(w), Int32(ty0), Int32(ty1),
                           du + part * size, s)
                    r += ty1 - ty0
                }
            }
        } }
        // The parts' sums in order into part 0, element ranges in parallel (the order of each
        // element's sum is the parts' whatever the threads); then the kernel transform by pairs.
        // Serial, they would be about 2% of a call at 128 channels and batch 16 by their bytes
        // (16 parts of 36 x 128 x 128 sums to zero, add and transform): work a second thread
        // could not share.
        Parallel.forRanges(size, floatsEach: parts) { range in
            for i in range {
                var t = du[i]
                for part in 1..<parts { t += du[part * size + i] }
                du[i] = t
            }
        }
        if four {
            Parallel.forRanges(o * c, floatsEach: 36 * 9) { pairs in
                ck_winograd4_kernel_gradient(du, o * c, pairs.lowerBound, pairs.count, out)
            }
        } else {
            winogradKernelGradient(du, pairs: o * c, into: out)
        }
    }
}
