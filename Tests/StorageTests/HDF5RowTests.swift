import Storage
import XCTest

/// Hyperslab reads and writes along the first axis.
final class HDF5RowTests: StorageTestCase {
    /// Row i holds the values i*100 + j, so any misplaced row is visible.
    private func rows(_ range: Range<Int>, width: Int) -> [Int64] {
        range.flatMap { row in (0..<width).map { Int64(row * 100 + $0) } }
    }

    private func makeFile(chunking: HDF5Chunking? = nil) throws -> HDF5File {
        let file = try HDF5File.create(directory.path("rows.h5"))
        try file.write(rows(0..<10, width: 6), shape: [10, 2, 3], to: "x", chunking: chunking)
        return file
    }

    func testReadRowRange() throws {
        let file = try makeFile()
        defer { try? file.close() }
        XCTAssertEqual(try file.readRows("x", rows: 3..<6, as: Int64.self), rows(3..<6, width: 6))
        XCTAssertEqual(try file.readRows("x", rows: 0..<10, as: Int64.self), rows(0..<10, width: 6))
        XCTAssertEqual(try file.readRows("x", rows: 4..<4, as: Int64.self), [])
    }

    func testGatherKeepsCallerOrderAndDuplicates() throws {
        let file = try makeFile()
        defer { try? file.close() }
        let indices = [7, 2, 3, 9, 2, 0]
        let expected = indices.flatMap { rows($0..<($0 + 1), width: 6) }
        XCTAssertEqual(try file.readRows("x", indices: indices, as: Int64.self), expected)
        XCTAssertEqual(try file.readRows("x", indices: [1, 2, 3], as: Int64.self), rows(1..<4, width: 6))
        XCTAssertEqual(try file.readRows("x", indices: [], as: Int64.self), [])
    }

    func testRowBoundsAreChecked() throws {
        let file = try makeFile()
        defer { try? file.close() }
        assertHDF5Error(.outOfRange, containing: "rows 8..<11 outside 0..<10") {
            try file.readRows("x", rows: 8..<11, as: Int64.self)
        }
        assertHDF5Error(.outOfRange, containing: "outside 0..<10") {
            try file.readRows("x", indices: [3, 10], as: Int64.self)
        }
        assertHDF5Error(.outOfRange, containing: "outside 0..<10") {
            try file.readRows("x", indices: [-1], as: Int64.self)
        }
        assertHDF5Error(.typeMismatch, containing: "holds int64, not uint8") {
            try file.readRows("x", rows: 0..<1, as: UInt8.self)
        }
    }

    func testStreamRowsIntoPreCreatedChunkedDeflatedDataset() throws {
        let path = directory.path("images.h5")
        let count = 50, rowSize = 3 * 16 * 16
        let image: (Int) -> [UInt8] = { row in (0..<rowSize).map { UInt8(truncatingIfNeeded: row * 7 + $0 / 16) } }
        try HDF5File.writeAtomically(to: path) { file in
            try file.createDataset("data16x16", of: UInt8.self, shape: [count, 3, 16, 16],
                                   chunking: HDF5Chunking(rowsPerChunk: 8, deflateLevel: 6))
            // Out of order and in uneven slices, as a parallel builder might deliver them.
            for slice in [20..<50, 0..<7, 7..<20] {
                try file.writeRows(slice.flatMap(image), rows: slice, to: "data16x16")
            }
            assertHDF5Error(.shapeMismatch, containing: "5 values given for 1 rows of 768") {
                try file.writeRows([UInt8](repeating: 0, count: 5), rows: 0..<1, to: "data16x16")
            }
            assertHDF5Error(.outOfRange, containing: "rows 49..<51 outside 0..<50") {
                try file.writeRows([UInt8](repeating: 0, count: 2 * rowSize), rows: 49..<51, to: "data16x16")
            }
        }
        let file = try HDF5File.open(path)
        defer { try? file.close() }
        XCTAssertEqual(try file.read("data16x16", as: UInt8.self), (0..<count).flatMap(image))
        XCTAssertEqual(try file.readRows("data16x16", indices: [49, 0, 17], as: UInt8.self),
                       [49, 0, 17].flatMap(image))
        // The repetitive rows must have been compressed well below their 38400 raw bytes.
        let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int ?? .max
        XCTAssertLessThan(size, count * rowSize / 2)
    }

    func testChunkingLargerThanDatasetIsClamped() throws {
        let file = try makeFile(chunking: HDF5Chunking(rowsPerChunk: 1000, deflateLevel: 1))
        defer { try? file.close() }
        XCTAssertEqual(try file.readRows("x", indices: [9, 0], as: Int64.self),
                       rows(9..<10, width: 6) + rows(0..<1, width: 6))
    }

    func testUnwrittenRowsReadAsZero() throws {
        let file = try HDF5File.create(directory.path("zero.h5"))
        defer { try? file.close() }
        try file.createDataset("y", of: Float.self, shape: [4, 2])
        try file.writeRows([Float]([1, 2]), rows: 1..<2, to: "y")
        XCTAssertEqual(try file.read("y", as: Float.self), [0, 0, 1, 2, 0, 0, 0, 0])
        assertHDF5Error(.shapeMismatch, containing: "already exists") {
            try file.createDataset("y", of: Float.self, shape: [4, 2])
        }
    }
}
