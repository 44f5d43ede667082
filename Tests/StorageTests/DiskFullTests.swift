import Foundation
@testable import Storage
import TestSupport
import XCTest

/// A full or read-only file system while writing: one line naming the file and the system's
/// reason, no temporary file left, an earlier file at the target untouched, and no crash (a failed
/// H5Fclose used to leave HDF5 to dereference a destroyed file at process exit: SIGSEGV).
final class DiskFullTests: XCTestCase {
    /// A failed write must not leave its file open inside HDF5 (it would be closed, and crash, at exit).
    override func tearDown() {
        XCTAssertEqual(HDF5Library.openObjectCount(), 0, "an HDF5 file was left open")
    }

    func testFullDiskDuringAtomicWriteThrowsOneLineAndKeepsEarlierFile() throws {
        let fs = try SmallFileSystem(kibibytes: 1024)
        defer { fs.unmount() }
        let target = fs.path("ckpt.h5")
        try HDF5File.writeAtomically(to: target) { try $0.write([Float](repeating: 1, count: 16), shape: [16], to: "w") }
        let before = try Data(contentsOf: URL(fileURLWithPath: target))

        // 2 MiB of floats cannot fit in 1 MiB; HDF5 fails inside H5Dwrite or at the final flush.
        assertHDF5Error(.system, containing: "no space left on device") {
            try HDF5File.writeAtomically(to: target) { file in
                try file.write([Float](repeating: 2, count: 512 * 1024), shape: [512, 1024], to: "w")
            }
        }
        do {
            try HDF5File.writeAtomically(to: target) { file in
                try file.write([Float](repeating: 2, count: 512 * 1024), shape: [512, 1024], to: "w")
            }
        } catch {
            XCTAssertTrue("\(error)".hasPrefix(target), "names the target, not the temporary file: \(error)")
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: fs.path), ["ckpt.h5"])
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: target)), before)
        // The library still works afterwards.
        try HDF5File.writeAtomically(to: target) { try $0.write([Float](repeating: 3, count: 16), shape: [16], to: "w") }
        let file = try HDF5File.open(target)
        defer { try? file.close() }
        XCTAssertEqual(try file.read("w", as: Float.self), [Float](repeating: 3, count: 16))
    }

    func testFullDiskDuringDatasetCreateThrowsOneLine() throws {
        let fs = try SmallFileSystem(kibibytes: 512)
        defer { fs.unmount() }
        let target = fs.path("data.h5")
        let count = 1000
        do {
            try ImageDatasetFile.create(at: target, resolution: 16, channels: 3, count: count, source: "test") { w in
                for level in [4, 8, 16] {
                    try w.write([UInt8](repeating: 7, count: count * 3 * level * level), level: level, rows: 0..<count)
                }
            }
            XCTFail("1000 images of 16x16 RGB fit in 512 KiB?")
        } catch let error as HDF5Error {
            XCTAssertEqual(error.kind, .system, "\(error)")
            XCTAssertTrue(error.description.hasPrefix(target), "\(error)")
            XCTAssertTrue(error.description.contains("no space left on device"), "\(error)")
            XCTAssertFalse(error.description.contains("\n"), "\(error)")
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: fs.path), [])
    }

    func testReadOnlyFileSystemThrowsOneLine() throws {
        let fs = try SmallFileSystem(kibibytes: 64, readOnly: true)
        defer { fs.unmount() }
        assertHDF5Error(.system, containing: "\(fs.path("x.h5")): read-only file system") {
            try HDF5File.writeAtomically(to: fs.path("x.h5")) { try $0.write([Float]([1]), shape: [1], to: "w") }
        }
    }
}
