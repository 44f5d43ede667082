import XCTest
import TensorKit
import TestSupport

/// TensorKit's elementwise kernels, broadcasting and reductions on cases small enough to compute
/// by hand. Most expected values are exact in float32; the default tolerance (rtol 1e-5) only
/// absorbs the rounding of `sqrt` and division.
final class ElementwiseKernelTests: XCTestCase {
    /// [[1, 2, 3], [4, 5, 6]]
    let a = Tensor(shape: [2, 3], data: [1, 2, 3, 4, 5, 6])

    func testBroadcastShape() {
        XCTAssertEqual(Tensor.broadcastShape([2, 3], [3]), [2, 3])
        XCTAssertEqual(Tensor.broadcastShape([2, 1, 3], [4, 1]), [2, 4, 3])
        XCTAssertEqual(Tensor.broadcastShape([], [2, 2]), [2, 2])
        XCTAssertEqual(Tensor.broadcastShape([1, 3, 1, 1], [2, 3, 4, 4]), [2, 3, 4, 4])
        XCTAssertNil(Tensor.broadcastShape([2, 3], [3, 2]))
        XCTAssertNil(Tensor.broadcastShape([2, 3], [2]))
    }

    func testSameShape() {
        let b = Tensor(shape: [2, 3], data: [6, 5, 4, 3, 2, 1])
        assertClose(a + b, shape: [2, 3], [7, 7, 7, 7, 7, 7])
        assertClose(a - b, shape: [2, 3], [-5, -3, -1, 1, 3, 5])
        assertClose(a * b, shape: [2, 3], [6, 10, 12, 12, 10, 6])
        assertClose(a / b, shape: [2, 3], [1.0 / 6, 0.4, 0.75, 4.0 / 3, 2.5, 6])
    }

    /// A row vector [3] stretched over the rows.
    func testRowBroadcast() {
        let r = Tensor(shape: [3], data: [10, 20, 30])
        assertClose(a + r, shape: [2, 3], [11, 22, 33, 14, 25, 36])
        assertClose(a - r, shape: [2, 3], [-9, -18, -27, -6, -15, -24])
        assertClose(r - a, shape: [2, 3], [9, 18, 27, 6, 15, 24])
        assertClose(a * r, shape: [2, 3], [10, 40, 90, 40, 100, 180])
        let d = Tensor(shape: [3], data: [2, 4, 8])
        assertClose(a / d, shape: [2, 3], [0.5, 0.5, 0.375, 2, 1.25, 0.75])
        assertClose(d / a, shape: [2, 3], [2, 2, 8.0 / 3, 0.5, 0.8, 8.0 / 6])
    }

    /// A column [2, 1] stretched over the columns.
    func testColumnBroadcast() {
        let c = Tensor(shape: [2, 1], data: [1, -1])
        assertClose(a + c, shape: [2, 3], [2, 3, 4, 3, 4, 5])
        assertClose(a * c, shape: [2, 3], [1, 2, 3, -4, -5, -6])
        assertClose(c - a, shape: [2, 3], [0, -1, -2, -5, -6, -7])
    }

    /// Both operands stretch: [2, 1] + [1, 3] -> [2, 3], and [2, 1, 3] * [4, 1] -> [2, 4, 3].
    func testMutualBroadcast() {
        let c = Tensor(shape: [2, 1], data: [1, 2]), r = Tensor(shape: [1, 3], data: [10, 20, 30])
        assertClose(c + r, shape: [2, 3], [11, 21, 31, 12, 22, 32])
        assertClose(r * c, shape: [2, 3], [10, 20, 30, 20, 40, 60])
        let p = Tensor(shape: [2, 1, 3], data: [1, 2, 3, 4, 5, 6]), q = Tensor(shape: [4, 1], data: [1, 0, -1, 2])
        let expected: [Float] = [1, 2, 3, 0, 0, 0, -1, -2, -3, 2, 4, 6,
                                 4, 5, 6, 0, 0, 0, -4, -5, -6, 8, 10, 12]
        assertClose(p * q, shape: [2, 4, 3], expected)
    }

    /// Per-channel [1, C, 1, 1] against NCHW (the bias pattern) and per-sample [N, 1, 1, 1].
    func testChannelAndSampleBroadcast() {
        let x = Tensor(shape: [1, 2, 1, 2], data: [1, 2, 3, 4])
        let b = Tensor(shape: [1, 2, 1, 1], data: [100, 200])
        assertClose(x + b, shape: [1, 2, 1, 2], [101, 102, 203, 204])
        let y = Tensor(shape: [2, 1, 1, 2], data: [1, 2, 3, 4])
        let s = Tensor(shape: [2, 1, 1, 1], data: [10, -1])
        assertClose(y * s, shape: [2, 1, 1, 2], [10, 20, -3, -4])
    }

    /// A rank-0 tensor broadcasts against anything, on either side.
    func testScalarTensor() {
        let s = Tensor.scalar(2)
        assertClose(a - s, shape: [2, 3], [-1, 0, 1, 2, 3, 4])
        assertClose(s - a, shape: [2, 3], [1, 0, -1, -2, -3, -4])
        assertClose(s / Tensor(shape: [2], data: [4, -8]), shape: [2], [0.5, -0.25])
    }

    func testScalarOps() {
        assertClose(a * 0.5, shape: [2, 3], [0.5, 1, 1.5, 2, 2.5, 3])
        assertClose(a + -1, shape: [2, 3], [0, 1, 2, 3, 4, 5])
        assertClose(-a, shape: [2, 3], [-1, -2, -3, -4, -5, -6])
        var b = a
        b.add(Tensor(shape: [2, 3], repeating: 1))
        assertClose(b, shape: [2, 3], [2, 3, 4, 5, 6, 7])
    }

    func testSquareSqrtRsqrt() {
        let x = Tensor(shape: [4], data: [-3, 0.5, 4, 0.25])
        assertClose(x.squared(), shape: [4], [9, 0.25, 16, 0.0625])
        let p = Tensor(shape: [3], data: [4, 0.25, 2])
        assertClose(p.sqrt(), shape: [3], [2, 0.5, 1.41421356])
        assertClose(p.rsqrt(), shape: [3], [0.5, 2, 0.70710678])
    }

    func testLeakyReLU() {
        let x = Tensor(shape: [5], data: [-2, -0.5, 0, 0.5, 3])
        assertClose(x.leakyReLU(0.2), shape: [5], [-0.4, -0.1, 0, 0.5, 3])
        assertClose(x.leakyReLU(0), shape: [5], [0, 0, 0, 0.5, 3])
        // The derivative: slope at and below 0, 1 above.
        assertClose(x.leakyReLUSlope(0.2), shape: [5], [0.2, 0.2, 0.2, 1, 1])
    }

    /// `sum(to:)` over every choice of broadcast axes of [2, 3], and of [2, 3, 2].
    func testSumTo() {
        assertClose(a.sum(to: [1, 3]), shape: [1, 3], [5, 7, 9])
        assertClose(a.sum(to: [3]), shape: [3], [5, 7, 9])
        assertClose(a.sum(to: [2, 1]), shape: [2, 1], [6, 15])
        assertClose(a.sum(to: [1, 1]), shape: [1, 1], [21])
        assertClose(a.sum(to: []), shape: [], [21])
        assertClose(a.sum(to: [2, 3]), shape: [2, 3], a.data)
        XCTAssertEqual(a.sumAll(), 21)
        // t[i, j, k] = 6i + 2j + k.
        let t = Tensor(shape: [2, 3, 2], data: (0..<12).map(Float.init))
        assertClose(t.sum(to: [2, 1, 2]), shape: [2, 1, 2], [0 + 2 + 4, 1 + 3 + 5, 6 + 8 + 10, 7 + 9 + 11])
        assertClose(t.sum(to: [3, 1]), shape: [3, 1], [0 + 1 + 6 + 7, 2 + 3 + 8 + 9, 4 + 5 + 10 + 11])
        assertClose(t.sum(to: [1, 3, 2]), shape: [1, 3, 2], [6, 8, 10, 12, 14, 16])
        assertClose(t.sum(to: [2]), shape: [2], [0 + 2 + 4 + 6 + 8 + 10, 1 + 3 + 5 + 7 + 9 + 11])
    }

    func testExpand() {
        let r = Tensor(shape: [3], data: [1, 2, 3])
        assertClose(r.expand(to: [2, 3]), shape: [2, 3], [1, 2, 3, 1, 2, 3])
        let c = Tensor(shape: [2, 1], data: [1, 2])
        assertClose(c.expand(to: [2, 3]), shape: [2, 3], [1, 1, 1, 2, 2, 2])
        assertClose(Tensor.scalar(7).expand(to: [2, 2]), shape: [2, 2], [7, 7, 7, 7])
    }

    func testReshapePreservesOrder() {
        let r = a.reshaped([3, 2])
        XCTAssertEqual(r.shape, [3, 2])
        XCTAssertEqual(r.data, [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(a.reshaped([6]).data, a.data)
        XCTAssertEqual(Tensor.scalar(3).reshaped([1, 1]).shape, [1, 1])
    }

    func testConstructors() {
        XCTAssertEqual(Tensor.zeros([2, 2]).data, [0, 0, 0, 0])
        XCTAssertEqual(Tensor.ones([3]).data, [1, 1, 1])
        XCTAssertEqual(Tensor.scalar(5).shape, [])
        XCTAssertEqual(Tensor.scalar(5).scalarValue, 5)
        XCTAssertEqual(Tensor.strides(of: [2, 3, 4]), [12, 4, 1])
        XCTAssertEqual(Tensor.count(of: []), 1)
    }

    /// A rank without samples holds [0, C, H, W] tensors: broadcasting and the adjoint sum work on
    /// them (empty result; zeros for the sum) instead of dividing by the empty extent.
    func testEmptyBatchBroadcastsAndSums() {
        let empty = Tensor(shape: [0, 3, 2, 2], data: [])
        let bias = Tensor(shape: [1, 3, 1, 1], data: [1, 2, 3])
        let y = empty + bias
        XCTAssertEqual(y.shape, [0, 3, 2, 2])
        XCTAssertEqual(y.count, 0)
        let s = empty.sum(to: [1, 3, 1, 1])
        XCTAssertEqual(s.shape, [1, 3, 1, 1])
        XCTAssertEqual(s.data, [0, 0, 0])
    }
}
