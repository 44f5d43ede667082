import Foundation
import XCTest
@testable import TensorBoard

/// A reader written independently of the writer, for the tests: splits a file into TFRecords
/// (checking both masked CRCs) and decodes the protobuf fields of the events.
struct EventFileReader {
    struct Failure: Error, CustomStringConvertible { let description: String }

    /// The records' payloads, in order; throws on a bad CRC or a torn record.
    static func records(_ bytes: [UInt8]) throws -> [[UInt8]] {
        var records: [[UInt8]] = []
        var at = 0
        func u32(_ i: Int) -> UInt32 { (0..<4).reduce(0) { $0 | UInt32(bytes[i + $1]) << (8 * $1) } }
        while at < bytes.count {
            guard at + 12 <= bytes.count else { throw Failure(description: "torn header at \(at)") }
            let length = Int((0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[at + $1]) << (8 * $1) })
            guard u32(at + 8) == CRC32C.masked(CRC32C.checksum(Array(bytes[at..<at + 8]))) else {
                throw Failure(description: "length CRC mismatch at \(at)")
            }
            let start = at + 12
            guard start + length + 4 <= bytes.count else { throw Failure(description: "torn record at \(at)") }
            let payload = Array(bytes[start..<start + length])
            guard u32(start + length) == CRC32C.masked(CRC32C.checksum(payload)) else {
                throw Failure(description: "data CRC mismatch at \(at)")
            }
            records.append(payload)
            at = start + length + 4
        }
        return records
    }

    /// One decoded field: its number and its raw value.
    enum Field: Equatable {
        case varint(UInt64)
        case fixed64(UInt64)
        case fixed32(UInt32)
        case bytes([UInt8])
    }

    /// The fields of one message, in order (repeated fields appear once each).
    static func fields(_ m: [UInt8]) throws -> [(number: Int, value: Field)] {
        var out: [(Int, Field)] = []
        var i = 0
        func varint() throws -> UInt64 {
            var v: UInt64 = 0, shift: UInt64 = 0
            while true {
                guard i < m.count, shift < 64 else { throw Failure(description: "bad varint") }
                let b = m[i]; i += 1
                v |= UInt64(b & 0x7F) << shift
                if b < 0x80 { return v }
                shift += 7
            }
        }
        func fixed(_ n: Int) throws -> UInt64 {
            guard i + n <= m.count else { throw Failure(description: "truncated fixed\(n * 8)") }
            defer { i += n }
            return (0..<n).reduce(UInt64(0)) { $0 | UInt64(m[i + $1]) << (8 * UInt64($1)) }
        }
        while i < m.count {
            let key = try varint()
            let number = Int(key >> 3)
            switch key & 7 {
            case 0: out.append((number, .varint(try varint())))
            case 1: out.append((number, .fixed64(try fixed(8))))
            case 5: out.append((number, .fixed32(UInt32(try fixed(4)))))
            case 2:
                let n = Int(try varint())
                guard i + n <= m.count else { throw Failure(description: "truncated bytes field") }
                out.append((number, .bytes(Array(m[i..<i + n])))); i += n
            default: throw Failure(description: "wire type \(key & 7)")
            }
        }
        return out
    }

    /// A decoded `Event` with the parts the writer produces.
    struct Event {
        var wallTime: Double?
        var step: Int64 = 0
        var fileVersion: String?
        var sessionStatus: UInt64?
        var scalars: [String: Float] = [:]
        var images: [String: (height: Int, width: Int, colorspace: Int, encoded: [UInt8])] = [:]
    }

    static func events(_ bytes: [UInt8]) throws -> [Event] {
        try records(bytes).map { payload in
            var e = Event()
            for (number, value) in try fields(payload) {
                switch (number, value) {
                case (1, .fixed64(let bits)): e.wallTime = Double(bitPattern: bits)
                case (2, .varint(let v)): e.step = Int64(bitPattern: v)
                case (3, .bytes(let b)): e.fileVersion = String(decoding: b, as: UTF8.self)
                case (7, .bytes(let log)):
                    for (n, v) in try fields(log) {
                        guard n == 1, case .varint(let status) = v else { throw Failure(description: "bad SessionLog") }
                        e.sessionStatus = status
                    }
                case (5, .bytes(let summary)):
                    for (n, v) in try fields(summary) {
                        guard n == 1, case .bytes(let valueBytes) = v else { throw Failure(description: "bad Summary") }
                        var tag = ""
                        var scalar: Float?
                        var image: (Int, Int, Int, [UInt8])?
                        for (vn, vv) in try fields(valueBytes) {
                            switch (vn, vv) {
                            case (1, .bytes(let t)): tag = String(decoding: t, as: UTF8.self)
                            case (2, .fixed32(let bits)): scalar = Float(bitPattern: bits)
                            case (4, .bytes(let img)):
                                var h = 0, w = 0, c = 0, enc: [UInt8] = []
                                for (inum, iv) in try fields(img) {
                                    switch (inum, iv) {
                                    case (1, .varint(let x)): h = Int(x)
                                    case (2, .varint(let x)): w = Int(x)
                                    case (3, .varint(let x)): c = Int(x)
                                    case (4, .bytes(let x)): enc = x
                                    default: throw Failure(description: "bad Image field \(inum)")
                                    }
                                }
                                image = (h, w, c, enc)
                            default: throw Failure(description: "bad Value field \(vn)")
                            }
                        }
                        if let scalar { e.scalars[tag] = scalar }
                        if let image { e.images[tag] = image }
                    }
                default: throw Failure(description: "unexpected Event field \(number)")
                }
            }
            return e
        }
    }
}
