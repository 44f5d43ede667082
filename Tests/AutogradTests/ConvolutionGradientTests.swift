import XCTest
import Autograd
import TensorKit
import TestSupport

/// Gradient checks of the convolution family: `conv2d`, `conv2dWeightGradient` (the rule of
/// conv2d's weight, itself differentiable) and `flippedTransposedKernel`, for k = 1 and 3 and
/// several channel counts. Shape legend: N batch, C in / O out channels, H x W, k kernel.
final class ConvolutionGradientTests: XCTestCase {
    /// (N, C, O, H, W, k)
    static let cases: [(Int, Int, Int, Int, Int, Int)] = [
        (1, 1, 1, 3, 3, 3), (2, 2, 3, 3, 4, 3), (2, 3, 2, 4, 3, 1), (1, 1, 4, 2, 2, 3), (2, 4, 1, 3, 3, 1),
    ]

    func testConv2d() throws {
        for (n, c, o, h, w, k) in Self.cases {
            let x = TestTensors.normal([n, c, h, w], seed: 41), wt = TestTensors.normal([o, c, k, k], seed: 42)
            assertOpGradients([x, wt], options: GradientCheckOptions.polynomial(maxElementsPerInput: 24),
                              "conv2d N\(n) C\(c) O\(o) \(h)x\(w) k\(k)") { try Var.conv2d($0[0], $0[1]) }
            XCTAssertEqual(try Var.conv2d(Var(x), Var(wt)).shape, [n, o, h, w])
        }
    }

    /// A kernel wider than the image: every tap but the centre lands in the padding for 1x1.
    func testConv2dKernelWiderThanImage() {
        let x = TestTensors.normal([2, 2, 1, 2], seed: 43), wt = TestTensors.normal([2, 2, 5, 5], seed: 44)
        assertOpGradients([x, wt], options: GradientCheckOptions.polynomial(maxElementsPerInput: 24)) { try Var.conv2d($0[0], $0[1]) }
    }

    func testConv2dWeightGradient() throws {
        for (n, c, o, h, w, k) in Self.cases {
            let x = TestTensors.normal([n, c, h, w], seed: 45), g = TestTensors.normal([n, o, h, w], seed: 46)
            assertOpGradients([x, g], options: GradientCheckOptions.polynomial(maxElementsPerInput: 24),
                              "conv2dWeightGradient N\(n) C\(c) O\(o) \(h)x\(w) k\(k)") {
                try Var.conv2dWeightGradient($0[0], $0[1], kernel: k)
            }
            XCTAssertEqual(try Var.conv2dWeightGradient(Var(x), Var(g), kernel: k).shape, [o, c, k, k])
        }
    }

    /// conv2dWeightGradient is what conv2d's rule returns for the weight: both are the definition's
    /// sum over N H W = 32 terms, within its float32 rounding bound (`RoundingBound`).
    func testWeightGradientIsConvRule() throws {
        let x = Var(TestTensors.normal([2, 3, 4, 4], seed: 47)), w = Var(TestTensors.normal([2, 3, 3, 3], seed: 48), requiresGrad: true)
        let g = TestTensors.normal([2, 2, 4, 4], seed: 49)
        let y = try Var.conv2d(x, w)
        let dw = try gradients(of: y, wrt: [w], seed: Var(g))[0]
        let reference = ConvolutionReference.conv2dWeightGradient(x.value, g, kernel: 3)
        assertWithinRoundingBound(dw.value.data, reference, roundings: 32, "conv2d's rule")
        assertWithinRoundingBound(try Var.conv2dWeightGradient(x, Var(g), kernel: 3).value.data, reference, roundings: 32,
                                  "conv2dWeightGradient")
    }

    func testFlippedTransposedKernel() throws {
        for shape: [Int] in [[2, 3, 3, 3], [3, 1, 1, 1], [1, 2, 5, 5]] {
            let w = TestTensors.normal(shape, seed: 50)
            assertOpGradients([w], "flippedTransposedKernel \(shape)") { try $0[0].flippedTransposedKernel() }
        }
    }

    /// conv2d -> leaky ReLU -> conv2d with biases: the chain the networks are made of, with the
    /// second-order terms crossing between layers.
    func testTwoLayerChain() {
        let x = TestTensors.normal([1, 2, 3, 3], seed: 51)
        let w1 = TestTensors.normal([2, 2, 3, 3], seed: 52, scale: 0.5), b1 = TestTensors.normal([1, 2, 1, 1], seed: 53)
        let w2 = TestTensors.normal([2, 2, 1, 1], seed: 54)
        // Keep pre-activations away from the kink: check the chain where none is within 0.05 of 0.
        let pre = Tensor.conv2d(x, w1) + b1
        XCTAssertTrue(pre.data.allSatisfy { abs($0) > 0.05 }, "choose other seeds: a pre-activation is at the kink")
        assertOpGradients([x, w1, b1, w2]) {
            try Var.conv2d(Var.conv2d($0[0], $0[1]).adding($0[2]).leakyReLU(0.2), $0[3])
        }
    }
}

extension Var {
    /// `self + other`, as a method for chaining in tests.
    func adding(_ other: Var) throws -> Var { try self + other }
}
