import CJPEG
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// JPEG decoding and encoding through libjpeg; the C shim catches libjpeg's longjmp errors.
public enum JPEGCodec {
    /// Largest image decoded, in pixels (16384 x 16384), checked from the header before any
    /// memory is allocated.
    public static let maxPixels = 1 << 28

    /// Room for libjpeg's messages (JMSG_LENGTH_MAX is 200).
    private static let messageSize = 256

    /// Decodes a JPEG held in memory: grayscale JPEGs give 1 channel, all others 3 (RGB); CMYK
    /// and YCCK JPEGs are converted to RGB without a colour profile, (1 - C)(1 - K) and so on
    /// (Adobe's inverted CMYK is recognised by its APP14 marker).
    ///
    /// Corrupt-data warnings, such as a file cut short (which libjpeg would silently pad with
    /// grey), are errors here: a damaged training image should be skipped, not learned.
    ///
    /// - Parameters:
    ///   - bytes: the whole JPEG file.
    ///   - path: the file's name, for error messages only.
    /// - Throws: `ImageError` with libjpeg's message ("libjpeg: ...") for a damaged file.
    public static func decode(_ bytes: [UInt8], path: String) throws -> Image {
        var data: UnsafeMutablePointer<UInt8>?
        var width: Int32 = 0, height: Int32 = 0, channels: Int32 = 0
        var message = [CChar](repeating: 0, count: messageSize)
        let status = bytes.withUnsafeBufferPointer { src in
            cjpeg_decode(src.baseAddress, UInt(src.count), maxPixels, &data, &width, &height, &channels,
                         &message, messageSize)
        }
        defer { free(data) }
        guard status == 0, let data else { throw libjpegError(message, path: path) }
        let count = Int(width) * Int(height) * Int(channels)
        return Image(width: Int(width), height: Int(height), channels: Int(channels),
                     pixels: Array(UnsafeBufferPointer(start: data, count: count)))
    }

    /// Reads and decodes the JPEG file at `path` (see `decode(_:path:)`).
    ///
    /// - Throws: `ImageError` if the file cannot be read or is not a valid JPEG.
    public static func read(_ path: String) throws -> Image {
        try decode(FileIO.read(path), path: path)
    }

    /// Encodes a gray or RGB `image` as a baseline JPEG in memory.
    ///
    /// - Parameters:
    ///   - quality: libjpeg's quality scale, 1...100.
    ///   - path: the name used in error messages.
    /// - Throws: `ImageError` with libjpeg's message if encoding fails (e.g. an empty image).
    /// - Precondition: `image.channels` is 1 or 3 (composite RGBA first with `toRGB()`).
    public static func encode(_ image: Image, quality: Int = 95, path: String = "<jpeg>") throws -> [UInt8] {
        require(image.channels == 1 || image.channels == 3,
                     "JPEGCodec.encode: channels must be 1 or 3, not \(image.channels)")
        var data: UnsafeMutablePointer<UInt8>?
        var size: UInt = 0
        var message = [CChar](repeating: 0, count: messageSize)
        let status = image.pixels.withUnsafeBufferPointer { src in
            cjpeg_encode(src.baseAddress, Int32(clamping: image.width), Int32(clamping: image.height),
                         Int32(image.channels), Int32(min(max(quality, 1), 100)), &data, &size,
                         &message, messageSize)
        }
        defer { free(data) }
        guard status == 0, let data else { throw libjpegError(message, path: path) }
        return Array(UnsafeBufferPointer(start: data, count: Int(size)))
    }

    /// Encodes `image` as JPEG (see `encode(_:quality:path:)`) and writes it to `path`.
    ///
    /// - Throws: `ImageError` if encoding fails or the file cannot be written.
    public static func write(_ image: Image, to path: String, quality: Int = 95) throws {
        try FileIO.write(encode(image, quality: quality, path: path), to: path)
    }

    private static func libjpegError(_ message: [CChar], path: String) -> ImageError {
        let text = message.withUnsafeBytes { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        return ImageError(path: path, message: "libjpeg: " + (text.isEmpty ? "unknown error" : text))
    }
}
