import Storage
import XCTest

final class HDF5AttributeTests: StorageTestCase {
    func testAttributesRoundTripOnRootGroupAndDataset() throws {
        let path = directory.path("attrs.h5")
        try HDF5File.writeAtomically(to: path) { file in
            try file.write([Float](repeating: 0, count: 3), shape: [3], to: "G/w")
            try file.setAttribute("format", .string("progan-mpi-checkpoint"))
            try file.setAttribute("step", .int64(123_456_789_012))
            try file.setAttribute("lr", .double(0.001))
            try file.setAttribute("note", .string("Zürich ✓"), on: "G")
            try file.setAttribute("gain", .floats([1.5, -2, 0.25]), on: "G/w")
            try file.setAttribute("empty", .floats([]), on: "G/w")
            try file.setAttribute("step", .int64(7))  // replaces the earlier value
        }
        let file = try HDF5File.open(path)
        defer { try? file.close() }
        XCTAssertEqual(try file.stringAttribute("format"), "progan-mpi-checkpoint")
        XCTAssertEqual(try file.int64Attribute("step"), 7)
        XCTAssertEqual(try file.doubleAttribute("lr"), 0.001)
        XCTAssertEqual(try file.stringAttribute("note", on: "/G"), "Zürich ✓")
        XCTAssertEqual(try file.floatArrayAttribute("gain", on: "G/w"), [1.5, -2, 0.25])
        XCTAssertEqual(try file.attribute("empty", on: "G/w"), .floats([]))
        XCTAssertEqual(try file.attributeNames(), ["format", "lr", "step"])
        XCTAssertEqual(try file.attributeNames(on: "G/w"), ["empty", "gain"])
        XCTAssertTrue(try file.hasAttribute("lr"))
        XCTAssertFalse(try file.hasAttribute("lr", on: "G"))
        // Integers are accepted where a double is asked (h5py users write `attrs["lr"] = 1`).
        XCTAssertEqual(try file.doubleAttribute("step"), 7)
    }

    func testMissingAndMistypedAttributes() throws {
        let path = directory.path("bad.h5")
        let file = try HDF5File.create(path)
        defer { try? file.close() }
        try file.setAttribute("version", .string("one"))
        try file.setAttribute("count", .int64(3))
        assertHDF5Error(.missingAttribute, containing: "\(path):/ has no attribute 'resolution'") {
            try file.int64Attribute("resolution")
        }
        assertHDF5Error(.typeMismatch, containing: "attribute 'version' is a string, not an integer") {
            try file.int64Attribute("version")
        }
        assertHDF5Error(.typeMismatch, containing: "attribute 'count' is an integer, not a string") {
            try file.stringAttribute("count")
        }
        assertHDF5Error(.missingObject, containing: "no group or dataset '/D'") {
            try file.stringAttribute("x", on: "D")
        }
    }
}
