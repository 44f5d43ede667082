import XCTest
import TensorKit
import Autograd
import TestSupport

/// Slabs gathered into a replicated map (`allGatherRows` within the spatial group) feeding a
/// replicated dense head, on 4 simulated ranks as 2 data groups (one image each) x 2 slabs.
/// Each rank of a group computes the head alike, so its loss term is scaled by 1/S: the sum over
/// the world of the ranks' weight gradients (the gradient all-reduce) is then the one-process
/// gradient, and the gather's adjoint (a reduce-scatter) hands each slab its rows' gradient.
/// Tolerances from rounding bounds as in `SlabConvolutionTests` (L: 9 C and 9 O for the convolution and its input gradient,
/// O H W for the dense layer, N H W for the weight gradient, the 4-rank sum, a few more).
final class ReplicatedHeadTests: XCTestCase {
    func testHeadGradientSummedOverTheGroupIsTheOneProcessGradient() throws {
        let (c, o, h, wd, s) = (2, 3, 4, 3, 2)
        let images = TestTensors.normal([2, c, h, wd], seed: 11)
        let w1 = TestTensors.normal([o, c, 3, 3], seed: 12, scale: 0.4)
        let w2 = TestTensors.normal([o * h * wd, 2], seed: 13, scale: 0.2)

        // One process: both images, the loss summed over samples.
        func whole(_ x: Tensor, _ w1: Tensor, _ w2: Tensor, _ lrelu: Bool) throws -> [Tensor] {
            let (xv, a, d) = (Var(x, requiresGrad: true), Var(w1, requiresGrad: true), Var(w2, requiresGrad: true))
            let f = try Var.conv2d(xv, a)
            let score = try Var.matmul((lrelu ? f.leakyReLU(0.2) : f).reshape([2, o * h * wd]), d)
            let g = try gradients(of: (score * score).sum(), wrt: [xv, a, d])
            return [g[0].value, g[1].value, g[2].value]
        }
        let reference = try whole(images, w1, w2, true)
        // Σ|terms|: the same graph on absolute values, without the activation; the squared
        // score's factor 2 score is bounded by 2 |score|, so run it on |x| (all terms positive).
        let magnitude = try whole(abs(images), abs(w1), abs(w2), false)

        let colors = [0, 0, 1, 1]
        let ranks = try replayRanks(4) { world -> [Tensor] in
            let group = world.subgroup(colors: colors)
            let image = colors[world.rank], r = group.rank
            let x = Var(images.narrowed(axis: 0, start: image, length: 1).narrowed(axis: 2, start: r * h / s, length: h / s),
                        requiresGrad: true)
            let (a, d) = (Var(w1, requiresGrad: true), Var(w2, requiresGrad: true))
            let f = try Var.slabConv2d(x, a, group, above: r > 0 ? r - 1 : nil, below: r < s - 1 ? r + 1 : nil)
            let map = try f.leakyReLU(0.2).allGatherRows(group, rows: [h / s, h / s])
            let score = try Var.matmul(map.reshape([1, o * h * wd]), d)
            let loss = try (score * score).sum() * (1 / Float(group.size))
            let g = try gradients(of: loss, wrt: [x, a, d])
            return [g[0].value, g[1].value, g[2].value]
        }
        let roundings = 9 * c + 9 * o + o * h * wd + 2 * h * wd + 4 + 8
        // Slabs: rank (image i, slab r) holds rows r of image i's input gradient.
        let dx = Tensor.concat([Tensor.concat([ranks[0][0], ranks[1][0]], axis: 2),
                                Tensor.concat([ranks[2][0], ranks[3][0]], axis: 2)], axis: 0)
        assertWithinBound(dx, reference[0], magnitude[0], roundings, "dx")
        for k in 1...2 {
            let sum = ranks[0][k] + ranks[1][k] + ranks[2][k] + ranks[3][k]
            assertWithinBound(sum, reference[k], magnitude[k], roundings, k == 1 ? "dw1" : "dw2")
        }
    }

    /// The gradient penalty's shape on the same 2 x 2 ranks: the score's input gradient recorded
    /// (its seed 1/S, the score being replicated), each slab's partial sum of squares summed
    /// over the spatial group (`allReduceSum`), the penalty `(|g|^2 - 1)^2` scaled by 1/S, and
    /// its weight gradients (double backward through the gather, the group sum and the halo
    /// exchange) summed over the world against one process. The squared norm keeps every
    /// quantity a polynomial, so `Σ|terms|` comes from the graph on absolute values with the
    /// subtraction turned into an addition; L counts the forward (9 C, O H W), the first
    /// backward (9 O, the squares' C H W and the group sum) and the second (as many again plus
    /// the weight gradients' N H W), each path crossing each sum at most twice.
    func testPenaltyOnTheGroupNormMatchesOneProcess() throws {
        let (c, o, h, wd, s) = (2, 3, 4, 3, 2)
        let images = TestTensors.normal([2, c, h, wd], seed: 21)
        let w1 = TestTensors.normal([o, c, 3, 3], seed: 22, scale: 0.4)
        let w2 = TestTensors.normal([o * h * wd, 1], seed: 23, scale: 0.2)

        func whole(_ x: Tensor, _ w1: Tensor, _ w2: Tensor, magnitude: Bool) throws -> [Tensor] {
            let (xv, a, d) = (Var(x, requiresGrad: true), Var(w1, requiresGrad: true), Var(w2, requiresGrad: true))
            let f = try Var.conv2d(xv, a)
            let score = try Var.matmul((magnitude ? f : f.leakyReLU(0.2)).reshape([2, o * h * wd]), d)
            let g = try gradients(of: score.sum(), wrt: [xv], createGraph: true)[0]
            let sq = try (g * g).sum(axes: [1, 2, 3])
            let e = magnitude ? sq + 1 : sq - 1
            let w = try gradients(of: (e * e).sum(), wrt: [a, d])
            return [w[0].value, w[1].value]
        }
        let reference = try whole(images, w1, w2, magnitude: false)
        let magnitude = try whole(abs(images), abs(w1), abs(w2), magnitude: true)

        let colors = [0, 0, 1, 1]
        let ranks = try replayRanks(4) { world -> [Tensor] in
            let group = world.subgroup(colors: colors)
            let image = colors[world.rank], r = group.rank
            let x = Var(images.narrowed(axis: 0, start: image, length: 1).narrowed(axis: 2, start: r * h / s, length: h / s),
                        requiresGrad: true)
            let (a, d) = (Var(w1, requiresGrad: true), Var(w2, requiresGrad: true))
            let f = try Var.slabConv2d(x, a, group, above: r > 0 ? r - 1 : nil, below: r < s - 1 ? r + 1 : nil)
            let map = try f.leakyReLU(0.2).allGatherRows(group, rows: [h / s, h / s])
            let score = try Var.matmul(map.reshape([1, o * h * wd]), d)
            let g = try gradients(of: score.sum() * (1 / Float(s)), wrt: [x], createGraph: true)[0]
            let sq = try (g * g).sum(axes: [1, 2, 3]).allReduceSum(group)
            let penalty = try ((sq - 1) * (sq - 1)).sum() * (1 / Float(s))
            let w = try gradients(of: penalty, wrt: [a, d])
            return [w[0].value, w[1].value]
        }
        let once = 9 * c + o * h * wd + 9 * o + c * h * wd + 4 + 8
        let roundings = 2 * once + 2 * h * wd
        for k in 0...1 {
            let sum = ranks[0][k] + ranks[1][k] + ranks[2][k] + ranks[3][k]
            assertWithinBound(sum, reference[k], magnitude[k], roundings, k == 0 ? "penalty dw1" : "penalty dw2")
        }
    }

    private func abs(_ t: Tensor) -> Tensor { Tensor(shape: t.shape, data: t.data.map { Swift.abs($0) }) }

    private func assertWithinBound(_ got: Tensor, _ expected: Tensor, _ magnitude: Tensor, _ roundings: Int, _ what: String) {
        XCTAssertEqual(got.shape, expected.shape, what)
        let gamma = RoundingBound.gamma(roundings)
        for i in 0..<min(got.count, expected.count) {
            let allowed = 2 * gamma * Double(magnitude.data[i]) / (1 - gamma)
            let error = Swift.abs(Double(got.data[i]) - Double(expected.data[i]))
            if error > allowed { XCTFail("\(what): element \(i) is \(got.data[i]), expected \(expected.data[i]) within \(allowed)"); return }
        }
        XCTAssertGreaterThan(magnitude.data.max() ?? 0, 0, what)
    }
}
