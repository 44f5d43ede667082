import XCTest
import TensorKit
import TestSupport

/// The convolution kernels (im2col and Winograd) against a direct loop in Double, on shapes that
/// exercise maps smaller than the kernel, 1x1 and 5x5 kernels, non-square maps and batch
/// chunking. Each output must be within its float32 rounding-error bound (`RoundingBound`,
/// scaled by the sum of |terms| that make it), so the tests hold for every BLAS kernel and CPU.
final class ConvolutionDefinitionTests: XCTestCase {
    override func tearDown() {
        Parallel.threads = 1
        BLAS.threads = 1
        Tensor.im2colBudget = 4 << 20
        Tensor.winogradMinChannels = 32
        Tensor.winogradMinPixels = 64
        Tensor.fusedWinogradMaxChannels = 256
        Tensor.fusedWeightGradientMaxChannels = 32
        Tensor.fusedWinograd4MaxChannels = 128
        Tensor.fusedWeightGradient4MaxChannels = 128
    }

    /// im2col + sgemm against the definition, each output within its float32 rounding bound:
    /// `C k k` roundings for the forward, `N H W` for the weight gradient (`RoundingBound`).
    func assertIm2colMatches(_ x: Tensor, _ w: Tensor, _ g: Tensor, _ label: String,
                             file: StaticString = #filePath, line: UInt = #line) {
        let (n, c, h, wd, k) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3], w.shape[2])
        assertWithinRoundingBound(Tensor.conv2d(x, w).data, ConvolutionReference.conv2d(x, w),
                                  roundings: c * k * k, label, file: file, line: line)
        assertWithinRoundingBound(Tensor.conv2dWeightGradient(x, g, kernel: k).data,
                                  ConvolutionReference.conv2dWeightGradient(x, g, kernel: k),
                                  roundings: n * h * wd, label, file: file, line: line)
    }

    /// Winograd F(2x2, 3x3) against the definition: each output within the rounding bound of
    /// Winograd's own expansion (the transforms' growth included), which exceeds the direct sum's.
    func assertWinogradMatches(_ x: Tensor, _ w: Tensor, _ g: Tensor, _ label: String,
                               file: StaticString = #filePath, line: UInt = #line) {
        let (n, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        var forward = ConvolutionReference.conv2d(x, w)
        let direct = forward.magnitude
        forward.magnitude = ConvolutionReference.winogradMagnitude(x, w)
        XCTAssertTrue(zip(forward.magnitude, direct).allSatisfy { $0 >= $1 * (1 - 1e-12) },
                      "the expansion's |terms| cover the direct sum's", file: file, line: line)
        assertWithinRoundingBound(Tensor.conv2d(x, w).data, forward,
                                  roundings: ConvolutionReference.winogradRoundings(channels: c),
                                  referenceRoundings: c * 9, label, file: file, line: line)
        var gradient = ConvolutionReference.conv2dWeightGradient(x, g, kernel: 3)
        gradient.magnitude = ConvolutionReference.winogradWeightGradientMagnitude(x, g)
        assertWithinRoundingBound(Tensor.conv2dWeightGradient(x, g, kernel: 3).data, gradient,
                                  roundings: ConvolutionReference.winogradWeightGradientRoundings(tiles: n * h * wd / 4),
                                  referenceRoundings: n * h * wd, label, file: file, line: line)
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
                assertIm2colMatches(x, w, g, "\(s)")
            }
        }
    }

    /// With 2 and 3 threads (`Parallel` and OpenBLAS's), both algorithms still within their
    /// bounds: OpenBLAS's threaded products sum in other orders, which the bounds allow.
    func testKernelsMatchTheDefinitionWithThreads() {
        defer { Parallel.threads = 1; BLAS.threads = 1 }
        for t in [2, 3] {
            Parallel.threads = t
            BLAS.threads = t
            for winograd in [false, true] {
                Tensor.winogradMinChannels = winograd ? 1 : Int.max
                Tensor.winogradMinPixels = 1
                let x = TestTensors.normal([1, 40, 8, 8], seed: 200), w = TestTensors.normal([36, 40, 3, 3], seed: 201)
                let g = TestTensors.normal([1, 36, 8, 8], seed: 202)
                if winograd {
                    assertWinogradMatches(x, w, g, "\(t) threads")
                } else {
                    assertIm2colMatches(x, w, g, "\(t) threads")
                }
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
            assertIm2colMatches(x, w, g, "budget \(budget)")
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
                assertWinogradMatches(x, w, g, "\(s), budget \(budget)")
            }
        }
    }

    /// The fused Winograd kernel against the definition within Winograd's bound, at the widths
    /// of its block edges (16: half a block; 40: a block and 4 tiles; 34: a last block of one
    /// tile; 146: a weight-gradient block of 64 tiles and a partial one), with channel counts
    /// that are not multiples of 8, batches of several samples, and 2 and 3 threads splitting tile
    /// rows across samples: the same bits as 1 thread. The weight gradient likewise (its fused
    /// kernel takes multiples of 8 input channels: 8, 16 and 24, one and two vectors of them).
    func testFusedWinogradMatchesTheDefinition() throws {
        try XCTSkipUnless(CPUFeatures.current.avx2FMA, "the fused kernel needs AVX2 and FMA")
        Tensor.winogradMinChannels = Int.max
        let cases: [(n: Int, c: Int, o: Int, h: Int, w: Int)] = [
            (1, 16, 8, 16, 16), (2, 5, 12, 6, 40), (3, 3, 4, 4, 34), (1, 64, 4, 2, 16), (2, 24, 8, 4, 146),
            (1, 8, 12, 2, 18),
        ]
        for (index, s) in cases.enumerated() {
            let x = TestTensors.normal([s.n, s.c, s.h, s.w], seed: UInt64(600 + index))
            let w = TestTensors.normal([s.o, s.c, 3, 3], seed: UInt64(630 + index))
            var reference = ConvolutionReference.conv2d(x, w)
            reference.magnitude = ConvolutionReference.winogradMagnitude(x, w)
            let g = TestTensors.normal([s.n, s.o, s.h, s.w], seed: UInt64(660 + index))
            let y = Tensor.conv2d(x, w), dw = Tensor.conv2dWeightGradient(x, g, kernel: 3)
            assertWithinRoundingBound(y.data, reference, roundings: ConvolutionReference.winogradRoundings(channels: s.c),
                                      referenceRoundings: s.c * 9, "\(s)")
            var gradient = ConvolutionReference.conv2dWeightGradient(x, g, kernel: 3)
            gradient.magnitude = ConvolutionReference.winogradWeightGradientMagnitude(x, g)
            assertWithinRoundingBound(dw.data, gradient,
                                      roundings: ConvolutionReference.winogradWeightGradientRoundings(tiles: s.n * s.h * s.w / 4),
                                      referenceRoundings: s.n * s.h * s.w, "\(s) weight gradient")
            for t in [2, 3] {
                Parallel.threads = t
                XCTAssertEqual(Tensor.conv2d(x, w).data, y.data, "\(s), \(t) threads")
                XCTAssertEqual(Tensor.conv2dWeightGradient(x, g, kernel: 3).data, dw.data, "\(s) weight gradient, \(t) threads")
            }
            Parallel.threads = 1
            (Tensor.fusedWinogradMaxChannels, Tensor.fusedWeightGradientMaxChannels) = (0, 0)
            XCTAssertNotEqual(Tensor.conv2d(x, w).data, y.data, "\(s): the fused kernel did not run")
            if max(s.c, s.o) <= 32 && s.c % 8 == 0 {
                XCTAssertNotEqual(Tensor.conv2dWeightGradient(x, g, kernel: 3).data, dw.data, "\(s): the fused weight gradient did not run")
            }
            (Tensor.fusedWinogradMaxChannels, Tensor.fusedWeightGradientMaxChannels) = (256, 32)
        }
    }

    /// The fused F(4x4, 3x3) kernel against the definition within its own rounding bound (its
    /// transforms' larger coefficients in the |terms|): one block (32 wide), a block and 2 tiles
    /// with a scalar tail in the phase split (40), a last block of one tile (68), odd channel
    /// counts, several samples; 2 and 3 threads give the same bits; it is not F(2x2)'s result.
    func testFusedWinograd4MatchesTheDefinition() throws {
        try XCTSkipUnless(CPUFeatures.current.avx2FMA, "the fused kernel needs AVX2 and FMA")
        let cases: [(n: Int, c: Int, o: Int, h: Int, w: Int)] = [
            (1, 16, 8, 8, 32), (2, 5, 12, 4, 40), (1, 3, 4, 8, 68), (1, 128, 4, 4, 32),
        ]
        for (index, s) in cases.enumerated() {
            let x = TestTensors.normal([s.n, s.c, s.h, s.w], seed: UInt64(700 + index))
            let w = TestTensors.normal([s.o, s.c, 3, 3], seed: UInt64(730 + index))
            var reference = ConvolutionReference.conv2d(x, w)
            let direct = reference.magnitude
            reference.magnitude = ConvolutionReference.winogradMagnitude(x, w, outputTile: 4)
            XCTAssertTrue(zip(reference.magnitude, direct).allSatisfy { $0 >= $1 * (1 - 1e-12) },
                          "the expansion's |terms| cover the direct sum's")
            let y = Tensor.conv2d(x, w)
            assertWithinRoundingBound(y.data, reference, roundings: ConvolutionReference.winograd4Roundings(channels: s.c),
                                      referenceRoundings: s.c * 9, "\(s)")
            for t in [2, 3] {
                Parallel.threads = t
                XCTAssertEqual(Tensor.conv2d(x, w).data, y.data, "\(s), \(t) threads")
            }
            Parallel.threads = 1
            Tensor.fusedWinograd4MaxChannels = 0
            XCTAssertNotEqual(Tensor.conv2d(x, w).data, y.data, "\(s): F(4x4) did not run")
            Tensor.fusedWinograd4MaxChannels = 128
        }
    }

    /// The fused F(4x4, 3x3) weight gradient against the definition within its own rounding bound:
    /// one block of 8 tiles (32 wide), a block and a partial one with a scalar tail in the phase
    /// split (168: 42 tiles), 8, 16, 24 and 128 input channels (one vector, a pair, a pair and
    /// one), several samples and tile rows cut into parts; 2 and 3 threads give the same bits; it
    /// is not F(2x2)'s result; and in the smallest case an output off by 1% of the direct sum's
    /// |terms| is caught.
    func testFusedWinograd4WeightGradientMatchesTheDefinition() throws {
        try XCTSkipUnless(CPUFeatures.current.avx2FMA, "the fused kernel needs AVX2 and FMA")
        let cases: [(n: Int, c: Int, o: Int, h: Int, w: Int)] = [
            (1, 8, 4, 4, 32), (2, 24, 12, 8, 168), (3, 16, 8, 12, 32), (1, 128, 4, 4, 32), (1, 8, 128, 4, 32),
        ]
        for (index, s) in cases.enumerated() {
            let x = TestTensors.normal([s.n, s.c, s.h, s.w], seed: UInt64(800 + index))
            let g = TestTensors.normal([s.n, s.o, s.h, s.w], seed: UInt64(830 + index))
            var reference = ConvolutionReference.conv2dWeightGradient(x, g, kernel: 3)
            let direct = reference.magnitude
            reference.magnitude = ConvolutionReference.winogradWeightGradientMagnitude(x, g, outputTile: 4)
            XCTAssertTrue(zip(reference.magnitude, direct).allSatisfy { $0 >= $1 * (1 - 1e-12) },
                          "the expansion's |terms| cover the direct sum's")
            let roundings = ConvolutionReference.winograd4WeightGradientRoundings(tiles: s.n * s.h * s.w / 16)
            let dw = Tensor.conv2dWeightGradient(x, g, kernel: 3)
            assertWithinRoundingBound(dw.data, reference, roundings: roundings, referenceRoundings: s.n * s.h * s.w, "\(s)")
            for t in [2, 3] {
                Parallel.threads = t
                XCTAssertEqual(Tensor.conv2dWeightGradient(x, g, kernel: 3).data, dw.data, "\(s), \(t) threads")
            }
            Parallel.threads = 1
            Tensor.fusedWeightGradient4MaxChannels = 0
            XCTAssertNotEqual(Tensor.conv2dWeightGradient(x, g, kernel: 3).data, dw.data, "\(s): F(4x4) did not run")
            Tensor.fusedWeightGradient4MaxChannels = 128
            guard index == 0 else { continue }
            // One sample, 4 rows: an output off by 1% of its |terms| is outside the bound.
            var wrong = dw
            let i = wrong.count / 2
            wrong.data[i] += Float(0.01 * direct[i])
            XCTAssertNotNil(roundingBoundViolation(wrong.data, reference, roundings: roundings),
                            "\(s): the bound lets a 1% wrong output through")
        }
    }

    /// F(4x4)'s bound still catches a kernel tap off by 1% of its size.
    func testWinograd4BoundCatchesAWrongTap() throws {
        try XCTSkipUnless(CPUFeatures.current.avx2FMA, "the fused kernel needs AVX2 and FMA")
        let x = TestTensors.normal([1, 16, 8, 32], seed: 5), w = TestTensors.normal([8, 16, 3, 3], seed: 6)
        var wrong = w
        wrong.data[7 * 9 + 4] *= 1.01
        var reference = ConvolutionReference.conv2d(x, w)
        reference.magnitude = ConvolutionReference.winogradMagnitude(x, w, outputTile: 4)
        let roundings = ConvolutionReference.winograd4Roundings(channels: 16)
        XCTAssertNil(roundingBoundViolation(Tensor.conv2d(x, w).data, reference, roundings: roundings))
        XCTAssertNotNil(roundingBoundViolation(Tensor.conv2d(x, wrong).data, reference, roundings: roundings),
                        "F(4x4)'s bound lets a 1% wrong tap through")
    }

    /// A rank holding no samples: the fused weight gradient of an empty batch is zero, the
    /// forward an empty tensor.
    func testFusedWinogradOnAnEmptyBatch() throws {
        try XCTSkipUnless(CPUFeatures.current.avx2FMA, "the fused kernel needs AVX2 and FMA")
        let x = Tensor.zeros([0, 16, 4, 16]), w = TestTensors.normal([8, 16, 3, 3], seed: 1)
        XCTAssertEqual(Tensor.conv2d(x, w).shape, [0, 8, 4, 16])
        let dw = Tensor.conv2dWeightGradient(x, Tensor.zeros([0, 8, 4, 16]), kernel: 3)
        XCTAssertEqual(dw.shape, [8, 16, 3, 3])
        XCTAssertEqual(dw.data, [Float](repeating: 0, count: 8 * 16 * 9))
    }

    /// Shapes Winograd does not take (odd sizes, other kernels, few channels) still go through
    /// im2col and match; the switch itself is by channel count.
    func testWinogradIsUsedOnlyWhereItApplies() {
        Tensor.winogradMinChannels = 1
        Tensor.winogradMinPixels = 1
        let x = TestTensors.normal([2, 3, 5, 5], seed: 1), w = TestTensors.normal([4, 3, 3, 3], seed: 2)
        assertWithinRoundingBound(Tensor.conv2d(x, w).data, ConvolutionReference.conv2d(x, w), roundings: 27)
        Tensor.winogradMinChannels = 32
        let x2 = TestTensors.normal([2, 3, 4, 4], seed: 3), w2 = TestTensors.normal([4, 3, 3, 3], seed: 4)
        let im2col = Tensor.conv2d(x2, w2)
        Tensor.winogradMinChannels = 1
        let winograd = Tensor.conv2d(x2, w2)
        var reference = ConvolutionReference.conv2d(x2, w2)
        assertWithinRoundingBound(im2col.data, reference, roundings: 27)
        reference.magnitude = ConvolutionReference.winogradMagnitude(x2, w2)
        assertWithinRoundingBound(winograd.data, reference, roundings: ConvolutionReference.winogradRoundings(channels: 3),
                                  referenceRoundings: 27)
        XCTAssertNotEqual(winograd.data, im2col.data, "the two algorithms round differently: both paths ran")
    }

    /// The bounds still catch real errors: a kernel with one tap off by 1% of its size (what a
    /// wrong index or transform coefficient does, and less) fails both algorithms' bounds.
    func testRoundingBoundsCatchAWrongTap() {
        Tensor.winogradMinChannels = 1
        Tensor.winogradMinPixels = 1
        let x = TestTensors.normal([1, 16, 8, 8], seed: 5), w = TestTensors.normal([8, 16, 3, 3], seed: 6)
        var wrong = w
        wrong.data[7 * 9 + 4] *= 1.01
        var reference = ConvolutionReference.conv2d(x, w)
        reference.magnitude = ConvolutionReference.winogradMagnitude(x, w)
        XCTAssertNil(roundingBoundViolation(Tensor.conv2d(x, w).data, reference,
                                            roundings: ConvolutionReference.winogradRoundings(channels: 16)))
        XCTAssertNotNil(roundingBoundViolation(Tensor.conv2d(x, wrong).data, reference,
                                               roundings: ConvolutionReference.winogradRoundings(channels: 16)),
                        "Winograd's bound lets a 1% wrong tap through")
        Tensor.winogradMinChannels = 32
        reference = ConvolutionReference.conv2d(x, w)
        XCTAssertNotNil(roundingBoundViolation(Tensor.conv2d(x, wrong).data, reference, roundings: 16 * 9),
                        "the direct bound lets a 1% wrong tap through")
    }
}
