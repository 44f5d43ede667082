import Foundation
import Storage
import XCTest

final class AtomicWriteTests: StorageTestCase {
    private struct Interrupted: Error {}

    func testSuccessLeavesOnlyTheTarget() throws {
        let path = directory.path("ckpt.h5")
        try HDF5File.writeAtomically(to: path) { file in
            try file.write([Double]([1, 2]), shape: [2], to: "v")
        }
        XCTAssertEqual(try directory.contents(), ["ckpt.h5"])
        let file = try HDF5File.open(path)
        defer { try? file.close() }
        XCTAssertEqual(try file.read("v", as: Double.self), [1, 2])
    }

    func testThrowingBodyLeavesTargetUntouchedAndNoTemporaryFile() throws {
        let path = directory.path("ckpt.h5")
        try HDF5File.writeAtomically(to: path) { file in
            try file.write([Double]([1, 2]), shape: [2], to: "v")
        }
        let before = try Data(contentsOf: URL(fileURLWithPath: path))

        var sawTemporary = false
        XCTAssertThrowsError(try HDF5File.writeAtomically(to: path) { file in
            try file.write([Double]([3, 4]), shape: [2], to: "v")
            // While the body runs, the data goes to a hidden temporary next to the target.
            sawTemporary = try self.directory.contents().contains { $0.hasPrefix(".ckpt.h5.tmp-") }
            throw Interrupted()
        }) { error in
            XCTAssertTrue(error is Interrupted, "the body's own error must come through: \(error)")
        }
        XCTAssertTrue(sawTemporary)
        XCTAssertEqual(try directory.contents(), ["ckpt.h5"])
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), before)
    }

    func testReplacesAnExistingFileAndAcceptsBodyThatCloses() throws {
        let path = directory.path("ckpt.h5")
        try "old".write(toFile: path, atomically: false, encoding: .utf8)
        try HDF5File.writeAtomically(to: path) { file in
            try file.write([Int64]([9]), shape: [1], to: "n")
            try file.close()
        }
        let file = try HDF5File.open(path)
        defer { try? file.close() }
        XCTAssertEqual(try file.read("n", as: Int64.self), [9])
        XCTAssertEqual(try directory.contents(), ["ckpt.h5"])
    }

    /// A writer killed mid-write leaves `.<name>.tmp-<pid>`; only such files, and only for the
    /// names asked for, are removed; the finished file and look-alikes stay.
    func testLeftoverTemporariesOfKilledWritersAreRemovedByName() throws {
        try HDF5File.writeAtomically(to: directory.path("ckpt-2.h5")) { file in
            try file.write([Double]([1]), shape: [1], to: "v")
        }
        let finished = try Data(contentsOf: URL(fileURLWithPath: directory.path("ckpt-2.h5")))
        // What a killed writer leaves: the first part of a real file under the temporary name.
        try finished.prefix(finished.count / 2).write(to: URL(fileURLWithPath: directory.path(".ckpt-3.h5.tmp-4242")))
        let others = [".ckpt-1.h5.tmp-7", ".other.h5.tmp-99", ".ckpt-1.h5.tmp-", ".ckpt-1.h5.tmp-12x", "ckpt-1.h5.tmp-5", ".tmp-5"]
        for name in others { try "x".write(toFile: directory.path(name), atomically: false, encoding: .utf8) }

        let removed = HDF5File.removeLeftoverTemporaries(in: directory.url.path) { $0.hasPrefix("ckpt-") }
        XCTAssertEqual(removed, [".ckpt-1.h5.tmp-7", ".ckpt-3.h5.tmp-4242"])
        XCTAssertEqual(try directory.contents(), (others.filter { $0 != ".ckpt-1.h5.tmp-7" } + ["ckpt-2.h5"]).sorted())
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: directory.path("ckpt-2.h5"))), finished)
        XCTAssertEqual(HDF5File.removeLeftoverTemporaries(in: directory.path("missing")) { _ in true }, [])
    }

    func testFailureInsideHDF5AlsoCleansUp() throws {
        let path = directory.path("x.h5")
        assertHDF5Error(.typeMismatch, containing: "holds float32, not float64") {
            try HDF5File.writeAtomically(to: path) { file in
                try file.write([Float]([1]), shape: [1], to: "v")
                _ = try file.read("v", as: Double.self)
            }
        }
        XCTAssertEqual(try directory.contents(), [])
    }
}
