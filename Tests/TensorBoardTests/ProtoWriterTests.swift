import XCTest
@testable import TensorBoard

/// The wire format by hand: varints, keys, fixed-width and length-delimited fields.
final class ProtoWriterTests: XCTestCase {
    private func varint(_ v: UInt64) -> [UInt8] {
        var w = ProtoWriter()
        w.appendVarint(v)
        return w.bytes
    }

    func testVarints() {
        XCTAssertEqual(varint(0), [0x00])
        XCTAssertEqual(varint(1), [0x01])
        XCTAssertEqual(varint(127), [0x7F])
        XCTAssertEqual(varint(128), [0x80, 0x01])
        XCTAssertEqual(varint(300), [0xAC, 0x02])                // the protobuf docs' example
        XCTAssertEqual(varint(16_384), [0x80, 0x80, 0x01])
        XCTAssertEqual(varint(UInt64(UInt32.max)), [0xFF, 0xFF, 0xFF, 0xFF, 0x0F])
        XCTAssertEqual(varint(UInt64.max), [UInt8](repeating: 0xFF, count: 9) + [0x01])
    }

    func testFields() {
        var w = ProtoWriter()
        w.append(2, int64: 150)
        XCTAssertEqual(w.bytes, [0x10, 0x96, 0x01])
        w = ProtoWriter()
        w.append(2, int64: -1)                                  // two's complement: ten bytes
        XCTAssertEqual(w.bytes, [0x10] + [UInt8](repeating: 0xFF, count: 9) + [0x01])
        w = ProtoWriter()
        w.append(1, double: 1.0)                                // key 0x09, then 0x3FF0000000000000 LE
        XCTAssertEqual(w.bytes, [0x09, 0, 0, 0, 0, 0, 0, 0xF0, 0x3F])
        w = ProtoWriter()
        w.append(2, float: -2.5)                                // key 0x15, then 0xC0200000 LE
        XCTAssertEqual(w.bytes, [0x15, 0x00, 0x00, 0x20, 0xC0])
        w = ProtoWriter()
        w.append(3, string: "brain")
        XCTAssertEqual(w.bytes, [0x1A, 5] + Array("brain".utf8))
        w = ProtoWriter()
        w.append(4, bytes: [UInt8](repeating: 7, count: 200))   // a two-byte length
        XCTAssertEqual(Array(w.bytes.prefix(3)), [0x22, 0xC8, 0x01])
        XCTAssertEqual(w.bytes.count, 203)
        w = ProtoWriter()
        w.append(16, int64: 1)                                  // a two-byte key
        XCTAssertEqual(w.bytes, [0x80, 0x01, 0x01])
    }

    func testSubMessage() {
        var inner = ProtoWriter()
        inner.append(1, int64: 3)
        var outer = ProtoWriter()
        outer.append(5, message: inner)
        XCTAssertEqual(outer.bytes, [0x2A, 2, 0x08, 0x03])
    }
}
