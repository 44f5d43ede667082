import Foundation
import Storage
import XCTest

final class HDF5FileTests: StorageTestCase {
    func testFloatRoundTripWithShapeAndIntermediateGroups() throws {
        let path = directory.path("a.h5")
        let values: [Float] = (0..<24).map { Float($0) * 0.5 - 3 }
        let file = try HDF5File.create(path)
        try file.write(values, shape: [2, 3, 4], to: "G/block1/conv0/weight")
        try file.close()

        let reopened = try HDF5File.open(path)
        defer { try? reopened.close() }
        XCTAssertEqual(try reopened.read("G/block1/conv0/weight", as: Float.self), values)
        XCTAssertEqual(try reopened.shape(of: "/G/block1/conv0/weight"), [2, 3, 4])
        XCTAssertTrue(try reopened.exists("G/block1"))
        XCTAssertFalse(try reopened.exists("G/block2/conv0"))
        // Below a dataset nothing exists (HDF5's own lookup would fail rather than answer).
        XCTAssertFalse(try reopened.exists("G/block1/conv0/weight/x"))
    }

    func testDoubleUInt8Int64AndScalarRoundTrips() throws {
        let path = directory.path("types.h5")
        let doubles: [Double] = [1e-300, -2.5, .pi, 1e300]
        let bytes: [UInt8] = [0, 1, 127, 128, 255, 42]
        let longs: [Int64] = [.min, -1, 0, 1, .max]
        try HDF5File.writeAtomically(to: path) { file in
            try file.write(doubles, shape: [2, 2], to: "d")
            try file.write(bytes, shape: [6], to: "u")
            try file.write(longs, shape: [5, 1], to: "i")
            try file.write([Float(7.25)], shape: [], to: "scalar")
            try file.write([Float](), shape: [0, 3], to: "empty")
        }
        let file = try HDF5File.open(path)
        defer { try? file.close() }
        XCTAssertEqual(try file.read("d", as: Double.self, expectedShape: [2, 2]), doubles)
        XCTAssertEqual(try file.read("u", as: UInt8.self), bytes)
        XCTAssertEqual(try file.read("i", as: Int64.self), longs)
        XCTAssertEqual(try file.read("scalar", as: Float.self), [7.25])
        XCTAssertEqual(try file.shape(of: "scalar"), [])
        XCTAssertEqual(try file.read("empty", as: Float.self), [])
        XCTAssertEqual(try file.shape(of: "empty"), [0, 3])
    }

    func testOverwriteInPlaceAndShapeConflict() throws {
        let file = try HDF5File.create(directory.path("w.h5"))
        defer { try? file.close() }
        try file.write([Float](repeating: 1, count: 4), shape: [4], to: "x")
        try file.write([Float]([1, 2, 3, 4]), shape: [4], to: "x")
        XCTAssertEqual(try file.read("x", as: Float.self), [1, 2, 3, 4])
        assertHDF5Error(.shapeMismatch, containing: "already exists with shape [4], not [2, 2]") {
            try file.write([Float]([1, 2, 3, 4]), shape: [2, 2], to: "x")
        }
    }

    func testReadChecksTypeAndShape() throws {
        let file = try HDF5File.create(directory.path("t.h5"))
        defer { try? file.close() }
        try file.write([UInt8](repeating: 3, count: 6), shape: [2, 3], to: "img")
        assertHDF5Error(.typeMismatch, containing: "/img holds uint8, not float32") {
            try file.read("img", as: Float.self)
        }
        assertHDF5Error(.shapeMismatch, containing: "has shape [2, 3], expected [3, 2]") {
            try file.read("img", as: UInt8.self, expectedShape: [3, 2])
        }
    }

    func testMissingDatasetAndGroupErrors() throws {
        let path = directory.path("m.h5")
        let file = try HDF5File.create(path)
        defer { try? file.close() }
        try file.write([Float](repeating: 0, count: 2), shape: [2], to: "G/w")
        assertHDF5Error(.missingObject, containing: "\(path): no dataset '/G/missing/w'") {
            try file.read("G/missing/w", as: Float.self)
        }
        assertHDF5Error(.missingObject, containing: "\(path):/G is a group, not a dataset") {
            try file.shape(of: "G")
        }
    }

    func testOpeningMissingFileSaysNoSuchFile() throws {
        let path = directory.path("nope.h5")
        assertHDF5Error(.noSuchFile, containing: "\(path): no such file") { try HDF5File.open(path) }
        // Exactly the one line the brief asks for, nothing appended.
        XCTAssertThrowsError(try HDF5File.open(path)) { error in
            XCTAssertEqual("\(error)", "\(path): no such file")
        }
    }

    func testOpeningNonHDF5FileSaysSo() throws {
        let path = directory.path("text.h5")
        try "just some text, not HDF5\n".write(toFile: path, atomically: false, encoding: .utf8)
        XCTAssertThrowsError(try HDF5File.open(path)) { error in
            XCTAssertEqual((error as? HDF5Error)?.kind, .notHDF5)
            XCTAssertEqual("\(error)", "\(path) is not an HDF5 file")
        }
    }

    func testLibraryErrorsCarryCallPathAndStack() throws {
        // HDF5 refuses to open a file that is HDF5 up to its superblock but truncated after it.
        let good = directory.path("good.h5")
        try HDF5File.writeAtomically(to: good) { try $0.write([Float](repeating: 1, count: 4096), shape: [4096], to: "w") }
        let bytes = try Data(contentsOf: URL(fileURLWithPath: good))
        let path = directory.path("cut.h5")
        try bytes.prefix(1024).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try HDF5File.open(path)) { error in
            guard let error = error as? HDF5Error else { return XCTFail("\(error)") }
            XCTAssertEqual(error.kind, .library)
            XCTAssertEqual(error.call, "H5Fopen")
            XCTAssertEqual(error.path, path)
            XCTAssertTrue(error.description.hasPrefix("\(path): H5Fopen failed: "), error.description)
            XCTAssertFalse(error.description.contains("\n"), "HDF5's stack must be folded into one line")
        }
    }

    /// An operating-system error under HDF5's file driver is that error in one line, not the stack.
    func testSystemErrorsUnderHDF5AreOneLine() throws {
        let path = directory.path("no/such/dir/x.h5")
        XCTAssertThrowsError(try HDF5File.create(path)) { error in
            guard let error = error as? HDF5Error else { return XCTFail("\(error)") }
            XCTAssertEqual(error.kind, .system)
            XCTAssertEqual(error.call, "H5Fcreate")
            XCTAssertEqual(error.description, "\(path): no such file or directory (H5Fcreate failed)")
        }
    }

    func testReadOnlyFileRefusesWritesAndClosedFileRefusesUse() throws {
        let path = directory.path("ro.h5")
        try HDF5File.create(path).close()
        let file = try HDF5File.open(path, mode: .readOnly)
        assertHDF5Error(.readOnly, containing: "opened read-only") {
            try file.write([Float](repeating: 0, count: 1), shape: [1], to: "x")
        }
        try file.close()
        try file.close()  // a second close is harmless
        assertHDF5Error(.closed, containing: "used after close()") { try file.exists("x") }

        let writable = try HDF5File.open(path, mode: .readWrite)
        try writable.write([Int64]([5]), shape: [1], to: "x")
        try writable.close()
        let again = try HDF5File.open(path)
        defer { try? again.close() }
        XCTAssertEqual(try again.read("x", as: Int64.self), [5])
    }

    func testDatasetListingIsRecursiveWithShapesAndTypes() throws {
        let file = try HDF5File.create(directory.path("list.h5"))
        defer { try? file.close() }
        try file.write([Float](repeating: 0, count: 6), shape: [2, 3], to: "G/block1/conv0/weight")
        try file.write([Float](repeating: 0, count: 2), shape: [2], to: "G/block1/conv0/bias")
        try file.write([UInt8](repeating: 0, count: 48), shape: [1, 3, 4, 4], to: "data4x4")
        try file.write([Int64]([3]), shape: [], to: "step")
        try file.createGroup("empty/group")

        let listing = try file.datasetNames()
        XCTAssertEqual(listing.map(\.path), ["/G/block1/conv0/bias", "/G/block1/conv0/weight", "/data4x4", "/step"])
        XCTAssertEqual(listing.map(\.shape), [[2], [2, 3], [1, 3, 4, 4], []])
        XCTAssertEqual(listing.map(\.typeName), ["float32", "float32", "uint8", "int64"])
        XCTAssertEqual(listing.map(\.elementType), [.float32, .float32, .uint8, .int64])
        XCTAssertEqual(listing[2].description, "/data4x4  uint8[1, 3, 4, 4]")
        XCTAssertTrue(try file.exists("empty/group"))
    }

    func testExternalToolReadsTheFile() throws {
        let tool = ["/usr/bin/h5dump", "/usr/local/bin/h5dump"].first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let h5dump = tool else { throw XCTSkip("h5dump is not installed") }
        let path = directory.path("dump.h5")
        try HDF5File.writeAtomically(to: path) { file in
            try file.write([Float]([1.5, -2, 3.25]), shape: [3], to: "G/w")
            try file.setAttribute("format", .string("progan-mpi-checkpoint"))
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: h5dump)
        process.arguments = [path]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0)
        XCTAssertTrue(output.contains("DATASET \"w\""), output)
        XCTAssertTrue(output.contains("H5T_IEEE_F32LE"), output)
        XCTAssertTrue(output.contains("1.5, -2, 3.25"), output)
        XCTAssertTrue(output.contains("\"progan-mpi-checkpoint\""), output)
    }
}
