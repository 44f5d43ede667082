import Foundation
import XCTest
@testable import Metrics
import TensorKit
import TestSupport

/// Compares the metrics with `Fixtures/metrics_reference.json`, written by
/// `Benchmarks/metrics_reference.py` (numpy/torch, float64) from the same definitions. The images
/// are exact integer transforms of the stored 3x32x32 uint8 `base`, repeated here as the script
/// does them; the end-to-end SWD and the MS-SSIM pairs also need the script's reimplementation of
/// `CounterRNG` and the draw layout of `RandomDraws`, so they check that contract too.
final class MetricsReferenceTests: XCTestCase {
    static let fixture: Result<TensorFixture, Error> = Result {
        guard let url = Bundle.module.url(forResource: "metrics_reference", withExtension: "json",
                                          subdirectory: "Fixtures") else {
            throw FixtureError("Fixtures/metrics_reference.json is missing from the test bundle")
        }
        return try TensorFixture(contentsOf: url)
    }

    func tensor(_ name: String) throws -> Tensor { try Self.fixture.get().tensor(name) }
    func scalar(_ name: String) throws -> Double { Double(try tensor(name).scalarValue) }

    // MARK: The script's image transforms, on CHW uint8 planes of size S.

    struct U8Image {
        var channels: Int, size: Int, pixels: [UInt8]
        func map(_ f: (Int, Int, Int) -> UInt8) -> U8Image {   // f(c, y, x) -> new pixel
            var out = pixels
            for c in 0..<channels { for y in 0..<size { for x in 0..<size {
                out[(c * size + y) * size + x] = f(c, y, x)
            } } }
            return U8Image(channels: channels, size: size, pixels: out)
        }
        func at(_ c: Int, _ y: Int, _ x: Int) -> UInt8 { pixels[(c * size + y) * size + x] }
        /// Mirror left-right.
        var flipped: U8Image { map { c, y, x in at(c, y, size - 1 - x) } }
        /// Cyclic shift 3 rows down, 5 columns right (numpy.roll by (3, 5)).
        var rolled: U8Image { map { c, y, x in at(c, (y - 3 + size) % size, (x - 5 + size) % size) } }
        /// Channels (R, G, B) -> (G, B, R).
        var rotatedChannels: U8Image { map { c, y, x in at((c + 1) % channels, y, x) } }
        /// Pixel replication: S -> k S.
        func replicated(_ k: Int) -> U8Image {
            let n = size * k
            var out = [UInt8](repeating: 0, count: channels * n * n)
            for c in 0..<channels { for y in 0..<n { for x in 0..<n {
                out[(c * n + y) * n + x] = at(c, y / k, x / k)
            } } }
            return U8Image(channels: channels, size: n, pixels: out)
        }
        /// The `s` x `s` crop whose top-left corner is (y0, x0).
        func cropped(_ y0: Int, _ x0: Int, _ s: Int) -> U8Image {
            var out: [UInt8] = []
            for c in 0..<channels { for y in 0..<s { for x in 0..<s { out.append(at(c, y0 + y, x0 + x)) } } }
            return U8Image(channels: channels, size: s, pixels: out)
        }
    }

    func base() throws -> U8Image {
        let t = try tensor("base")
        XCTAssertEqual(t.shape, [3, 32, 32])
        return U8Image(channels: 3, size: 32, pixels: t.data.map { UInt8($0) })
    }

    func batch(_ images: [U8Image]) throws -> ImageBatch {
        try ImageBatch(uint8: images.flatMap(\.pixels), count: images.count, channels: images[0].channels,
                       height: images[0].size, width: images[0].size)
    }

    // MARK: Tests

    func testPyramidMatchesReference() throws {
        let image = try batch([base()]).pixels
        let pyramid = try LaplacianPyramid(image: image, channels: 3, size: 32, coarsestSize: 8)
        XCTAssertEqual(pyramid.sizes, [32, 16, 8])
        var worst = 0.0
        for (k, level) in pyramid.levels.enumerated() {
            let expected = try tensor("pyramid/level\(k)")
            XCTAssertEqual(expected.shape, [3, pyramid.sizes[k], pyramid.sizes[k]])
            let err = maxRelativeError(Tensor(shape: expected.shape, data: level), expected, scale: 1)
            worst = max(worst, err)
            // Float32 arithmetic on values of magnitude <= 2: a few ulps.
            XCTAssertLessThan(err, 2e-6, "level \(k)")
        }
        print("metrics reference: pyramid max abs difference \(worst)")
    }

    func testSlicedWassersteinOnStoredDescriptorsMatchesReference() throws {
        let a = try tensor("swd/a"), b = try tensor("swd/b"), d = try tensor("swd/directions")
        XCTAssertEqual(a.shape, [32, 147])
        XCTAssertEqual(d.shape, [8, 147])
        let normalized = SlicedWasserstein.meanSortedDifference(
            SlicedWasserstein.normalized(a.data, channels: 3), SlicedWasserstein.normalized(b.data, channels: 3),
            directions: d.data, count: 8, dimension: 147)
        let raw = SlicedWasserstein.meanSortedDifference(a.data, b.data, directions: d.data, count: 8, dimension: 147)
        let expected = try scalar("swd/meanSortedDifference"), expectedRaw = try scalar("swd/meanSortedDifferenceRaw")
        let errors = [abs(normalized - expected) / expected, abs(raw - expectedRaw) / expectedRaw]
        print("metrics reference: stored-descriptor SWD relative differences \(errors)")
        XCTAssertLessThan(errors[0], 1e-5, "\(normalized) vs \(expected)")
        XCTAssertLessThan(errors[1], 1e-5, "\(raw) vs \(expectedRaw)")
        // Normalization matters here: the channels have very different offsets and scales.
        XCTAssertGreaterThan(expectedRaw, 10 * expected)
    }

    func testSlicedWassersteinOfImagesMatchesReference() throws {
        let b = try base()
        let real = try batch([b, b.flipped]), fake = try batch([b.rolled, b.rotatedChannels])
        let result = try slicedWassersteinDistance(real: real, fake: fake, seed: 7)
        XCTAssertEqual(result.resolutions, [32, 16])
        let expected = try tensor("swdImages/perLevel").data.map(Double.init)
        let errors = zip(result.perLevel, expected).map { abs($0 - $1) / $1 }
        print("metrics reference: end-to-end SWD \(result.perLevel) vs \(expected), relative differences \(errors)")
        for e in errors { XCTAssertLessThan(e, 1e-4, "\(result.perLevel) vs \(expected)") }
        let same = try slicedWassersteinDistance(real: real, fake: real, seed: 7)
        XCTAssertEqual(same.perLevel, try tensor("swdImages/selfPerLevel").data.map(Double.init))
    }

    func testMSSSIMMatchesReference() throws {
        let b = try base()
        var worst = 0.0
        for (name, image) in [("s256", b.replicated(8)), ("s128", b.replicated(4)), ("s64", b.replicated(2)),
                              ("s16", b.cropped(16, 16, 16))] {
            let score = try multiScaleSSIM(batch([image]), batch([image.rolled]))[0]
            let expected = try scalar("msssim/" + name)
            worst = max(worst, abs(score - expected))
            // The reference is stored as Float (relative rounding 6e-8); the Swift code runs in Double.
            XCTAssertEqual(score, expected, accuracy: 1e-6, name)
        }
        let x = b.replicated(2)
        let average = try averageMSSSIM(images: batch([x, x.rolled, x.flipped, x.rotatedChannels]), pairs: 6, seed: 5)
        let expected = try scalar("msssim/pairAverage")
        worst = max(worst, abs(average - expected))
        XCTAssertEqual(average, expected, accuracy: 1e-6, "pair average")
        print("metrics reference: MS-SSIM max abs difference \(worst)")
    }
}
