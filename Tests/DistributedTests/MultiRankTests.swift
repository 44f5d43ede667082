import TestSupport
import XCTest

/// Runs the real binary under `mpirun` (`progan-mpi mpi-selftest`), the way jobs run.
final class MultiRankTests: XCTestCase {
    private var mpirun = ""
    private var binary = ""

    override func setUpWithError() throws {
        guard let mpirun = ChildProcess.which("mpirun") else {
            throw XCTSkip("mpirun not found on PATH: install openmpi-bin to run the multi-rank tests")
        }
        guard let binary = ChildProcess.proganBinary() else {
            XCTFail("progan-mpi binary not found beside the test bundle or in .build/debug: "
                    + "build it with `swift build --product progan-mpi`")
            throw XCTSkip("no binary")
        }
        self.mpirun = mpirun
        self.binary = binary
    }

    private func mpiRun(_ ranks: Int, _ arguments: [String], environment: [String: String] = [:],
                        timeout: Double) throws -> ChildResult {
        let result = try ChildProcess.run(
            [mpirun, "-np", "\(ranks)", "--oversubscribe", binary, "mpi-selftest"] + arguments,
            extraEnvironment: environment, timeout: timeout)
        print("mpirun -np \(ranks) mpi-selftest \(arguments.joined(separator: " ")): "
              + "\(result.exitCode.map { "exit \($0)" } ?? "signal") in \(String(format: "%.2f", result.seconds)) s")
        return result
    }

    private func assertSelfTestPasses(ranks: Int, file: StaticString = #filePath, line: UInt = #line) throws {
        let result = try mpiRun(ranks, [], timeout: 120)
        XCTAssertTrue(result.succeeded, result.summary, file: file, line: line)
        // Only rank 0 prints the summary.
        let summaries = result.stdout.split(separator: "\n").filter { $0.hasPrefix("mpi-selftest passed:") }
        XCTAssertEqual(summaries.count, 1, result.summary, file: file, line: line)
        XCTAssertTrue(result.stdout.contains("checks on \(ranks) rank(s)"), result.summary, file: file, line: line)
        // The autograd graph's collectives (variable counts, to second order) on the same ranks.
        let gradients = result.stdout.split(separator: "\n").filter { $0.hasPrefix("mpi-selftest gradients passed:") }
        XCTAssertEqual(gradients.count, 1, result.summary, file: file, line: line)
        XCTAssertTrue(gradients.first?.contains("halo exchange by finite differences") == true, result.summary, file: file, line: line)
    }

    func testSelfTestPassesOnTwoRanks() throws {
        try assertSelfTestPasses(ranks: 2)
    }

    /// Three ranks holding 0, 1 and 2 rows in the variable-count checks and slabs of 1, 2 and 3
    /// rows in the halo exchange's finite-difference checks (every count differs).
    func testSelfTestPassesOnThreeRanks() throws {
        try assertSelfTestPasses(ranks: 3)
    }

    func testSelfTestPassesOnFourRanks() throws {
        try assertSelfTestPasses(ranks: 4)
    }

    func testSlurmTaskCountMatchingTheWorldPasses() throws {
        let result = try mpiRun(2, [], environment: ["SLURM_NTASKS": "2", "SLURM_JOB_ID": "1"], timeout: 60)
        XCTAssertTrue(result.succeeded, result.summary)
    }

    /// `srun` without an MPI plugin starts singletons: each sees a world of 1.
    func testSlurmTaskCountDifferentFromASingletonWorldFails() throws {
        let result = try ChildProcess.run([binary, "mpi-selftest"],
                                          extraEnvironment: ["SLURM_NTASKS": "4", "SLURM_JOB_ID": "1"],
                                          timeout: 60)
        XCTAssertFalse(result.timedOut, result.summary)
        XCTAssertNotEqual(result.exitCode, 0, result.summary)
        XCTAssertTrue(result.stderr.contains("Slurm started 4 tasks but MPI sees a world of 1: "
                                             + "launch with srun --mpi=pmix or mpirun inside the allocation"),
                      result.summary)
        XCTAssertFalse(result.stdout.contains("mpi-selftest passed"), result.summary)
    }

    /// A rank that exits before a collective must end the job, not leave rank 0 waiting.
    func testRankThatExitsEndsTheJob() throws {
        let result = try mpiRun(2, ["--exit-rank", "1", "--exit-code", "3"], timeout: 60)
        XCTAssertFalse(result.timedOut, "the job hung: \(result.summary)")
        XCTAssertEqual(result.exitCode, 3, result.summary)
        XCTAssertFalse(result.stdout.contains("mpi-selftest passed"), result.summary)
    }

    /// A rank killed by a signal (as by the OOM killer) must end the job.
    func testRankKilledBySignalEndsTheJob() throws {
        let result = try mpiRun(4, ["--kill-rank", "1"], timeout: 60)
        XCTAssertFalse(result.timedOut, "the job hung: \(result.summary)")
        XCTAssertFalse(result.succeeded, result.summary)
        XCTAssertFalse(result.stdout.contains("mpi-selftest passed"), result.summary)
    }

    /// A rank that hangs outside MPI leaves rank 0 in MPI_Barrier: the watchdog names the
    /// collective and the label, then aborts the job.
    func testWatchdogReportsAndAbortsAHungCollective() throws {
        let result = try mpiRun(2, ["--hang-rank", "1", "--watchdog-warn", "1", "--watchdog-abort", "3"], timeout: 60)
        XCTAssertFalse(result.timedOut, "the job hung: \(result.summary)")
        XCTAssertEqual(result.exitCode, 124, result.summary)
        XCTAssertTrue(result.stderr.contains("rank 0 has waited"), result.summary)
        XCTAssertTrue(result.stderr.contains("in MPI_Barrier at \"mpi-selftest, first collective\""), result.summary)
        XCTAssertTrue(result.stderr.contains("aborting the job"), result.summary)
        XCTAssertLessThan(result.seconds, 30, result.summary)
    }
}
