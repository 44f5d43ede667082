import XCTest
@testable import Autograd
import TensorKit
import TestSupport

/// The bias gradient of the fused convolutions, summed in the pass that masks the upstream
/// gradient (`leakyReLUMaskAndChannelSums`): against the separate passes within their Double
/// rounding, the same bits for any thread count, zero for an empty batch, and to first and second
/// order exactly the composed ops' gradients.
final class FusedBiasGradientTests: XCTestCase {
    private let saved = (Tensor.winogradMinChannels, Tensor.fusedWinogradMaxChannels)

    override func tearDown() {
        Parallel.threads = 1
        (Tensor.winogradMinChannels, Tensor.fusedWinogradMaxChannels) = saved
    }

    /// `y` with some exact zeros of both signs: 0 is not > 0, so they take the slope.
    private func output(_ shape: [Int], seed: UInt64) -> Tensor {
        var y = TestTensors.normal(shape, seed: seed)
        for i in stride(from: 0, to: y.count, by: 5) { y.data[i] = i % 2 == 0 ? 0 : -0.0 }
        return y
    }

    // MARK: the kernel

    /// Plane sizes below, at and past the 8 lanes, with and without a tail, one sample or several.
    func testMaskAndChannelSumsMatchTheSeparatePasses() {
        let shapes = [[1, 1, 1, 1], [2, 3, 1, 7], [3, 2, 2, 4], [2, 5, 3, 3], [1, 2, 5, 13], [4, 3, 6, 6]]
        for (k, shape) in shapes.enumerated() {
            let g = TestTensors.normal(shape, seed: 200 + UInt64(k)), y = output(shape, seed: 300 + UInt64(k))
            let (masked, sums) = leakyReLUMaskAndChannelSums(g, by: y, slope: 0.2)
            // The masked gradient: the same arithmetic as the one-pass mask, so the same bits.
            XCTAssertEqual(masked, leakyReLUMask(g, by: y, slope: 0.2), "\(shape)")
            XCTAssertEqual(sums.shape, [shape[1]])
            let composed = masked.sum(to: [1, shape[1], 1, 1])
            let (n, o, hw) = (shape[0], shape[1], shape[2] * shape[3])
            for ch in 0..<o {
                var reference = 0.0, magnitude = 0.0
                for s in 0..<n {
                    for i in 0..<hw {
                        let t = Double(masked.data[(s * o + ch) * hw + i])
                        reference += t
                        magnitude += abs(t)
                    }
                }
                // Every term is a float, exact in Double. A Double sum of m terms in any order is
                // within γ_m(2^-53) * sum|t| of the exact sum (at most m - 1 roundings on a
                // term's path), and so is this reference; rounding the kernel's sum, at most
                // (1 + γ_m) sum|t| in size, to Float adds at most 2^-24 of it.
                let gamma = RoundingBound.gamma(n * hw, unitRoundoff: RoundingBound.float64)
                let fromOne = (RoundingBound.float32 * (1 + gamma) + gamma) * magnitude
                XCTAssertLessThanOrEqual(abs(Double(sums.data[ch]) - reference), fromOne + gamma * magnitude,
                                         "\(shape), channel \(ch)")
                // Tensor.sum(to:) sums in another order: both within `fromOne` of the exact sum.
                XCTAssertLessThanOrEqual(abs(Double(sums.data[ch]) - Double(composed.data[ch])), 2 * fromOne,
                                         "\(shape), channel \(ch) against sum(to:)")
            }
        }
    }

    /// Each plane is summed whole by one thread, in a fixed order: the bits do not depend on the
    /// thread count. 128 planes of 33 x 33 are split into up to 12 ranges.
    func testMaskAndChannelSumsAreTheSameBitsForAnyThreadCount() {
        let g = TestTensors.normal([4, 32, 33, 33], seed: 210), y = output([4, 32, 33, 33], seed: 310)
        Parallel.threads = 1
        let serial = leakyReLUMaskAndChannelSums(g, by: y, slope: 0.2)
        for threads in [2, 3, 4] {
            Parallel.threads = threads
            let parallel = leakyReLUMaskAndChannelSums(g, by: y, slope: 0.2)
            XCTAssertEqual(parallel.masked.data.map(\.bitPattern), serial.masked.data.map(\.bitPattern), "\(threads) threads")
            XCTAssertEqual(parallel.sums.data.map(\.bitPattern), serial.sums.data.map(\.bitPattern), "\(threads) threads")
        }
    }

    /// A rank holding no samples of an unevenly dealt batch: its bias gradient is zero, of [O].
    func testEmptyBatchGivesZeroBiasGradient() throws {
        let (masked, sums) = leakyReLUMaskAndChannelSums(Tensor.zeros([0, 3, 4, 4]), by: Tensor.zeros([0, 3, 4, 4]), slope: 0.2)
        XCTAssertEqual(masked.shape, [0, 3, 4, 4])
        XCTAssertEqual(sums, Tensor.zeros([3]))

        let x = Var(Tensor.zeros([0, 2, 4, 4]), requiresGrad: true)
        let w = Var(TestTensors.normal([3, 2, 3, 3], seed: 211), requiresGrad: true)
        let b = Var(TestTensors.normal([3], seed: 212), requiresGrad: true)
        let y = try Var.conv2dBiasLeakyReLU(x, w, b, slope: 0.2)
        XCTAssertEqual(y.shape, [0, 3, 4, 4])
        let g = try gradients(of: y, wrt: [x, w, b], seed: Var(Tensor.zeros([0, 3, 4, 4])))
        XCTAssertEqual(g[0].value.shape, [0, 2, 4, 4])
        XCTAssertEqual(g[1].value, Tensor.zeros([3, 2, 3, 3]))
        XCTAssertEqual(g[2].value, Tensor.zeros([3]))
    }

    // MARK: the graph, exactly

    /// Multiples of 1/2 in [-1, 1].
    private func dyadic(_ shape: [Int], _ seed: UInt64) -> Tensor {
        Tensor(shape: shape, data: TestTensors.normal(shape, seed: seed).data.map { min(1, max(-1, ($0 * 2).rounded() / 2)) })
    }

    /// `L = <u, y^2>` (quadratic, so that its gradients depend on x, w and b), its gradients with
    /// createGraph, then `M = <v, dL/dx> + <p, dL/dw> + <q, dL/db>` differentiated w.r.t. x, w
    /// and b: the bias gradient's own rule is on the second-order path. The fused op and its slab
    /// form on simulated ranks against the composed ops, bit for bit.
    ///
    /// Exact on the im2col path (direct sums of products): the inputs are multiples of 1/2 in
    /// [-1, 1], the slope is 1/4, a sum has at most 2 x 9 taps or 2 x 6 x 4 positions, so (each
    /// bound the number of terms times the largest) y is a multiple of 1/16 up to 19, dL/dy of
    /// 1/16 up to 19, the masked gradient of 1/64, dL/dx and dL/dw of 1/128 and dL/db of 1/64 up
    /// to 912, dM/d(masked gradient) of 1/4 up to 37, and the second-order gradients of 1/128 up
    /// to 2688. Every partial sum is then a float (under 19 bits), exact in any order; the fused
    /// bias sum, in its own order, is the composed one. (The values of L and M may round, but no
    /// gradient reads them.)
    func testBiasGradientToFirstAndSecondOrderIsExactlyTheComposedOps() throws {
        Tensor.winogradMinChannels = Int.max
        Tensor.fusedWinogradMaxChannels = 0
        let (n, c, o, h, wd) = (2, 2, 2, 6, 4)
        let slope: Float = 0.25
        let x = dyadic([n, c, h, wd], 221), w = dyadic([o, c, 3, 3], 222), b = dyadic([o], 223)
        let u = dyadic([n, o, h, wd], 224), v = dyadic([n, c, h, wd], 225)
        let p = dyadic([o, c, 3, 3], 226), q = dyadic([o], 227)
        typealias Layer = (Var, Var, Var) throws -> Var
        func run(_ x: Tensor, _ u: Tensor, _ v: Tensor, _ layer: Layer) throws -> [Tensor] {
            let (xv, wv, bv) = (Var(x, requiresGrad: true), Var(w, requiresGrad: true), Var(b, requiresGrad: true))
            let y = try layer(xv, wv, bv)
            let g = try gradients(of: (y.square() * Var(u)).sum(), wrt: [xv, wv, bv], createGraph: true)
            let m = try (g[0] * Var(v)).sum() + (g[1] * Var(p)).sum() + (g[2] * Var(q)).sum()
            return [y.value] + g.map(\.value) + (try gradients(of: m, wrt: [xv, wv, bv])).map(\.value)
        }
        let names = ["value", "dx", "dw", "db", "second order dx", "second order dw", "second order db"]
        let reference = try run(x, u, v) { x, w, b in
            try (Var.conv2d(x, w) + b.reshape([1, o, 1, 1]).expand(to: [n, o, h, wd])).leakyReLU(slope)
        }
        XCTAssertTrue(reference[0].data.contains { $0 < 0 } && reference[0].data.contains { $0 > 0 }, "both branches")
        for k in 1..<names.count {
            XCTAssertTrue(reference[k].data.contains { $0 != 0 }, "\(names[k]): a zero gradient checks nothing")
        }
        let fused = try run(x, u, v) { try Var.conv2dBiasLeakyReLU($0, $1, $2, slope: slope) }
        for (k, name) in names.enumerated() {
            XCTAssertEqual(fused[k], reference[k], "fused, \(name)")
        }
        for rows in [[3, 3], [2, 2, 2]] {
            let ranks = try replayRanks(rows.count) { comm -> [Tensor] in
                let r = comm.rank
                let first = rows[..<r].reduce(0, +)
                func mine(_ t: Tensor) -> Tensor { t.narrowed(axis: 2, start: first, length: rows[r]) }
                let above = r > 0 ? r - 1 : nil, below = r < rows.count - 1 ? r + 1 : nil
                return try run(mine(x), mine(u), mine(v)) {
                    try Var.slabConv2dBiasLeakyReLU($0, $1, $2, slope: slope, comm, above: above, below: below)
                }
            }
            // Rows of the image are concatenated, the parameters' gradients summed over ranks.
            for k in [0, 1, 4] {
                XCTAssertEqual(Tensor.concat(ranks.map { $0[k] }, axis: 2), reference[k], "rows \(rows), \(names[k])")
            }
            for k in [2, 3, 5, 6] {
                XCTAssertEqual(ranks.dropFirst().reduce(ranks[0][k]) { $0 + $1[k] }, reference[k], "rows \(rows), \(names[k])")
            }
        }
    }
}
