import CZlib
import XCTest
@testable import Imaging

/// The APNG writer, read back by readers that are not the writer: libpng for the first frame, and
/// a chunk walker here that checks every CRC, the animation chunks' fields and sequence numbers,
/// and inflates every frame's data with zlib to compare it with the frame's pixels.
final class AnimatedPNGTests: XCTestCase {
    struct Chunk { var type: String; var data: [UInt8] }

    func u32(_ b: [UInt8], _ at: Int) -> UInt32 {
        UInt32(b[at]) << 24 | UInt32(b[at + 1]) << 16 | UInt32(b[at + 2]) << 8 | UInt32(b[at + 3])
    }

    func chunks(_ file: [UInt8]) throws -> [Chunk] {
        XCTAssertEqual(Array(file[0..<8]), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        var out: [Chunk] = [], at = 8
        while at < file.count {
            let length = Int(u32(file, at))
            let body = Array(file[(at + 4)..<(at + 8 + length)])
            let crc = body.withUnsafeBufferPointer { UInt32(crc32(0, $0.baseAddress, uInt($0.count))) }
            XCTAssertEqual(crc, u32(file, at + 8 + length), "CRC of chunk at \(at)")
            out.append(Chunk(type: String(decoding: body[0..<4], as: UTF8.self), data: Array(body[4...])))
            at += 12 + length
        }
        XCTAssertEqual(at, file.count)
        return out
    }

    func inflate(_ data: [UInt8], expected: Int) -> [UInt8] {
        var size = uLong(expected)
        var out = [UInt8](repeating: 0, count: expected)
        let status = out.withUnsafeMutableBufferPointer { dst in
            data.withUnsafeBufferPointer { uncompress(dst.baseAddress, &size, $0.baseAddress, uLong(data.count)) }
        }
        XCTAssertEqual(status, Z_OK)
        XCTAssertEqual(Int(size), expected)
        return out
    }

    func frames(channels: Int) -> [Image] {
        (0..<3).map { f in
            Image(width: 5, height: 4, channels: channels,
                  pixels: (0..<(5 * 4 * channels)).map { UInt8(truncatingIfNeeded: $0 * 7 + f * 31) })
        }
    }

    func testFramesRoundTripThroughAnIndependentReader() throws {
        for channels in [1, 3, 4] {
            let input = frames(channels: channels)
            let file = try AnimatedPNG.encode(input, delay: (3, 20), plays: 2)
            // libpng (no APNG support) reads the first frame as a plain PNG.
            let still = try PNGCodec.decode(file, path: "anim.png")
            XCTAssertEqual(still.pixels, input[0].pixels)
            XCTAssertEqual(still.channels, channels)

            let list = try chunks(file)
            XCTAssertEqual(list.map(\.type), ["IHDR", "acTL", "fcTL", "IDAT", "fcTL", "fdAT", "fcTL", "fdAT", "IEND"])
            XCTAssertEqual(u32(list[1].data, 0), 3, "frames")
            XCTAssertEqual(u32(list[1].data, 4), 2, "plays")
            var sequence: [UInt32] = []
            var frameData: [[UInt8]] = []
            for c in list {
                switch c.type {
                case "fcTL":
                    XCTAssertEqual(c.data.count, 26)
                    sequence.append(u32(c.data, 0))
                    XCTAssertEqual([u32(c.data, 4), u32(c.data, 8), u32(c.data, 12), u32(c.data, 16)], [5, 4, 0, 0])
                    XCTAssertEqual(Array(c.data[20..<24]), [0, 3, 0, 20], "delay 3/20 s")
                case "fdAT":
                    sequence.append(u32(c.data, 0))
                    frameData.append(Array(c.data[4...]))
                case "IDAT": frameData.append(c.data)
                default: break
                }
            }
            XCTAssertEqual(sequence, [0, 1, 2, 3, 4], "fcTL and fdAT share one sequence from 0")
            let row = 5 * channels
            for (f, data) in frameData.enumerated() {
                let raw = inflate(data, expected: (row + 1) * 4)
                for y in 0..<4 {
                    XCTAssertEqual(raw[y * (row + 1)], 0, "filter byte")
                    XCTAssertEqual(Array(raw[(y * (row + 1) + 1)...(y * (row + 1) + row)]),
                                   Array(input[f].pixels[(y * row)..<((y + 1) * row)]), "frame \(f) row \(y)")
                }
            }
        }
    }

    func testRejectsMismatchedOrMissingFrames() {
        XCTAssertThrowsError(try AnimatedPNG.encode([]))
        let a = Image(width: 4, height: 4, channels: 3), b = Image(width: 4, height: 2, channels: 3)
        XCTAssertThrowsError(try AnimatedPNG.encode([a, b])) { XCTAssertTrue("\($0)".contains("size"), "\($0)") }
    }

    /// The frame-by-frame writer gives the bytes `encode` gives, and refuses frames that do not fit.
    func testStreamingWriterMatchesEncode() throws {
        let input = frames(channels: 3)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("apng-\(UUID().uuidString).png").path
        defer { unlink(path) }
        let writer = try AnimatedPNG.Writer(path: path, width: 5, height: 4, channels: 3, frameCount: 3, delay: (1, 8))
        for f in input { try writer.append(f) }
        XCTAssertThrowsError(try writer.append(input[0]), "a fourth frame")
        try writer.finish()
        XCTAssertEqual(try FileIO.read(path), try AnimatedPNG.encode(input, delay: (1, 8)))

        let short = try AnimatedPNG.Writer(path: path, width: 5, height: 4, channels: 3, frameCount: 2)
        XCTAssertThrowsError(try short.append(Image(width: 4, height: 4, channels: 3)), "another size")
        try short.append(input[0])
        XCTAssertThrowsError(try short.finish(), "a frame missing")
    }
}
