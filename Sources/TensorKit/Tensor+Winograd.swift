/// 3x3 convolutions by Winograd's minimal filtering F(2x2, 3x3) (Lavin & Gray, 2016).
///
/// Each 2x2 block of outputs ("tile") is computed from the 4x4 input patch around it as
/// `Y = A^T [(G g G^T) ⊙ (B^T d B)] A`: 16 products per tile and channel pair instead of 36, a
/// 2.25x cut in multiply-adds. Summed over input channels, the elementwise product becomes 16
/// independent matrix products `M[ξ] = U[ξ] V[ξ]` ([O,C] x [C,T], T tiles), done by sgemm:
///
///     U[ξ][o][c] = (G w[o,c] G^T)[ξ]       kernel transform,  [16, O, C]
///     V[ξ][c][t] = (B^T d[c,t] B)[ξ]       input transform,   [16, C, T]
///     Y[o][t]    = A^T M[·][o][t] A        output transform
///
///     G = [1 0 0; ½ ½ ½; ½ -½ ½; 0 0 1]   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]
///     A^T = [1 1 1 0; 0 1 -1 -1]
///
/// The weight gradient runs the same computation backwards (it is its exact adjoint):
/// `dU[ξ] = dM[ξ] V[ξ]^T` with `dM = A dY A^T`, then `dw = G^T dU G`. The transforms only add,
/// subtract and halve, so results differ from the direct sum by float rounding only.
///
/// Tiles are processed in chunks of whole tile rows (one sample's `H/2` rows of `W/2` tiles each,
/// across samples), sized by `im2colBudget`, so memory stays bounded at 1024x1024.
extension Tensor {
    /// Convolutions with at least this many input and output channels use Winograd F(2x2, 3x3)
    /// (3x3 kernels, even height and width). Below it, the im2col path's larger products win:
    /// the 16 products have only `C` of depth (bench-kernels, 256x256, batch 2: Winograd 1.1-1.4x
    /// faster at 32 channels, 1.1x slower at 16). `Int.max` turns Winograd off.
    public nonisolated(unsafe) static var winogradMinChannels = 32

    /// A forward convolution needs maps of at least this many pixels for Winograd: at 4x4 its 16
    /// products are too thin (batch 16, 512 channels: 64 columns, measured ~8% slower than im2col's
    /// one product of 256 columns). The weight gradient has no such limit: there the tiles are the
    /// products' depth, and Winograd was 1.5x faster at 4x4. The rule looks at the map, not the
    /// batch, so a layer takes the same path however the minibatch is split across ranks.
    public nonisolated(unsafe) static var winogradMinPixels = 64

    /// Whether a convolution of this shape takes the Winograd path (`forward`: `conv2d`, else
    /// `conv2dWeightGradient`).
    @inlinable
    static func usesWinograd(c: Int, o: Int, h: Int, w: Int, k: Int, forward: Bool) -> Bool {
        k == 3 && h % 2 == 0 && w % 2 == 0 && h >= 2 && w >= 2 && min(c, o) >= winogradMinChannels
            && (!forward || h * w >= winogradMinPixels)
    }

    /// Tile rows a chunk may hold so its `V` and `M` buffers (16 x (C + O) x tiles) fit the budget.
    static func winogradRowsPerChunk(rows: Int, tilesPerRow: Int, c: Int, o: Int) -> Int {
        max(1, min(rows, im2colBudget / max(1, 16 * (c + o) * tilesPerRow)))
    }

    /// `U = G w G^T` for every (o, c): [O,C,3,3] -> [16, O, C].
    static func winogradKernel(_ w: UnsafePointer<Float>, pairs: Int, into u: UnsafeMutablePointer<Float>) {
        // Blocks of pairs go through a small buffer, so U is written in 16 contiguous runs rather
        // than 16 interleaved single floats (that scatter cost as much as the transform).
        let block = 128
        Parallel.forRanges((pairs + block - 1) / block, floatsEach: 25 * block) { blocks in
            let tmp = UnsafeMutablePointer<Float>.allocate(capacity: 16 * block)
            defer { tmp.deallocate() }
            for bi in blocks {
                let i0 = bi * block
                let nb = min(block, pairs - i0)
                for l in 0..<nb {
                    let g = w + (i0 + l) * 9
                    // One row (a, b, c) of G g times G^T: [a, (a+b+c)/2, (a-b+c)/2, c] into row r.
                    @inline(__always) func put(_ r: Int, _ a: Float, _ b: Float, _ c: Float) {
                        tmp[(4 * r) * block + l] = a
                        tmp[(4 * r + 1) * block + l] = 0.5 * (a + b + c)
                        tmp[(4 * r + 2) * block + l] = 0.5 * (a - b + c)
                        tmp[(4 * r + 3) * block + l] = c
                    }
                    let (g00, g01, g02) = (g[0], g[1], g[2])
                    let (g10, g11, g12) = (g[3], g[4], g[5])
                    let (g20, g21, g22) = (g[6], g[7], g[8])
                    // Rows of G g: g0, (g0+g1+g2)/2, (g0-g1+g2)/2, g2.
                    put(0, g00, g01, g02)
                    put(1, 0.5 * (g00 + g10 + g20), 0.5 * (g01 + g11 + g21), 0.5 * (g02 + g12 + g22))
                    put(2, 0.5 * (g00 - g10 + g20), 0.5 * (g01 - g11 + g21), 0.5 * (g02 - g12 + g22))
                    put(3, g20, g21, g22)
                }
                for xi in 0..<16 { (u + xi * pairs + i0).update(from: tmp + xi * block, count: nb) }
            }
        }
    }

    /// `dw = G^T dU G` for every (o, c): [16, O, C] -> [O,C,3,3].
    static func winogradKernelGradient(_ du: UnsafePointer<Float>, pairs: Int, into dw: UnsafeMutablePointer<Float>) {
        Parallel.forRanges(pairs, floatsEach: 25) { range in
            for i in range {
                // s = G^T dU (3 rows of 4), one column b at a time; then dw = s G.
                var s = (Float(0), Float(0), Float(0), Float(0), Float(0), Float(0),
                         Float(0), Float(0), Float(0), Float(0), Float(0), Float(0))
                withUnsafeMutableBytes(of: &s) { raw in
                    let s = raw.baseAddress!.assumingMemoryBound(to: Float.self)
                    for b in 0..<4 {
                        let (u0, u1, u2, u3) = (du[b * pairs + i], du[(4 + b) * pairs + i],
                                                du[(8 + b) * pairs + i], du[(12 + b) * pairs + i])
                        s[b] = u0 + 0.5 * (u1 + u2)
                        s[4 + b] = 0.5 * (u1 - u2)
                        s[8 + b] = 0.5 * (u1 + u2) + u3
                    }
                    let out = dw + i * 9
                    for r in 0..<3 {
                        let (a, b, c, d) = (s[4 * r], s[4 * r + 1], s[4 * r + 2], s[4 * r + 3])
                        out[3 * r] = a + 0.5 * (b + c)
                        out[3 * r + 1] = 0.5 * (b - c)
                        out[3 * r + 2] = 0.5 * (b + c) + d
                    }
                }
            }
        }
    }

    /// `V = B^T d B` for the tiles of tile rows `r0..<r1` (row `r` is sample `r / (H/2)`, tile row
    /// `r % (H/2)`): x [N,C,H,W] -> v [16, C, T], T = (r1 - r0) * W/2, tile t = (r - r0) * W/2 + tx.
    /// The row above the image and the one below are zeros, or `top` and `bottom` ([N,C,1,W]).
    static func winogradInput(_ x: UnsafePointer<Float>, c: Int, h: Int, w: Int, rows r0: Int, _ r1: Int,
                              top: UnsafePointer<Float>? = nil, bottom: UnsafePointer<Float>? = nil,
                              into v: UnsafeMutablePointer<Float>) {
        let (th, tw, hw) = (h / 2, w / 2, h * w)
        let tc = (r1 - r0) * tw, xs = c * tc
        // Four input rows with one zero column either side: no bounds tests in the tile loop.
        let pw = w + 2
        // Channels in parallel: each writes its own rows of V.
        Parallel.forRanges(c, floatsEach: 20 * (r1 - r0) * tw) { channels in
            let band = UnsafeMutablePointer<Float>.allocate(capacity: 4 * pw)
            defer { band.deallocate() }
            band.initialize(repeating: 0, count: 4 * pw)
            for ci in channels {
                for r in r0..<r1 {
                    let (n, ty) = (r / th, r % th)
                    let plane = x + (n * c + ci) * hw
                    for a in 0..<4 {
                        let sy = 2 * ty - 1 + a
                        let dst = band + a * pw + 1
                        if sy < 0 {
                            if let top { dst.update(from: top + (n * c + ci) * w, count: w) } else { dst.update(repeating: 0, count: w) }
                        } else if sy >= h {
                            if let bottom { dst.update(from: bottom + (n * c + ci) * w, count: w) } else { dst.update(repeating: 0, count: w) }
                        } else {
                            dst.update(from: plane + sy * w, count: w)
                        }
                    }
                    let out = v + ci * tc + (r - r0) * tw
                    var tx = 0
                    // 8 tiles at a time: columns x0 + j of 8 patches are the even and odd lanes of
                    // 16 floats from x0 (j = 0, 1) and from x0 + 2 (j = 2, 3); x0 + 18 <= W + 2.
                    while tx + 8 <= tw {
                        let x0 = 2 * tx
                        let l0 = SIMD16<Float>.load(band + x0), l1 = SIMD16<Float>.load(band + pw + x0)
                        let l2 = SIMD16<Float>.load(band + 2 * pw + x0), l3 = SIMD16<Float>.load(band + 3 * pw + x0)
                        let f0 = SIMD16<Float>.load(band + x0 + 2), f1 = SIMD16<Float>.load(band + pw + x0 + 2)
                        let f2 = SIMD16<Float>.load(band + 2 * pw + x0 + 2), f3 = SIMD16<Float>.load(band + 3 * pw + x0 + 2)
                        winogradInputTile(
                            { a, j in
                                let row = a == 0 ? (j < 2 ? l0 : f0) : a == 1 ? (j < 2 ? l1 : f1) : a == 2 ? (j < 2 ? l2 : f2) : (j < 2 ? l3 : f3)
                                return j % 2 == 0 ? row.evenHalf : row.oddHalf
                            },
                            { xi, value in value.store(to: out + xi * xs + tx) })
                        tx += 8
                    }
                    while tx < tw {
                        let x0 = 2 * tx
                        winogradInputTile({ a, j in band[a * pw + x0 + j] }, { xi, value in out[xi * xs + tx] = value })
                        tx += 1
                    }
                }
            }
        }
    }

    /// `B^T d B` of one 4x4 patch (or of 8 at once, lane by lane): `d(a, j)` is row a, column j
    /// of the patch; `put(ξ, value)` receives the 16 results.
    @inline(__always)
    static func winogradInputTile<L: TileLanes>(_ d: (Int, Int) -> L, _ put: (Int, L) -> Void) {
        // s = B^T d, one column j of the patch at a time, then each row of s times B.
        @inline(__always) func column(_ j: Int) -> (L, L, L, L) {
            let (d0, d1, d2, d3) = (d(0, j), d(1, j), d(2, j), d(3, j))
            return (d0 - d2, d1 + d2, d2 - d1, d1 - d3)
        }
        let (c0, c1, c2, c3) = (column(0), column(1), column(2), column(3))
        @inline(__always) func row(_ a: Int, _ e0: L, _ e1: L, _ e2: L, _ e3: L) {
            put(4 * a, e0 - e2)
            put(4 * a + 1, e1 + e2)
            put(4 * a + 2, e2 - e1)
            put(4 * a + 3, e1 - e3)
        }
        row(0, c0.0, c1.0, c2.0, c3.0)
        row(1, c0.1, c1.1, c2.1, c3.1)
        row(2, c0.2, c1.2, c2.2, c3.2)
        row(3, c0.3, c1.3, c2.3, c3.3)
    }

    /// `Y = A^T M A` for the tiles of rows `r0..<r1`: m [16, O, T] -> the matching 2x2 blocks of
    /// y [N,O,H,W].
    static func winogradOutput(_ m: UnsafePointer<Float>, o: Int, h: Int, w: Int, rows r0: Int, _ r1: Int,
                               into y: UnsafeMutablePointer<Float>) {
        let (th, tw, hw) = (h / 2, w / 2, h * w)
        let tc = (r1 - r0) * tw, ms = o * tc
        // Output channels in parallel: each writes its own planes of y.
        Parallel.forRanges(o, floatsEach: 20 * (r1 - r0) * tw) { channels in
            for oi in channels {
                for r in r0..<r1 {
                    let (n, ty) = (r / th, r % th)
                    let src = m + oi * tc + (r - r0) * tw
                    let dst = y + (n * o + oi) * hw + 2 * ty * w
                    var tx = 0
                    // 8 tiles at a time: the 2x2 outputs of 8 tiles are 16 adjacent floats of
                    // each of the two rows, the tiles' left and right columns interleaved.
                    while tx + 8 <= tw {
                        let q = src + tx
                        let (y00, y01, y10, y11) = winogradOutputTile { k in SIMD8<Float>.load(q + k * ms) }
                        SIMD16<Float>.interleaving(y00, y01).store(to: dst + 2 * tx)
                        SIMD16<Float>.interleaving(y10, y11).store(to: dst + w + 2 * tx)
                        tx += 8
                    }
                    while tx < tw {
                        let q = src + tx
                        let (y00, y01, y10, y11) = winogradOutputTile { k in q[k * ms] }
                        dst[2 * tx] = y00
                        dst[2 * tx + 1] = y01
                        dst[w + 2 * tx] = y10
                        dst[w + 2 * tx + 1] = y11
                        tx += 1
                    }
                }
            }
        }
    }

    /// `A^T M A` of one tile (or of 8, lane by lane), `m(ξ)` its 16 values: its 2x2 outputs
    /// (row 0 left, right; row 1 left, right).
    @inline(__always)
    static func winogradOutputTile<L: TileLanes>(_ at: (Int) -> L) -> (L, L, L, L) {
        // p = A^T M: 2 rows of 4.
        let p00 = at(0) + at(4) + at(8), p10 = at(4) - at(8) - at(12)
        let p01 = at(1) + at(5) + at(9), p11 = at(5) - at(9) - at(13)
        let p02 = at(2) + at(6) + at(10), p12 = at(6) - at(10) - at(14)
        let p03 = at(3) + at(7) + at(11), p13 = at(7) - at(11) - at(15)
        return (p00 + p01 + p02, p01 - p02 - p03, p10 + p11 + p12, p11 - p12 - p13)
    }

    /// `dM = A dY A^T` for the tiles of rows `r0..<r1`: the adjoint of `winogradOutput`,
    /// g [N,O,H,W] -> dm [16, O, T].
    static func winogradOutputGradient(_ g: UnsafePointer<Float>, o: Int, h: Int, w: Int, rows r0: Int, _ r1: Int,
                                       into dm: UnsafeMutablePointer<Float>) {
        let (th, tw, hw) = (h / 2, w / 2, h * w)
        let tc = (r1 - r0) * tw, ms = o * tc
        Parallel.forRanges(o, floatsEach: 20 * (r1 - r0) * tw) { channels in
            for oi in channels {
                for r in r0..<r1 {
                    let (n, ty) = (r / th, r % th)
                    let src = g + (n * o + oi) * hw + 2 * ty * w
                    let dst = dm + oi * tc + (r - r0) * tw
                    var tx = 0
                    // 8 tiles at a time: their left and right columns are the even and odd lanes
                    // of 16 adjacent floats of each row.
                    while tx + 8 <= tw {
                        let row0 = SIMD16<Float>.load(src + 2 * tx), row1 = SIMD16<Float>.load(src + w + 2 * tx)
                        let q = dst + tx
                        winogradOutputGradientTile(row0.evenHalf, row0.oddHalf, row1.evenHalf, row1.oddHalf) { xi, value in
                            value.store(to: q + xi * ms)
                        }
                        tx += 8
                    }
                    while tx < tw {
                        let q = dst + tx
                        winogradOutputGradientTile(src[2 * tx], src[2 * tx + 1], src[w + 2 * tx], src[w + 2 * tx + 1]) { xi, value in
                            q[xi * ms] = value
                        }
                        tx += 1
                    }
                }
            }
        }
    }

    /// `A dY A^T` of one tile's 2x2 gradient (or of 8, lane by lane): `put(ξ, value)` receives
    /// the 16 results.
    @inline(__always)
    static func winogradOutputGradientTile<L: TileLanes>(_ g00: L, _ g01: L, _ g10: L, _ g11: L,
                                                         _ put: (Int, L) -> Void) {
        // Rows of A dY: [g0, g0 + g1, g0 - g1, -g1] (g0, g1 the two output rows); then each
        // row (h0, h1) times A^T: [h0, h0 + h1, h0 - h1, -h1].
        @inline(__always) func row(_ a: Int, _ h0: L, _ h1: L) {
            put(4 * a, h0)
            put(4 * a + 1, h0 + h1)
            put(4 * a + 2, h0 - h1)
            put(4 * a + 3, -h1)
        }
        row(0, g00, g01)
        row(1, g00 + g10, g01 + g11)
        row(2, g00 - g10, g01 - g11)
        row(3, -g10, -g11)
    }

    /// `conv2d` for 3x3 kernels on even-sized maps by F(2x2, 3x3); `out` [N,O,H,W] is fully written.
    static func winogradConv2d(_ x: UnsafePointer<Float>, _ wt: UnsafePointer<Float>, n: Int, c: Int, o: Int,
                               h: Int, w: Int, top: UnsafePointer<Float>? = nil, bottom: UnsafePointer<Float>? = nil,
                               into out: UnsafeMutablePointer<Float>) {
        let rows = n * (h / 2), tw = w / 2
        let chunk = winogradRowsPerChunk(rows: rows, tilesPerRow: tw, c: c, o: o)
        let u = UnsafeMutablePointer<Float>.allocate(capacity: 16 * o * c)
        let v = UnsafeMutablePointer<Float>.allocate(capacity: 16 * c * chunk * tw)
        let m = UnsafeMutablePointer<Float>.allocate(capacity: 16 * o * chunk * tw)
        defer { u.deallocate(); v.deallocate(); m.deallocate() }
        winogradKernel(wt, pairs: o * c, into: u)
        var r0 = 0
        while r0 < rows {
            let r1 = min(rows, r0 + chunk), tc = (r1 - r0) * tw
            winogradInput(x, c: c, h: h, w: w, rows: r0, r1, top: top, bottom: bottom, into: v)
            BLAS.batch(16) { xi in
                BLAS.sgemm(transA: false, transB: false, m: o, n: tc, k: c, alpha: 1,
                           a: u + xi * o * c, lda: c, b: v + xi * c * tc, ldb: tc,
                           beta: 0, c: m + xi * o * tc, ldc: tc, countsWork: false)
            }
            winogradOutput(m, o: o, h: h, w: w, rows: r0, r1, into: out)
            r0 = r1
        }
    }

    /// `conv2dWeightGradient` for 3x3 kernels on even-sized maps, as the adjoint of F(2x2, 3x3);
    /// `out` [O,C,3,3] is fully written.
    static func winogradWeightGradient(_ x: UnsafePointer<Float>, _ g: UnsafePointer<Float>, n: Int, c: Int, o: Int,
                                       h: Int, w: Int, top: UnsafePointer<Float>? = nil, bottom: UnsafePointer<Float>? = nil,
                                       into out: UnsafeMutablePointer<Float>) {
        let rows = n * (h / 2), tw = w / 2
        let chunk = winogradRowsPerChunk(rows: rows, tilesPerRow: tw, c: c, o: o)
        let du = UnsafeMutablePointer<Float>.allocate(capacity: 16 * o * c)
        let v = UnsafeMutablePointer<Float>.allocate(capacity: 16 * c * chunk * tw)
        let dm = UnsafeMutablePointer<Float>.allocate(capacity: 16 * o * chunk * tw)
        defer { du.deallocate(); v.deallocate(); dm.deallocate() }
        var r0 = 0
        while r0 < rows {
            let r1 = min(rows, r0 + chunk), tc = (r1 - r0) * tw
            winogradInput(x, c: c, h: h, w: w, rows: r0, r1, top: top, bottom: bottom, into: v)
            winogradOutputGradient(g, o: o, h: h, w: w, rows: r0, r1, into: dm)
            BLAS.batch(16) { xi in
                BLAS.sgemm(transA: false, transB: true, m: o, n: c, k: tc, alpha: 1,
                           a: dm + xi * o * tc, lda: tc, b: v + xi * c * tc, ldb: tc,
                           beta: r0 == 0 ? 0 : 1, c: du + xi * o * c, ldc: c, countsWork: false)
            }
            r0 = r1
        }
        winogradKernelGradient(du, pairs: o * c, into: out)
    }
}

/// What the Winograd transforms compute on: one tile's values (`Float`) or 8 adjacent tiles'
/// (`SIMD8<Float>`, lane by lane). The tile code is written once over it, so both do the same
/// operations in the same order on each value: the same bits.
protocol TileLanes {
    static func + (a: Self, b: Self) -> Self
    static func - (a: Self, b: Self) -> Self
    static prefix func - (a: Self) -> Self
}

extension Float: TileLanes {}
extension SIMD8: TileLanes where Scalar == Float {}

extension SIMD16 where Scalar == Float {
    /// 16 floats from `p` (any alignment).
    @inline(__always)
    static func load(_ p: UnsafePointer<Float>) -> Self { UnsafeRawPointer(p).loadUnaligned(as: Self.self) }

    /// `a[0], b[0], a[1], b[1], ...`.
    @inline(__always)
    static func interleaving(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> Self {
        var r = Self()
        for l in 0..<8 { r[2 * l] = a[l]; r[2 * l + 1] = b[l] }
        return r
    }

    /// Writes the 16 floats at `p` (any alignment).
    @inline(__always)
    func store(to p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: self, as: Self.self) }
}

extension SIMD8 where Scalar == Float {
    /// 8 floats from `p` (any alignment).
    @inline(__always)
    static func load(_ p: UnsafePointer<Float>) -> Self { UnsafeRawPointer(p).loadUnaligned(as: Self.self) }

    /// Writes the 8 floats at `p` (any alignment).
    @inline(__always)
    func store(to p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: self, as: Self.self) }
}
