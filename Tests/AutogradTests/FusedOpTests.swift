import XCTest
import Autograd
import TensorKit
import TestSupport

/// The fused ops (`leakyReLUMasked`, `conv2dBiasLeakyReLU`, `pixelNorm`) against the composed ops
/// they replace, to first and second order, and against finite differences.
final class FusedOpTests: XCTestCase {
    // Small shapes: N2 C3 5x5, O4 k3.
    let x = TestTensors.normal([2, 3, 5, 5], seed: 61)
    let w = TestTensors.normal([4, 3, 3, 3], seed: 62, scale: 0.4)
    let b = TestTensors.normal([4], seed: 63, scale: 0.5)

    /// The composed reference: conv2d, broadcast bias, leaky ReLU (three nodes).
    static func composed(_ x: Var, _ w: Var, _ b: Var, slope: Float = 0.2) throws -> Var {
        try (Var.conv2d(x, w) + b.reshape([1, b.shape[0], 1, 1])).leakyReLU(slope)
    }

    /// The composed pixel norm: `a * rsqrt(mean_c(a^2) + eps)` (five nodes).
    static func composedPixelNorm(_ a: Var, epsilon: Float = 1e-8) throws -> Var {
        try a * (a.square().mean(axes: [1], keepDims: true) + epsilon).rsqrt()
    }

    // MARK: leakyReLUMasked

    func testLeakyReLUMaskedForwardAndBackward() throws {
        let y = Tensor(shape: [2, 3], data: [1, -2, 0, 3, -0.5, 2])
        let g = Var(Tensor(shape: [2, 3], data: [1, 2, 3, 4, 5, 6]), requiresGrad: true)
        let m = try g.leakyReLUMasked(by: y, slope: 0.1)
        // 0 is not > 0: it takes the slope, as leaky ReLU's derivative at its kink does here.
        assertClose(m.value, shape: [2, 3], [1, 0.2, 0.3, 4, 0.5, 6], rtol: 0, atol: 0)
        // The rule is the same mask applied to the upstream gradient.
        let u = Tensor(shape: [2, 3], data: [-1, 1, -1, 1, 2, -2])
        let dg = try gradients(of: m, wrt: [g], seed: Var(u))[0]
        assertClose(dg.value, shape: [2, 3], [-1, 0.1, -0.1, 1, 0.2, -2], rtol: 0, atol: 0)
        // Recorded (createGraph), the rule is again a masked node: differentiable, same values.
        let dgRecorded = try gradients(of: m, wrt: [g], seed: Var(u, requiresGrad: true), createGraph: true)[0]
        assertClose(dgRecorded.value, dg.value, rtol: 0, atol: 0)
        assertShapeError("leakyReLUMasked", mentions: ["[2, 3]", "[3, 2]"]) {
            try g.leakyReLUMasked(by: Tensor.zeros([3, 2]), slope: 0.2)
        }
    }

    func testLeakyReLUMaskedMatchesFiniteDifferences() {
        let y = TestTensors.normal([2, 3, 2, 2], seed: 64)
        assertOpGradients([TestTensors.normal([2, 3, 2, 2], seed: 65)], options: .polynomial()) {
            try $0[0].leakyReLUMasked(by: y, slope: 0.2)
        }
    }

    /// leakyReLU's rule now reads the sign of its output; the gradient is that of `g * mask(x)`.
    func testLeakyReLUGradientUsesTheSignOfTheInput() throws {
        let x = Var(TestTensors.normal([3, 4], seed: 66), requiresGrad: true)
        let u = TestTensors.normal([3, 4], seed: 67)
        let dx = try gradients(of: x.leakyReLU(0.3), wrt: [x], seed: Var(u))[0]
        let expected = u * x.value.leakyReLUSlope(0.3)
        assertClose(dx.value, expected, rtol: 0, atol: 0)
    }

    // MARK: conv2dBiasLeakyReLU

    func testConvBiasLeakyReLUMatchesComposedOps() throws {
        let (xv, wv, bv) = (Var(x, requiresGrad: true), Var(w, requiresGrad: true), Var(b, requiresGrad: true))
        let fused = try Var.conv2dBiasLeakyReLU(xv, wv, bv, slope: 0.2)
        let reference = try Self.composed(xv, wv, bv)
        assertClose(fused.value, reference.value, rtol: 1e-5, atol: 1e-6)
        XCTAssertTrue(fused.value.data.contains { $0 < 0 } && fused.value.data.contains { $0 > 0 }, "both branches")
        let gf = try gradients(of: randomProjection(fused), wrt: [xv, wv, bv])
        let gr = try gradients(of: randomProjection(reference), wrt: [xv, wv, bv])
        for (i, name) in ["x", "w", "b"].enumerated() {
            assertClose(gf[i].value, gr[i].value, rtol: 1e-5, atol: 1e-6, "d/d\(name)")
        }
        // Only what is asked for: the gradient w.r.t. x alone, and w.r.t. b alone.
        assertClose(try gradients(of: randomProjection(fused), wrt: [xv])[0].value, gr[0].value, rtol: 1e-5, atol: 1e-6)
        assertClose(try gradients(of: randomProjection(fused), wrt: [bv])[0].value, gr[2].value, rtol: 1e-5, atol: 1e-6)
    }

    /// WGAN-GP in miniature: `P = ||d sum(R * f(x)^2) / dx||^2` with `f` two fused layers and a
    /// pool (the gradient recorded with createGraph), differentiated w.r.t. the weights, biases, x.
    func testConvBiasLeakyReLUPenaltyGradientMatchesComposedOps() throws {
        let w2 = TestTensors.normal([2, 4, 3, 3], seed: 68, scale: 0.4)
        let b2 = TestTensors.normal([2], seed: 69, scale: 0.5)
        let x4 = TestTensors.normal([2, 3, 4, 4], seed: 60)
        let r = TestTensors.normal([2, 2, 2, 2], seed: 70)
        typealias Layer = (Var, Var, Var) throws -> Var
        func penalty(_ layer: Layer) throws -> (Var, [Var]) {
            let xv = Var(x4, requiresGrad: true)
            let ps = [w, b, w2, b2].map { Var($0, requiresGrad: true) }
            let h = try layer(layer(xv, ps[0], ps[1]), ps[2], ps[3]).avgPool2x()
            // Quadratic, as D's minibatch stddev is nonlinear: with a piecewise-linear score the
            // gradient would not depend on x or the biases, and their second order would be 0.
            let score = try (h.square() * Var(r)).sum()
            let gx = try gradients(of: score, wrt: [xv], createGraph: true)[0]
            let p = try gx.square().sum()
            return (p, try gradients(of: p, wrt: [xv] + ps))
        }
        let (pf, gf) = try penalty { try Var.conv2dBiasLeakyReLU($0, $1, $2, slope: 0.2) }
        let (pr, gr) = try penalty { try Self.composed($0, $1, $2) }
        assertClose(pf.value, pr.value, rtol: 1e-5, atol: 1e-6, "penalty")
        for (i, name) in ["x", "w1", "b1", "w2", "b2"].enumerated() {
            XCTAssertGreaterThan(gr[i].value.data.map(abs).max()!, 1e-3, "\(name): a trivial gradient checks nothing")
            assertClose(gf[i].value, gr[i].value, rtol: 1e-5, atol: 1e-5, "dP/d\(name)")
        }
    }

    func testConvBiasLeakyReLUMatchesFiniteDifferences() {
        let x = TestTensors.normal([1, 2, 3, 3], seed: 51)
        let w = TestTensors.normal([2, 2, 3, 3], seed: 52, scale: 0.5)
        let b = TestTensors.normal([2], seed: 53)
        // The stencil reaches 2 eps = 0.02 from each input: keep the pre-activations off the kink.
        let pre = Tensor.conv2d(x, w) + b.reshaped([1, 2, 1, 1])
        XCTAssertTrue(pre.data.allSatisfy { abs($0) > 0.05 }, "choose other seeds: a pre-activation is at the kink")
        assertOpGradients([x, w, b]) { try Var.conv2dBiasLeakyReLU($0[0], $0[1], $0[2], slope: 0.2) }
    }

    func testConvBiasLeakyReLURejectsMismatchedShapes() {
        let (xv, wv) = (Var(x), Var(w))
        assertShapeError("conv2dBiasLeakyReLU", mentions: ["[3]"]) {
            try Var.conv2dBiasLeakyReLU(xv, wv, Var(Tensor.zeros([3])), slope: 0.2)
        }
        assertShapeError("conv2dBiasLeakyReLU", mentions: ["[2, 2, 5, 5]"]) {
            try Var.conv2dBiasLeakyReLU(Var(Tensor.zeros([2, 2, 5, 5])), wv, Var(b), slope: 0.2)
        }
    }

    // MARK: pixelNorm

    func testPixelNormMatchesComposedFormula() throws {
        for shape in [[2, 5, 3, 2], [3, 6]] {
            let a = Var(TestTensors.normal(shape, seed: 71, scale: 2), requiresGrad: true)
            let fused = try Var.pixelNorm(a, epsilon: 1e-8)
            let reference = try Self.composedPixelNorm(a)
            assertClose(fused.value, reference.value, rtol: 1e-6, atol: 1e-7, "\(shape)")
            let gr = try gradients(of: randomProjection(reference), wrt: [a])[0]
            // The plain rule (r kept by the op) and the recorded one (r rebuilt with Var ops).
            let plain = try gradients(of: randomProjection(fused), wrt: [a])[0]
            let recorded = try gradients(of: randomProjection(fused), wrt: [a], createGraph: true)[0]
            assertClose(plain.value, gr.value, rtol: 1e-5, atol: 1e-6, "\(shape) plain")
            assertClose(recorded.value, gr.value, rtol: 1e-5, atol: 1e-6, "\(shape) recorded")
        }
    }

    /// Second order: the gradient of `||d sum(R * pixelNorm(a)^2) / da||^2` w.r.t. `a`.
    func testPixelNormSecondOrderMatchesComposedFormula() throws {
        for shape in [[2, 5, 3, 2], [3, 6]] {
            func secondOrder(_ norm: (Var) throws -> Var) throws -> (Var, Tensor) {
                let a = Var(TestTensors.normal(shape, seed: 72, scale: 2), requiresGrad: true)
                let ga = try gradients(of: quadraticProjection(norm(a)), wrt: [a], createGraph: true)[0]
                let p = try (ga * Var(TestTensors.normal(shape, seed: 73))).square().sum()
                return (p, try gradients(of: p, wrt: [a])[0].value)
            }
            let (pf, gf) = try secondOrder { try Var.pixelNorm($0, epsilon: 1e-8) }
            let (pr, gr) = try secondOrder { try Self.composedPixelNorm($0) }
            assertClose(pf.value, pr.value, rtol: 1e-5, atol: 1e-6, "\(shape)")
            assertClose(gf, gr, rtol: 1e-4, atol: 1e-5, "\(shape)")
        }
    }

    func testPixelNormMatchesFiniteDifferences() {
        assertOpGradients([TestTensors.normal([2, 4, 2, 2], seed: 74)]) { try Var.pixelNorm($0[0], epsilon: 1e-8) }
        assertOpGradients([TestTensors.normal([3, 5], seed: 75)]) { try Var.pixelNorm($0[0], epsilon: 1e-8) }
    }

    func testPixelNormOfZerosIsZeroWithFiniteGradient() throws {
        let a = Var(Tensor.zeros([1, 4, 2, 2]), requiresGrad: true)
        let y = try Var.pixelNorm(a, epsilon: 1e-8)
        XCTAssertEqual(y.value, Tensor.zeros([1, 4, 2, 2]))
        let g = try gradients(of: y, wrt: [a], seed: Var(Tensor.ones([1, 4, 2, 2])))[0]
        // r = 1e4 at zero features: the gradient is r * g, finite.
        XCTAssertTrue(g.value.data.allSatisfy { $0.isFinite })
    }
}
