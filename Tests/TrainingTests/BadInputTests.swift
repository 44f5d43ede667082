import Foundation
import TestSupport
import XCTest

/// Bad input gets one clear line on stderr, a nonzero exit, and nothing half-written.
final class BadInputTests: TrainingCLITestCase {
    func assertOneLineError(_ r: ChildResult, contains: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertNotEqual(r.exitCode, 0, r.summary, file: file, line: line)
        let lines = r.stderr.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, r.stderr, file: file, line: line)
        XCTAssertTrue(r.stderr.contains(contains), "expected '\(contains)' in: \(r.stderr)", file: file, line: line)
    }

    func testMissingDataset() throws {
        let r = try progan(["train", "--data", path("nope.h5"), "--out", path("run"), "--preset", "tiny"])
        assertOneLineError(r, contains: "no such dataset file")
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("run")))
    }

    func testNotHDF5() throws {
        try Data("hello".utf8).write(to: URL(fileURLWithPath: path("fake.h5")))
        let r = try progan(["train", "--data", path("fake.h5"), "--out", path("run"), "--preset", "tiny"])
        assertOneLineError(r, contains: "fake.h5")
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("run")))
    }

    /// bf16 products are refused with the reason on any machine (no AVX512_BF16 here, or
    /// Debian's OpenBLAS without cblas_sbgemm on a CPU that has it), before anything is written.
    func testBF16PrecisionIsRefusedWithTheReason() throws {
        let data = try makeDataset()
        let r = try progan(["train", "--data", data, "--out", path("run"), "--preset", "tiny", "--precision", "bf16"])
        assertOneLineError(r, contains: "--precision bf16 needs")
        XCTAssertTrue(r.stderr.contains("run with --precision fp32"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("run")))
        let b = try progan(["bench", "--res", "4", "--precision", "bf16"])
        assertOneLineError(b, contains: "--precision bf16")
    }

    func testResolutionNotPowerOfTwo() throws {
        let data = try makeDataset()
        let r = try progan(["train", "--data", data, "--out", path("run"), "--resolution", "24"])
        assertOneLineError(r, contains: "not a power of two")
    }

    func testDatasetWithFewerLevelsThanAsked() throws {
        let data = try makeDataset()
        let r = try progan(["train", "--data", data, "--out", path("run"), "--preset", "tiny", "--resolution", "64"])
        assertOneLineError(r, contains: "no level data64x64")
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("run")))
    }

    func testCheckpointFromDifferentConfigIsRefused() throws {
        let data = try makeDataset()
        let out = path("run")
        var r = try progan(tinyArguments(data: data, out: out) + ["--max-steps", "2"])
        XCTAssertTrue(r.succeeded, r.summary)
        let before = checkpoints(out)
        r = try progan(tinyArguments(data: data, out: out) + ["--max-steps", "2", "--resume", "auto", "--seed", "7"])
        assertOneLineError(r, contains: "different configuration (seed: checkpoint 1000, now 7)")
        XCTAssertEqual(checkpoints(out), before)
    }

    func testDatasetCreateFromFolderSkipsCorruptImagesByName() throws {
        let folder = path("images")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        // Two valid PNGs written by the binary's own sample-grid path: a tiny run's reals.png.
        let data = try makeDataset()
        let r0 = try progan(tinyArguments(data: data, out: path("r")) + ["--max-steps", "1"])
        XCTAssertTrue(r0.succeeded, r0.summary)
        try FileManager.default.copyItem(atPath: path("r") + "/reals.png", toPath: folder + "/a.png")
        try FileManager.default.copyItem(atPath: path("r") + "/reals.png", toPath: folder + "/b.png")
        try Data([0x89, 0x50, 0x4E, 0x47, 1, 2, 3]).write(to: URL(fileURLWithPath: folder + "/broken.png"))
        let out = path("folder.h5")
        let r = try progan(["dataset", "create", "--images", folder, "--resolution", "16", "-o", out])
        XCTAssertTrue(r.succeeded, r.summary)
        XCTAssertTrue(r.stdout.contains("skipped: \(folder)/broken.png"), r.stdout)
        XCTAssertTrue(r.stdout.contains("2 images, 16x16, 3 channel(s)"), r.stdout)
        let inspect = try progan(["dataset", "inspect", out])
        XCTAssertTrue(inspect.stdout.contains("data4x4 data8x8 data16x16"), inspect.stdout)
    }

    func testDatasetCreateRefusesToOverwriteAndLeavesNothingOnFailure() throws {
        let out = path("x.h5")
        var r = try progan(["dataset", "create", "--images", path("missing"), "--resolution", "16", "-o", out])
        assertOneLineError(r, contains: "no such folder")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), [])
        try Data("keep".utf8).write(to: URL(fileURLWithPath: out))
        r = try progan(["dataset", "create", "--images", path("missing"), "--resolution", "16", "-o", out])
        XCTAssertNotEqual(r.exitCode, 0)
        XCTAssertTrue(r.stderr.contains("--force"), r.stderr)
        XCTAssertEqual(try String(contentsOfFile: out, encoding: .utf8), "keep")
    }

    /// `dataset create -o data/x.h5` in a fresh clone, where data/ does not exist yet (README main command).
    func testDatasetCreateMakesTheOutputFolder() throws {
        let folder = path("images")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let data = try makeDataset()
        let r0 = try progan(tinyArguments(data: data, out: path("r")) + ["--max-steps", "1"])
        XCTAssertTrue(r0.succeeded, r0.summary)
        try FileManager.default.copyItem(atPath: path("r") + "/reals.png", toPath: folder + "/a.png")
        let out = path("new/sub/x.h5")
        let r = try progan(["dataset", "create", "--images", folder, "--resolution", "8", "-o", out])
        XCTAssertTrue(r.succeeded, r.summary)
        XCTAssertTrue(FileManager.default.fileExists(atPath: out))
    }
}
