import Foundation
import TestSupport
import XCTest

/// The sliced Wasserstein distance shared out across MPI ranks equals the one-process result,
/// however the images split (blocks of unequal size included), in `metrics swd` and in training.
final class SWDAcrossRanksTests: TrainingCLITestCase {
    /// The per-level SWD of `metrics swd --json`.
    func swdLevels(_ arguments: [String], ranks: Int) throws -> [Double] {
        let r = try progan(["metrics", "swd"] + arguments + ["--json"], ranks: ranks)
        XCTAssertTrue(r.succeeded, r.summary)
        let lines = r.stdout.split(separator: "\n").filter { $0.hasPrefix("{") }
        XCTAssertEqual(lines.count, 1, "one JSON line (rank 0 alone prints): \(r.stdout)")
        let o = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(try XCTUnwrap(lines.first).utf8)) as? [String: Any])
        XCTAssertEqual(o["ranks"] as? Int, ranks)
        return try XCTUnwrap(o["swd_levels"] as? [Double])
    }

    func testMetricsSWDIsTheSameOnOneTwoAndThreeRanks() throws {
        let data = try makeDataset()
        let out = path("run")
        let trained = try progan(tinyArguments(data: data, out: out) + ["--max-steps", "3"])
        XCTAssertTrue(trained.succeeded, trained.summary)
        let checkpoint = try XCTUnwrap(checkpoints(out).last)
        // 25 images: real blocks of 12/13 on 2 ranks and 8/8/9 on 3; fakes in 4 batches of <= 8,
        // 2 + 2 on 2 ranks and 1 + 1 + 2 on 3.
        for mode in [["--checkpoint", checkpoint, "--batch", "8"], ["--real-vs-real"]] {
            let args = mode + ["--data", data, "--images", "25", "--seed", "3"]
            let one = try swdLevels(args, ranks: 1)
            XCTAssertEqual(one.count, 2, "32x32 images: levels 32 and 16")
            XCTAssertTrue(one.allSatisfy { $0 > 0 && $0.isFinite }, "\(one)")
            XCTAssertEqual(try swdLevels(args, ranks: 2), one, "2 ranks, \(mode)")
            XCTAssertEqual(try swdLevels(args, ranks: 3), one, "3 ranks, \(mode)")
        }
    }

    /// Two ranks training with `--swd-ticks 1`: rank 0 alone logs the floor once and one SWD per tick.
    func testTrainingLogsSWDEveryTickFromTwoRanks() throws {
        let data = try makeDataset()
        let out = path("run")
        let r = try progan(tinyArguments(data: data, out: out) + ["--resolution", "16", "--kimg", "0.16",
                                                                 "--swd-ticks", "1", "--swd-images", "16"], ranks: 2)
        XCTAssertTrue(r.succeeded, r.summary)
        let records = try metrics(out)
        let ticks = records.filter { $0["kind"] == nil }
        let swd = records.filter { $0["kind"] as? String == "swd" }
        XCTAssertEqual(records.filter { $0["kind"] as? String == "swd_floor" }.count, 1)
        XCTAssertEqual(swd.count, ticks.count, "one SWD record per tick")
        XCTAssertGreaterThanOrEqual(ticks.count, 3)
        for s in swd {
            let levels = try XCTUnwrap(s["swd_levels"] as? [Double])
            XCTAssertEqual(levels.count, 1, "16x16: one level")
            XCTAssertTrue(levels.allSatisfy { $0 > 0 && $0.isFinite })
        }
        XCTAssertEqual(r.stdout.components(separatedBy: "swd real-vs-real floor").count - 1, 1, r.stdout)
    }
}
