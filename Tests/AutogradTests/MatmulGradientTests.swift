import XCTest
import Autograd
import TensorKit
import TestSupport

/// Gradient checks of `matmul` under every combination of transpose flags.
final class MatmulGradientTests: XCTestCase {
    func testAllTransposeFlags() throws {
        let (m, k, n) = (3, 4, 2)
        for transA in [false, true] {
            for transB in [false, true] {
                let a = TestTensors.normal(transA ? [k, m] : [m, k], seed: 31)
                let b = TestTensors.normal(transB ? [n, k] : [k, n], seed: 32)
                assertOpGradients([a, b], options: .polynomial(), "transA \(transA) transB \(transB)") {
                    try Var.matmul($0[0], $0[1], transA: transA, transB: transB)
                }
                XCTAssertEqual(try Var.matmul(Var(a), Var(b), transA: transA, transB: transB).shape, [m, n])
            }
        }
    }

    /// A square product of a matrix with itself, transposed: both parents are the same node.
    func testGramMatrix() {
        let a = TestTensors.normal([3, 4], seed: 33)
        assertOpGradients([a], options: .polynomial(), "a a^T") { try Var.matmul($0[0], $0[0], transB: true) }
        assertOpGradients([a], options: .polynomial(), "a^T a") { try Var.matmul($0[0], $0[0], transA: true) }
    }

    /// A dense layer as the networks use it: x [N, in] * w^T [in, out] + b [out].
    func testDenseLayer() {
        let x = TestTensors.normal([2, 5], seed: 34), w = TestTensors.normal([3, 5], seed: 35)
        let b = TestTensors.normal([3], seed: 36)
        assertOpGradients([x, w, b], options: .polynomial()) { try Var.matmul($0[0], $0[1], transB: true) + $0[2] }
    }
}
