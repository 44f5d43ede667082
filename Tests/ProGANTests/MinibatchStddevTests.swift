import XCTest
import TensorKit
import Autograd
@testable import ProGAN
import TestSupport

/// Minibatch standard deviation (paper section 3) on one rank.
final class MinibatchStddevTests: XCTestCase {
    /// The statistic computed directly, in Double: sample n belongs to group n % (N / G) (the
    /// authors' reshape [G, M, ...]); per group, the population std over its members of every
    /// feature and pixel, with 1e-8 added to the variance inside the sqrt, averaged.
    private func expectedStat(_ x: Tensor, groupSize g: Int) -> [Double] {
        let (n, chw) = (x.shape[0], x.count / x.shape[0])
        let m = n / g
        var stat = [Double](repeating: 0, count: n)
        for group in 0..<m {
            let members = (0..<n).filter { $0 % m == group }
            XCTAssertEqual(members.count, g)
            var total = 0.0
            for k in 0..<chw {
                let vals = members.map { Double(x.data[$0 * chw + k]) }
                let mean = vals.reduce(0, +) / Double(g)
                let variance = vals.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(g)
                total += (variance + 1e-8).squareRoot()
            }
            for s in members { stat[s] = total / Double(chw) }
        }
        return stat
    }

    private func check(_ x: Tensor, groupSize: Int, effectiveGroup: Int,
                       file: StaticString = #filePath, line: UInt = #line) throws {
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let y = try minibatchStddev(Var(x), groupSize: groupSize, comm: LocalCollective()).value
        XCTAssertEqual(y.shape, [n, c + 1, h, w], file: file, line: line)
        let stat = expectedStat(x, groupSize: effectiveGroup)
        for s in 0..<n {
            // The input features pass through unchanged.
            XCTAssertEqual(Array(y.data[s * (c + 1) * h * w ..< (s * (c + 1) + c) * h * w]),
                           Array(x.data[s * c * h * w ..< (s + 1) * c * h * w]), "sample \(s)", file: file, line: line)
            // The appended map is constant and equals the group's statistic.
            for p in 0..<h * w {
                XCTAssertEqual(Double(y.data[(s * (c + 1) + c) * h * w + p]), stat[s], accuracy: 1e-5 * max(1, stat[s]),
                               "sample \(s), pixel \(p), group size \(groupSize)", file: file, line: line)
            }
        }
    }

    func testWholeMinibatchMatchesDirectComputation() throws {
        try check(TestTensors.normal([8, 3, 2, 2], seed: 1, scale: 2), groupSize: 0, effectiveGroup: 8)
    }

    func testGroupsAreStridedAsInTheAuthorsCode() throws {
        // N = 8, G = 4: two groups, {0, 2, 4, 6} and {1, 3, 5, 7}.
        let x = TestTensors.normal([8, 3, 2, 2], seed: 2)
        try check(x, groupSize: 4, effectiveGroup: 4)
        try check(x, groupSize: 2, effectiveGroup: 2)
        // Scaling the odd samples changes only the statistic of the odd group.
        var odd = x
        for s in stride(from: 1, to: 8, by: 2) { for k in 0..<12 { odd.data[s * 12 + k] *= 3 } }
        let y0 = try minibatchStddev(Var(x), groupSize: 4, comm: LocalCollective()).value
        let y1 = try minibatchStddev(Var(odd), groupSize: 4, comm: LocalCollective()).value
        let statIndex = { (s: Int) in (s * 4 + 3) * 4 }
        XCTAssertEqual(y0.data[statIndex(0)], y1.data[statIndex(0)])
        XCTAssertEqual(y0.data[statIndex(2)], y1.data[statIndex(2)])
        XCTAssertEqual(y1.data[statIndex(1)], 3 * y0.data[statIndex(1)], accuracy: 1e-5)
    }

    func testGroupLargerThanBatchIsClampedAndNonDividingGroupThrows() throws {
        let x = TestTensors.normal([4, 2, 2, 2], seed: 3)
        try check(x, groupSize: 16, effectiveGroup: 4)
        XCTAssertThrowsError(try minibatchStddev(Var(Tensor.zeros([6, 2, 2, 2])), groupSize: 4, comm: LocalCollective())) {
            let text = "\($0)"
            XCTAssertTrue(text.contains("4") && text.contains("6"), text)
        }
    }

    func testIdenticalSamplesGiveSqrtEpsilon() throws {
        let one = TestTensors.normal([1, 2, 2, 2], seed: 4)
        let x = Tensor.concat([one, one, one, one], axis: 0)
        let y = try minibatchStddev(Var(x), groupSize: 0, comm: LocalCollective()).value
        XCTAssertEqual(y.data[2 * 4], 1e-4, accuracy: 1e-7)
    }

    func testGradientsMatchFiniteDifferences() throws {
        for g in [0, 2] {
            assertGradientsMatch([TestTensors.normal([4, 2, 2, 2], seed: 5)], "group size \(g)") { xs in
                try randomlyWeighted(minibatchStddev(xs[0], groupSize: g, comm: LocalCollective()))
            }
            // WGAN-GP differentiates D's input gradient again: second order too.
            assertSecondOrderGradientsMatch([TestTensors.normal([4, 2, 2, 2], seed: 6)], "group size \(g)") { xs in
                try quadraticallyWeighted(minibatchStddev(xs[0], groupSize: g, comm: LocalCollective()))
            }
        }
    }

    func testDiscriminatorScoresDependOnTheOtherSamples() throws {
        // With the stddev map, D's score of a sample depends on the rest of the minibatch.
        let D = Discriminator(smallConfig(resolution: 4), seed: 7)
        let x = TestTensors.normal([4, 3, 4, 4], seed: 8)
        var y = x
        for k in 48..<96 { y.data[k] *= 4 }   // change sample 1 only
        let a = try D(Var(x), resolution: 4).value, b = try D(Var(y), resolution: 4).value
        XCTAssertNotEqual(a.data[0], b.data[0])
    }

    /// Two minibatches stacked: each gets its own groups and statistic, values and gradients as
    /// from two separate calls.
    func testStackedMinibatchesEqualSeparateCalls() throws {
        let a = TestTensors.normal([4, 3, 2, 2], seed: 21), b = TestTensors.normal([4, 3, 2, 2], seed: 22) * 3
        for g in [0, 2] {
            let (va, vb) = (Var(a, requiresGrad: true), Var(b, requiresGrad: true))
            let separate = try Var.concat([minibatchStddev(va, groupSize: g, comm: LocalCollective()),
                                           minibatchStddev(vb, groupSize: g, comm: LocalCollective())], axis: 0)
            let both = Var(try Var.concat([Var(a), Var(b)], axis: 0).value, requiresGrad: true)
            let stacked = try minibatchStddev(both, groupSize: g, comm: LocalCollective(), minibatches: 2)
            XCTAssertEqual(stacked.value, separate.value, "group size \(g)")
            let gSeparate = try gradients(of: randomProjection(separate), wrt: [va, vb])
            let gStacked = try gradients(of: randomProjection(stacked), wrt: [both])[0]
            XCTAssertEqual(gStacked.value.data, gSeparate[0].value.data + gSeparate[1].value.data, "group size \(g)")
        }
        XCTAssertThrowsError(try minibatchStddev(Var(a), groupSize: 0, comm: LocalCollective(), minibatches: 3))
    }

    /// Three ranks, two stacked minibatches of 2 samples a rank: rank r's statistic for minibatch b
    /// is the one of the 6-sample global minibatch b (rank 0's block, rank 1's, rank 2's).
    func testStackedMinibatchesAcrossRanksUseEachMinibatchsGlobalBatch() throws {
        let (ranks, local) = (3, 2)
        let blocks = (0..<ranks).map { r in (0..<2).map { b in TestTensors.normal([local, 2, 2, 2], seed: UInt64(30 + 2 * r + b)) } }
        let gathered = try (0..<ranks).flatMap { r in try Var.concat([Var(blocks[r][0]), Var(blocks[r][1])], axis: 0).value.data }
        let globals = try (0..<2).map { b in
            try minibatchStddev(Var.concat((0..<ranks).map { Var(blocks[$0][b]) }, axis: 0), groupSize: 0,
                                comm: LocalCollective()).value
        }
        for r in 0..<ranks {
            let mine = try Var.concat([Var(blocks[r][0]), Var(blocks[r][1])], axis: 0)
            let y = try minibatchStddev(mine, groupSize: 0, comm: GatheredCollective(rank: r, size: ranks, gathered: gathered),
                                        minibatches: 2, rankCounts: [Int](repeating: local, count: ranks)).value
            let rowFloats = 3 * 2 * 2
            for b in 0..<2 {
                let want = Array(globals[b].data[r * local * rowFloats ..< (r + 1) * local * rowFloats])
                let got = Array(y.data[b * local * rowFloats ..< (b + 1) * local * rowFloats])
                XCTAssertEqual(got, want, "rank \(r), minibatch \(b)")
            }
        }
    }

    func testDiscriminatorScoresStackedMinibatchesAsSeparateCalls() throws {
        let D = Discriminator(smallConfig(resolution: 8), seed: 7)
        let reals = TestTensors.normal([3, 3, 8, 8], seed: 8), fakes = TestTensors.normal([3, 3, 8, 8], seed: 9)
        let both = try D(Var.concat([Var(reals), Var(fakes)], axis: 0), resolution: 8, alpha: 0.5, minibatches: 2).value
        let separate = try D(Var(reals), resolution: 8, alpha: 0.5).value.data + D(Var(fakes), resolution: 8, alpha: 0.5).value.data
        for (x, y) in zip(both.data, separate) { XCTAssertEqual(x, y, accuracy: 1e-5 * max(1, abs(y))) }
    }
}

/// Rank `rank` of `size` in a forward pass whose all-gather result is known in advance.
final class GatheredCollective: Collective {
    let rank: Int, size: Int
    let gathered: [Float]
    init(rank: Int, size: Int, gathered: [Float]) { (self.rank, self.size, self.gathered) = (rank, size, gathered) }
    func allGather(_ x: [Float]) -> [Float] {
        precondition(Array(gathered[rank * x.count ..< (rank + 1) * x.count]) == x, "rank \(rank) sent another block")
        return gathered
    }
    func reduceScatter(_ x: [Float]) -> [Float] { fatalError("forward only") }
    func allReduceSum(_ x: inout [Float]) { fatalError("forward only") }
}
