import XCTest
import TensorKit
import Autograd
@testable import ProGAN
import TestSupport

/// The D and G losses on one rank, against hand computations from D's outputs.
final class LossTests: XCTestCase {
    let resolution = 8
    let alpha: Float = 0.6
    let mix: [Float] = [0.1, 0.5, 0.9, 0.3]

    private func tinyD(seed: UInt64 = 41) -> Discriminator {
        let D = Discriminator(smallConfig(resolution: 8), seed: seed)
        for (i, p) in D.parameters.parameters.enumerated() where p.name!.hasSuffix("/bias") {
            p.assign(TestTensors.normal(p.shape, seed: 500 &+ UInt64(i), scale: 0.2))
        }
        return D
    }

    private var reals: Tensor { TestTensors.normal([4, 3, 8, 8], seed: 42) }
    private var fakes: Tensor { TestTensors.normal([4, 3, 8, 8], seed: 43, scale: 0.5) }

    private func scores(_ D: Discriminator, _ x: Tensor) throws -> [Double] {
        try D(Var(x), resolution: resolution, alpha: alpha).value.data.map(Double.init)
    }

    private func mean(_ xs: [Double]) -> Double { xs.reduce(0, +) / Double(xs.count) }

    /// Per-sample norms of the gradient of sum(D(xhat)) with respect to xhat, by a separate
    /// first-order gradients() call.
    private func gradientNorms(_ D: Discriminator, _ xhat: Tensor) throws -> [Double] {
        let v = Var(xhat, requiresGrad: true)
        let g = try gradients(of: D(v, resolution: resolution, alpha: alpha).sum(), wrt: [v])[0].value
        let per = g.count / g.shape[0]
        return (0..<g.shape[0]).map { s in
            (0..<per).reduce(0.0) { $0 + Double(g.data[s * per + $1]) * Double(g.data[s * per + $1]) }.squareRoot()
        }
    }

    /// xhat = real + mix * (fake - real), per sample.
    private func interpolate(_ r: Tensor, _ f: Tensor) -> Tensor {
        let per = r.count / r.shape[0]
        var out = r
        for i in 0..<r.count { out.data[i] = r.data[i] + (f.data[i] - r.data[i]) * mix[i / per] }
        return out
    }

    private func lossValue(_ D: Discriminator, config: LossConfig, globalBatch: Int = 4) throws -> (Double, StepStats) {
        let (loss, stats) = try discriminatorLoss(D, reals: Var(reals), fakes: Var(fakes), mix: mix, resolution: resolution,
                                                  alpha: alpha, globalBatch: globalBatch, comm: LocalCollective(),
                                                  config: config)
        XCTAssertEqual(loss.shape.reduce(1, *), 1)
        return (loss.value.sumAll(), stats)
    }

    /// The D step's two-pass accumulation (loss terms, then the penalty, each graph freed) gives
    /// the gradient of the one-graph loss and the same statistics, for WGAN-GP and LSGAN.
    func testTwoPassDiscriminatorGradientsEqualTheOneGraphGradient() throws {
        for kind in [LossConfig.Kind.wgangp, .lsgan] {
            var config = LossConfig()
            config.kind = kind
            let D = tinyD()
            let params = D.parameters.parameters
            let (loss, stats) = try discriminatorLoss(D, reals: Var(reals), fakes: Var(fakes), mix: mix, resolution: resolution,
                                                      alpha: alpha, globalBatch: 4, comm: LocalCollective(), config: config)
            let whole = try gradients(of: loss, wrt: params).map(\.value)
            D.parameters.zeroGradients()
            // The phase clock on: the penalty's time must land in its phases (WGAN-GP only).
            Profiler.setLevel(.phases)
            Profiler.reset()
            let twoPass = try accumulateDiscriminatorGradients(D, reals: Var(reals), fakes: Var(fakes), mix: mix,
                                                               resolution: resolution, alpha: alpha, globalBatch: 4,
                                                               comm: LocalCollective(), config: config, into: params)
            let penaltySeconds = Profiler.snapshot().seconds(in: [.penalty, .penaltyGradient])
            Profiler.setLevel(.off)
            for (p, g) in zip(params, whole) {
                let got = try XCTUnwrap(p.grad, "\(kind): no gradient for \(p.name ?? "?")")
                assertClose(got.data, g.data, rtol: 1e-5, atol: 1e-6, "\(kind) \(p.name ?? "?")")
            }
            XCTAssertEqual(twoPass.presentKeys, stats.presentKeys, "\(kind)")
            for k in stats.presentKeys { XCTAssertEqual(twoPass[k]!, stats[k]!, accuracy: 1e-5 * max(1, abs(stats[k]!)), "\(kind) \(k)") }
            XCTAssertEqual(penaltySeconds > 0, kind == .wgangp)
        }
    }

    func testWGANGPMatchesHandComputation() throws {
        let D = tinyD()
        let config = LossConfig()
        XCTAssertEqual(config.kind, .wgangp)
        XCTAssertEqual(config.gpLambda, 10)
        XCTAssertEqual(config.gpTarget, 1)
        XCTAssertEqual(config.drift, 0.001)
        let (real, fake) = (try scores(D, reals), try scores(D, fakes))
        let norms = try gradientNorms(D, interpolate(reals, fakes))
        // A penalty that matters: norms away from the target.
        XCTAssertGreaterThan(norms.map { abs($0 - 1) }.max()!, 0.05)
        let gp = 10 * mean(norms.map { ($0 - 1) * ($0 - 1) })
        let drift = 0.001 * mean(real.map { $0 * $0 })
        let expected = mean(fake) - mean(real) + drift + gp
        let (loss, stats) = try lossValue(D, config: config)
        XCTAssertEqual(loss, expected, accuracy: 1e-5 * max(1, abs(expected)))
        XCTAssertEqual(stats.gradientPenalty!, gp, accuracy: 1e-5 * max(1, gp))
        XCTAssertEqual(stats.drift!, drift, accuracy: 1e-6)
        XCTAssertEqual(stats.realScores!, real.reduce(0, +), accuracy: 1e-5)
        XCTAssertEqual(stats.fakeScores!, fake.reduce(0, +), accuracy: 1e-5)
        XCTAssertEqual(stats.gradientNorms!, norms.reduce(0, +), accuracy: 1e-4)
    }

    func testWGANGPWithOtherTargetAndWeights() throws {
        let D = tinyD(seed: 44)
        var config = LossConfig()
        config.gpLambda = 5
        config.gpTarget = 2
        config.drift = 0.1
        let (real, fake) = (try scores(D, reals), try scores(D, fakes))
        let norms = try gradientNorms(D, interpolate(reals, fakes))
        let expected = mean(fake) - mean(real) + 0.1 * mean(real.map { $0 * $0 })
            + 5 / 4 * mean(norms.map { ($0 - 2) * ($0 - 2) })
        XCTAssertEqual(try lossValue(D, config: config).0, expected, accuracy: 1e-5 * max(1, abs(expected)))
    }

    func testLossIsScaledByTheGlobalMinibatch() throws {
        // A rank holding 4 of 8 samples contributes half of the mean over its 4.
        let D = tinyD()
        let (local, _) = try lossValue(D, config: LossConfig(), globalBatch: 4)
        let (share, _) = try lossValue(D, config: LossConfig(), globalBatch: 8)
        XCTAssertEqual(share * 2, local, accuracy: 1e-5 * max(1, abs(local)))
    }

    /// The gradient-penalty term differentiated with respect to D's weights (double backprop),
    /// against central differences of the loss. D's last dense layer is perturbed: its weights
    /// reach the input gradient through every backward rule, and no leaky-ReLU kink lies after it.
    func testWGANGPGradientWithRespectToLastLayerMatchesFiniteDifferences() throws {
        let D = tinyD()
        let config = LossConfig()
        let (loss, _) = try discriminatorLoss(D, reals: Var(reals), fakes: Var(fakes), mix: mix, resolution: resolution,
                                              alpha: alpha, globalBatch: 4, comm: LocalCollective(), config: config)
        for name in ["D/4x4/dense1/weight", "D/4x4/dense1/bias"] {
            let p = D.parameters[name]!
            let analytic = try gradients(of: loss, wrt: [p])[0].value
            let w0 = p.value
            let eps: Float = 0.05
            for j in 0..<w0.count {
                func at(_ k: Float) throws -> (Double, Double) {
                    var w = w0
                    w.data[j] += k * eps
                    p.assign(w)
                    return (try lossValue(D, config: config).0, Double(w.data[j]) - Double(w0.data[j]))
                }
                let (p1, m1, p2, m2) = (try at(1), try at(-1), try at(2), try at(-2))
                p.assign(w0)
                let d1 = (p1.0 - m1.0) / (p1.1 - m1.1), d2 = (p2.0 - m2.0) / (p2.1 - m2.1)
                let numeric = (4 * d1 - d2) / 3
                XCTAssertEqual(Double(analytic.data[j]), numeric, accuracy: 1e-3 + 1e-3 * abs(numeric), "\(name)[\(j)]")
            }
        }
    }

    func testLSGANMatchesHandComputation() throws {
        let D = tinyD()
        var config = LossConfig()
        config.kind = .lsgan
        let (real, fake) = (try scores(D, reals), try scores(D, fakes))
        // The authors' weighting: the fake term counts 0.1 (LossConfig's default), and any other
        // weight as set.
        for weight in [Float(0.1), 1, 0.35] {
            config.lsganFakeWeight = weight
            let expected = 0.5 * mean(real.map { ($0 - 1) * ($0 - 1) }) + 0.5 * Double(weight) * mean(fake.map { $0 * $0 })
            XCTAssertEqual(try lossValue(D, config: config).0, expected, accuracy: 1e-5 * max(1, abs(expected)), "weight \(weight)")
        }
        XCTAssertEqual(LossConfig().lsganFakeWeight, 0.1)
    }

    func testGeneratorLosses() throws {
        let D = tinyD()
        let fake = try scores(D, fakes)
        var config = LossConfig()
        let (wgan, stats) = try generatorLoss(D, fakes: Var(fakes), resolution: resolution, alpha: alpha, globalBatch: 4,
                                              comm: LocalCollective(), config: config)
        XCTAssertEqual(wgan.value.sumAll(), -mean(fake), accuracy: 1e-5)
        XCTAssertEqual(stats.lossG!, -mean(fake), accuracy: 1e-5)
        config.kind = .lsgan
        let (ls, _) = try generatorLoss(D, fakes: Var(fakes), resolution: resolution, alpha: alpha, globalBatch: 4,
                                        comm: LocalCollective(), config: config)
        XCTAssertEqual(ls.value.sumAll(), 0.5 * mean(fake.map { ($0 - 1) * ($0 - 1) }), accuracy: 1e-5)
    }

    func testGeneratorLossGradientReachesG() throws {
        // -D(G(z)) differentiated through D into G's parameters: during the fade into 8x8 every
        // parameter of G (both toRGBs included) is on the path and gets a nonzero gradient.
        let G = Generator(smallConfig(resolution: 8), seed: 45)
        let D = tinyD()
        let z = Var(TestTensors.normal([4, 16], seed: 46))
        let (loss, _) = try generatorLoss(D, fakes: G(z, resolution: 8, alpha: alpha), resolution: 8, alpha: alpha,
                                          globalBatch: 4, comm: LocalCollective(), config: LossConfig())
        let gs = try gradients(of: loss, wrt: G.parameters.parameters)
        for (p, g) in zip(G.parameters.parameters, gs) {
            XCTAssertTrue(g.value.data.contains { $0 != 0 }, "no gradient for \(p.name!)")
        }
    }
}

/// The authors' gradient-penalty scale: their D takes a full-resolution input and average-pools it
/// down to the current resolution, and the penalty's norm is taken with respect to that input.
final class FullResolutionPenaltyTests: XCTestCase {
    let mix: [Float] = [0.2, 0.7, 0.45]

    /// The reference does what the authors' graph does: the mixed batch at R is nearest-upscaled to
    /// F, D sees it pooled back down (so its values are exactly the native mix), and the gradient is
    /// taken with respect to the F x F input, recorded, and differentiated again for D's weights.
    /// `gradientPenalty` with `.fullResolution` must give the same norms, penalty and weight
    /// gradients, while computing only at R. Tolerance: both sides sum the same products in a
    /// different order (pooling's adjoint spreads g/(F/R)^2 over (F/R)^2 pixels, then squares and
    /// sums them): float32 rounding of sums of a few hundred positive terms, ~1e-6 relative.
    func testScaledPenaltyEqualsTheUpscaledInputReference() throws {
        let F = 16
        for (R, alpha) in [(8, Float(0.6)), (4, Float(1)), (16, Float(0.3))] {
            let D = Discriminator(smallConfig(resolution: F), seed: 77)
            for (i, p) in D.parameters.parameters.enumerated() where p.name!.hasSuffix("/bias") {
                p.assign(TestTensors.normal(p.shape, seed: 900 &+ UInt64(i), scale: 0.2))
            }
            let reals = TestTensors.normal([3, 3, R, R], seed: 5), fakes = TestTensors.normal([3, 3, R, R], seed: 6, scale: 0.5)
            var config = LossConfig()
            config.gpScale = .fullResolution
            config.gpTarget = 1
            let n: Float = 3

            let (penalty, norms) = try gradientPenalty(D, reals: Var(reals), fakes: Var(fakes), mix: mix, resolution: R,
                                                       alpha: alpha, n: n, comm: LocalCollective(), config: config)
            let ours = try gradients(of: penalty, wrt: D.parameters.parameters)

            // Reference: mix at R, upscale to F, pool back inside the graph, gradient w.r.t. the F input.
            let t = Var(Tensor(shape: [3, 1, 1, 1], data: mix))
            var up = try Var.lerp(Var(reals), Var(fakes), t)
            var s = R
            while s < F { up = try up.upsample2x(); s *= 2 }
            let input = Var(up.value, requiresGrad: true)
            var x = input
            while s > R { x = try x.avgPool2x(); s /= 2 }
            let scores = try D(x, resolution: R, alpha: alpha)
            let g = try gradients(of: scores.sum(), wrt: [input], createGraph: true)[0]
            XCTAssertEqual(g.shape, [3, 3, F, F])
            let refNorms = try g.square().sum(axes: [1, 2, 3]).sqrt()
            let refPenalty = try (refNorms - config.gpTarget).square().sum() * (config.gpLambda / n)
            let reference = try gradients(of: refPenalty, wrt: D.parameters.parameters)

            for (a, b) in zip(norms.value.data, refNorms.value.data) {
                XCTAssertEqual(a, b, accuracy: 1e-5 * max(1, abs(b)), "norm at \(R)")
            }
            XCTAssertEqual(penalty.value.sumAll(), refPenalty.value.sumAll(), accuracy: 1e-5 * max(1, abs(refPenalty.value.sumAll())))
            for (a, b) in zip(ours, reference) {
                let scale = b.value.data.map { abs($0) }.max() ?? 0
                let diff = zip(a.value.data, b.value.data).map { abs($0 - $1) }.max() ?? 0
                XCTAssertLessThanOrEqual(diff, 1e-5 * max(scale, 1e-6), "weight gradient at \(R)")
            }
            // And the option changes the norm by exactly R/F against the native penalty.
            config.gpScale = .native
            let (_, native) = try gradientPenalty(D, reals: Var(reals), fakes: Var(fakes), mix: mix, resolution: R,
                                                  alpha: alpha, n: n, comm: LocalCollective(), config: config)
            for (a, b) in zip(norms.value.data, native.value.data) {
                XCTAssertEqual(a, b * Float(R) / Float(F), accuracy: 1e-6 * b)
            }
        }
    }

    /// Configurations saved before the option existed decode as the native scale they trained with.
    func testOldConfigurationsDecodeAsNative() throws {
        let old = #"{"kind":"wgangp","gpLambda":10,"gpTarget":1,"drift":0.001}"#
        let c = try JSONDecoder().decode(LossConfig.self, from: Data(old.utf8))
        XCTAssertEqual(c.gpScale, .native)
        XCTAssertEqual(c.lsganFakeWeight, 1)
        var f = LossConfig()
        f.gpScale = .fullResolution
        XCTAssertEqual(try JSONDecoder().decode(LossConfig.self, from: JSONEncoder().encode(f)), f)
    }
}
