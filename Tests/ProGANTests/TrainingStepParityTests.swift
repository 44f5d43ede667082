import Foundation
import XCTest
import Autograd
import TensorKit
@testable import ProGAN
import TestSupport

/// One training step of a tiny G and D, compared with PyTorch's float64 results from
/// `Fixtures/make_step_fixture.py` (an independent re-implementation of the paper's networks):
/// G(z), D scores, the WGAN-GP D loss and its gradient w.r.t. every D parameter, the G loss and
/// its gradient w.r.t. every G parameter. Resolution 8 during the 8x8 fade-in (alpha 0.5), so both
/// fade paths (G's upsampled old toRGB, D's fromRGB of the pooled image) are exercised, and
/// minibatch-stddev groups of 2 out of 4 samples (sample n in group n % 2).
///
/// Metric, per tensor: max|ours - ref| / max|ref| (`maxRelativeError`), at most 1e-5; one tensor
/// is the remainder of an exact cancellation and is measured against the cancelling terms (see
/// `testDiscriminatorLossGradients`). `PROGAN_PARITY_REPORT=1` prints every tensor's error.
final class TrainingStepParityTests: XCTestCase {
    static let tolerance = 1e-5
    static let resolution = 8
    static let alpha: Float = 0.5

    /// The fixture's NetworkConfig: widths nf(stage) = min(16 >> stage, 8), i.e. 8 at 4x4, 4 at
    /// 8x8, nf(0) = 8.
    static var config: NetworkConfig {
        var c = NetworkConfig()
        c.resolution = 8
        c.channels = 1
        c.latentSize = 8
        c.fmapBase = 16
        c.fmapMax = 8
        c.mbstdGroupSize = 2
        return c
    }

    static func loadFixture() throws -> TensorFixture {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "training_step", withExtension: "json",
                                                  subdirectory: "Fixtures"),
                                "Fixtures/training_step.json is missing from the test bundle")
        return try TensorFixture(contentsOf: url)
    }

    /// Assigns `param/<name>` of the fixture to every parameter; the fixture must cover them all.
    static func load(_ params: ParameterSet, from fx: TensorFixture) throws {
        for (name, p) in zip(params.names, params.parameters) {
            let t = try fx.tensor("param/\(name)")
            XCTAssertEqual(t.shape, p.shape, name)
            p.assign(t)
        }
    }

    /// Every quantity the fixture holds an expected value for, computed with the ProGAN API.
    static func computeAll(_ fx: TensorFixture) throws -> [String: Tensor] {
        let (res, alpha) = (Self.resolution, Self.alpha)
        let G = Generator(Self.config, seed: 1), D = Discriminator(Self.config, seed: 2)
        try load(G.parameters, from: fx)
        try load(D.parameters, from: fx)
        let fixtureParams = Set(fx.tensors.keys.filter { $0.hasPrefix("param/") })
        XCTAssertEqual(fixtureParams, Set((G.parameters.names + D.parameters.names).map { "param/\($0)" }))

        let z = Var(try fx.tensor("input/z")), reals = Var(try fx.tensor("input/reals"))
        let mix = try fx.tensor("input/mix").data
        let comm = LocalCollective()
        let loss = LossConfig()  // WGAN-GP, lambda 10, target 1, drift 0.001
        let n = z.shape[0]

        // D step: fakes detached from G.
        let fakes = try G(z, resolution: res, alpha: alpha)
        let (lossD, statsD) = try discriminatorLoss(D, reals: reals, fakes: fakes.detached(), mix: mix,
                                                    resolution: res, alpha: alpha, globalBatch: n,
                                                    comm: comm, config: loss)
        let gradD = try gradients(of: lossD, wrt: D.parameters.parameters)

        // The loss's pieces, recomputed on their own for a finer comparison.
        let dReal = try D(reals, resolution: res, alpha: alpha, comm: comm)
        let dFake = try D(fakes.detached(), resolution: res, alpha: alpha, comm: comm)
        let t = Var(Tensor(shape: [n, 1, 1, 1], data: mix))
        let xHat = Var(try Var.lerp(reals, fakes.detached(), t).value, requiresGrad: true)
        let dXHat = try D(xHat, resolution: res, alpha: alpha, comm: comm)
        let gx = try gradients(of: dXHat.sum(), wrt: [xHat])[0]
        let norms = try gx.square().sum(axes: [1, 2, 3]).sqrt()

        // G step: D(G(z)) through G, with the same D weights.
        let (lossG, _) = try generatorLoss(D, fakes: fakes, resolution: res, alpha: alpha, globalBatch: n,
                                           comm: comm, config: loss)
        let gradG = try gradients(of: lossG, wrt: G.parameters.parameters)
        let dGen = try D(fakes, resolution: res, alpha: alpha, comm: comm)

        var out: [String: Tensor] = [
            "out/fakes": fakes.value, "out/d_real": dReal.value, "out/d_fake": dFake.value,
            "out/d_xhat": dXHat.value, "out/grad_norms": norms.value,
            "out/penalty": Tensor.scalar(Float(try XCTUnwrap(statsD.gradientPenalty))),
            "out/loss_d": lossD.value, "out/d_gen": dGen.value, "out/loss_g": lossG.value,
        ]
        for (name, g) in zip(D.parameters.names, gradD) { out["grad_loss_d/\(name)"] = g.value }
        for (name, g) in zip(G.parameters.names, gradG) { out["grad_loss_g/\(name)"] = g.value }
        return out
    }

    /// The fixture and everything computed from it, once for the class; each test compares a part.
    static let comparison = Result { () throws -> ParityComparison in
        let fx = try loadFixture()
        return ParityComparison(fixture: fx, computed: try computeAll(fx), tolerance: tolerance)
    }

    func testFixtureIsComplete() throws {
        let c = try Self.comparison.get()
        XCTAssertEqual(Set(c.computed.keys), c.expectedNames)
    }

    func testForwardOutputs() throws {
        try Self.comparison.get().assertParity("out/")
    }

    func testDiscriminatorLossGradients() throws {
        // d loss_D / d dense1.bias = mean 1 - mean 1 + 0.002 mean D(real) = -5.4e-4 (the penalty
        // adds exactly 0: dense1.bias does not reach dD/dx): the Wasserstein terms cancel exactly,
        // and float32 rounding of the per-sample terms (-1/4 + 0.0005 D_n, ulp 3e-8) leaves ~2e-8
        // absolute error, 3.4e-5 of the remainder (PyTorch's own float32 autograd gives 1.0e-7
        // absolute, 1.9e-4 relative). So that tensor is measured against the size of the
        // cancelling terms (1), exactly as PyTorchParityTests does for its dense.bias.
        try Self.comparison.get().assertParity("grad_loss_d/", scales: ["grad_loss_d/D/4x4/dense1/bias": 1])
    }

    func testGeneratorLossGradients() throws {
        try Self.comparison.get().assertParity("grad_loss_g/")
    }
}
