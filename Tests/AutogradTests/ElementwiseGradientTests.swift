import Foundation
import XCTest
import Autograd
import TensorKit
import TestSupport

/// First- and second-order gradient checks of the elementwise ops, with the broadcasting cases the
/// networks use: per-channel `[1,C,1,1]`, per-sample `[N,1,1,1]`, and scalars.
final class ElementwiseGradientTests: XCTestCase {
    static let full = [2, 3, 2, 2]
    /// Shapes of the second operand, each broadcasting against `full`.
    static let partners: [[Int]] = [[2, 3, 2, 2], [1, 3, 1, 1], [2, 1, 1, 1], [], [2, 2], [3, 1, 1]]

    typealias Binary = (Var, Var) throws -> Var
    static let binaries: [(String, Binary)] = [
        ("+", { try $0 + $1 }), ("-", { try $0 - $1 }), ("*", { try $0 * $1 }), ("/", { try $0 / $1 }),
    ]

    /// Operands: normal numerators, divisors in [0.5, 2) so `/` stays smooth.
    func operand(_ shape: [Int], seed: UInt64, divisor: Bool) -> Tensor {
        divisor ? TestTensors.positive(shape, seed: seed) : TestTensors.normal(shape, seed: seed)
    }

    func testBinaryOpsWithBroadcasting() {
        // 16 sampled elements of each 24-element operand keep this in a few seconds (debug build).
        let options = GradientCheckOptions(maxElementsPerInput: 16)
        for (name, op) in Self.binaries {
            for shape in Self.partners {
                let a = operand(Self.full, seed: 1, divisor: false)
                let b = operand(shape, seed: 2, divisor: name == "/")
                assertOpGradients([a, b], options: options, "\(Self.full) \(name) \(shape)") { try op($0[0], $0[1]) }
                if shape == Self.full { continue }
                // The broadcast operand on the left.
                let a2 = operand(shape, seed: 3, divisor: false)
                let b2 = operand(Self.full, seed: 4, divisor: name == "/")
                assertOpGradients([a2, b2], options: options, "\(shape) \(name) \(Self.full)") { try op($0[0], $0[1]) }
            }
        }
    }

    /// Both operands broadcast: [2,1,3] op [1,4,1] -> [2,4,3].
    func testMutualBroadcasting() {
        for (name, op) in Self.binaries {
            let a = operand([2, 1, 3], seed: 5, divisor: false)
            let b = operand([1, 4, 1], seed: 6, divisor: name == "/")
            assertOpGradients([a, b], "mutual broadcast \(name)") { try op($0[0], $0[1]) }
        }
    }

    /// The same Var on both sides: both parents' gradients are accumulated into one.
    func testSameOperandTwice() {
        let x = TestTensors.positive([2, 3], seed: 7)
        for (name, op) in Self.binaries {
            assertOpGradients([x], "x \(name) x") { try op($0[0], $0[0]) }
        }
    }

    func testScalarOps() {
        let x = TestTensors.normal(Self.full, seed: 8)
        assertOpGradients([x], "x * s") { $0[0] * 1.7 }
        assertOpGradients([x], "s * x") { -0.6 * $0[0] }
        assertOpGradients([x], "x + s") { $0[0] + 2.5 }
        assertOpGradients([x], "x - s") { $0[0] - 0.5 }
        assertOpGradients([x], "-x") { -$0[0] }
    }

    /// exp and log (the softmax cross-entropy of the conditional D is built from them): values
    /// against libm in Double, and both orders of their rules.
    func testExpAndLog() throws {
        let x = TestTensors.normal(Self.full, seed: 21)
        let p = TestTensors.positive(Self.full, seed: 22)
        let ex = Var(x).exp().value, lp = Var(p).log().value
        for i in 0..<x.count {
            XCTAssertEqual(Double(ex.data[i]), Foundation.exp(Double(x.data[i])), accuracy: 2e-7 * Foundation.exp(Double(x.data[i])))
            XCTAssertEqual(Double(lp.data[i]), Foundation.log(Double(p.data[i])), accuracy: 2e-7)
        }
        assertOpGradients([x], "exp") { $0[0].exp() }
        assertOpGradients([p], "log") { $0[0].log() }
    }

    func testSquare() {
        assertOpGradients([TestTensors.normal(Self.full, seed: 9)]) { try $0[0].square() }
    }

    func testSqrt() {
        assertOpGradients([TestTensors.positive(Self.full, seed: 10)]) { try $0[0].sqrt() }
    }

    func testRsqrt() {
        assertOpGradients([TestTensors.positive(Self.full, seed: 11)]) { try $0[0].rsqrt() }
    }

    func testLeakyReLU() {
        let x = TestTensors.awayFromZero(Self.full, seed: 12, margin: 0.05)
        for slope: Float in [0.2, 0.5, 0] {
            assertOpGradients([x], "slope \(slope)") { $0[0].leakyReLU(slope) }
        }
    }

    func testLerpScalarT() {
        let a = TestTensors.normal(Self.full, seed: 13), b = TestTensors.normal(Self.full, seed: 14)
        for t: Float in [0, 0.3, 1] {
            assertOpGradients([a, b], "t = \(t)") { try Var.lerp($0[0], $0[1], t) }
        }
    }

    /// Per-sample mixing factor, as the gradient penalty's interpolation uses.
    func testLerpBroadcastT() {
        let a = TestTensors.normal(Self.full, seed: 15), b = TestTensors.normal(Self.full, seed: 16)
        let t = TestTensors.uniform([2, 1, 1, 1], seed: 17, in: 0...1)
        assertOpGradients([a, b, t]) { try Var.lerp($0[0], $0[1], $0[2]) }
        // The [1,C,1,1] case: one factor per channel.
        let tc = TestTensors.uniform([1, 3, 1, 1], seed: 18, in: 0...1)
        assertOpGradients([a, b, tc]) { try Var.lerp($0[0], $0[1], $0[2]) }
    }

    /// Forward values of the Var ops equal the TensorKit kernels they wrap.
    func testForwardValues() throws {
        let a = Var(Tensor(shape: [2, 2], data: [1, -2, 3, 4])), b = Var(Tensor(shape: [2], data: [2, 4]))
        assertClose(try (a + b).value, shape: [2, 2], [3, 2, 5, 8])
        assertClose(try (a - b).value, shape: [2, 2], [-1, -6, 1, 0])
        assertClose(try (a * b).value, shape: [2, 2], [2, -8, 6, 16])
        assertClose(try (a / b).value, shape: [2, 2], [0.5, -0.5, 1.5, 1])
        assertClose(a.leakyReLU(0.5).value, shape: [2, 2], [1, -1, 3, 4])
        assertClose(try Var.lerp(a, Var(Tensor.zeros([2, 2])), 0.25).value, shape: [2, 2], [0.75, -1.5, 2.25, 3])
        assertClose(try b.sqrt().value, shape: [2], [Float(2).squareRoot(), 2])
        assertClose(try b.rsqrt().value, shape: [2], [1 / Float(2).squareRoot(), 0.5])
    }
}
