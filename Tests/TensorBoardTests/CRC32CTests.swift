import XCTest
@testable import TensorBoard

/// CRC-32C against published check values (RFC 3720 B.4 and the CRC catalogue's "check").
final class CRC32CTests: XCTestCase {
    func testKnownVectors() {
        XCTAssertEqual(CRC32C.checksum("123456789"), 0xE306_9283)
        XCTAssertEqual(CRC32C.checksum([UInt8](repeating: 0, count: 32)), 0x8A91_36AA)
        XCTAssertEqual(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)), 0x62A8_AB43)
        XCTAssertEqual(CRC32C.checksum((0..<32).map { UInt8($0) }), 0x46DD_794E)
        XCTAssertEqual(CRC32C.checksum((0..<32).map { UInt8(31 - $0) }), 0x113F_DB5C)
        XCTAssertEqual(CRC32C.checksum([]), 0)
    }

    func testTableComesFromThePolynomial() {
        XCTAssertEqual(CRC32C.table.count, 256)
        XCTAssertEqual(CRC32C.table[0], 0)
        // One set bit shifted out of the low end leaves the polynomial: entry 128 is it.
        XCTAssertEqual(CRC32C.table[128], CRC32C.reversedPolynomial)
    }

    func testChecksumInPiecesEqualsWhole() {
        let bytes = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
        let whole = CRC32C.checksum(bytes)
        for cut in [0, 1, 7, 500, 999, 1000] {
            let first = CRC32C.checksum(Array(bytes[..<cut]))
            XCTAssertEqual(CRC32C.checksum(Array(bytes[cut...]), continuing: first), whole, "cut at \(cut)")
        }
    }

    func testMasking() {
        // ((crc >> 15) | (crc << 17)) + 0xa282ead8, by hand for a few values.
        XCTAssertEqual(CRC32C.masked(0), 0xA282_EAD8)
        XCTAssertEqual(CRC32C.masked(1), 0xA284_EAD8)                   // 1 << 17 = 0x20000
        XCTAssertEqual(CRC32C.masked(0x8000), 0xA282_EAD9)              // 0x8000 >> 15 = 1
        XCTAssertEqual(CRC32C.masked(0xFFFF_FFFF), 0xA282_EAD7)         // wraps around
        for crc: UInt32 in [0, 1, 0xE306_9283, 0x8A91_36AA, 0xFFFF_FFFF, 0x1234_5678] {
            XCTAssertEqual(CRC32C.unmasked(CRC32C.masked(crc)), crc)
        }
    }
}
