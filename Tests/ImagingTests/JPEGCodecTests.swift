import XCTest
@testable import Imaging

final class JPEGCodecTests: TemporaryFolderTestCase {
    /// A smooth image, which JPEG at high quality reproduces closely. No sample wraps past 255
    /// (x * 5 + y * 4 + c * 40 <= 255 for images up to 24 x 16): a wrap is a hard edge, which
    /// JPEG rings around by far more than the tolerance below.
    private func gradient(width: Int, height: Int, channels: Int) -> Image {
        precondition((width - 1) * 5 + (height - 1) * 4 + (channels - 1) * 40 <= 255)
        var image = Image(width: width, height: height, channels: channels)
        for y in 0..<height {
            for x in 0..<width {
                for c in 0..<channels { image[x, y, c] = UInt8(x * 5 + y * 4 + c * 40) }
            }
        }
        return image
    }

    private func maxDifference(_ a: Image, _ b: Image) -> Int {
        zip(a.pixels, b.pixels).map { abs(Int($0) - Int($1)) }.max() ?? 0
    }

    func testRoundTripRGBAndGrayWithinTolerance() throws {
        for channels in [1, 3] {
            let image = gradient(width: 24, height: 16, channels: channels)
            let file = path("g\(channels).jpeg")
            try JPEGCodec.write(image, to: file, quality: 95)
            XCTAssertEqual(Array(try readFile(file).prefix(3)), [0xFF, 0xD8, 0xFF])
            let decoded = try Image(contentsOfFile: file)
            XCTAssertEqual(decoded.width, 24)
            XCTAssertEqual(decoded.height, 16)
            XCTAssertEqual(decoded.channels, channels)
            XCTAssertLessThanOrEqual(maxDifference(decoded, image), 8, "channels \(channels)")
        }
    }

    func testLowQualityLosesMoreThanHighQuality() throws {
        let image = patternImage(width: 32, height: 32, channels: 3)
        let low = try JPEGCodec.decode(JPEGCodec.encode(image, quality: 10), path: "low")
        let high = try JPEGCodec.decode(JPEGCodec.encode(image, quality: 98), path: "high")
        XCTAssertGreaterThan(maxDifference(low, image), maxDifference(high, image))
    }

    func testTruncatedAndDamagedJPEGsGiveLibjpegErrors() throws {
        let bytes = try JPEGCodec.encode(patternImage(width: 64, height: 64, channels: 3), quality: 90)
        // Cut inside the entropy-coded data: libjpeg would pad with grey and only warn.
        let cut = try writeFile("photos/cut.jpg", Array(bytes.prefix(bytes.count * 2 / 3)))
        assertImageError(try Image(contentsOfFile: cut), path: cut) { $0.hasPrefix("libjpeg: ") }
        // Cut inside the header: a fatal libjpeg error.
        let header = try writeFile("photos/header.jpg", Array(bytes.prefix(20)))
        assertImageError(try Image(contentsOfFile: header), path: header) { $0.hasPrefix("libjpeg: ") }
    }

    func testJPEGWithPNGExtensionDecodesAsJPEG() throws {
        let image = gradient(width: 8, height: 8, channels: 1)
        let file = try writeFile("odd.png", try JPEGCodec.encode(image, quality: 100))
        XCTAssertLessThanOrEqual(maxDifference(try Image(contentsOfFile: file), image), 2)
    }
}
