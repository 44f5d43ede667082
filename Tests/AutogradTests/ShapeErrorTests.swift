import XCTest
import Autograd
import TensorKit
import TestSupport

/// Shape mismatches at the Var ops' boundary throw a `ShapeError` naming the op and the shapes.
final class ShapeErrorTests: XCTestCase {
    func v(_ shape: [Int]) -> Var { Var(Tensor.zeros(shape), requiresGrad: true) }

    func testElementwiseBroadcastMismatch() {
        assertShapeError("add", mentions: ["[2, 3]", "[4]"]) { try self.v([2, 3]) + self.v([4]) }
        assertShapeError("sub", mentions: ["[2, 3]", "[3, 2]"]) { try self.v([2, 3]) - self.v([3, 2]) }
        assertShapeError("mul", mentions: ["[1, 3, 1, 1]", "[2, 4, 2, 2]"]) { try self.v([1, 3, 1, 1]) * self.v([2, 4, 2, 2]) }
        assertShapeError("div", mentions: ["[2]", "[3]"]) { try self.v([2]) / self.v([3]) }
        // lerp computes b - a first.
        assertShapeError("sub", mentions: ["[2, 3]", "[4]"]) { try Var.lerp(self.v([2, 3]), self.v([4]), 0.5) }
    }

    func testMatmul() {
        assertShapeError("matmul", mentions: ["[2, 3]", "[2, 3]"]) { try Var.matmul(self.v([2, 3]), self.v([2, 3])) }
        // [3, 2]^T is [2, 3], [4, 2]^T is [2, 4]: inner 3 against 2.
        assertShapeError("matmul", mentions: ["[3, 2]", "[4, 2]"]) {
            try Var.matmul(self.v([3, 2]), self.v([4, 2]), transA: true, transB: true)
        }
        assertShapeError("matmul", mentions: ["[2, 3, 1]", "[3, 2]"]) { try Var.matmul(self.v([2, 3, 1]), self.v([3, 2])) }
    }

    func testConv() {
        assertShapeError("conv2d", mentions: ["[1, 3, 4, 4]", "[2, 2, 3, 3]"]) {
            try Var.conv2d(self.v([1, 3, 4, 4]), self.v([2, 2, 3, 3]))
        }
        assertShapeError("conv2d", mentions: ["[1, 2, 4, 4]", "[2, 2, 2, 2]"]) {
            try Var.conv2d(self.v([1, 2, 4, 4]), self.v([2, 2, 2, 2]))
        }
        assertShapeError("conv2d", mentions: ["[2, 4, 4]", "[2, 2, 3, 3]"]) { try Var.conv2d(self.v([2, 4, 4]), self.v([2, 2, 3, 3])) }
        assertShapeError("conv2dWeightGradient", mentions: ["[1, 2, 4, 4]", "[1, 3, 4, 5]"]) {
            try Var.conv2dWeightGradient(self.v([1, 2, 4, 4]), self.v([1, 3, 4, 5]), kernel: 3)
        }
    }

    func testReductionsAndLayout() {
        assertShapeError("reshape", mentions: ["[2, 3]", "[4, 2]"]) { try self.v([2, 3]).reshape([4, 2]) }
        assertShapeError("sum(to:)", mentions: ["[2, 3]", "[2]"]) { try self.v([2, 3]).sum(to: [2]) }
        assertShapeError("expand", mentions: ["[3]", "[3, 2]"]) { try self.v([3]).expand(to: [3, 2]) }
        assertShapeError("sum", mentions: ["[3]", "[2, 3]"]) { try self.v([2, 3]).sum(axes: [3]) }
        assertShapeError("narrow", mentions: ["[2, 3]"]) { try self.v([2, 3]).narrow(axis: 1, start: 2, length: 2) }
        assertShapeError("embed", mentions: ["[2, 3]"]) { try self.v([2, 3]).embed(axis: 1, start: 1, total: 3) }
        assertShapeError("concat", mentions: ["[2, 3]", "[3, 3]"]) { try Var.concat([self.v([2, 3]), self.v([3, 3])], axis: 1) }
        assertShapeError("avgPool2x", mentions: ["[1, 1, 3, 4]"]) { try self.v([1, 1, 3, 4]).avgPool2x() }
        assertShapeError("upsample2x", mentions: ["[2, 2]"]) { try self.v([2, 2]).upsample2x() }
    }

    func testGradientsSeed() throws {
        let x = v([2, 3])
        let y = x * 2
        assertShapeError("gradients", mentions: ["[2, 3]"]) { try gradients(of: y, wrt: [x]) }
        assertShapeError("gradients", mentions: ["[3]", "[2, 3]"]) { try gradients(of: y, wrt: [x], seed: self.v([3])) }
    }
}
