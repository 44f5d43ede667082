import Foundation
import TestSupport
import XCTest

/// The release binary on a full disk: one line naming the file and "no space left on device",
/// exit status 1 (no signal: HDF5 used to crash at exit after a failed close), no temporary file
/// left, and the checkpoints written before it intact.
final class DiskFullCLITests: TrainingCLITestCase {
    func testTrainOnFullDiskFailsCleanly() throws {
        try trainOnFullDisk(ranks: 1)
    }

    /// Under mpirun every rank ends: the job's status is 1, and no rank dies of a signal.
    func testTrainOnFullDiskFailsCleanlyUnderMPI() throws {
        try trainOnFullDisk(ranks: 2)
    }

    private func trainOnFullDisk(ranks: Int) throws {
        let data = try makeDataset()
        // Checkpoints of the tiny network take 200-600 KiB: a few fit in 1.5 MiB, then one does not.
        let fs = try SmallFileSystem(kibibytes: 1536)
        defer { fs.unmount() }
        let out = fs.path("run")
        let r = try progan(["train", "--data", data, "--out", out, "--preset", "tiny", "--kimg", "3",
                            "--tick-kimg", "0.1", "--no-tensorboard"], ranks: ranks, timeout: 300)
        XCTAssertEqual(r.exitCode, 1, r.summary)
        XCTAssertNil(r.signal, r.summary)
        XCTAssertFalse(r.stdout.contains("signal"), r.summary)
        XCTAssertFalse(r.stderr.contains("signal"), r.summary)
        let errors = r.stderr.split(separator: "\n").filter { $0.hasPrefix("progan-mpi:") }
        XCTAssertEqual(errors.count, 1, r.summary)
        let line = String(errors.first ?? "")
        XCTAssertTrue(line.hasPrefix("progan-mpi: error: \(out)/"), line)
        XCTAssertTrue(line.lowercased().contains("no space left on device"), line)
        XCTAssertLessThan(line.count, 300, line)
        let names = try FileManager.default.contentsOfDirectory(atPath: out)
        XCTAssertEqual(names.filter { $0.contains(".tmp-") }, [], "temporary files left: \(names)")
        let saved = checkpoints(out)
        XCTAssertFalse(saved.isEmpty, "the first checkpoints fit: \(names)")
        for file in saved { XCTAssertNoThrow(try checkpointArrays(file), file) }
    }

    func testDatasetCreateOnFullDiskFailsCleanly() throws {
        let idx = "/usr/share/datasets/fashion-mnist"
        guard FileManager.default.fileExists(atPath: idx + "/train-images-idx3-ubyte.gz") else {
            throw XCTSkip("no Fashion-MNIST at \(idx) (.ci/deps.sh installs it)")
        }
        let fs = try SmallFileSystem(kibibytes: 3072)
        defer { fs.unmount() }
        let out = fs.path("fm.h5")
        let r = try progan(["dataset", "create", "--fashion-mnist", idx, "-o", out], timeout: 300)
        XCTAssertEqual(r.exitCode, 1, r.summary)
        XCTAssertNil(r.signal, r.summary)
        let errors = r.stderr.split(separator: "\n").filter { $0.hasPrefix("progan-mpi:") }
        XCTAssertEqual(errors.count, 1, r.summary)
        XCTAssertTrue(errors.first?.hasPrefix("progan-mpi: error: \(out)") ?? false, r.summary)
        XCTAssertTrue(errors.first?.contains("no space left on device") ?? false, r.summary)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: fs.path), [])
    }
}
