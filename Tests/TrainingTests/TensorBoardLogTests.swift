import Foundation
import Imaging
import XCTest
@testable import Training

/// The mapping from tick records to TensorBoard tags, and the size cap of logged grids (the
/// end-to-end check with TensorBoard's reader is TensorBoardEventsTests).
final class TensorBoardLogTests: XCTestCase {
    func testTags() {
        let expected: [String: String?] = [
            "loss/D": "Loss/D", "loss/G": "Loss/G", "loss/gp": "Loss/GP", "loss/drift": "Loss/drift",
            "D/real": "D/real", "D/fake": "D/fake", "grad_norm": "D/grad_norm",
            "kimg": "Progress/kimg", "lr": "Progress/learning_rate", "alpha": "Progress/alpha",
            "skipped_D": "Progress/skipped_D", "sec_per_kimg": "Timing/sec_per_kimg",
            "time/allreduce": "Timing/allreduce", "some_new_metric": "some_new_metric", "time": nil,
        ]
        for (key, tag) in expected { XCTAssertEqual(TensorBoardLog.tag(forMetric: key), tag, key) }
        XCTAssertEqual(TensorBoardLog.number(3), 3)
        XCTAssertEqual(TensorBoardLog.number(Float(0.5)), 0.5)
        XCTAssertNil(TensorBoardLog.number("text"))
    }

    /// A grid wider than `maxImageSide` is logged scaled to it, keeping its aspect ratio.
    func testLargeGridIsScaledDown() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tb-log-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let log = try TensorBoardLog(directory: directory, imagesShown: 0)
        try log.image(Image(width: 2 * TensorBoardLog.maxImageSide, height: 64, channels: 1, value: 9),
                      tag: "fakes", imagesShown: 8)
        let bytes = Array(try XCTUnwrap(FileManager.default.contents(atPath: log.writer.path)))
        // The PNG's IHDR chunk: "IHDR", then width and height as big-endian 32-bit integers.
        let ihdr = try XCTUnwrap((0..<bytes.count - 12).first { Array(bytes[$0..<$0 + 4]) == Array("IHDR".utf8) })
        let be32 = { (i: Int) in (0..<4).reduce(0) { $0 << 8 | Int(bytes[i + $1]) } }
        XCTAssertEqual(be32(ihdr + 4), TensorBoardLog.maxImageSide)
        XCTAssertEqual(be32(ihdr + 8), 32)
    }
}
