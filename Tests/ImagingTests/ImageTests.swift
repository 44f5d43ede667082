import XCTest
@testable import Imaging

final class ImageTests: XCTestCase {
    func testSubscriptIsInterleavedHWC() {
        var image = Image(width: 3, height: 2, channels: 3)
        image[2, 1, 1] = 7
        XCTAssertEqual(image.pixels[(1 * 3 + 2) * 3 + 1], 7)
        XCTAssertEqual(image.pixels.filter { $0 != 0 }.count, 1)
    }

    func testGrayscaleUsesBT601Luma() {
        let rgb = Image(width: 4, height: 1, channels: 3,
                        pixels: [255, 0, 0, 0, 255, 0, 0, 0, 255, 90, 90, 90])
        // 0.299 * 255 = 76.2, 0.587 * 255 = 149.7, 0.114 * 255 = 29.1; gray stays gray.
        XCTAssertEqual(rgb.toGrayscale().pixels, [76, 150, 29, 90])
        XCTAssertEqual(rgb.toGrayscale().channels, 1)
    }

    func testGrayToRGBReplicates() {
        let gray = Image(width: 2, height: 1, channels: 1, pixels: [5, 200])
        XCTAssertEqual(gray.toRGB().pixels, [5, 5, 5, 200, 200, 200])
    }

    func testAlphaIsCompositedOverBlack() {
        let rgba = Image(width: 3, height: 1, channels: 4,
                         pixels: [200, 100, 50, 128, 10, 20, 30, 255, 250, 250, 250, 0])
        // 200 * 128 / 255 = 100.4, 100 * 128 / 255 = 50.2, 50 * 128 / 255 = 25.1.
        XCTAssertEqual(rgba.toRGB().pixels, [100, 50, 25, 10, 20, 30, 0, 0, 0])
        XCTAssertEqual(rgba.toGrayscale().pixels, [Image.luma(100, 50, 25), Image.luma(10, 20, 30), 0])
    }

    func testConvertedToFourChannelsAddsOpaqueAlpha() {
        let gray = Image(width: 1, height: 1, channels: 1, pixels: [9])
        XCTAssertEqual(gray.converted(toChannels: 4).pixels, [9, 9, 9, 255])
    }

    func testCenterCropDropsExcessEvenlyWithOddPixelOnRightOrBottom() {
        let wide = Image(width: 5, height: 3, channels: 1, pixels: Array(0..<15))
        XCTAssertEqual(wide.centerCropped(), Image(width: 3, height: 3, channels: 1,
                                                   pixels: [1, 2, 3, 6, 7, 8, 11, 12, 13]))
        let tall = Image(width: 2, height: 5, channels: 1, pixels: Array(0..<10))
        // Excess 3 rows: one above, two below.
        XCTAssertEqual(tall.centerCropped().pixels, [2, 3, 4, 5])
    }

    func testAreaShrinkOfFourByFourIsTheBoxMean() {
        let image = Image(width: 4, height: 4, channels: 1,
                          pixels: [0, 4, 8, 12,
                                   16, 20, 24, 28,
                                   1, 1, 2, 3,
                                   5, 6, 7, 9])
        let expected: [UInt8] = [10, 18, 3, 5]  // (0+4+16+20)/4, (8+12+24+28)/4, 13/4 -> 3, 21/4 -> 5
        XCTAssertEqual(image.resized(to: 2).pixels, expected)
        XCTAssertEqual(image.downsampled2x().pixels, expected)
    }

    func testAreaShrinkWithFractionalCoverage() {
        // 3 -> 2: output 0 covers [0, 1.5), output 1 covers [1.5, 3).
        let row = Image(width: 3, height: 1, channels: 1, pixels: [0, 30, 60])
        XCTAssertEqual(row.resized(width: 2, height: 1).pixels, [10, 50])
    }

    func testBilinearEnlargeUsesHalfPixelCentres() {
        let row = Image(width: 2, height: 1, channels: 1, pixels: [0, 100])
        // Source positions -0.25 (clamped), 0.25, 0.75, 1.25 (clamped).
        XCTAssertEqual(row.resized(width: 4, height: 1).pixels, [0, 25, 75, 100])
    }

    func testResizeKeepsConstantImagesConstantInEveryChannel() {
        let image = Image(width: 7, height: 5, channels: 3, pixels: Array(repeating: [13, 77, 240], count: 35).flatMap { $0 })
        for (w, h) in [(3, 3), (10, 4), (2, 9), (7, 5)] {
            let out = image.resized(width: w, height: h)
            XCTAssertEqual(out.width, w)
            XCTAssertEqual(out.height, h)
            XCTAssertEqual(out.pixels, Array(repeating: [13, 77, 240], count: w * h).flatMap { $0 }, "\(w) x \(h)")
        }
    }

    func testResizeMixesAreaAndBilinearPerAxis() {
        // 4 x 1 -> 2 x 2: columns are averaged in pairs, the single row is repeated.
        let row = Image(width: 4, height: 1, channels: 1, pixels: [10, 20, 30, 50])
        XCTAssertEqual(row.resized(width: 2, height: 2).pixels, [15, 40, 15, 40])
    }

    func testDownsampleRoundsHalfUpPerChannel() {
        let image = Image(width: 2, height: 2, channels: 3,
                          pixels: [0, 1, 255, 0, 1, 255, 0, 0, 255, 1, 0, 254])
        // Sums 1 -> 0.25 -> 0, 2 -> 0.5 -> 1, 1019 -> 254.75 -> 255.
        XCTAssertEqual(image.downsampled2x().pixels, [0, 1, 255])
    }

    func testPreparedCropsConvertsAndResizes() {
        // 6 x 4 RGBA: the centre 4 x 4 is opaque white, the outer columns transparent red.
        var image = Image(width: 6, height: 4, channels: 4)
        for y in 0..<4 {
            for x in 0..<6 {
                let inside = (1...4).contains(x)
                image[x, y, 0] = 255
                image[x, y, 1] = inside ? 255 : 0
                image[x, y, 2] = inside ? 255 : 0
                image[x, y, 3] = inside ? 255 : 0
            }
        }
        let gray = image.prepared(size: 2, channels: 1)
        XCTAssertEqual(gray, Image(width: 2, height: 2, channels: 1, value: 255))
        let rgb = image.prepared(size: 8, channels: 3)
        XCTAssertEqual(rgb.width, 8)
        XCTAssertEqual(rgb.channels, 3)
        XCTAssertEqual(Set(rgb.pixels), [255])
    }
}
