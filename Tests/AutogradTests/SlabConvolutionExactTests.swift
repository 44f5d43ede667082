import XCTest
import TensorKit
import Autograd
import TestSupport

/// The slab convolution on simulated ranks against the whole image's, on both kernel paths
/// (im2col, and Winograd forced on for few channels), bit for bit: every input is a multiple of
/// 1/2 in [-1, 1] and the leaky ReLU's slope is 1/4, so every product, Winograd transform
/// (which only adds, subtracts and halves) and sum in the values and in the first- and
/// second-order gradients is exact in float32, whatever the order and tiling. A slab's Winograd
/// tiles start on its first row while the whole image's start on row 0; its halo rows must be
/// read where the whole image's rows are, and its gradients must reach the neighbours' rows.
/// (`SlabConvolutionTests` checks the same on normal inputs within rounding bounds.)
final class SlabConvolutionExactTests: XCTestCase {
    override func tearDown() {
        Tensor.winogradMinChannels = 32
        Tensor.winogradMinPixels = 64
    }

    let (n, c, o, wd) = (2, 3, 2, 4)

    func testEvenSlabsOnBothPaths() throws {
        for winograd in [false, true] {
            Tensor.winogradMinChannels = winograd ? 1 : Int.max
            Tensor.winogradMinPixels = 1
            for rows in [[4, 4], [2, 2, 2, 2], [2, 4, 2]] {
                try check(rows: rows, fused: true, winograd ? "Winograd" : "im2col")
                try check(rows: rows, fused: false, winograd ? "Winograd" : "im2col")
            }
        }
    }

    private func dyadic(_ shape: [Int], _ seed: UInt64) -> Tensor {
        Tensor(shape: shape, data: TestTensors.normal(shape, seed: seed).data.map { min(1, max(-1, ($0 * 2).rounded() / 2)) })
    }

    private func check(rows: [Int], fused: Bool, _ path: String) throws {
        let h = rows.reduce(0, +), s = rows.count
        let x = dyadic([n, c, h, wd], 1), w = dyadic([o, c, 3, 3], 2), b = dyadic([o], 3)
        let u = dyadic([n, o, h, wd], 4), v = dyadic([n, c, h, wd], 5), p = dyadic([o, c, 3, 3], 6)
        let slope: Float = 0.25
        // L = <u, y>, then M = <v, dL/dx> + <p, dL/dw>, differentiated w.r.t. x and w.
        func run(_ x: Var, _ w: Var, _ b: Var, _ u: Tensor, _ v: Tensor, conv: (Var, Var, Var) throws -> Var) throws -> [Tensor] {
            let y = try conv(x, w, b)
            let g = try gradients(of: (y * Var(u)).sum(), wrt: [x, w, b], createGraph: true)
            let m = try (g[0] * Var(v)).sum() + (g[1] * Var(p)).sum()
            let second = try gradients(of: m, wrt: [x, w])
            return [y.value, g[0].value, g[1].value, g[2].value, second[0].value, second[1].value]
        }
        func leaves() -> (Var, Var) { (Var(w, requiresGrad: true), Var(b, requiresGrad: true)) }
        let (wv, bv) = leaves()
        let reference = try run(Var(x, requiresGrad: true), wv, bv, u, v) { x, w, b in
            fused ? try Var.conv2dBiasLeakyReLU(x, w, b, slope: slope)
                : try Var.conv2d(x, w) + b.reshape([1, o, 1, 1]).expand(to: [n, o, h, wd])
        }
        let ranks = try replayRanks(s) { comm -> [Tensor] in
            let r = comm.rank
            let first = rows[..<r].reduce(0, +)
            func mine(_ t: Tensor) -> Tensor { t.narrowed(axis: 2, start: first, length: rows[r]) }
            let above = r > 0 ? r - 1 : nil, below = r < s - 1 ? r + 1 : nil
            let (wv, bv) = leaves()
            return try run(Var(mine(x), requiresGrad: true), wv, bv, mine(u), mine(v)) { x, w, b in
                fused ? try Var.slabConv2dBiasLeakyReLU(x, w, b, slope: slope, comm, above: above, below: below)
                    : try Var.slabConv2d(x, w, comm, above: above, below: below)
                        + b.reshape([1, o, 1, 1]).expand(to: [n, o, rows[r], wd])
            }
        }
        let what = "\(path), rows \(rows)\(fused ? ", fused" : "")"
        for (k, name) in [(0, "value"), (1, "dx"), (4, "second order dx")] {
            XCTAssertEqual(Tensor.concat(ranks.map { $0[k] }, axis: 2), reference[k], "\(what), \(name)")
        }
        for (k, name) in [(2, "dw"), (3, "db"), (5, "second order dw")] {
            XCTAssertEqual(ranks.dropFirst().reduce(ranks[0][k]) { $0 + $1[k] }, reference[k], "\(what), \(name)")
            XCTAssertTrue(reference[k].data.contains { $0 != 0 }, "\(what), \(name): a zero gradient checks nothing")
        }
    }
}
