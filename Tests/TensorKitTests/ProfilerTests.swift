import XCTest
import TensorKit
import TestSupport

/// The profiler's sgemm accounting: the multiply-adds counted for the kernels equal their formulas,
/// whatever the chunking, and land in the slot that was current.
final class ProfilerTests: XCTestCase {
    override func setUp() {
        Profiler.setEnabled(true)
        Profiler.enter(0)
        Profiler.reset()
    }

    override func tearDown() {
        Profiler.enter(0)
        Profiler.setEnabled(false)
    }

    private func totalMultiplyAdds(_ s: Profiler.Snapshot) -> Double { s.multiplyAdds.reduce(0, +) }

    func testMatmulCountsMTimesNTimesK() {
        let a = TestTensors.normal([3, 5], seed: 1), b = TestTensors.normal([5, 7], seed: 2)
        _ = Tensor.matmul(a, b)
        _ = Tensor.matmul(a, a, transA: true)   // [5, 3] x [3, 5]
        let s = Profiler.snapshot()
        XCTAssertEqual(totalMultiplyAdds(s), Double(3 * 7 * 5 + 5 * 5 * 3))
        XCTAssertEqual(s.sgemmCalls, 2)
        XCTAssertEqual(s.convMultiplyAdds, 0)
    }

    /// A 3x3 same conv does N O H W C k^2 multiply-adds, forward and weight gradient alike, in one
    /// chunk or in several (a tiny im2col budget forces one image row a chunk).
    func testConvolutionCountsTheFormulaInAnyChunking() {
        let (n, c, o, h, w, k) = (3, 2, 4, 5, 6, 3)
        let x = TestTensors.normal([n, c, h, w], seed: 3)
        let wt = TestTensors.normal([o, c, k, k], seed: 4)
        let g = TestTensors.normal([n, o, h, w], seed: 5)
        let formula = Double(n * o * h * w * c * k * k)
        let saved = Tensor.im2colBudget
        defer { Tensor.im2colBudget = saved }
        for budget in [saved, 1] {
            Tensor.im2colBudget = budget
            Profiler.reset()
            _ = Tensor.conv2d(x, wt)
            XCTAssertEqual(totalMultiplyAdds(Profiler.snapshot()), formula, "forward, budget \(budget)")
            XCTAssertEqual(Profiler.snapshot().convMultiplyAdds, formula)
            Profiler.reset()
            _ = Tensor.conv2dWeightGradient(x, g, kernel: k)
            XCTAssertEqual(totalMultiplyAdds(Profiler.snapshot()), formula, "weight gradient, budget \(budget)")
            XCTAssertEqual(Profiler.snapshot().sgemmCalls, budget == 1 ? n * h : 1, "one image row a chunk")
        }
    }

    /// Winograd's products are 16/36 of the convolution's multiply-adds; the profiler counts the
    /// direct convolution's, so GFLOP/s compare across algorithms.
    func testWinogradCountsTheDirectConvolutionsWork() {
        let (n, c, o, h, w) = (2, 3, 4, 4, 6)
        let x = TestTensors.normal([n, c, h, w], seed: 7)
        let wt = TestTensors.normal([o, c, 3, 3], seed: 8)
        let g = TestTensors.normal([n, o, h, w], seed: 9)
        let (savedChannels, savedPixels) = (Tensor.winogradMinChannels, Tensor.winogradMinPixels)
        defer { Tensor.winogradMinChannels = savedChannels; Tensor.winogradMinPixels = savedPixels }
        Tensor.winogradMinChannels = 1
        Tensor.winogradMinPixels = 1
        let formula = Double(n * o * h * w * c * 9)
        Profiler.reset()
        _ = Tensor.conv2d(x, wt)
        XCTAssertEqual(totalMultiplyAdds(Profiler.snapshot()), formula)
        XCTAssertEqual(Profiler.snapshot().sgemmCalls, 16)
        Profiler.reset()
        _ = Tensor.conv2dWeightGradient(x, g, kernel: 3)
        XCTAssertEqual(totalMultiplyAdds(Profiler.snapshot()), formula)
        XCTAssertEqual(Profiler.snapshot().convMultiplyAdds, formula)
    }

    func testWorkIsChargedToTheCurrentSlot() {
        let a = TestTensors.normal([4, 4], seed: 6)
        Profiler.enter(3)
        _ = Tensor.matmul(a, a)
        Profiler.enter(3, backward: true)
        _ = Tensor.matmul(a, a)
        _ = Tensor.matmul(a, a)
        let saved = Profiler.enter(5)
        XCTAssertEqual(saved.phase, 3)
        XCTAssertTrue(saved.backward)
        Profiler.restore(saved)
        XCTAssertEqual(Profiler.current.phase, 3)
        let s = Profiler.snapshot()
        XCTAssertEqual(s.multiplyAdds[Profiler.Snapshot.slot(3, backward: false)], 64)
        XCTAssertEqual(s.multiplyAdds[Profiler.Snapshot.slot(3, backward: true)], 128)
        XCTAssertEqual(totalMultiplyAdds(s), 192)
        XCTAssertEqual(s.seconds.reduce(0, +), s.seconds[6] + s.seconds[7] + s.seconds[10] + s.seconds[0], accuracy: 1e-12)
    }

    func testNothingIsCountedWhileOff() {
        Profiler.setEnabled(false)
        _ = Tensor.matmul(TestTensors.normal([4, 4], seed: 7), TestTensors.normal([4, 4], seed: 8))
        XCTAssertEqual(Profiler.enter(4).phase, 0, "enter does not switch while off")
        Profiler.setEnabled(true)
        XCTAssertEqual(totalMultiplyAdds(Profiler.snapshot()), 0)
    }
}
