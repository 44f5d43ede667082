import XCTest
import Autograd
import TensorKit
import TestSupport

/// Tests of the test support: the finite-difference checkers must accept right rules and reject
/// rules with a wrong factor, a dropped term, or a backward that is not itself differentiable.
final class GradientCheckerTests: XCTestCase {
    let x = TestTensors.awayFromZero([2, 3, 2], seed: 5)

    /// `x^2` with a backward rule scaled by `factor` (1 is right), written in Var ops.
    func square(_ x: Var, factor: Float) -> Var {
        Var.op(x.value.squared(), [x]) { node, g, _ in [try g * node.parents[0] * (2 * factor)] }
    }

    func testAcceptsCorrectRule() throws {
        let r = try checkGradients(of: { try randomProjection(self.square($0[0], factor: 1)) }, at: [x])
        XCTAssertTrue(r.passed, "\(r.mismatches)")
        XCTAssertEqual(r.checked, x.count)
        let r2 = try checkSecondOrderGradients(of: { try randomProjection(self.square($0[0], factor: 1)) }, at: [x])
        XCTAssertTrue(r2.passed, "\(r2.mismatches)")
    }

    func testRejectsFactorOfTwo() throws {
        let r = try checkGradients(of: { try randomProjection(self.square($0[0], factor: 2)) }, at: [x])
        XCTAssertFalse(r.passed)
        XCTAssertEqual(r.mismatches.count, x.count, "every element is off by 100%")
        // (A second-order check alone would pass: it differentiates the wrong gradient function
        // consistently. Each rule needs its first-order check too.)
    }

    /// `x^2 + 0.01 x` whose rule forgets the `0.01` term: a 0.5% error on derivatives of size ~2.
    func testRejectsSmallDroppedTerm() throws {
        func f(_ x: Var) throws -> Var {
            let y = Var.op(x.value.squared() + x.value * 0.01, [x]) { node, g, _ in [try g * node.parents[0] * 2] }
            return try y.sum()
        }
        let r = try checkGradients(of: { try f($0[0]) }, at: [x])
        XCTAssertFalse(r.passed)
    }

    /// `a * b + a` whose rule for `a` drops the `+ g` term.
    func testRejectsDroppedTermInBinaryRule() throws {
        func f(_ a: Var, _ b: Var) throws -> Var {
            let y = Var.op(a.value * b.value + a.value, [a, b]) { node, g, _ in
                [try g * node.parents[1], try g * node.parents[0]]
            }
            return try randomProjection(y)
        }
        let r = try checkGradients(of: { try f($0[0], $0[1]) }, at: [x, TestTensors.normal(x.shape, seed: 6)])
        XCTAssertFalse(r.passed)
        XCTAssertTrue(r.mismatches.allSatisfy { $0.input == 0 }, "only a's gradient is wrong: \(r.mismatches)")
    }

    /// A rule computed on raw tensors is right to first order but is a constant to the graph, so
    /// its second derivative is lost: only the second-order check can see it.
    func testSecondOrderRejectsNonDifferentiableRule() throws {
        func f(_ x: Var) throws -> Var {
            let y = Var.op(x.value.squared(), [x]) { node, g, _ in [Var(g.value * node.parents[0].value * 2)] }
            return try randomProjection(y)
        }
        let first = try checkGradients(of: { try f($0[0]) }, at: [x])
        XCTAssertTrue(first.passed, "\(first.mismatches)")
        let second = try checkSecondOrderGradients(of: { try f($0[0]) }, at: [x])
        XCTAssertFalse(second.passed)
    }

    func testSamplesLargeInputs() throws {
        let big = TestTensors.normal([10, 20], seed: 8)
        let r = try checkGradients(of: { try randomProjection($0[0] * 3) }, at: [big],
                                   options: GradientCheckOptions(maxElementsPerInput: 16))
        XCTAssertTrue(r.passed)
        XCTAssertEqual(r.checked, 16)
    }

    /// `x * b` whose double backward is off by a factor of 2: the rule for `x` is right in value,
    /// but built from an op (`b` times a constant) whose own rule doubles. Only the second-order
    /// check, which differentiates the rule, can see it.
    func testSecondOrderRejectsFactorOfTwoInDoubleBackward() throws {
        func scaled(_ b: Var, _ g: Var) throws -> Var {
            // g * b, with d/db wrongly 2 g (right: g).
            Var.op(g.value * b.value, [b]) { _, r, _ in [try r * Var(g.value) * 2] }
        }
        func f(_ x: Var, _ b: Var) throws -> Var {
            let y = Var.op(x.value * b.value, [x, b]) { node, g, _ in
                [try scaled(node.parents[1], g), try g * node.parents[0]]
            }
            return try randomlyWeighted(y)
        }
        let b = TestTensors.normal(x.shape, seed: 9)
        let first = try checkGradients(of: { try f($0[0], $0[1]) }, at: [x, b])
        XCTAssertTrue(first.passed, "\(first.mismatches)")
        let second = try checkSecondOrderGradients(of: { try f($0[0], $0[1]) }, at: [x, b])
        XCTAssertFalse(second.passed)
        XCTAssertTrue(second.mismatches.allSatisfy { $0.input == 1 }, "only d2/dxdb is wrong: \(second.mismatches)")
    }

    /// `a * b` whose rules use the other operand as a constant: right to first order, but the
    /// cross term d2/(da db) of the Hessian is dropped.
    func testSecondOrderRejectsDroppedCrossTerm() throws {
        func f(_ a: Var, _ b: Var) throws -> Var {
            let y = Var.op(a.value * b.value, [a, b]) { node, g, _ in
                [try g * node.parents[1].detached(), try g * node.parents[0].detached()]
            }
            return try randomlyWeighted(y)
        }
        let b = TestTensors.normal(x.shape, seed: 10)
        XCTAssertTrue(try checkGradients(of: { try f($0[0], $0[1]) }, at: [x, b]).passed)
        let right = try checkSecondOrderGradients(of: { try randomlyWeighted($0[0] * $0[1]) }, at: [x, b])
        XCTAssertTrue(right.passed, "\(right.mismatches)")
        let second = try checkSecondOrderGradients(of: { try f($0[0], $0[1]) }, at: [x, b])
        XCTAssertFalse(second.passed)
        XCTAssertEqual(second.mismatches.count, second.checked, "every element's cross term is missing")
    }

    /// A tensor-valued `f` is checked as the Double sum of its elements.
    func testTensorOutputIsSummed() throws {
        let r = try checkGradients(of: { $0[0] * 2 }, at: [x])
        XCTAssertTrue(r.passed, "\(r.mismatches)")
    }

    /// Why the checker sums in Double: next to a large constant part (sum 1e6, float32 ulp 0.06)
    /// a float32 total loses the perturbation of `x^2`, while in Double the constant elements are
    /// identical in every evaluation and cancel exactly.
    func testDoubleAccumulationCancelsConstantElements() throws {
        let big = Var(Tensor(shape: [1000], repeating: 1000))
        func y(_ x: Var) throws -> Var { try Var.concat([x.square().reshape([x.shape.reduce(1, *)]), big], axis: 0) }
        let summedInDouble = try checkGradients(of: { try y($0[0]) }, at: [x])
        XCTAssertTrue(summedInDouble.passed, "\(summedInDouble.mismatches)")
        let summedInFloat = try checkGradients(of: { try y($0[0]).sum() }, at: [x])
        XCTAssertFalse(summedInFloat.passed)
    }

    func testAssertCloseHelpers() {
        XCTAssertNil(closeness([1, 2, 3], [1, 2, 3.00001], rtol: 1e-5, atol: 0))
        XCTAssertEqual(closeness([1, 2, 3], [1, 2.1, 3.5], rtol: 1e-5, atol: 0)?.index, 2, "reports the worst element")
        XCTAssertNotNil(closeness([.nan], [1], rtol: 1, atol: 1), "NaN never agrees")
    }
}
