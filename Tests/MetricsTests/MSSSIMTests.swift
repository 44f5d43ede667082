import XCTest
@testable import Metrics
import TensorKit

final class MSSSIMTests: XCTestCase {
    func batch(_ pixels: [Float], count: Int, channels: Int, size: Int) throws -> ImageBatch {
        try Synthetic.batch(pixels, count: count, channels: channels, size: size)
    }

    /// Independent uniform noise in [-1, 1].
    func noise(count: Int, channels: Int, size: Int, seed: UInt64) -> [Float] {
        let rng = CounterRNG(seed: seed)
        return (0..<(count * channels * size * size)).map { 2 * rng.uniform(stream: 1, index: UInt64($0)) - 1 }
    }

    /// The authors' rule: five scales at every size, the window shrunk to the coarse scales.
    func testFiveScalesWithTheWindowShrunkToTheImage() {
        XCTAssertEqual(MSSSIM.scaleCount, 5)
        XCTAssertEqual(MSSSIM.windowSizes(forSize: 1024), [11, 11, 11, 11, 11])
        XCTAssertEqual(MSSSIM.windowSizes(forSize: 128), [11, 11, 11, 11, 8])
        XCTAssertEqual(MSSSIM.windowSizes(forSize: 16), [11, 8, 4, 2, 1])
        XCTAssertEqual([16, 32, 48, 128].map(MSSSIM.supports(size:)), [true, true, true, true])
        XCTAssertEqual([8, 24, 100].map(MSSSIM.supports(size:)), [false, false, false])
    }

    /// Windows sum to 1, are symmetric, and an even one is centred between its middle taps: its
    /// sigma is 1.5 * k / 11, so the ratio of neighbouring taps follows from the Gaussian.
    func testShrunkWindowIsTheScaledGaussian() {
        for k in [11, 8, 4, 2, 1] {
            let w = MSSSIM.window(size: k)
            XCTAssertEqual(w.count, k)
            XCTAssertEqual(w.reduce(0, +), 1, accuracy: 1e-12)
            for i in 0..<k { XCTAssertEqual(w[i], w[k - 1 - i], accuracy: 1e-15) }
        }
        let w = MSSSIM.window(size: 8), sigma = 1.5 * 8 / 11
        // Taps at -0.5 and -1.5 from the centre: ratio exp((1.5^2 - 0.5^2) / (2 sigma^2)).
        XCTAssertEqual(w[3] / w[2], exp((2.25 - 0.25) / (2 * sigma * sigma)), accuracy: 1e-12)
    }

    func testIdenticalImagesScoreOne() throws {
        for (c, s) in [(3, 64), (1, 256), (3, 16)] {
            let x = try batch(Synthetic.images(count: 2, channels: c, size: s, seed: 2), count: 2, channels: c, size: s)
            for v in try multiScaleSSIM(x, x) { XCTAssertEqual(v, 1, accuracy: 1e-12, "\(c)x\(s)^2") }
        }
    }

    func testIndependentNoiseScoresLowAndIsSymmetric() throws {
        let s = 256
        let x = try batch(noise(count: 1, channels: 1, size: s, seed: 1), count: 1, channels: 1, size: s)
        let y = try batch(noise(count: 1, channels: 1, size: s, seed: 2), count: 1, channels: 1, size: s)
        let xy = try multiScaleSSIM(x, y)[0], yx = try multiScaleSSIM(y, x)[0]
        XCTAssertLessThan(xy, 0.1)
        XCTAssertGreaterThanOrEqual(xy, 0)
        XCTAssertEqual(xy, yx, accuracy: 1e-12)
    }

    func testScoreFallsWithNoise() throws {
        let c = 3, s = 64
        let clean = Synthetic.images(count: 1, channels: c, size: s, seed: 4)
        let x = try batch(clean, count: 1, channels: c, size: s)
        let scores = try [Float(0.05), 0.1, 0.2, 0.4].map {
            try multiScaleSSIM(x, batch(Synthetic.noisy(clean, sigma: $0, seed: 6), count: 1, channels: c, size: s))[0]
        }
        for k in 1..<scores.count { XCTAssertLessThan(scores[k], scores[k - 1], "\(scores)") }
        XCTAssertLessThan(scores[0], 1)
    }

    /// Images converted from uint8 give the same score as the standard [0, 255], L = 255 convention,
    /// whose luminance term is not shift invariant: a dark and a darker image must not score as if
    /// they were mid-grey.
    func testLuminanceUsesZeroToOneRange() throws {
        let s = 16
        let dark = try ImageBatch(uint8: [UInt8](repeating: 10, count: s * s), count: 1, channels: 1, height: s, width: s)
        let darker = try ImageBatch(uint8: [UInt8](repeating: 20, count: s * s), count: 1, channels: 1, height: s, width: s)
        // Constant images: every cs = 1, and at the coarsest scale SSIM = l = (2*10*20 + C1) /
        // (10^2 + 20^2 + C1) with C1 = 2.55^2, raised to that scale's weight 0.1333.
        let c1 = 2.55 * 2.55
        XCTAssertEqual(try multiScaleSSIM(dark, darker)[0], pow((400 + c1) / (500 + c1), 0.1333), accuracy: 1e-9)
    }

    func testAverageOverPairs() throws {
        let c = 3, s = 32, n = 6
        let varied = try batch(Synthetic.images(count: n, channels: c, size: s, seed: 8), count: n, channels: c, size: s)
        let one = Array(Synthetic.images(count: 1, channels: c, size: s, seed: 8))
        let same = try batch(Array((0..<n).map { _ in one }.joined()), count: n, channels: c, size: s)
        XCTAssertEqual(try averageMSSSIM(images: same, pairs: 10, seed: 1), 1, accuracy: 1e-12)
        let v = try averageMSSSIM(images: varied, pairs: 10, seed: 1)
        XCTAssertLessThan(v, 0.9)
        XCTAssertEqual(v, try averageMSSSIM(images: varied, pairs: 10, seed: 1))
        // The average is the mean of the documented pairs.
        var sum = 0.0
        for k in 0..<10 {
            let (i, j) = MSSSIM.pair(k, imageCount: n, seed: 1)
            let len = c * s * s
            let a = try batch(Array(varied.pixels[(i * len)..<((i + 1) * len)]), count: 1, channels: c, size: s)
            let b = try batch(Array(varied.pixels[(j * len)..<((j + 1) * len)]), count: 1, channels: c, size: s)
            sum += try multiScaleSSIM(a, b)[0]
        }
        XCTAssertEqual(v, sum / 10, accuracy: 1e-12)
    }

    func testPairsAreDistinctAndInRange() {
        for n in [2, 3, 10] {
            for k in 0..<200 {
                let (i, j) = MSSSIM.pair(k, imageCount: n, seed: 3)
                XCTAssertNotEqual(i, j)
                XCTAssertTrue((0..<n).contains(i) && (0..<n).contains(j))
            }
        }
    }

    func testRejectsBadInput() throws {
        let one = try batch(Synthetic.images(count: 1, channels: 3, size: 16, seed: 1), count: 1, channels: 3, size: 16)
        XCTAssertThrowsError(try averageMSSSIM(images: one, pairs: 4, seed: 1)) { error in
            XCTAssertTrue("\(error)".contains("at least 2 images"), "\(error)")
        }
        let two = try batch(Synthetic.images(count: 2, channels: 3, size: 16, seed: 1), count: 2, channels: 3, size: 16)
        XCTAssertThrowsError(try averageMSSSIM(images: two, pairs: 0, seed: 1))
        XCTAssertThrowsError(try multiScaleSSIM(one, two)) { error in
            guard case MetricsError.mismatchedSets = error else { return XCTFail("\(error)") }
        }
        let bigger = try batch(Synthetic.images(count: 1, channels: 3, size: 32, seed: 1), count: 1, channels: 3, size: 32)
        XCTAssertThrowsError(try multiScaleSSIM(one, bigger))
    }
}
