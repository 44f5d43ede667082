import XCTest
@testable import Imaging

final class PNGCodecTests: TemporaryFolderTestCase {
    func testRoundTripGrayRGBAndRGBAThroughFiles() throws {
        for channels in [1, 3, 4] {
            let image = patternImage(width: 13, height: 7, channels: channels)
            let file = path("round-\(channels).png")
            try PNGCodec.write(image, to: file)
            XCTAssertEqual(Array(try readFile(file).prefix(8)), PNGCodec.signature)
            XCTAssertEqual(try Image(contentsOfFile: file), image, "channels \(channels)")
        }
    }

    func testPaletteIsExpandedToRGBAndTRNSToRGBA() throws {
        let palette: [UInt8] = [10, 20, 30, 200, 100, 50]
        let opaque = PNGFixture.make(width: 2, height: 1, bitDepth: 8, colorType: 3, rows: [[1, 0]],
                                     palette: palette)
        XCTAssertEqual(try PNGCodec.decode(opaque, path: "p.png"),
                       Image(width: 2, height: 1, channels: 3, pixels: [200, 100, 50, 10, 20, 30]))
        let keyed = PNGFixture.make(width: 2, height: 1, bitDepth: 8, colorType: 3, rows: [[1, 0]],
                                    palette: palette, transparency: [0, 255])
        XCTAssertEqual(try PNGCodec.decode(keyed, path: "t.png"),
                       Image(width: 2, height: 1, channels: 4, pixels: [200, 100, 50, 255, 10, 20, 30, 0]))
    }

    func testSixteenBitWithoutGammaIsReadAsSRGB() throws {
        // 0x8080 / 65535 = 0.502: as sRGB it is 128; read as linear (libpng's default) it would be ~188.
        let gray16 = PNGFixture.make(width: 3, height: 1, bitDepth: 16, colorType: 0,
                                     rows: [[0x00, 0x00, 0x80, 0x80, 0xFF, 0xFF]])
        XCTAssertEqual(try PNGCodec.decode(gray16, path: "g16.png").pixels, [0, 128, 255])
        let rgb16 = PNGFixture.make(width: 1, height: 1, bitDepth: 16, colorType: 2,
                                    rows: [[0xFF, 0xFF, 0x80, 0x80, 0x00, 0x00]])
        XCTAssertEqual(try PNGCodec.decode(rgb16, path: "c16.png"),
                       Image(width: 1, height: 1, channels: 3, pixels: [255, 128, 0]))
    }

    func testGrayAlphaBecomesRGBAAndOneBitGrayIsExpanded() throws {
        let grayAlpha = PNGFixture.make(width: 1, height: 1, bitDepth: 8, colorType: 4, rows: [[77, 128]])
        XCTAssertEqual(try PNGCodec.decode(grayAlpha, path: "ga.png").pixels, [77, 77, 77, 128])
        let oneBit = PNGFixture.make(width: 3, height: 1, bitDepth: 1, colorType: 0, rows: [[0b1010_0000]])
        XCTAssertEqual(try PNGCodec.decode(oneBit, path: "b.png").pixels, [255, 0, 255])
    }

    func testCorruptAndTruncatedPNGsGiveLibpngErrors() throws {
        var bytes = try PNGCodec.encode(patternImage(width: 16, height: 16, channels: 3))
        let truncated = try writeFile("cut.png", Array(bytes.prefix(bytes.count / 2)))
        assertImageError(try Image(contentsOfFile: truncated), path: truncated) { $0.hasPrefix("libpng: ") }

        // A wrong CRC on IHDR (bytes 29..<33: signature 8, length 4, type 4, data 13).
        var badCRC = bytes
        badCRC[30] ^= 0xFF
        let crc = try writeFile("photos/crc.png", badCRC)
        assertImageError(try Image(contentsOfFile: crc), path: crc) { $0 == "libpng: IHDR: CRC error" }

        // A damaged byte inside the compressed IDAT data. zlib reaches the end of the stream (and
        // its Adler-32 check) before libpng reads the chunk's CRC, so the message is zlib's.
        let idat = try XCTUnwrap(bytes.indices.first { bytes[$0..<($0 + 4)] == ArraySlice("IDAT".utf8) })
        bytes[idat + 10] ^= 0xFF
        let damaged = try writeFile("photos/y.png", bytes)
        assertImageError(try Image(contentsOfFile: damaged), path: damaged) {
            $0.hasPrefix("libpng: IDAT: ") && $0 != "libpng: unknown error"
        }
    }

    func testIncompressibleAndTinyImagesEncode() throws {
        // Noise does not compress, so the file is as large as libpng's bound allows; tiny images
        // are mostly chunk overhead. Both overflow a buffer sized for the IDAT data alone.
        var state: UInt32 = 12345
        for (width, height, channels) in [(1, 1, 1), (2, 2, 3), (6, 4, 1), (13, 7, 3), (64, 48, 4)] {
            let noise = (0..<(width * height * channels)).map { _ -> UInt8 in
                state = state &* 1_664_525 &+ 1_013_904_223
                return UInt8(state >> 24)
            }
            let image = Image(width: width, height: height, channels: channels, pixels: noise)
            let bytes = try PNGCodec.encode(image)
            XCTAssertEqual(try PNGCodec.decode(bytes, path: "noise.png"), image, "\(width) x \(height) x \(channels)")
        }
    }

    func testNonImageAndMissingFiles() throws {
        let text = try writeFile("photos/x.jpg", Array("hello, not a picture\n".utf8))
        assertImageError(try Image(contentsOfFile: text), path: text) { $0 == "not a JPEG or PNG file" }
        XCTAssertEqual("\(ImageError(path: "photos/x.jpg", message: "not a JPEG or PNG file"))",
                       "photos/x.jpg: not a JPEG or PNG file")
        let empty = try writeFile("empty.png", [])
        assertImageError(try Image(contentsOfFile: empty), path: empty) { $0 == "not a JPEG or PNG file" }
        let missing = path("missing.png")
        assertImageError(try Image(contentsOfFile: missing), path: missing) {
            $0.hasPrefix("cannot open: ") && $0.contains("No such file")
        }
        assertImageError(try Image(contentsOfFile: folder), path: folder) { $0.hasPrefix("cannot read: ") }
    }

    func testFormatComesFromMagicBytesNotExtension() throws {
        let image = patternImage(width: 5, height: 4, channels: 3)
        let file = try writeFile("really-a-png.jpg", try PNGCodec.encode(image))
        XCTAssertEqual(try Image(contentsOfFile: file), image)
        XCTAssertEqual(ImageFormat(detecting: [0xFF, 0xD8, 0xFF, 0xE0]), .jpeg)
        XCTAssertNil(ImageFormat(detecting: [0xFF, 0xD8]))
    }

    func testWriteToMissingFolderThrows() {
        let file = path("no/such/folder/out.png")
        assertImageError(try PNGCodec.write(Image(width: 1, height: 1, channels: 1), to: file), path: file) {
            $0.hasPrefix("cannot create: ")
        }
    }
}
