import CZlib
import Foundation
import XCTest

/// An animated PNG read independently of the writer: every chunk's CRC checked, the animation
/// control and frame control fields decoded, and each frame's zlib data inflated back to pixels
/// (the writer uses filter type 0 on every row, which this reader requires).
struct APNGReader {
    struct Frame { var width: Int; var height: Int; var delay: (UInt16, UInt16); var pixels: [UInt8] }

    var chunkTypes: [String] = []
    var frameCount = 0
    var plays = 0
    var width = 0, height = 0, channels = 0
    var frames: [Frame] = []

    static func u32(_ b: [UInt8], _ at: Int) -> Int {
        Int(UInt32(b[at]) << 24 | UInt32(b[at + 1]) << 16 | UInt32(b[at + 2]) << 8 | UInt32(b[at + 3]))
    }

    init(path: String) throws {
        let file = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        guard file.count > 8, Array(file[0..<8]) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] else {
            throw XCTSkip("not a PNG: \(path)")   // unreachable for our files; fails the caller's checks
        }
        var at = 8
        var pending: (Int, Int, (UInt16, UInt16))?
        var data: [UInt8] = []
        func flush() {
            guard let (w, h, d) = pending else { return }
            frames.append(Frame(width: w, height: h, delay: d, pixels: APNGReader.unfilter(data, width: w, height: h, channels: channels)))
            pending = nil
            data = []
        }
        while at + 12 <= file.count {
            let length = APNGReader.u32(file, at)
            let body = Array(file[(at + 4)..<(at + 8 + length)])
            let crc = body.withUnsafeBufferPointer { Int(crc32(0, $0.baseAddress, uInt($0.count))) }
            XCTAssertEqual(crc, APNGReader.u32(file, at + 8 + length), "CRC of the chunk at byte \(at)")
            let type = String(decoding: body[0..<4], as: UTF8.self)
            let payload = Array(body[4...])
            chunkTypes.append(type)
            switch type {
            case "IHDR":
                width = APNGReader.u32(payload, 0); height = APNGReader.u32(payload, 4)
                channels = [0: 1, 2: 3, 6: 4][Int(payload[9])] ?? 0
            case "acTL":
                frameCount = APNGReader.u32(payload, 0); plays = APNGReader.u32(payload, 4)
            case "fcTL":
                flush()
                let d = (UInt16(payload[20]) << 8 | UInt16(payload[21]), UInt16(payload[22]) << 8 | UInt16(payload[23]))
                pending = (APNGReader.u32(payload, 4), APNGReader.u32(payload, 8), d)
            case "IDAT": data += payload
            case "fdAT": data += payload[4...]
            default: break
            }
            at += 12 + length
        }
        flush()
        XCTAssertEqual(at, file.count, "trailing bytes after the last chunk")
    }

    static func unfilter(_ compressed: [UInt8], width: Int, height: Int, channels: Int) -> [UInt8] {
        let row = width * channels
        var size = uLong((row + 1) * height)
        var raw = [UInt8](repeating: 0, count: Int(size))
        let status = raw.withUnsafeMutableBufferPointer { dst in
            compressed.withUnsafeBufferPointer { uncompress(dst.baseAddress, &size, $0.baseAddress, uLong(compressed.count)) }
        }
        XCTAssertEqual(status, Z_OK, "frame data inflates")
        var out: [UInt8] = []
        for y in 0..<height {
            XCTAssertEqual(raw[y * (row + 1)], 0, "filter type of row \(y)")
            out += raw[(y * (row + 1) + 1)..<((y + 1) * (row + 1))]
        }
        return out
    }
}
