import Foundation
import TestSupport
import XCTest

/// The run's TensorBoard event files, read back by the `tensorboard` Python package's own readers
/// (read_tensorboard.py beside this file) and compared with metrics.jsonl and the grid PNGs.
final class TensorBoardEventsTests: TrainingCLITestCase {
    /// read_tensorboard.py, found from this file's path (tests run from any directory).
    private var script: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("read_tensorboard.py").path
    }

    /// Skips unless `python3 -c "import tensorboard"` works; fails instead where CI requires it
    /// (PROGAN_REQUIRE_TENSORBOARD=1, set by .ci/test.sh after .ci/deps.sh installed it).
    private func requireTensorBoardPackage() throws {
        let r = try? ChildProcess.run(["python3", "-c", "import tensorboard"], timeout: 60)
        guard let r, r.succeeded else {
            let why = "python3 with the tensorboard package is needed (python3 -m pip install tensorboard)"
            if ProcessInfo.processInfo.environment["PROGAN_REQUIRE_TENSORBOARD"] == "1" {
                throw MissingPackage(description: "PROGAN_REQUIRE_TENSORBOARD=1 but \(why): \(r?.summary ?? "no python3 on PATH")")
            }
            throw XCTSkip(why)
        }
    }

    struct MissingPackage: Error, CustomStringConvertible { let description: String }

    /// A run of two invocations (6 steps, then 6 more with --resume auto) with SWD every 2 ticks:
    /// two event files, which TensorBoard reads as one run with a point per tick.
    func testTensorBoardReadsTheRun() throws {
        try requireTensorBoardPackage()
        let data = try makeDataset()
        let out = path("run")
        let swd = ["--swd-ticks", "2", "--swd-images", "16"]
        var r = try progan(tinyArguments(data: data, out: out) + ["--max-steps", "6"] + swd)
        XCTAssertTrue(r.succeeded, r.summary)
        r = try progan(tinyArguments(data: data, out: out) + ["--max-steps", "6", "--resume", "auto"] + swd)
        XCTAssertTrue(r.succeeded, r.summary)
        let files = try FileManager.default.contentsOfDirectory(atPath: out + "/tensorboard").sorted()
        XCTAssertEqual(files.count, 2, "\(files)")
        XCTAssertTrue(files.allSatisfy { $0.hasPrefix("events.out.tfevents.") }, "\(files)")

        let check = try ChildProcess.run(["python3", script, out, "--event-files", "2", "--swd"], timeout: 120)
        print(check.stdout)
        XCTAssertTrue(check.succeeded, check.summary)
        XCTAssertEqual(check.stdout.split(separator: "\n").filter { $0.hasPrefix("ok: ") }.count, 4, check.summary)
    }

    /// --no-tensorboard writes no event files.
    func testNoTensorBoardFlag() throws {
        let data = try makeDataset()
        let out = path("run")
        let r = try progan(tinyArguments(data: data, out: out) + ["--max-steps", "1", "--no-tensorboard"])
        XCTAssertTrue(r.succeeded, r.summary)
        XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/metrics.jsonl"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: out + "/tensorboard"))
    }
}
