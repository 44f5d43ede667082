import Foundation
import Imaging
import ProGAN
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
            "time/allreduce": "Timing/allreduce", "time": nil,
        ]
        for (key, tag) in expected { XCTAssertEqual(TickRecord.tensorBoardTag(forKey: key), tag, key) }
    }

    /// A tick record is one flat JSON object under metrics.jsonl's names (LSGAN: no penalty
    /// keys), and decodes back to itself.
    func testTickRecordKeys() throws {
        var timings = StepTimings()
        timings.penalty = 0.25
        var losses = StepStats()
        (losses.lossD, losses.lossG, losses.realScores, losses.fakeScores) = (-0.5, 0.25, 1, -1)
        let record = TickRecord(kimg: 1.5, step: 12, resolution: 8, alpha: 0.5, minibatch: 16, learningRate: 0.001,
                                secondsPerKimg: 3, elapsedSeconds: 9, skippedD: 1, skippedG: 0, time: 1e9,
                                losses: losses,
                                timings: timings)
        let data = try JSONEncoder().encode(record)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        XCTAssertEqual(Set(object.keys), [
            "kimg", "step", "resolution", "alpha", "minibatch", "lr", "sec_per_kimg", "elapsed_s", "skipped_D",
            "skipped_G", "time", "loss/D", "loss/G", "D/real", "D/fake", "time/G", "time/D", "time/GP",
            "time/allreduce", "time/optimizer", "time/data", "time/spatial",
        ])
        XCTAssertEqual(object["time/GP"] as? Double, 0.25)
        XCTAssertEqual(try JSONDecoder().decode(TickRecord.self, from: data), record)
        // Every charted value has a tag, and no tag twice.
        let tags = record.scalars.map(\.tag)
        XCTAssertEqual(tags.count, object.count - 1)
        XCTAssertEqual(Set(tags).count, tags.count)
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
