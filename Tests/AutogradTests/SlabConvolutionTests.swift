import XCTest
import TensorKit
import Autograd
import TestSupport

/// The slab convolution (halo exchange, same-padded 3x3 convolution, middle rows) on simulated
/// ranks against the whole-image op: values, first- and second-order gradients.
///
/// Tolerances (see `RoundingBound`): every compared quantity is a sum of products of inputs,
/// and both sides compute the same terms in other orders (the slab's Winograd/im2col tiles start
/// elsewhere, partial weight gradients are added over ranks). So each element may differ by
/// `2 γ_L Σ|terms|`. `Σ|terms|` is bounded by the same graph run on the absolute values with
/// the plain convolution and bias (a leaky ReLU's mask factors, 1 or the slope, are at most 1 in
/// size). `L` bounds the roundings on any path: a forward or input-gradient convolution (9 C or
/// 9 O terms), a weight gradient (N H W terms), the sum over S ranks and a few single roundings
/// (bias, mask, loss weights, halo additions).
final class SlabConvolutionTests: XCTestCase {
    let (n, c, o, wd) = (2, 3, 4, 5)

    func testTwoThreeAndFourSlabs() throws {
        for rows in [[4, 4], [2, 2, 2], [2, 2, 2, 2], [3, 1, 4]] {
            try check(rows: rows, fused: true)
            try check(rows: rows, fused: false)
        }
    }

    private func check(rows: [Int], fused: Bool) throws {
        let h = rows.reduce(0, +), s = rows.count
        let x = TestTensors.normal([n, c, h, wd], seed: 1)
        let w = TestTensors.normal([o, c, 3, 3], seed: 2, scale: 0.3)
        let b = TestTensors.normal([o], seed: 3)
        let u = TestTensors.normal([n, o, h, wd], seed: 4)
        let v = TestTensors.normal([n, c, h, wd], seed: 5)
        let p = TestTensors.normal([o, c, 3, 3], seed: 6)

        // L = <u, y>, then M = <v, dL/dx> + <p, dL/dw>, differentiated w.r.t. x and w.
        func whole(_ x: Tensor, _ w: Tensor, _ b: Tensor, _ u: Tensor, _ v: Tensor, _ p: Tensor, plain: Bool) throws -> [Tensor] {
            let (xv, wv, bv) = (Var(x, requiresGrad: true), Var(w, requiresGrad: true), Var(b, requiresGrad: true))
            let y = plain || !fused
                ? try Var.conv2d(xv, wv) + bv.reshape([1, o, 1, 1]).expand(to: [n, o, h, wd])
                : try Var.conv2dBiasLeakyReLU(xv, wv, bv, slope: 0.2)
            let g = try gradients(of: (y * Var(u)).sum(), wrt: [xv, wv, bv], createGraph: true)
            let m = try (g[0] * Var(v)).sum() + (g[1] * Var(p)).sum()
            let second = try gradients(of: m, wrt: [xv, wv])
            return [y.value, g[0].value, g[1].value, g[2].value, second[0].value, second[1].value]
        }
        let reference = try whole(x, w, b, u, v, p, plain: false)
        let magnitude = try whole(abs(x), abs(w), abs(b), abs(u), abs(v), abs(p), plain: true)

        let ranks = try replayRanks(s) { comm -> [Tensor] in
            let r = comm.rank
            let first = rows[..<r].reduce(0, +)
            func mine(_ t: Tensor) -> Tensor { t.narrowed(axis: 2, start: first, length: rows[r]) }
            let (xv, wv, bv) = (Var(mine(x), requiresGrad: true), Var(w, requiresGrad: true), Var(b, requiresGrad: true))
            let above = r > 0 ? r - 1 : nil, below = r < s - 1 ? r + 1 : nil
            let y = fused
                ? try Var.slabConv2dBiasLeakyReLU(xv, wv, bv, slope: 0.2, comm, above: above, below: below)
                : try Var.slabConv2d(xv, wv, comm, above: above, below: below)
                    + bv.reshape([1, o, 1, 1]).expand(to: [n, o, rows[r], wd])
            let g = try gradients(of: (y * Var(mine(u))).sum(), wrt: [xv, wv, bv], createGraph: true)
            let m = try (g[0] * Var(mine(v))).sum() + (g[1] * Var(p)).sum()
            let second = try gradients(of: m, wrt: [xv, wv])
            return [y.value, g[0].value, g[1].value, g[2].value, second[0].value, second[1].value]
        }
        let roundings = 9 * c + 9 * o + n * h * wd + s + 8
        let what = "rows \(rows)\(fused ? ", fused" : "")"
        // Slab quantities (values, gradients w.r.t. x): each rank's rows of the whole.
        for (k, name) in [(0, "value"), (1, "dx"), (4, "second order dx")] {
            let got = Tensor.concat(ranks.map { $0[k] }, axis: 2)
            assertWithinBound(got, reference[k], magnitude[k], roundings, "\(what), \(name)")
        }
        // Replicated parameters: each rank's partial gradient, summed over ranks (the all-reduce).
        for (k, name) in [(2, "dw"), (3, "db"), (5, "second order dw")] {
            var sum = ranks[0][k]
            for r in 1..<s { sum = sum + ranks[r][k] }
            assertWithinBound(sum, reference[k], magnitude[k], roundings, "\(what), \(name)")
        }
    }

    private func abs(_ t: Tensor) -> Tensor { Tensor(shape: t.shape, data: t.data.map { Swift.abs($0) }) }

    private func assertWithinBound(_ got: Tensor, _ expected: Tensor, _ magnitude: Tensor, _ roundings: Int, _ what: String) {
        XCTAssertEqual(got.shape, expected.shape, what)
        // The magnitude is itself a float sum of positive terms: low by at most γ_L of itself.
        let gamma = RoundingBound.gamma(roundings)
        var worst = 0.0
        for i in 0..<min(got.count, expected.count) {
            let allowed = 2 * gamma * Double(magnitude.data[i]) / (1 - gamma)
            let error = Swift.abs(Double(got.data[i]) - Double(expected.data[i]))
            if error > allowed { XCTFail("\(what): element \(i) is \(got.data[i]), expected \(expected.data[i]) within \(allowed)"); return }
            worst = max(worst, Double(magnitude.data[i]))
        }
        XCTAssertGreaterThan(worst, 0, what)
    }
}
