import XCTest
import TensorKit
import Autograd
@testable import ProGAN
import TestSupport

/// Spatially decomposed steps (images cut into slabs of rows over the ranks of a group) on
/// simulated ranks (`replayRanks`): G's slabs are the rows of the whole images, and the D step
/// (reals and fakes, drift, the gradient penalty to second order through halo exchanges, slab
/// gathers and the minibatch stddev) and the G step give parameter gradients whose sum over
/// ranks is the one-process gradient, with the statistics summing to the one-process ones.
final class SpatialStepTests: XCTestCase {
    /// (ranks, minibatch, resolution, alpha, what the layout must be: D x S)
    static let cases: [(Int, Int, Int, Float, [Int])] = [
        (2, 1, 8, 0.4, [1, 2]),      // one image, two slabs, during the fade-in to 8x8
        (4, 2, 16, 0.4, [2, 2]),     // 2 images x 2 slabs (the 4 ranks with minibatch 2)
        (4, 1, 16, 1, [1, 4]),       // slabs of 4 rows at 16x16 and 2 rows at 8x8
        (8, 3, 16, 0.5, [1, 8]),     // slabs of 2 rows; 8x8 gathered (the 8 ranks, minibatch 3)
    ]

    func testLayoutsOfTheCases() {
        for (ranks, minibatch, res, _, want) in Self.cases {
            let l = SpatialLayout(ranks: ranks, minibatch: minibatch, resolution: res)
            XCTAssertEqual([l.dataGroups, l.spatialRanks], want, "\(ranks) ranks, minibatch \(minibatch) at \(res)")
        }
    }

    /// The paper's networks on 8 ranks (README's example): data parallelism up to 128x128, then
    /// 2 groups x 4 slabs for 14 and 6 images, one group of 8 slabs for 3; on 64 ranks at 1024,
    /// 3 x 16 (not 1 x 64: 16-row slabs would leave 64x64 and below, 32% of an image's work,
    /// whole on every rank; 64-row slabs leave 16x16 and below, 4%).
    func testPaperNetworksDecomposition() {
        let paper = NetworkConfig()
        func layout(_ ranks: Int, _ minibatch: Int, _ r: Int) -> [Int] {
            let l = SpatialLayout(ranks: ranks, minibatch: minibatch, resolution: r, levelCost: { paper.levelCost(at: $0) })
            return [l.dataGroups, l.spatialRanks]
        }
        XCTAssertEqual(layout(8, 16, 128), [8, 1])
        XCTAssertEqual(layout(8, 14, 256), [2, 4])
        XCTAssertEqual(layout(8, 6, 512), [2, 4])
        XCTAssertEqual(layout(8, 3, 1024), [1, 8])
        XCTAssertEqual(layout(64, 3, 1024), [3, 16])
    }

    /// A slab of real images fades as the rows of the whole images (2x2 blocks never straddle
    /// a slab edge), down to slabs of 2 rows of an 8x8 image.
    func testRealImageFadeOfASlabIsTheRowsOfTheWholeFade() {
        for (res, slabs) in [(8, 2), (8, 4), (16, 8), (32, 2)] {
            let images = TestTensors.normal([2, 3, res, res], seed: 83)
            let whole = images.fadedReals(alpha: 0.3)
            let h = res / slabs
            for s in 0..<slabs {
                XCTAssertEqual(images.narrowed(axis: 2, start: s * h, length: h).fadedReals(alpha: 0.3),
                               whole.narrowed(axis: 2, start: s * h, length: h), "\(res)x\(res), slab \(s) of \(slabs)")
            }
        }
    }

    /// Each rank's G output is its rows of its group's images of the one-process G.
    func testGeneratorSlabsAreRowsOfTheWholeImages() throws {
        for (ranks, minibatch, res, alpha, _) in Self.cases {
            let config = smallConfig(resolution: res)
            let G = Generator(config, seed: 6)
            randomizeBiases(G.parameters, seed: 91)
            let latents = TestTensors.normal([minibatch, config.latentSize], seed: 82)
            let whole = try GradMode.with(false) { try G(Var(latents), resolution: res, alpha: alpha).value }
            let layout = SpatialLayout(ranks: ranks, minibatch: minibatch, resolution: res)
            let got = try replayRanks(ranks, maxPasses: 400) { comm -> Tensor in
                let parts = StepDecomposition(layout, rank: comm.rank, world: comm, stddev: comm)
                let z = latents.narrowed(axis: 0, start: parts.samples.lowerBound, length: parts.samples.count)
                return try GradMode.with(false) { try G(Var(z), resolution: res, alpha: alpha, spatial: parts.spatial).value }
            }
            let scale = whole.data.map(abs).max()!
            for rank in 0..<ranks {
                let s = layout.samples(of: rank), rows = layout.rows(at: res, of: rank)
                let want = whole.narrowed(axis: 0, start: s.lowerBound, length: s.count)
                    .narrowed(axis: 2, start: rows.lowerBound, length: rows.count)
                XCTAssertEqual(got[rank].shape, want.shape, "rank \(rank)")
                // The same sums of the same terms, blocked differently by sgemm: float rounding.
                for (a, b) in zip(got[rank].data, want.data) {
                    XCTAssertEqual(a, b, accuracy: 1e-5 * scale, "\(ranks) ranks at \(res), rank \(rank)")
                }
            }
        }
    }

    func testStepGradientsSumToTheOneProcessGradients() throws {
        for (ranks, minibatch, res, alpha, _) in Self.cases {
            let config = smallConfig(resolution: res)
            let reals = TestTensors.normal([minibatch, 3, res, res], seed: 80)
            let fakes = TestTensors.normal([minibatch, 3, res, res], seed: 81, scale: 0.6)
            let latents = TestTensors.normal([minibatch, config.latentSize], seed: 82)
            let mix = (0..<minibatch).map { Float($0 + 1) / Float(minibatch + 1) }
            func run(_ parts: StepDecomposition?, comm: Collective) throws -> (grads: [String: [Float]], stats: StepStats) {
                let D = Discriminator(config, seed: 5), G = Generator(config, seed: 6)
                randomizeBiases(D.parameters, seed: 90)
                randomizeBiases(G.parameters, seed: 91)
                let samples = parts?.samples ?? 0..<minibatch
                func mine(_ t: Tensor) -> Tensor {
                    var x = t.narrowed(axis: 0, start: samples.lowerBound, length: samples.count)
                    if let rows = parts?.slabRows { x = x.narrowed(axis: 2, start: rows.lowerBound, length: rows.count) }
                    return x
                }
                var stats = try accumulateDiscriminatorGradients(
                    D, reals: Var(mine(reals)), fakes: Var(mine(fakes)), mix: Array(mix[samples]), resolution: res,
                    alpha: alpha, globalBatch: minibatch, comm: parts?.batch ?? comm, config: LossConfig(),
                    into: D.parameters.parameters, rankCounts: parts?.batchCounts, spatial: parts?.spatial)
                var out: [String: [Float]] = [:]
                for p in D.parameters.parameters { if let g = p.grad { out["D step " + p.name!] = g.data } }
                D.parameters.zeroGradients()
                let z = latents.narrowed(axis: 0, start: samples.lowerBound, length: samples.count)
                let fakesG = try G(Var(z), resolution: res, alpha: alpha, spatial: parts?.spatial)
                let (lossG, statsG) = try generatorLoss(D, fakes: fakesG, resolution: res, alpha: alpha, globalBatch: minibatch,
                                                        comm: parts?.batch ?? comm, config: LossConfig(),
                                                        rankCounts: parts?.batchCounts, spatial: parts?.spatial)
                try accumulateGradients(of: lossG, into: G.parameters.parameters)
                for p in G.parameters.parameters { if let g = p.grad { out["G step " + p.name!] = g.data } }
                stats = stats.merging(statsG)
                return (out, stats)
            }
            let what = "\(ranks) ranks, minibatch \(minibatch) at \(res), alpha \(alpha)"
            let want = try run(nil, comm: LocalCollective())
            let layout = SpatialLayout(ranks: ranks, minibatch: minibatch, resolution: res)
            let got = try replayRanks(ranks, maxPasses: 400) { comm in
                try run(StepDecomposition(layout, rank: comm.rank, world: comm, stddev: comm), comm: comm)
            }
            XCTAssertGreaterThan(want.grads.count, 20)
            for r in 0..<ranks {
                XCTAssertEqual(Set(got[r].grads.keys), Set(want.grads.keys), "\(what), rank \(r): the same parameters in every graph")
            }
            // Per step, the largest difference against that step's largest gradient (the
            // criterion of the multi-rank tests): the sums are the same terms in another order.
            for step in ["D step", "G step"] {
                var (diff, scale): (Float, Float) = (0, 0)
                for (name, w) in want.grads where name.hasPrefix(step) {
                    let sum = (0..<ranks).map { got[$0].grads[name]! }.reduce([Float](repeating: 0, count: w.count)) { zip($0, $1).map(+) }
                    diff = max(diff, zip(sum, w).map { abs($0 - $1) }.max() ?? 0)
                    scale = max(scale, w.map(abs).max() ?? 0)
                }
                XCTAssertGreaterThan(scale, 0, step)
                XCTAssertLessThan(diff, 1e-5 * scale, "\(step), \(what)")
            }
            for key in StepStats.CodingKeys.allCases {
                guard let w = want.stats[keyPath: key.field] else { continue }
                let sum = (0..<ranks).reduce(0.0) { $0 + (got[$1].stats[keyPath: key.field] ?? .nan) }
                XCTAssertEqual(sum, w, accuracy: 1e-5 * max(1, abs(w)), "\(key.rawValue), \(what)")
            }
        }
    }
}
