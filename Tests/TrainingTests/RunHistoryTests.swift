import Foundation
import Imaging
import XCTest
@testable import Training

/// A run's files in order, and the training video made of its grids, read back by the APNG
/// chunk walker and libpng.
final class RunHistoryTests: XCTestCase {
    var run: String!

    override func setUpWithError() throws {
        run = FileManager.default.temporaryDirectory.appendingPathComponent("run-history-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: run, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: run) }

    func grid(_ width: Int, _ height: Int, _ seed: Int) -> Image {
        Image(width: width, height: height, channels: 3, pixels: (0..<width * height * 3).map { UInt8(truncatingIfNeeded: $0 * 5 + seed * 40) })
    }

    func testVideoHoldsEveryGridInOrderAtTheLastGridsSize() throws {
        // Images shown 800 < 1200 < 12000: numeric order, whatever the names' padding.
        let grids = [(1200, grid(6, 4, 2)), (800, grid(6, 4, 1)), (12000, grid(6, 4, 3)), (400, grid(3, 2, 0))]
        for (images, image) in grids { try PNGCodec.write(image, to: run + "/fakes-\(images).png") }
        try PNGCodec.write(grid(2, 2, 9), to: run + "/reals.png")
        XCTAssertEqual(try RunHistory.tickGrids(in: run).map(\.imagesShown), [400, 800, 1200, 12000])

        let out = run + "/video.png"
        XCTAssertEqual(try RunHistory.writeTrainingVideo(run: run, to: out, fps: 5), 4)
        let apng = try APNGReader(path: out)
        XCTAssertEqual(apng.frameCount, 4)
        XCTAssertEqual([apng.width, apng.height, apng.channels], [6, 4, 3])
        XCTAssertEqual(apng.frames.map(\.pixels), [grid(3, 2, 0).resized(width: 6, height: 4).pixels,
                                                   grid(6, 4, 1).pixels, grid(6, 4, 2).pixels, grid(6, 4, 3).pixels])
        XCTAssertEqual(apng.frames[3].delay.1, 5)
        XCTAssertEqual(try PNGCodec.read(out).width, 6, "libpng reads the first frame")
    }

    func testNoGridsIsAClearErrorAndNoFile() throws {
        XCTAssertThrowsError(try RunHistory.writeTrainingVideo(run: run, to: run + "/v.png", fps: 10)) {
            XCTAssertTrue("\($0)".contains("no tick grids"), "\($0)")
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: run), [])
        XCTAssertThrowsError(try RunHistory.tickGrids(in: run + "/missing"))
    }
}
