import XCTest
@testable import Metrics

final class LaplacianPyramidTests: XCTestCase {
    func testCollapseReconstructsImage() throws {
        for (channels, size) in [(3, 64), (1, 32), (3, 16)] {
            let image = Synthetic.images(count: 1, channels: channels, size: size, seed: 3)
            let pyramid = try LaplacianPyramid(image: image, channels: channels, size: size)
            let back = pyramid.collapse()
            XCTAssertEqual(back.count, image.count)
            let err = zip(back, image).map { abs($0 - $1) }.max() ?? .infinity
            XCTAssertLessThan(err, 1e-5, "\(channels)x\(size)^2 reconstruction error \(err)")
        }
    }

    func testLevelSizesRunFromFullResolutionTo16() throws {
        let image = Synthetic.images(count: 1, channels: 1, size: 128, seed: 1)
        let pyramid = try LaplacianPyramid(image: image, channels: 1, size: 128)
        XCTAssertEqual(pyramid.sizes, [128, 64, 32, 16])
        XCTAssertEqual(pyramid.levels.map(\.count), [128 * 128, 64 * 64, 32 * 32, 16 * 16])
    }

    func testConstantImageHasZeroBandsAndConstantTop() throws {
        let image = [Float](repeating: 0.37, count: 3 * 64 * 64)
        let pyramid = try LaplacianPyramid(image: image, channels: 3, size: 64)
        for band in pyramid.levels.dropLast() {
            XCTAssertLessThan(band.map(abs).max() ?? .infinity, 1e-6)
        }
        let top = pyramid.levels[pyramid.levels.count - 1]
        XCTAssertLessThan(top.map { abs($0 - 0.37) }.max() ?? .infinity, 1e-6)
    }

    /// The downsampling equals a direct 5x5 convolution with mirror padding at every kept pixel,
    /// edges included.
    func testDownsampleMatchesDirectMirrorConvolution() {
        let n = 16
        let image = Synthetic.images(count: 1, channels: 1, size: n, seed: 5)
        let down = Binomial.downsample(image, channels: 1, size: n)
        let w: [Float] = [1, 4, 6, 4, 1]
        func m(_ i: Int) -> Int { i < 0 ? -i : (i >= n ? 2 * n - 2 - i : i) }
        var worst: Float = 0
        for i in 0..<(n / 2) {
            for j in 0..<(n / 2) {
                var s: Float = 0
                for a in -2...2 { for b in -2...2 { s += w[a + 2] * w[b + 2] * image[m(2 * i + a) * n + m(2 * j + b)] } }
                worst = max(worst, abs(s / 256 - down[i * (n / 2) + j]))
            }
        }
        XCTAssertLessThan(worst, 1e-6)
    }

    func testUpsampleKeepsConstantsAndInterpolatesMidpoints() {
        // A linear ramp is reproduced in the interior by the 4x binomial upsampler.
        let n = 16
        let ramp = (0..<(n * n)).map { Float($0 % n) }
        let up = Binomial.upsample(ramp, channels: 1, size: n)
        let row = 10 * (2 * n)
        XCTAssertEqual(up[row + 10], 5, accuracy: 1e-5)
        XCTAssertEqual(up[row + 11], 5.5, accuracy: 1e-5)
    }

    func testRejectsImagesBelowCoarsestSize() {
        XCTAssertThrowsError(try LaplacianPyramid(image: [Float](repeating: 0, count: 64), channels: 1, size: 8))
        XCTAssertThrowsError(try LaplacianPyramid(image: [Float](repeating: 0, count: 10), channels: 1, size: 16))
    }
}
