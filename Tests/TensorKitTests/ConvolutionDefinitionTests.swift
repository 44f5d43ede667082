import XCTest
import TensorKit
import TestSupport

/// The im2col convolution kernels against a direct loop in Double, on shapes that exercise maps
/// smaller than the kernel, 1x1 and 5x5 kernels, non-square maps and batch chunking.
final class ConvolutionDefinitionTests: XCTestCase {
    override func tearDown() {
        Tensor.im2colBudget = 4 << 20
        Tensor.winogradMinChannels = 32
        Tensor.winogradMinPixels = 64
    }

    /// `y[n,o,h,w] = sum w[o,c,i,j] x[n,c,h+i-p,w+j-p]`, straight from the definition.
    func directConv(_ x: Tensor, _ w: Tensor) -> [Float] {
        let (n, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (o, k) = (w.shape[0], w.shape[2])
        let p = k / 2
        var out = [Float](repeating: 0, count: n * o * h * wd)
        for s in 0..<n { for oi in 0..<o { for y in 0..<h { for xq in 0..<wd {
            var acc = 0.0
            for ci in 0..<c { for i in 0..<k { for j in 0..<k {
                let (sy, sx) = (y + i - p, xq + j - p)
                guard sy >= 0, sy < h, sx >= 0, sx < wd else { continue }
                acc += Double(w.data[((oi * c + ci) * k + i) * k + j]) * Double(x.data[((s * c + ci) * h + sy) * wd + sx])
            } } }
            out[((s * o + oi) * h + y) * wd + xq] = Float(acc)
        } } } }
        return out
    }

    /// `dw[o,c,i,j] = sum g[n,o,h,w] x[n,c,h+i-p,w+j-p]`, straight from the definition.
    func directWeightGradient(_ x: Tensor, _ g: Tensor, k: Int) -> [Float] {
        let (n, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let o = g.shape[1], p = k / 2
        var out = [Float](repeating: 0, count: o * c * k * k)
        for oi in 0..<o { for ci in 0..<c { for i in 0..<k { for j in 0..<k {
            var acc = 0.0
            for s in 0..<n { for y in 0..<h { for xq in 0..<wd {
                let (sy, sx) = (y + i - p, xq + j - p)
                guard sy >= 0, sy < h, sx >= 0, sx < wd else { continue }
                acc += Double(g.data[((s * o + oi) * h + y) * wd + xq]) * Double(x.data[((s * c + ci) * h + sy) * wd + sx])
            } } }
            out[((oi * c + ci) * k + i) * k + j] = Float(acc)
        } } } }
        return out
    }

    let shapes: [(n: Int, c: Int, o: Int, h: Int, w: Int, k: Int)] = [
        (3, 5, 4, 4, 4, 3), (2, 3, 6, 8, 5, 3), (2, 4, 3, 1, 1, 3), (2, 2, 3, 2, 3, 5),
        (3, 3, 2, 6, 6, 5), (2, 4, 5, 3, 4, 1), (1, 7, 7, 16, 16, 3),
    ]

    func testKernelsMatchTheDefinition() {
        do {
            for (index, s) in shapes.enumerated() {
                let x = TestTensors.normal([s.n, s.c, s.h, s.w], seed: UInt64(10 + index))
                let w = TestTensors.normal([s.o, s.c, s.k, s.k], seed: UInt64(40 + index))
                let g = TestTensors.normal([s.n, s.o, s.h, s.w], seed: UInt64(70 + index))
                let label = "\(s)"
                assertClose(Tensor.conv2d(x, w).data, directConv(x, w), rtol: 1e-5, atol: 1e-5, label)
                assertClose(Tensor.conv2dWeightGradient(x, g, kernel: s.k).data, directWeightGradient(x, g, k: s.k),
                            rtol: 1e-5, atol: 1e-5, label)
            }
        }
    }

    /// Small scratch budgets force chunks of one image row, and of 3 rows of 5-row images (chunks
    /// that straddle samples): chunks must accumulate, not overwrite, and land in the right rows.
    func testChunkedRowsGiveTheSameResult() {
        let x = TestTensors.normal([4, 3, 5, 5], seed: 1)
        let w = TestTensors.normal([2, 3, 3, 3], seed: 2)
        let g = TestTensors.normal([4, 2, 5, 5], seed: 3)
        for budget in [1, 3 * 27 * 5] {
            Tensor.im2colBudget = budget
            assertClose(Tensor.conv2d(x, w).data, directConv(x, w), rtol: 1e-5, atol: 1e-5, "budget \(budget)")
            assertClose(Tensor.conv2dWeightGradient(x, g, kernel: 3).data, directWeightGradient(x, g, k: 3),
                        rtol: 1e-5, atol: 1e-5, "budget \(budget)")
        }
    }

    /// Winograd F(2x2, 3x3), forced on for small channel counts: the same results as the direct
    /// sums, on square and non-square maps, 2x2 maps (every tile touches the padding), and with
    /// one tile row a chunk (chunks must accumulate the weight gradient, not overwrite it).
    func testWinogradMatchesTheDefinition() {
        Tensor.winogradMinChannels = 1
        Tensor.winogradMinPixels = 1
        let cases: [(n: Int, c: Int, o: Int, h: Int, w: Int)] = [
            (2, 3, 4, 4, 4), (3, 5, 2, 2, 2), (2, 4, 3, 6, 8), (1, 16, 8, 16, 16), (2, 2, 5, 8, 2),
        ]
        for budget in [4 << 20, 1] {
            Tensor.im2colBudget = budget
            for (index, s) in cases.enumerated() {
                let x = TestTensors.normal([s.n, s.c, s.h, s.w], seed: UInt64(100 + index))
                let w = TestTensors.normal([s.o, s.c, 3, 3], seed: UInt64(130 + index))
                let g = TestTensors.normal([s.n, s.o, s.h, s.w], seed: UInt64(160 + index))
                let label = "\(s), budget \(budget)"
                assertClose(Tensor.conv2d(x, w).data, directConv(x, w), rtol: 1e-5, atol: 1e-5, label)
                assertClose(Tensor.conv2dWeightGradient(x, g, kernel: 3).data, directWeightGradient(x, g, k: 3),
                            rtol: 1e-5, atol: 1e-5, label)
            }
        }
    }

    /// Shapes Winograd does not take (odd sizes, other kernels, few channels) still go through
    /// im2col and match; the switch itself is by channel count.
    func testWinogradIsUsedOnlyWhereItApplies() {
        Tensor.winogradMinChannels = 1
        Tensor.winogradMinPixels = 1
        let x = TestTensors.normal([2, 3, 5, 5], seed: 1), w = TestTensors.normal([4, 3, 3, 3], seed: 2)
        assertClose(Tensor.conv2d(x, w).data, directConv(x, w), rtol: 1e-5, atol: 1e-5)
        Tensor.winogradMinChannels = 32
        let x2 = TestTensors.normal([2, 3, 4, 4], seed: 3), w2 = TestTensors.normal([4, 3, 3, 3], seed: 4)
        let im2col = Tensor.conv2d(x2, w2)
        Tensor.winogradMinChannels = 1
        let winograd = Tensor.conv2d(x2, w2)
        assertClose(winograd.data, im2col.data, rtol: 1e-5, atol: 1e-5)
        XCTAssertNotEqual(winograd.data, im2col.data, "the two algorithms round differently: both paths ran")
    }
}
