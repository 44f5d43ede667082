import Foundation
import Storage
import XCTest

final class ImageDatasetFileTests: StorageTestCase {
    /// Pixel values that encode (image, level, position), so misplaced images are caught.
    private func image(_ index: Int, level: Int, channels: Int) -> [UInt8] {
        (0..<(channels * level * level)).map { UInt8(truncatingIfNeeded: index * 31 + level + $0) }
    }

    private func makeDataset(_ name: String = "faces.h5", resolution: Int = 16, count: Int = 10,
                             labels: Bool = true, deflate: Int? = nil) throws -> String {
        let path = directory.path(name)
        try ImageDatasetFile.create(at: path, resolution: resolution, channels: 3, count: count,
                                    source: "synthetic test images", withLabels: labels,
                                    deflateLevel: deflate) { writer in
            for level in ImageDatasetFile.levels(upTo: resolution) {
                // Two slices per level, as a streaming builder would write them.
                let half = count / 2
                for rows in [0..<half, half..<count] {
                    try writer.write(rows.flatMap { image($0, level: level, channels: 3) }, level: level, rows: rows)
                }
            }
            if labels { try writer.writeLabels((0..<count).map { Int64($0 % 3) }, rows: 0..<count) }
        }
        return path
    }

    func testRoundTripWithLabels() throws {
        for deflate in [nil, 4] as [Int?] {
            let path = try makeDataset(resolution: 16, count: 10, deflate: deflate)
            let dataset = try ImageDatasetFile(path: path)
            defer { try? dataset.close() }
            XCTAssertEqual(dataset.levels, [4, 8, 16])
            XCTAssertEqual([dataset.resolution, dataset.channels, dataset.count], [16, 3, 10])
            XCTAssertEqual(dataset.source, "synthetic test images")
            XCTAssertTrue(dataset.hasLabels)
            let indices = [9, 0, 4, 4]
            for level in [4, 8, 16] {
                XCTAssertEqual(try dataset.images(resolution: level, indices: indices),
                               indices.flatMap { image($0, level: level, channels: 3) }, "level \(level)")
            }
            XCTAssertEqual(try dataset.images(resolution: 8, rows: 2..<5),
                           (2..<5).flatMap { image($0, level: 8, channels: 3) })
            XCTAssertEqual(try dataset.labels(indices: [5, 1]), [2, 1])
        }
    }

    func testSchemaAsAnHDF5ToolSeesIt() throws {
        let path = try makeDataset(resolution: 8, count: 4, labels: false)
        let file = try HDF5File.open(path)
        defer { try? file.close() }
        XCTAssertEqual(try file.stringAttribute("format"), "progan-mpi-dataset")
        XCTAssertEqual(try file.int64Attribute("version"), 1)
        XCTAssertEqual(try file.int64Attribute("count"), 4)
        XCTAssertEqual(try file.datasetNames().map(\.description),
                       ["/data4x4  uint8[4, 3, 4, 4]", "/data8x8  uint8[4, 3, 8, 8]"])
        let dataset = try ImageDatasetFile(path: path)
        defer { try? dataset.close() }
        assertHDF5Error(.missingObject, containing: "dataset has no labels") { try dataset.labels(indices: [0]) }
    }

    func testMissingLevelSaysHowToRecreate() throws {
        let path = try makeDataset(resolution: 16)
        let dataset = try ImageDatasetFile(path: path)
        defer { try? dataset.close() }
        assertHDF5Error(.invalidSchema,
                        containing: "\(path): dataset has levels 4..16 but 32x32 was asked; recreate it with --resolution 32") {
            try dataset.images(resolution: 32, indices: [0])
        }
        assertHDF5Error(.invalidSchema, containing: "12x12 is not a level") {
            try dataset.images(resolution: 12, rows: 0..<1)
        }
        assertHDF5Error(.outOfRange, containing: "outside 0..<10") {
            try dataset.images(resolution: 4, indices: [10])
        }
    }

    func testValidationErrors() throws {
        // Each case damages a valid file one way, then expects the reader's one-line complaint.
        let cases: [(String, (HDF5File) throws -> Void)] = [
            ("not a progan-mpi dataset (format is 'something-else', expected 'progan-mpi-dataset')",
             { try $0.setAttribute("format", .string("something-else")) }),
            ("dataset version 2 is not supported (this program reads version 1)",
             { try $0.setAttribute("version", .int64(2)) }),
            ("counts disagree: attribute 'count' is 11 but data4x4 holds 10 images",
             { try $0.setAttribute("count", .int64(11)) }),
            ("level data32x32 is missing (resolution 32 needs levels 4..32)",
             { try $0.setAttribute("resolution", .int64(32)) }),
            ("resolution 24 is not a power of two",
             { try $0.setAttribute("resolution", .int64(24)) }),
            ("data4x4 has shape [10, 3, 4, 4], expected [10, 4, 4, 4]",
             { try $0.setAttribute("channels", .int64(4)) }),
            ("bad 'count' attribute: ",
             { try $0.setAttribute("count", .string("ten")) }),
        ]
        for (index, (expected, damage)) in cases.enumerated() {
            let path = try makeDataset("case\(index).h5")
            let file = try HDF5File.open(path, mode: .readWrite)
            try damage(file)
            try file.close()
            assertHDF5Error(.invalidSchema, containing: "\(path): \(expected)") { try ImageDatasetFile(path: path) }
        }
    }

    /// A file in the schema that holds no images (as another tool could write it) is refused on
    /// open, and `create` refuses to write one: nothing can be trained on or measured with it.
    func testDatasetWithoutImagesIsRefused() throws {
        let path = directory.path("empty.h5")
        try HDF5File.writeAtomically(to: path) { file in
            try file.setAttribute("format", .string(ImageDatasetFile.formatName))
            try file.setAttribute("version", .int64(ImageDatasetFile.formatVersion))
            try file.setAttribute("resolution", .int64(8))
            try file.setAttribute("channels", .int64(1))
            try file.setAttribute("count", .int64(0))
            try file.setAttribute("source", .string("nothing"))
            for level in [4, 8] { try file.write([UInt8](), shape: [0, 1, level, level], to: ImageDatasetFile.levelName(level)) }
        }
        assertHDF5Error(.invalidSchema, containing: "\(path): the dataset holds no images") { try ImageDatasetFile(path: path) }
        let created = directory.path("created.h5")
        assertHDF5Error(.invalidSchema, containing: "0 images") {
            try ImageDatasetFile.create(at: created, resolution: 8, channels: 1, count: 0, source: "none") { _ in }
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: created))
    }

    func testFileWithoutFormatMistypedLabelsAndMissingFile() throws {
        let plain = directory.path("plain.h5")
        try HDF5File.writeAtomically(to: plain) { try $0.write([UInt8]([1]), shape: [1], to: "data4x4") }
        assertHDF5Error(.invalidSchema, containing: "\(plain): not a progan-mpi dataset (no 'format' attribute)") {
            try ImageDatasetFile(path: plain)
        }
        let floatLabels = try makeDataset("float-labels.h5", labels: false)
        let file = try HDF5File.open(floatLabels, mode: .readWrite)
        try file.write([Float](repeating: 0, count: 10), shape: [10], to: "labels")
        try file.close()
        assertHDF5Error(.invalidSchema, containing: "labels is float32[10], expected int64 [N]") {
            try ImageDatasetFile(path: floatLabels)
        }
        let missing = directory.path("missing.h5")
        assertHDF5Error(.noSuchFile, containing: "\(missing): no such file") { try ImageDatasetFile(path: missing) }
    }

    func testIncompleteOrInvalidWritesLeaveNoFile() throws {
        let path = directory.path("partial.h5")
        assertHDF5Error(.invalidSchema, containing: "dataset incomplete: data8x8 has 3 of 4 rows written") {
            try ImageDatasetFile.create(at: path, resolution: 8, channels: 1, count: 4, source: "t") { writer in
                try writer.write([UInt8](repeating: 1, count: 4 * 16), level: 4, rows: 0..<4)
                try writer.write([UInt8](repeating: 1, count: 3 * 64), level: 8, rows: 0..<3)
            }
        }
        assertHDF5Error(.invalidSchema, containing: "16x16 is not a level of a dataset with levels 4..8") {
            try ImageDatasetFile.create(at: path, resolution: 8, channels: 1, count: 1, source: "t") { writer in
                try writer.write([UInt8](repeating: 1, count: 256), level: 16, rows: 0..<1)
            }
        }
        assertHDF5Error(.missingObject, containing: "created without labels") {
            try ImageDatasetFile.create(at: path, resolution: 4, channels: 1, count: 1, source: "t") { writer in
                try writer.writeLabels([1], rows: 0..<1)
            }
        }
        assertHDF5Error(.invalidSchema, containing: "resolution must be a power of two") {
            try ImageDatasetFile.create(at: path, resolution: 6, channels: 3, count: 1, source: "t") { _ in }
        }
        XCTAssertEqual(try directory.contents(), [])
    }
}
