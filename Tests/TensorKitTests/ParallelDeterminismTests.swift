import XCTest
import TensorKit
import TestSupport

/// The kernels split across threads (`Parallel`, with OpenBLAS's thread count set as `--threads`
/// sets it) give the same bits for 1, 2 and 3 threads: each output element is computed whole by
/// one thread. Sizes exceed the 32K-float grain so the work really is split.
final class ParallelDeterminismTests: XCTestCase {
    override func tearDown() {
        Parallel.threads = 1
        BLAS.threads = 1
        Tensor.winogradMinChannels = 32
        Tensor.winogradMinPixels = 64
        Tensor.im2colBudget = 4 << 20
    }

    /// `body` run with 1 thread, then with 2 and 3: every result identical to the first.
    func assertSameForAnyThreadCount(_ name: String, blasThreads: Bool = true, _ body: () -> [[Float]],
                                     file: StaticString = #filePath, line: UInt = #line) {
        Parallel.threads = 1
        BLAS.threads = 1
        let serial = body()
        for t in [2, 3] {
            Parallel.threads = t
            BLAS.threads = blasThreads ? t : 1
            let parallel = body()
            XCTAssertEqual(parallel.count, serial.count, file: file, line: line)
            for (i, (p, s)) in zip(parallel, serial).enumerated() {
                XCTAssertTrue(p == s, "\(name): result \(i) differs with \(t) threads", file: file, line: line)
            }
        }
        Parallel.threads = 1
        BLAS.threads = 1
    }

    func testForRangesCoversEveryIndexOnce() {
        for (count, grain, align) in [(1000, 1, 1), (1000, 100, 8), (7, 1, 8), (100_000, 1 << 15, 8), (0, 1, 1)] {
            for t in [1, 2, 3, 5] {
                Parallel.threads = t
                var hits = [Int](repeating: 0, count: count)
                let lock = NSLock()
                var ranges: [Range<Int>] = []
                var running = 0, mostRunning = 0
                Parallel.forRanges(count, grain: grain, align: align) { r in
                    lock.lock(); ranges.append(r); running += 1; mostRunning = max(mostRunning, running); lock.unlock()
                    usleep(200)  // long enough for the other threads to start theirs
                    lock.lock(); running -= 1; lock.unlock()
                }
                for r in ranges { for i in r { hits[i] += 1 } }
                XCTAssertTrue(hits.allSatisfy { $0 == 1 }, "count \(count), \(t) threads: \(ranges)")
                XCTAssertLessThanOrEqual(ranges.count, max(1, min(t * Parallel.rangesPerThread, count / grain)))
                XCTAssertLessThanOrEqual(mostRunning, t, "at most \(t) ranges at once")
                for r in ranges.sorted(by: { $0.lowerBound < $1.lowerBound }).dropLast() {
                    XCTAssertEqual(r.upperBound % align, 0, "ranges end on whole lanes")
                }
            }
        }
    }

    /// Winograd's products run whole on one thread each (`BLAS.batch`), so its convolutions are
    /// the same bits with OpenBLAS's thread count set too. The im2col path's product a chunk is
    /// split by `BLAS.sgemm` into blocks that follow from its shape (here 2 for the forward), the
    /// same for every thread count, with OpenBLAS at one thread as `--threads` leaves it; OpenBLAS
    /// threading a product itself changes its last bits (checked against the rounding bound at
    /// 2 and 3 threads in ConvolutionDefinitionTests).
    func testConvolutionsAreDeterministic() {
        let x = TestTensors.normal([2, 64, 16, 16], seed: 1), w = TestTensors.normal([64, 64, 3, 3], seed: 2)
        let g = TestTensors.normal([2, 64, 16, 16], seed: 3)
        for (winograd, budget) in [(false, 4 << 20), (true, 4 << 20), (true, 40_000), (false, 40_000)] {
            Tensor.winogradMinChannels = winograd ? 1 : Int.max
            Tensor.winogradMinPixels = 1
            Tensor.im2colBudget = budget
            assertSameForAnyThreadCount("conv winograd \(winograd) budget \(budget)", blasThreads: winograd) {
                [Tensor.conv2d(x, w).data, Tensor.conv2dWeightGradient(x, g, kernel: 3).data,
                 Tensor.conv2d(g, w.flippedTransposedKernel()).data, w.flippedTransposedKernel().data]
            }
        }
    }

    func testElementwiseAndSpatialAreDeterministic() {
        let a = TestTensors.normal([4, 16, 32, 32], seed: 4), b = TestTensors.normal([4, 16, 32, 32], seed: 5)
        let bias = TestTensors.normal([1, 16, 1, 1], seed: 6), row = TestTensors.normal([4, 1, 32, 32], seed: 7)
        assertSameForAnyThreadCount("elementwise") {
            var acc = a
            acc.add(b)
            return [(a + b).data, (a * b).data, (a / (b * b + 1)).data, (a + bias).data, (row * a).data, (a * 0.3).data,
                    a.leakyReLU(0.2).data, a.squared().data, acc.data, a.upsampled2x().data, a.avgPooled2x().data,
                    (a + Tensor.scalar(2)).data, a.sum(to: [1, 16, 1, 1]).data, a.sum(to: [4, 1, 32, 32]).data,
                    a.sum(to: [1, 16, 32, 1]).data, a.sum(to: [4, 16, 1, 1]).data]
        }
    }
}
