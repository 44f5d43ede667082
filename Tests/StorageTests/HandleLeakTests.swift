@testable import Storage
import XCTest

/// Every operation, failing or not, must release the HDF5 objects it opens.
final class HandleLeakTests: StorageTestCase {
    func testNoIdentifierOutlivesItsOperation() throws {
        let path = directory.path("leak.h5")
        // Warm up once so identifiers the library registers lazily are not counted as leaks.
        try exercise(path)
        let before = HDF5Library.openObjectCount()
        for _ in 0..<3 { try exercise(path) }
        XCTAssertEqual(before, 0, "no file should be open between operations")
        XCTAssertEqual(HDF5Library.openObjectCount(), before)
    }

    private func exercise(_ path: String) throws {
        try HDF5File.writeAtomically(to: path) { file in
            try file.write([Float](repeating: 1, count: 12), shape: [3, 4], to: "G/a")
            try file.createDataset("G/b", of: UInt8.self, shape: [5, 2], chunking: HDF5Chunking(rowsPerChunk: 2, deflateLevel: 3))
            try file.writeRows([UInt8](repeating: 2, count: 10), rows: 0..<5, to: "G/b")
            try file.setAttribute("s", .string("x"))
            try file.setAttribute("f", .floats([1, 2]), on: "G/a")
            try file.setAttribute("i", .int64(1), on: "G")
        }
        let file = try HDF5File.open(path)
        defer {
            // Only the file itself may be open here: no dataset, group or attribute left behind.
            XCTAssertEqual(HDF5Library.openObjectCount(), 1)
            try? file.close()
        }
        _ = try file.read("G/a", as: Float.self)
        _ = try file.readRows("G/b", indices: [4, 0, 2], as: UInt8.self)
        _ = try file.readRows("G/b", rows: 1..<3, as: UInt8.self)
        _ = try file.datasetNames()
        _ = try file.attributeNames(on: "G/a")
        _ = try file.stringAttribute("s")
        _ = try file.floatArrayAttribute("f", on: "G/a")
        // Failure paths too.
        _ = try? file.read("G/a", as: Double.self)
        _ = try? file.read("G/missing", as: Float.self)
        _ = try? file.readRows("G/b", rows: 4..<9, as: UInt8.self)
        _ = try? file.int64Attribute("s")
        _ = try? file.stringAttribute("nope")
        _ = try? HDF5File.create(directory.path("no/dir.h5"))
    }
}
