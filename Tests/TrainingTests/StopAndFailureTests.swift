import Foundation
import TestSupport
import XCTest

/// Stop signals checkpoint and exit 75; a rank killed by SIGKILL ends the job; both resume.
final class StopAndFailureTests: TrainingCLITestCase {
    /// SIGTERM mid-run: the step finishes, a checkpoint is written, exit status 75; `--resume auto`
    /// continues from exactly that checkpoint.
    func testStopSignalCheckpointsAndResumes() throws {
        let b = try binary()
        let data = try makeDataset()
        let out = path("run")
        let script = """
        "\(b)" train --data "\(data)" --out "\(out)" --preset tiny --kimg 50 --tick-kimg 10 --checkpoint-ticks 100 &
        pid=$!
        sleep 2
        kill -TERM $pid
        wait $pid
        echo "exit=$?"
        """
        let r = try ChildProcess.run(["bash", "-c", script], timeout: 60)
        XCTAssertTrue(r.stdout.contains("exit=75"), r.summary)
        let log = try String(contentsOfFile: out + "/log.txt", encoding: .utf8)
        XCTAssertTrue(log.contains("stop: signal 15 received; checkpoint written"), log)
        let saved = try XCTUnwrap(checkpoints(out).last)
        let images = Int(saved.split(separator: "-").last!.prefix(9))!
        XCTAssertGreaterThan(images, 0)
        let resumed = try progan(["train", "--data", data, "--out", out, "--preset", "tiny", "--kimg", "50",
                                  "--tick-kimg", "10", "--checkpoint-ticks", "100", "--resume", "auto", "--max-steps", "2"])
        XCTAssertTrue(resumed.succeeded, resumed.summary)
        XCTAssertTrue(resumed.stdout.contains("resuming from \(saved)"), resumed.stdout)
        XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/" + String(format: "checkpoint-%09d.h5", images + 16)))
    }

    /// A run SIGKILLed while rank 0 writes a checkpoint leaves `.checkpoint-N.h5.tmp-PID`, part of
    /// a file: `--resume auto` passes over it to the newest complete checkpoint, and the resumed run
    /// removes it. (cluster/tests/sigkill_checkpoint_test.sh kills a real writer mid-write.)
    func testLeftoverOfKilledCheckpointWriteIsPassedOverAndRemoved() throws {
        let data = try makeDataset()
        let out = path("run")
        var r = try progan(tinyArguments(data: data, out: out) + ["--max-steps", "2"])
        XCTAssertTrue(r.succeeded, r.summary)
        let complete = out + "/checkpoint-000000016.h5"
        let bytes = try Data(contentsOf: URL(fileURLWithPath: complete))
        let leftover = out + "/.checkpoint-000000024.h5.tmp-99999"
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: leftover))

        r = try progan(tinyArguments(data: data, out: out) + ["--max-steps", "1", "--resume", "auto"])
        XCTAssertTrue(r.succeeded, r.summary)
        XCTAssertTrue(r.stdout.contains("resuming from \(complete)"), r.stdout)
        XCTAssertTrue(r.stdout.contains("removed .checkpoint-000000024.h5.tmp-99999"), r.stdout)
        XCTAssertFalse(FileManager.default.fileExists(atPath: leftover))
        XCTAssertEqual(checkpoints(out), [complete, out + "/checkpoint-000000024.h5"])
    }

    /// One of two ranks killed with SIGKILL: mpirun ends the job nonzero within 60 s (no hang),
    /// and `--resume auto` continues from the last checkpoint, here with 1 rank.
    func testKilledRankEndsJobAndRunResumes() throws {
        let b = try binary()
        let data = try makeDataset()
        let out = path("run")
        let script = """
        mpirun -np 2 --oversubscribe "\(b)" train --data "\(data)" --out "\(out)" --preset tiny --kimg 50 --tick-kimg 0.08 &
        mp=$!
        for i in $(seq 1 100); do ls "\(out)"/checkpoint-*.h5 >/dev/null 2>&1 && break; sleep 0.1; done
        sleep 0.5
        victim=$(pgrep -f -n "\(b) train --data \(data) --out \(out)")
        kill -KILL $victim
        start=$(date +%s)
        wait $mp
        code=$?
        echo "exit=$code seconds=$(( $(date +%s) - start ))"
        """
        let r = try ChildProcess.run(["bash", "-c", script], timeout: 120)
        let line = try XCTUnwrap(r.stdout.split(separator: "\n").last { $0.hasPrefix("exit=") }, r.summary)
        let fields = line.split(separator: " ").map { $0.split(separator: "=")[1] }
        XCTAssertNotEqual(Int(fields[0]), 0, r.summary)
        XCTAssertLessThan(Int(fields[1])!, 60, r.summary)
        let last = try XCTUnwrap(checkpoints(out).last, "a checkpoint must exist before the kill")
        let resumed = try progan(["train", "--data", data, "--out", out, "--preset", "tiny", "--kimg", "50",
                                  "--tick-kimg", "0.08", "--resume", "auto", "--max-steps", "2"])
        XCTAssertTrue(resumed.succeeded, resumed.summary)
        XCTAssertTrue(resumed.stdout.contains("resuming from \(last)"), resumed.stdout)
    }
}
