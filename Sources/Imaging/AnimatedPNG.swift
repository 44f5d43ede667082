import CZlib

/// Animated PNG (APNG) encoding: a plain PNG whose extra chunks (`acTL`, `fcTL`, `fdAT`) carry more
/// frames. Viewers without APNG support show the first frame, which is stored as ordinary `IDAT`
/// data, so every PNG reader (libpng included) reads the file as that frame.
///
/// Written by hand rather than through libpng, whose Debian build has no APNG support: chunks are
/// length, type, data and a CRC-32 of type and data; each frame's pixels are 8-bit scanlines, each
/// preceded by filter byte 0 (none), compressed as one zlib stream.
public enum AnimatedPNG {
    /// Encodes `frames` (all the same size and channel count: 1, 3 or 4) as an APNG that shows each
    /// frame for `delay` = numerator / denominator seconds and loops `plays` times (0: forever).
    ///
    /// - Throws: `ImageError` for no frames, frames of different shapes, an unsupported channel
    ///   count, or a zlib failure.
    public static func encode(_ frames: [Image], delay: (numerator: UInt16, denominator: UInt16) = (1, 10),
                              plays: UInt32 = 0, path: String = "<apng>") throws -> [UInt8] {
        guard let first = frames.first else { throw ImageError(path: path, message: "an animation needs at least one frame") }
        guard frames.allSatisfy({ $0.width == first.width && $0.height == first.height && $0.channels == first.channels }) else {
            throw ImageError(path: path, message: "every frame of an animation must have the first frame's size and channels")
        }
        let colorType: UInt8
        switch first.channels {
        case 1: colorType = 0
        case 3: colorType = 2
        case 4: colorType = 6
        default: throw ImageError(path: path, message: "cannot write \(first.channels)-channel images as PNG")
        }
        var out = PNGCodec.signature
        var header = BigEndianBytes()
        header.u32(UInt32(first.width)); header.u32(UInt32(first.height))
        header.bytes += [8, colorType, 0, 0, 0]   // bit depth, color type, compression, filter, interlace
        appendChunk("IHDR", header.bytes, to: &out)
        var control = BigEndianBytes()
        control.u32(UInt32(frames.count)); control.u32(plays)
        appendChunk("acTL", control.bytes, to: &out)

        var sequence: UInt32 = 0
        for (index, frame) in frames.enumerated() {
            var fc = BigEndianBytes()
            fc.u32(sequence); sequence += 1
            fc.u32(UInt32(frame.width)); fc.u32(UInt32(frame.height))
            fc.u32(0); fc.u32(0)                            // x, y offset
            fc.u16(delay.numerator); fc.u16(delay.denominator)
            fc.bytes += [0, 0]                              // dispose: none; blend: source
            appendChunk("fcTL", fc.bytes, to: &out)
            let data = try compress(scanlines(frame), path: path)
            if index == 0 {
                appendChunk("IDAT", data, to: &out)
            } else {
                var fd = BigEndianBytes()
                fd.u32(sequence); sequence += 1
                appendChunk("fdAT", fd.bytes + data, to: &out)
            }
        }
        appendChunk("IEND", [], to: &out)
        return out
    }

    /// Encodes (see `encode`) and writes the file at `path`, replacing any file.
    public static func write(_ frames: [Image], to path: String, delay: (numerator: UInt16, denominator: UInt16) = (1, 10),
                             plays: UInt32 = 0) throws {
        try FileIO.write(encode(frames, delay: delay, plays: plays, path: path), to: path)
    }

    /// Rows of 8-bit samples, each preceded by filter type 0.
    static func scanlines(_ image: Image) -> [UInt8] {
        let row = image.width * image.channels
        var out = [UInt8]()
        out.reserveCapacity((row + 1) * image.height)
        for y in 0..<image.height {
            out.append(0)
            out.append(contentsOf: image.pixels[(y * row)..<((y + 1) * row)])
        }
        return out
    }

    static func compress(_ bytes: [UInt8], path: String) throws -> [UInt8] {
        var capacity = compressBound(uLong(bytes.count))
        var out = [UInt8](repeating: 0, count: Int(capacity))
        let status = out.withUnsafeMutableBufferPointer { dst in
            bytes.withUnsafeBufferPointer { src in
                compress2(dst.baseAddress, &capacity, src.baseAddress, uLong(bytes.count), 6)
            }
        }
        guard status == Z_OK else { throw ImageError(path: path, message: "zlib compress2 failed (status \(status))") }
        out.removeSubrange(Int(capacity)...)
        return out
    }

    static func appendChunk(_ type: String, _ data: [UInt8], to out: inout [UInt8]) {
        var length = BigEndianBytes()
        length.u32(UInt32(data.count))
        let typeBytes = Array(type.utf8)
        let body = typeBytes + data
        let crc = body.withUnsafeBufferPointer { UInt32(crc32(0, $0.baseAddress, uInt($0.count))) }
        var crcBytes = BigEndianBytes()
        crcBytes.u32(crc)
        out += length.bytes + body + crcBytes.bytes
    }
}

/// A byte buffer written in network (big-endian) order, as PNG chunks are.
struct BigEndianBytes {
    var bytes: [UInt8] = []
    mutating func u32(_ v: UInt32) { bytes += [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }
    mutating func u16(_ v: UInt16) { bytes += [UInt8(v >> 8), UInt8(v & 0xFF)] }
}

extension AnimatedPNG {
    /// Writes an animated PNG frame by frame, so that long animations (a run's training video)
    /// never sit in memory at once: only the frame being compressed does. The bytes are those
    /// `encode` gives for the same frames.
    public final class Writer {
        /// The file being written.
        public let path: String
        private let file: CFile
        private let width: Int, height: Int, channels: Int
        private let frameCount: Int
        private let delay: (numerator: UInt16, denominator: UInt16)
        private var written = 0
        private var sequence: UInt32 = 0

        /// Opens `path` (replacing any file) for `frameCount` frames of `width` x `height` with
        /// `channels` (1, 3 or 4), each shown `delay` seconds, looping `plays` times (0: forever).
        ///
        /// - Throws: `ImageError` for an unsupported channel count, no frames, or a file that
        ///   cannot be created.
        public init(path: String, width: Int, height: Int, channels: Int, frameCount: Int,
                    delay: (numerator: UInt16, denominator: UInt16) = (1, 10), plays: UInt32 = 0) throws {
            let colorTypes: [Int: UInt8] = [1: 0, 3: 2, 4: 6]
            guard let colorType = colorTypes[channels] else {
                throw ImageError(path: path, message: "cannot write \(channels)-channel images as PNG")
            }
            guard frameCount >= 1 else { throw ImageError(path: path, message: "an animation needs at least one frame") }
            self.path = path
            self.width = width; self.height = height; self.channels = channels
            self.frameCount = frameCount
            self.delay = delay
            file = try CFile(path: path, mode: "wb")
            var out = PNGCodec.signature
            var header = BigEndianBytes()
            header.u32(UInt32(width)); header.u32(UInt32(height))
            header.bytes += [8, colorType, 0, 0, 0]
            appendChunk("IHDR", header.bytes, to: &out)
            var control = BigEndianBytes()
            control.u32(UInt32(frameCount)); control.u32(plays)
            appendChunk("acTL", control.bytes, to: &out)
            try file.write(out)
        }

        /// Appends the next frame.
        ///
        /// - Throws: `ImageError` for a frame of another size or channel count, one frame too
        ///   many, or a write failure.
        public func append(_ frame: Image) throws {
            guard frame.width == width, frame.height == height, frame.channels == channels else {
                throw ImageError(path: path, message: "frame \(written) is \(frame.width)x\(frame.height)x\(frame.channels), the animation \(width)x\(height)x\(channels)")
            }
            guard written < frameCount else { throw ImageError(path: path, message: "more than the \(frameCount) frames announced") }
            var out: [UInt8] = []
            var fc = BigEndianBytes()
            fc.u32(sequence); sequence += 1
            fc.u32(UInt32(width)); fc.u32(UInt32(height))
            fc.u32(0); fc.u32(0)
            fc.u16(delay.numerator); fc.u16(delay.denominator)
            fc.bytes += [0, 0]
            appendChunk("fcTL", fc.bytes, to: &out)
            let data = try compress(scanlines(frame), path: path)
            if written == 0 {
                appendChunk("IDAT", data, to: &out)
            } else {
                var fd = BigEndianBytes()
                fd.u32(sequence); sequence += 1
                appendChunk("fdAT", fd.bytes + data, to: &out)
            }
            try file.write(out)
            written += 1
        }

        /// Ends the file; every announced frame must have been appended.
        ///
        /// - Throws: `ImageError` when frames are missing or the file cannot be completed.
        public func finish() throws {
            guard written == frameCount else {
                throw ImageError(path: path, message: "\(written) of the \(frameCount) frames announced were written")
            }
            var out: [UInt8] = []
            appendChunk("IEND", [], to: &out)
            try file.write(out)
            try file.close()
        }
    }
}
