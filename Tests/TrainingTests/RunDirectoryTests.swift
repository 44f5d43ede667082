import Foundation
import TestSupport
import XCTest

/// The run directory and the options around it (issue 15): a lock against a second run, no
/// metrics written twice after a resume, and one clear line for each bad option.
final class RunDirectoryTests: TrainingCLITestCase {
    func assertOneLine(_ r: ChildResult, contains: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertNotEqual(r.exitCode, 0, r.summary, file: file, line: line)
        XCTAssertNil(r.signal, r.summary, file: file, line: line)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr, file: file, line: line)
        XCTAssertTrue(r.stderr.contains(contains), "expected '\(contains)' in: \(r.stderr)", file: file, line: line)
    }

    /// A second `--resume auto` on a directory a run is writing used to delete that run's
    /// temporary checkpoint as a killed run's leftover, and the first run died. Now it is refused
    /// by name (host, PID); once the first run is SIGKILLed the OS drops its lock, and the resume works.
    func testSecondRunOnTheSameDirectoryIsRefusedAndAKilledRunDoesNotBlock() throws {
        let b = try binary()
        let data = try makeDataset()
        let out = path("run")
        let args = "train --data \"\(data)\" --out \"\(out)\" --preset tiny --kimg 50 --tick-kimg 0.04"
        let script = """
        "\(b)" \(args) >/dev/null 2>&1 &
        first=$!
        for i in $(seq 1 300); do ls "\(out)"/checkpoint-*.h5 >/dev/null 2>&1 && break; sleep 0.1; done
        "\(b)" \(args) --resume auto --max-steps 1 >second.out 2>second.err
        echo "second=$? first=$first host=$(hostname)"
        kill -0 $first && echo "first-alive"
        kill -KILL $first; wait $first
        "\(b)" \(args) --resume auto --max-steps 1 >/dev/null 2>third.err
        echo "third=$?"
        cat second.err third.err
        """
        let r = try ChildProcess.run(["bash", "-c", "cd \"\(directory.path)\"\n" + script], timeout: 120)
        let fields = Dictionary(uniqueKeysWithValues: r.stdout.split(separator: "\n").first { $0.hasPrefix("second=") }!
            .split(separator: " ").map { ($0.split(separator: "=")[0], String($0.split(separator: "=")[1])) })
        XCTAssertEqual(fields["second"], "1", r.summary)
        XCTAssertTrue(r.stdout.contains("first-alive"), "the first run must survive the second's start: \(r.summary)")
        XCTAssertTrue(r.stdout.contains("\(out) is in use by another training run (pid \(fields["first"]!) on host \(fields["host"]!))"),
                      r.summary)
        XCTAssertTrue(r.stdout.contains("third=0"), "a SIGKILLed run must not block its resume: \(r.summary)")
    }

    /// A run killed after its last checkpoint had already logged the ticks after it; the resumed
    /// run logged them again (kimg 0.304 twice). Killed-after-checkpoint is made here by removing
    /// the newest checkpoint of a finished invocation.
    func testResumeDoesNotWriteMetricsTwice() throws {
        let data = try makeDataset()
        let out = path("run")
        let args = ["train", "--data", data, "--out", out, "--preset", "tiny", "--tick-kimg", "0.008", "--kimg", "1"]
        var r = try progan(args + ["--max-steps", "3"])
        XCTAssertTrue(r.succeeded, r.summary)
        let newest = try XCTUnwrap(checkpoints(out).last)
        try FileManager.default.removeItem(atPath: newest)
        r = try progan(args + ["--max-steps", "2", "--resume", "auto"])
        XCTAssertTrue(r.succeeded, r.summary)
        XCTAssertTrue(r.stdout.contains("start: 0.016 kimg done (16 images)"), r.stdout)
        let kimgs = try metrics(out).compactMap { $0["kimg"] as? Double }
        XCTAssertEqual(kimgs, [0.008, 0.016, 0.024, 0.032], "one record per tick, in order")
    }

    func testBadNumbersGetOneLine() throws {
        let data = try makeDataset()
        let out = path("run")
        let base = tinyArguments(data: data, out: out) + ["--max-steps", "1"]
        assertOneLine(try progan(base + ["--minibatch", "-1"]), contains: "--minibatch must be positive")
        assertOneLine(try progan(base + ["--threads", "-1"]), contains: "--threads must be at least 1, got -1")
        assertOneLine(try progan(base + ["--threads", "0"]), contains: "--threads must be at least 1, got 0")
        assertOneLine(try progan(base + ["--kimg", "inf"]), contains: "--kimg must be a finite number")
        assertOneLine(try progan(base + ["--fade-kimg", "-0.5"]), contains: "--fade-kimg must be a finite number")
        assertOneLine(try progan(base + ["--minibatch", "100000"]), contains: "more than the dataset's 64 images")
        assertOneLine(try progan(base + ["--minibatch", "64", "--stabilize-kimg", "0.032"]),
                      contains: "longer than a stabilization phase of 32 images")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
        assertOneLine(try progan(["generate", "--checkpoint", path("x.h5"), "--out", path("a.png"), "--count", "-5"]),
                      contains: "--count must be in 1...1024, got -5")
    }

    /// `--out` an existing file or on a read-only file system: NSCocoaErrorDomain dumps.
    func testRunDirectoryThatCannotBeMade() throws {
        let data = try makeDataset()
        let file = path("afile")
        try Data("x".utf8).write(to: URL(fileURLWithPath: file))
        assertOneLine(try progan(tinyArguments(data: data, out: file) + ["--max-steps", "1"]),
                      contains: "--out \(file): \(file) exists and is not a directory")
        assertOneLine(try progan(tinyArguments(data: data, out: file + "/run") + ["--max-steps", "1"]),
                      contains: "exists and is not a directory")
        let fs = try SmallFileSystem(kibibytes: 64, readOnly: true)
        defer { fs.unmount() }
        assertOneLine(try progan(tinyArguments(data: data, out: fs.path("run")) + ["--max-steps", "1"]),
                      contains: "cannot create \(fs.path("run")): read-only file system")
    }

    /// `generate -o missing/dir/a.png` named its temporary file in an error; `metrics msssim
    /// --images 0` failed inside the generator.
    func testGenerateMakesFoldersAndMSSSIMNeedsTwoImages() throws {
        let data = try makeDataset()
        let out = path("run")
        let r = try progan(tinyArguments(data: data, out: out) + ["--max-steps", "1"])
        XCTAssertTrue(r.succeeded, r.summary)
        let checkpoint = try XCTUnwrap(checkpoints(out).last)
        let png = path("missing/dir/a.png")
        let g = try progan(["generate", "--checkpoint", checkpoint, "-o", png, "--count", "4"])
        XCTAssertTrue(g.succeeded, g.summary)
        XCTAssertTrue(FileManager.default.fileExists(atPath: png))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: path("missing/dir")), ["a.png"])
        assertOneLine(try progan(["metrics", "msssim", "--checkpoint", checkpoint, "--images", "0"]),
                      contains: "--images must be at least 2")
    }
}
