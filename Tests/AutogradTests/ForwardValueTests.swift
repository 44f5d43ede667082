import XCTest
import Autograd
import TensorKit
import TestSupport

/// Forward values of the Var ops that have no TensorKit kernel of their own (means and sums over
/// axes, lerp) on hand-computed cases.
final class ForwardValueTests: XCTestCase {
    /// t[i, j, k] = 4i + 2j + k for shape [2, 2, 2]: 0..7.
    let t = Var(Tensor(shape: [2, 2, 2], data: (0..<8).map(Float.init)))

    func testSumOverAxes() throws {
        assertClose(try t.sum(axes: [0]).value, shape: [2, 2], [4, 6, 8, 10])
        assertClose(try t.sum(axes: [1]).value, shape: [2, 2], [2, 4, 10, 12])
        assertClose(try t.sum(axes: [-1]).value, shape: [2, 2], [1, 5, 9, 13])
        assertClose(try t.sum(axes: [0, 2], keepDims: true).value, shape: [1, 2, 1], [0 + 1 + 4 + 5, 2 + 3 + 6 + 7])
        assertClose(try t.sum().value, shape: [], [28])
    }

    func testMeanOverAxes() throws {
        assertClose(try t.mean(axes: [0]).value, shape: [2, 2], [2, 3, 4, 5])
        assertClose(try t.mean(axes: [1, 2]).value, shape: [2], [1.5, 5.5])
        assertClose(try t.mean(axes: [-1], keepDims: true).value, shape: [2, 2, 1], [0.5, 2.5, 4.5, 6.5])
        assertClose(try t.mean().value, shape: [], [3.5])
        // Per-sample mean of squares, as pixel norm and the gradient penalty use it.
        let x = Var(Tensor(shape: [2, 2, 1, 1], data: [3, 4, 1, -1]))
        assertClose(try x.square().mean(axes: [1, 2, 3]).value, shape: [2], [12.5, 1])
    }

    func testLerp() throws {
        let a = Var(Tensor(shape: [2, 2], data: [0, 1, 2, 3])), b = Var(Tensor(shape: [2, 2], data: [4, 5, 6, 11]))
        assertClose(try Var.lerp(a, b, 0.25).value, shape: [2, 2], [1, 2, 3, 5])
        assertClose(try Var.lerp(a, b, 0).value, shape: [2, 2], a.value.data)
        assertClose(try Var.lerp(a, b, 1).value, shape: [2, 2], b.value.data)
        // One factor per row (per sample).
        let tr = Var(Tensor(shape: [2, 1], data: [0.5, 0.75]))
        assertClose(try Var.lerp(a, b, tr).value, shape: [2, 2], [2, 3, 5, 9])
    }

    func testScalarOpsAndUnary() throws {
        let x = Var(Tensor(shape: [3], data: [-1, 0.25, 4]))
        assertClose((x * 2).value, shape: [3], [-2, 0.5, 8])
        assertClose((3 * x).value, shape: [3], [-3, 0.75, 12])
        assertClose((x + 1).value, shape: [3], [0, 1.25, 5])
        assertClose((x - 1).value, shape: [3], [-2, -0.75, 3])
        assertClose((-x).value, shape: [3], [1, -0.25, -4])
        assertClose(try x.square().value, shape: [3], [1, 0.0625, 16])
        assertClose(x.leakyReLU(0.2).value, shape: [3], [-0.2, 0.25, 4])
        let p = Var(Tensor(shape: [2], data: [0.25, 4]))
        assertClose(try p.sqrt().value, shape: [2], [0.5, 2])
        assertClose(try p.rsqrt().value, shape: [2], [2, 0.5])
    }
}
