import XCTest
import TensorKit
import TestSupport

/// Matrix products and convolutions on hand-computed cases.
final class LinearKernelTests: XCTestCase {
    let a = Tensor(shape: [2, 2], data: [1, 2, 3, 4])
    let b = Tensor(shape: [2, 2], data: [5, 6, 7, 8])

    func testMatmulAllTransposes() {
        assertClose(Tensor.matmul(a, b), shape: [2, 2], [19, 22, 43, 50])
        // A^T = [[1, 3], [2, 4]], B^T = [[5, 7], [6, 8]].
        assertClose(Tensor.matmul(a, b, transA: true), shape: [2, 2], [26, 30, 38, 44])
        assertClose(Tensor.matmul(a, b, transB: true), shape: [2, 2], [17, 23, 39, 53])
        assertClose(Tensor.matmul(a, b, transA: true, transB: true), shape: [2, 2], [23, 31, 34, 46])
    }

    /// Rectangular operands, so a swapped m/n/k or leading dimension changes the shape or values.
    func testMatmulRectangular() {
        let r = Tensor(shape: [2, 3], data: [1, 2, 3, 4, 5, 6])
        let v = Tensor(shape: [3, 1], data: [1, 0, -1])
        assertClose(Tensor.matmul(r, v), shape: [2, 1], [-2, -2])
        assertClose(Tensor.matmul(r, r, transB: true), shape: [2, 2], [14, 32, 32, 77])
        assertClose(Tensor.matmul(r, r, transA: true), shape: [3, 3], [17, 22, 27, 22, 29, 36, 27, 36, 45])
        // A dense layer: x [1, 3] times w^T for w [2, 3].
        let x = Tensor(shape: [1, 3], data: [1, 1, 2])
        assertClose(Tensor.matmul(x, r, transB: true), shape: [1, 2], [9, 21])
        // r^T [3, 2] times [2, 1].
        assertClose(Tensor.matmul(r, Tensor(shape: [2, 1], data: [1, -1]), transA: true), shape: [3, 1], [-3, -3, -3])
    }

    /// x = [[1, 2, 3], [4, 5, 6], [7, 8, 9]], all-ones 3x3 kernel, zero padding 1: each output is
    /// the sum of the in-image part of its 3x3 neighbourhood.
    func testConv3x3SamePaddingBoxFilter() {
        let x = Tensor(shape: [1, 1, 3, 3], data: (1...9).map(Float.init))
        let w = Tensor.ones([1, 1, 3, 3])
        assertClose(Tensor.conv2d(x, w), shape: [1, 1, 3, 3], [12, 21, 16, 27, 45, 33, 24, 39, 28])
    }

    /// One-tap kernels fix the orientation: cross-correlation, `y[h, w] = x[h + i - 1, w + j - 1]`
    /// for the tap at (i, j), so the top-left tap shifts the image down and right.
    func testConv3x3TapOrientation() {
        let x = Tensor(shape: [1, 1, 3, 3], data: (1...9).map(Float.init))
        func tap(_ i: Int, _ j: Int) -> Tensor {
            var w = Tensor.zeros([1, 1, 3, 3]); w.data[i * 3 + j] = 1; return w
        }
        assertClose(Tensor.conv2d(x, tap(0, 0)), shape: [1, 1, 3, 3], [0, 0, 0, 0, 1, 2, 0, 4, 5])
        assertClose(Tensor.conv2d(x, tap(0, 1)), shape: [1, 1, 3, 3], [0, 0, 0, 1, 2, 3, 4, 5, 6])
        assertClose(Tensor.conv2d(x, tap(1, 2)), shape: [1, 1, 3, 3], [2, 3, 0, 5, 6, 0, 8, 9, 0])
        assertClose(Tensor.conv2d(x, tap(2, 2)), shape: [1, 1, 3, 3], [5, 6, 0, 8, 9, 0, 0, 0, 0])
        assertClose(Tensor.conv2d(x, tap(1, 1)), shape: [1, 1, 3, 3], x.data)
    }

    /// Two samples, two input and two output channels, on a non-square 2x3 image: channel mixing
    /// and the [O, N*HW] -> [N, O, HW] layout.
    func testConvChannelsAndBatch() {
        // Sample 0: c0 = 1..6, c1 = all 1. Sample 1: c0 = all 2, c1 = 0.
        let x = Tensor(shape: [2, 2, 2, 3], data: (1...6).map(Float.init) + [Float](repeating: 1, count: 6)
                       + [Float](repeating: 2, count: 6) + [Float](repeating: 0, count: 6))
        // o0 = c0 (centre tap) + 10 c1 (centre tap); o1 = c1's right neighbour (tap (1, 2)).
        var w = Tensor.zeros([2, 2, 3, 3])
        w.data[(0 * 2 + 0) * 9 + 4] = 1
        w.data[(0 * 2 + 1) * 9 + 4] = 10
        w.data[(1 * 2 + 1) * 9 + 5] = 1
        let expected: [Float] = [11, 12, 13, 14, 15, 16, 1, 1, 0, 1, 1, 0,
                                 2, 2, 2, 2, 2, 2, 0, 0, 0, 0, 0, 0]
        assertClose(Tensor.conv2d(x, w), shape: [2, 2, 2, 3], expected)
    }

    /// 1x1 kernels are a matrix on channels.
    func testConv1x1() {
        let x = Tensor(shape: [1, 2, 1, 2], data: [1, 2, 3, 4])
        let w = Tensor(shape: [2, 2, 1, 1], data: [1, 10, 100, 1000])
        assertClose(Tensor.conv2d(x, w), shape: [1, 2, 1, 2], [31, 42, 3100, 4200])
    }

    /// `dw[o, c, i, j] = sum g[n, o, h, w] x[n, c, h + i - 1, w + j - 1]`: with g one-hot at output
    /// pixel (0, 0), dw is x's 3x3 neighbourhood of (0, 0), padding included.
    func testConvWeightGradientHandCase() {
        let x = Tensor(shape: [1, 1, 2, 2], data: [1, 2, 3, 4])
        let g = Tensor(shape: [1, 1, 2, 2], data: [1, 0, 0, 0])
        assertClose(Tensor.conv2dWeightGradient(x, g, kernel: 3), shape: [1, 1, 3, 3], [0, 0, 0, 0, 1, 2, 0, 3, 4])
        // g all ones: each tap sums the part of x it sees; the centre sees everything.
        let ones = Tensor.ones([1, 1, 2, 2])
        assertClose(Tensor.conv2dWeightGradient(x, ones, kernel: 3), shape: [1, 1, 3, 3],
                    [1, 3, 2, 4, 10, 6, 3, 7, 4])
        assertClose(Tensor.conv2dWeightGradient(x, ones, kernel: 1), shape: [1, 1, 1, 1], [10])
    }

    /// `<conv2d(x, w), g> = <w, conv2dWeightGradient(x, g)> = <x, conv2d(g, flipT(w))>`: all three
    /// are the triple sum `S = sum g w x`, each within its rounding bound of S computed in Double
    /// (`RoundingBound`): the float32 kernel's roundings (C k k = 27, N H W = 40, O k k = 18) plus
    /// one for the elementwise product; `sumAll` adds in Double.
    func testConvAdjointIdentities() {
        let x = TestTensors.normal([2, 3, 4, 5], seed: 1), w = TestTensors.normal([2, 3, 3, 3], seed: 2)
        let g = TestTensors.normal([2, 2, 4, 5], seed: 3)
        let forward = ConvolutionReference.conv2d(x, w)
        var exact = 0.0, magnitude = 0.0
        for i in 0..<g.count {
            exact += Double(g.data[i]) * forward.value[i]
            magnitude += abs(Double(g.data[i])) * forward.magnitude[i]
        }
        let terms = g.count * 27
        assertWithinRoundingBound((Tensor.conv2d(x, w) * g).sumAll(), exact, magnitude: magnitude,
                                  roundings: 27 + 1, referenceRoundings: 2 * terms, "<conv2d(x, w), g>")
        assertWithinRoundingBound((w * Tensor.conv2dWeightGradient(x, g, kernel: 3)).sumAll(), exact, magnitude: magnitude,
                                  roundings: 40 + 1, referenceRoundings: 2 * terms, "<w, dw>")
        assertWithinRoundingBound((x * Tensor.conv2d(g, w.flippedTransposedKernel())).sumAll(), exact,
                                  magnitude: magnitude, roundings: 18 + 1, referenceRoundings: 2 * terms, "<x, dx>")
    }

    /// The batch is processed in chunks when im2col would exceed its budget; the result must not
    /// depend on the chunking.
    func testConvChunkingMatchesOneShot() {
        let x = TestTensors.normal([3, 2, 3, 3], seed: 4), w = TestTensors.normal([2, 2, 3, 3], seed: 5)
        let g = TestTensors.normal([3, 2, 3, 3], seed: 6)
        let y = Tensor.conv2d(x, w), dw = Tensor.conv2dWeightGradient(x, g, kernel: 3)
        let saved = Tensor.im2colBudget
        Tensor.im2colBudget = 2 * 9 * 9  // 3 image rows (one sample) per chunk
        defer { Tensor.im2colBudget = saved }
        assertClose(Tensor.conv2d(x, w), y)
        assertClose(Tensor.conv2dWeightGradient(x, g, kernel: 3), dw)
    }

    /// `r[c, o, i, j] = w[o, c, k-1-i, k-1-j]`, its own inverse.
    func testFlippedTransposedKernel() {
        let w = Tensor(shape: [1, 2, 2, 2], data: (0..<8).map(Float.init))
        assertClose(w.flippedTransposedKernel(), shape: [2, 1, 2, 2], [3, 2, 1, 0, 7, 6, 5, 4])
        let v = TestTensors.normal([2, 3, 3, 3], seed: 7)
        XCTAssertEqual(v.flippedTransposedKernel().flippedTransposedKernel(), v)
    }
}
