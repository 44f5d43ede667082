import XCTest
@testable import Imaging

final class ImageGridTests: TemporaryFolderTestCase {
    func testValueMappingClipsRoundsAndMapsNaNToBlack() {
        XCTAssertEqual([-1, 0, 1, -3, 7, 0.5, -0.999, .nan, .infinity].map(ImageGrid.byte),
                       [0, 128, 255, 0, 255, 191, 0, 0, 255])
    }

    func testNearSquareAndConfiguredLayouts() {
        XCTAssertTrue(ImageGrid().layout(count: 16) == (4, 4))
        XCTAssertTrue(ImageGrid().layout(count: 10) == (3, 4))
        XCTAssertTrue(ImageGrid().layout(count: 1) == (1, 1))
        XCTAssertTrue(ImageGrid(columns: 8).layout(count: 10) == (2, 8))
        XCTAssertTrue(ImageGrid(rows: 2).layout(count: 7) == (2, 4))
        XCTAssertTrue(ImageGrid(columns: 3, rows: 3).layout(count: 5) == (3, 3))
    }

    func testScaleIsSmallestIntegerReachingTheMinimumTile() {
        let grid = ImageGrid(minimumTileSize: 64)
        XCTAssertEqual(grid.scale(height: 4, width: 4), 16)
        XCTAssertEqual(grid.scale(height: 28, width: 28), 3)
        XCTAssertEqual(grid.scale(height: 64, width: 64), 1)
        XCTAssertEqual(grid.scale(height: 256, width: 256), 1)
    }

    func testGrayTilesLandAtTheirPositionsEnlargedWithGaps() {
        // Three 2 x 2 gray images, values v_n(x, y) = n * 0.25 + y * 0.5 + x * 0.125 - 0.9.
        var batch: [Float] = []
        for n in 0..<3 {
            for y in 0..<2 {
                for x in 0..<2 {
                    let value: Float = Float(n) * 0.25 + Float(y) * 0.5
                    batch.append(value + Float(x) * 0.125 - 0.9)
                }
            }
        }
        let grid = ImageGrid(gap: 1, minimumTileSize: 4, background: 7)
        let image = grid.render(batch, count: 3, channels: 1, height: 2, width: 2)
        // 2 x 2 grid of 4 x 4 tiles (scale 2) and a 1 px gap: 9 x 9.
        XCTAssertEqual([image.width, image.height, image.channels], [9, 9, 1])
        for n in 0..<3 {
            let left = (n % 2) * 5, top = (n / 2) * 5
            for y in 0..<4 {
                for x in 0..<4 {
                    let value = batch[n * 4 + (y / 2) * 2 + x / 2]
                    XCTAssertEqual(image[left + x, top + y, 0], ImageGrid.byte(value), "tile \(n) (\(x), \(y))")
                }
            }
        }
        // The gap column and row, and the empty fourth cell, hold the background.
        for i in 0..<9 {
            XCTAssertEqual(image[4, i, 0], 7)
            XCTAssertEqual(image[i, 4, 0], 7)
        }
        XCTAssertEqual(Set((5..<9).flatMap { y in (5..<9).map { x in image[x, y, 0] } }), [7])
    }

    func testRGBPlanesBecomeInterleavedChannels() {
        // One 1 x 2 RGB image in NCHW: R plane, G plane, B plane.
        let batch: [Float] = [-1, 1, 0, 0, 1, -1]
        let image = ImageGrid(minimumTileSize: 1).render(batch, count: 1, channels: 3, height: 1, width: 2)
        XCTAssertEqual(image, Image(width: 2, height: 1, channels: 3, pixels: [0, 128, 255, 255, 128, 0]))
    }

    func testWriteProducesAGrayPNGForGrayBatches() throws {
        let batch: [Float] = (0..<(4 * 8 * 8)).map { Float($0 % 17) / 8 - 1 }
        let grid = ImageGrid()
        let file = path("grid.png")
        try grid.write(batch, count: 4, channels: 1, height: 8, width: 8, to: file)
        let decoded = try Image(contentsOfFile: file)
        XCTAssertEqual(decoded.channels, 1)
        XCTAssertEqual(decoded.width, 2 * 64 + 2)
        XCTAssertEqual(decoded, grid.render(batch, count: 4, channels: 1, height: 8, width: 8))
    }
}
