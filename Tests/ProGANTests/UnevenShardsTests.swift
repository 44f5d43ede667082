import XCTest
import TensorKit
import Autograd
@testable import ProGAN
import TestSupport

/// A global minibatch dealt out unevenly over ranks (zero samples on a rank included), simulated
/// in one process by `replayRanks`: the same statistics and gradients as one process.
final class UnevenShardsTests: XCTestCase {
    func testBatchShardsDealAsEvenlyAsPossibleInRankOrder() {
        XCTAssertEqual(BatchShards(total: 14, parts: 8).counts, [2, 2, 2, 2, 2, 2, 1, 1])
        XCTAssertEqual(BatchShards(total: 8, parts: 3).counts, [3, 3, 2])
        XCTAssertEqual(BatchShards(total: 2, parts: 3).counts, [1, 1, 0])
        XCTAssertEqual(BatchShards(total: 16, parts: 4).counts, [4, 4, 4, 4])
        for total in 0...20 {
            for parts in 1...9 {
                let s = BatchShards(total: total, parts: parts)
                let ranges = (0..<parts).map { s.range(of: $0) }
                XCTAssertEqual(ranges.flatMap { Array($0) }, Array(0..<total), "\(total) on \(parts)")
                XCTAssertLessThanOrEqual(s.counts.max()! - s.counts.min()!, 1, "\(total) on \(parts)")
            }
        }
    }

    /// The padding fallback of the variable-count collectives (what a `Collective` without
    /// v-collectives gets), on 4 simulated ranks holding 2, 0, 3, 1 elements.
    func testVariableCountCollectivesFallBackOnPaddedEqualCounts() throws {
        let counts = [2, 0, 3, 1]
        let results = try replayRanks(4) { comm -> ([Float], [Float]) in
            let r = Float(comm.rank)
            return (comm.allGather((0..<counts[comm.rank]).map { 10 * r + Float($0) }, counts: counts),
                    comm.reduceScatter((0..<6).map { r * Float($0) }, counts: counts))
        }
        for (r, (gathered, block)) in results.enumerated() {
            XCTAssertEqual(gathered, [0, 1, 20, 21, 22, 30], "rank \(r)")
            let first = counts[..<r].reduce(0, +)
            XCTAssertEqual(block, (first ..< first + counts[r]).map { 6 * Float($0) }, "rank \(r)")   // (0+1+2+3) * j
        }
    }

    /// Each rank's minibatch-stddev output is its rows of the one-process output (bit for bit:
    /// the gathered batch is the same), for one and two stacked minibatches, whole-batch and
    /// smaller groups, with a rank holding nothing; input gradients are its rows of the
    /// one-process gradient (to summation order).
    func testMinibatchStddevOnUnevenShardsIsTheOneProcessResult() throws {
        for (total, ranks, group) in [(8, 3, 0), (8, 3, 4), (2, 3, 0), (5, 4, 0), (6, 4, 2)] {
            let shards = BatchShards(total: total, parts: ranks)
            for minibatches in [1, 2] {
                let blocks = (0..<minibatches).map { TestTensors.normal([total, 2, 2, 2], seed: UInt64(60 + $0)) * Float(1 + $0) }
                let weights = (0..<minibatches).map { TestTensors.normal([total, 3, 2, 2], seed: UInt64(70 + $0)) }
                // One process: each minibatch on its own.
                var want: [(y: Tensor, g: Tensor)] = []
                for b in 0..<minibatches {
                    let x = Var(blocks[b], requiresGrad: true)
                    let y = try minibatchStddev(x, groupSize: group, comm: LocalCollective())
                    want.append((y.value, try gradients(of: (y * Var(weights[b])).sum(), wrt: [x])[0].value))
                }
                let got = try replayRanks(ranks) { comm -> (y: Tensor, g: Tensor) in
                    let mine = shards.range(of: comm.rank)
                    let x = Var(try Tensor.concat((0..<minibatches).map { try rows(blocks[$0], mine) }, axis: 0), requiresGrad: true)
                    let w = try Tensor.concat((0..<minibatches).map { try rows(weights[$0], mine) }, axis: 0)
                    let y = try minibatchStddev(x, groupSize: group, comm: comm, minibatches: minibatches,
                                                rankCounts: shards.counts)
                    return (y.value, try gradients(of: (y * Var(w)).sum(), wrt: [x])[0].value)
                }
                for r in 0..<ranks {
                    let mine = shards.range(of: r)
                    let what = "\(total) samples, \(ranks) ranks, group \(group), \(minibatches) minibatch(es), rank \(r)"
                    XCTAssertEqual(got[r].y, try Tensor.concat((0..<minibatches).map { try rows(want[$0].y, mine) }, axis: 0), what)
                    let g = try Tensor.concat((0..<minibatches).map { try rows(want[$0].g, mine) }, axis: 0)
                    XCTAssertEqual(got[r].g.shape, g.shape, what)
                    // The gradient sums the same total * CHW terms of size <= 1 per element, in
                    // another order: far below 1e-5 of the largest.
                    let scale = want.map { $0.g.data.map(abs).max() ?? 0 }.max()!
                    for (a, b) in zip(got[r].g.data, g.data) { XCTAssertEqual(a, b, accuracy: 1e-5 * scale, what) }
                }
            }
        }
    }

    /// The whole D step (D on stacked reals and fakes, drift, the gradient penalty through the
    /// stddev's all-gather to second order) and the G step (G on this rank's latents, D on its
    /// fakes): the ranks' parameter gradients sum to the one-process gradients, with shards of
    /// 3, 3, 2 and 1, 1, 0 and 2, 1, 1, 1 samples, at a fade-in (both fromRGB paths live).
    func testTrainingGradientsOnUnevenShardsSumToTheOneProcessGradients() throws {
        let config = smallConfig(resolution: 8)
        let (res, alpha) = (8, Float(0.4))
        for (total, ranks) in [(8, 3), (2, 3), (5, 4)] {
            let shards = BatchShards(total: total, parts: ranks)
            let reals = TestTensors.normal([total, 3, res, res], seed: 80)
            let fakes = TestTensors.normal([total, 3, res, res], seed: 81, scale: 0.6)
            let latents = TestTensors.normal([total, config.latentSize], seed: 82)
            let mix = (0..<total).map { Float($0 + 1) / Float(total + 1) }
            func gradientsOnShard(_ range: Range<Int>, comm: Collective) throws -> [String: [Float]] {
                let D = Discriminator(config, seed: 5), G = Generator(config, seed: 6)
                randomizeBiases(D.parameters, seed: 90)
                _ = try accumulateDiscriminatorGradients(D, reals: Var(try rows(reals, range)), fakes: Var(try rows(fakes, range)),
                                                         mix: Array(mix[range]), resolution: res, alpha: alpha,
                                                         globalBatch: total, comm: comm, config: LossConfig(),
                                                         into: D.parameters.parameters)
                var out: [String: [Float]] = [:]
                for p in D.parameters.parameters { if let g = p.grad { out["D step " + p.name!] = g.data } }
                D.parameters.zeroGradients()
                let fakesG = try G(Var(try rows(latents, range)), resolution: res, alpha: alpha)
                let (lossG, _) = try generatorLoss(D, fakes: fakesG, resolution: res, alpha: alpha, globalBatch: total,
                                                   comm: comm, config: LossConfig())
                try accumulateGradients(of: lossG, into: G.parameters.parameters)
                for p in G.parameters.parameters { if let g = p.grad { out["G step " + p.name!] = g.data } }
                return out
            }
            let want = try gradientsOnShard(0..<total, comm: LocalCollective())
            let got = try replayRanks(ranks) { comm in try gradientsOnShard(shards.range(of: comm.rank), comm: comm) }
            XCTAssertGreaterThan(want.count, 20)
            for r in 0..<ranks { XCTAssertEqual(Set(got[r].keys), Set(want.keys), "rank \(r): the same parameters in every rank's graph") }
            // Per step, the largest difference against that step's largest gradient (the criterion
            // of the multi-rank training test): only the order of summing samples differs.
            for step in ["D step", "G step"] {
                var (diff, scale): (Float, Float) = (0, 0)
                for (name, w) in want where name.hasPrefix(step) {
                    let sum = (0..<ranks).map { got[$0][name]! }.reduce([Float](repeating: 0, count: w.count)) { zip($0, $1).map(+) }
                    diff = max(diff, zip(sum, w).map { abs($0 - $1) }.max() ?? 0)
                    scale = max(scale, w.map(abs).max() ?? 0)
                }
                XCTAssertGreaterThan(scale, 0, step)
                XCTAssertLessThan(diff, 1e-5 * scale, "\(step), \(total) samples on \(ranks) ranks")
            }
        }
    }
}

/// Rows `range` of axis 0.
private func rows(_ t: Tensor, _ range: Range<Int>) throws -> Tensor {
    t.narrowed(axis: 0, start: range.lowerBound, length: range.count)
}
