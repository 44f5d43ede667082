import Foundation
import XCTest
import Autograd
import TensorKit
import TestSupport

/// The tiny critic of `Fixtures/make_fixtures.py`, rebuilt with `Var` ops in Float32 and compared
/// with PyTorch's float64 results: forward outputs, the WGAN-GP penalty (a double-backprop), and
/// gradients of the penalty, of sum D(real) and of the full critic loss w.r.t. every parameter.
///
/// Metric, per tensor: max|ours - ref| / max|ref| (`maxRelativeError`), at most 1e-5. Where the
/// reference is exactly zero (the penalty's bias gradients: biases reach the input gradient only
/// through the leaky-ReLU masks) the absolute max|ours| must be at most 1e-5 too. One tensor of the
/// critic loss's gradients is the remainder of an exact cancellation and is measured against the
/// size of the cancelling terms instead (see `testCriticLossParameterGradients`).
///
/// Set `PROGAN_PARITY_REPORT=1` to print every tensor's error; otherwise only failures speak.
final class PyTorchParityTests: XCTestCase {
    static let tolerance = 1e-5
    static let parameterNames = ["conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias",
                                 "dense.weight", "dense.bias"]

    static func loadFixture() throws -> TensorFixture {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "tiny_critic", withExtension: "json",
                                                  subdirectory: "Fixtures"),
                                "Fixtures/tiny_critic.json is missing from the test bundle")
        return try TensorFixture(contentsOf: url)
    }

    /// D: conv3x3 3->4 + bias, LReLU(0.2), conv3x3 4->4 + bias, LReLU(0.2), 2x2 average pool,
    /// flatten NCHW -> [N, 64], dense 64 -> 1 + bias (weight [out, in], applied as x W^T).
    /// Equalized learning rate: stored weights times gain/sqrt(fan_in) at run time (gain sqrt(2)
    /// for the convs, 1 for the dense layer); biases unscaled.
    static func critic(_ x: Var, _ p: [String: Var]) throws -> Var {
        func bias(_ b: Var) throws -> Var { try b.reshape([1, b.shape[0], 1, 1]) }
        let s1 = Float(2.0.squareRoot() / Double(3 * 3 * 3).squareRoot())
        let s2 = Float(2.0.squareRoot() / Double(4 * 3 * 3).squareRoot())
        let s3 = Float(1 / Double(64).squareRoot())
        var h = try Var.conv2d(x, p["conv1.weight"]! * s1) + bias(p["conv1.bias"]!)
        h = h.leakyReLU(0.2)
        h = try Var.conv2d(h, p["conv2.weight"]! * s2) + bias(p["conv2.bias"]!)
        h = try h.leakyReLU(0.2).avgPool2x()
        h = try h.reshape([h.shape[0], h.shape[1] * h.shape[2] * h.shape[3]])
        return try Var.matmul(h, p["dense.weight"]! * s3, transB: true) + p["dense.bias"]!
    }

    /// Every quantity the fixture holds an expected value for, computed here, by fixture name.
    static func computeAll(_ fx: TensorFixture) throws -> [String: Tensor] {
        let names = Self.parameterNames
        var p: [String: Var] = [:]
        for n in names { p[n] = Var(try fx.tensor("param/\(n)"), requiresGrad: true, name: n) }
        let params = names.map { p[$0]! }
        let real = Var(try fx.tensor("input/real")), fake = Var(try fx.tensor("input/fake"))
        let eps = try fx.tensor("input/eps")
        let epsB = Var(eps.reshaped([eps.count, 1, 1, 1]))

        let dReal = try critic(real, p)
        let dFake = try critic(fake, p)

        // WGAN-GP: x_hat is a leaf; its gradient keeps the graph so the penalty can be differentiated.
        let xHat = Var(try Var.lerp(real, fake, epsB).value, requiresGrad: true)
        let dXHat = try critic(xHat, p)
        let g = try gradients(of: dXHat.sum(), wrt: [xHat], createGraph: true)[0]
        let norm = try g.square().sum(axes: [1, 2, 3]).sqrt()
        let penalty = try (norm - 1).square().mean() * 10
        let lossD = try dFake.mean() - dReal.mean() + penalty + dReal.square().mean() * 0.001

        var out: [String: Tensor] = [
            "out/d_real": dReal.value, "out/d_fake": dFake.value, "out/d_xhat": dXHat.value,
            "out/grad_xhat": g.value, "out/grad_norm": norm.value, "out/penalty": penalty.value,
            "out/loss_d": lossD.value,
        ]
        let groups: [(String, Var)] = [("grad_penalty", penalty), ("grad_d_real", try dReal.sum()),
                                       ("grad_loss_d", lossD)]
        for (prefix, of) in groups {
            let gs = try gradients(of: of, wrt: params)
            for (n, gv) in zip(names, gs) { out["\(prefix)/\(n)"] = gv.value }
        }
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
        try Self.comparison.get().assertParity("out/d_")
    }

    func testInputGradientAndPenalty() throws {
        try Self.comparison.get().assertParity("out/grad_")
        try Self.comparison.get().assertParity("out/penalty")
        try Self.comparison.get().assertParity("out/loss_d")
    }

    func testFirstOrderParameterGradients() throws {
        try Self.comparison.get().assertParity("grad_d_real/")
    }

    func testPenaltyParameterGradients() throws {
        try Self.comparison.get().assertParity("grad_penalty/")
    }

    func testCriticLossParameterGradients() throws {
        // d loss_d / d dense.bias = 1 - 1 + 0.002 mean D(real) ~ -9e-4: the Wasserstein terms cancel
        // exactly, and float32 rounding of the +-0.5-sized per-sample terms leaves ~6e-8 absolute
        // error, 6e-5 of the remainder (PyTorch's own float32 autograd gives the same 5.8e-5).
        // So that one tensor is measured against the size of the terms that cancel (1).
        try Self.comparison.get().assertParity("grad_loss_d/", scales: ["grad_loss_d/dense.bias": 1])
    }

    /// The whole fixture again with every 3x3 convolution (forward, input gradient, weight
    /// gradient, and their double-backward rules) on Winograd F(2x2, 3x3): same tolerance.
    func testEverythingWithWinogradConvolutions() throws {
        let (savedChannels, savedPixels) = (Tensor.winogradMinChannels, Tensor.winogradMinPixels)
        defer { Tensor.winogradMinChannels = savedChannels; Tensor.winogradMinPixels = savedPixels }
        Tensor.winogradMinChannels = 1
        Tensor.winogradMinPixels = 1
        let fx = try Self.loadFixture()
        let winograd = ParityComparison(fixture: fx, computed: try Self.computeAll(fx), tolerance: Self.tolerance)
        try winograd.assertParity("out/")
        try winograd.assertParity("grad_d_real/")
        try winograd.assertParity("grad_penalty/")
        try winograd.assertParity("grad_loss_d/", scales: ["grad_loss_d/dense.bias": 1])
    }
}
