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
}
