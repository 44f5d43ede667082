import CPNG

/// PNG decoding and encoding through libpng's simplified `png_image` API.
public enum PNGCodec {
    /// The eight bytes every PNG file starts with.
    public static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    /// Largest image decoded, in pixels (16384 x 16384); a corrupt or hostile header could
    /// otherwise ask for terabytes before any pixel data is checked.
    public static let maxPixels = 1 << 28

    /// Decodes a PNG held in memory into 8-bit samples.
    ///
    /// Gray and RGB stay 1 and 3 channels; any alpha (RGBA, gray + alpha, tRNS) gives 4 channels
    /// (RGBA); palette images are expanded; 16-bit samples are reduced to 8 bits (16-bit files
    /// without gamma information are taken as sRGB-encoded, like 8-bit ones).
    ///
    /// - Parameters:
    ///   - bytes: the whole PNG file.
    ///   - path: the file's name, for error messages only.
    /// - Throws: `ImageError` with libpng's message ("libpng: ...") for a corrupt or unsupported file.
    public static func decode(_ bytes: [UInt8], path: String) throws -> Image {
        let png = PNGImage()
        // libpng keeps a pointer into the buffer from begin_read until finish_read, so both
        // calls run while the buffer is pinned.
        return try bytes.withUnsafeBytes { raw -> Image in
            guard png_image_begin_read_from_memory(&png.raw, raw.baseAddress, raw.count) != 0 else {
                throw png.error(path: path)
            }
            png.raw.flags |= cpng_flag_16bit_srgb()
            let hasAlpha = png.raw.format & cpng_format_flag_alpha() != 0
            let hasColor = png.raw.format & cpng_format_flag_color() != 0
            let channels: Int
            if hasAlpha {
                png.raw.format = cpng_format_rgba()
                channels = 4
            } else if hasColor {
                png.raw.format = cpng_format_rgb()
                channels = 3
            } else {
                png.raw.format = cpng_format_gray()
                channels = 1
            }
            let width = Int(png.raw.width), height = Int(png.raw.height)
            guard width * height <= maxPixels else {
                throw ImageError(path: path, message: "image too large (\(width) x \(height) pixels)")
            }
            var pixels = [UInt8](repeating: 0, count: cpng_image_size(png.raw))
            let ok = pixels.withUnsafeMutableBytes { out in
                png_image_finish_read(&png.raw, nil, out.baseAddress, 0, nil)
            }
            guard ok != 0 else { throw png.error(path: path) }
            return Image(width: width, height: height, channels: channels, pixels: pixels)
        }
    }

    /// Reads and decodes the PNG file at `path` (see `decode(_:path:)`).
    ///
    /// - Throws: `ImageError` if the file cannot be read or is not a valid PNG.
    public static func read(_ path: String) throws -> Image {
        try decode(FileIO.read(path), path: path)
    }

    /// Encodes `image` (1, 3 or 4 channels) as an 8-bit gray, RGB or RGBA PNG file in memory.
    ///
    /// - Parameter path: the name used in error messages.
    /// - Throws: `ImageError` with libpng's message if encoding fails (e.g. an empty image).
    public static func encode(_ image: Image, path: String = "<png>") throws -> [UInt8] {
        let png = PNGImage()
        png.raw.width = UInt32(clamping: image.width)
        png.raw.height = UInt32(clamping: image.height)
        png.raw.format = image.channels == 1 ? cpng_format_gray()
            : image.channels == 3 ? cpng_format_rgb() : cpng_format_rgba()
        // Sized by the documented worst case for the whole file, so one call normally writes it
        // all. libpng fails without a message when the buffer is too small, setting `size` to
        // what it needs (the bound can wrap on 32-bit systems): then one retry with that size.
        var capacity = cpng_png_size_max(png.raw)
        var attempt = 0
        while true {
            var out = [UInt8](repeating: 0, count: capacity)
            var size = capacity
            let ok = image.pixels.withUnsafeBytes { src in
                out.withUnsafeMutableBytes { dst in
                    png_image_write_to_memory(&png.raw, dst.baseAddress, &size, 0, src.baseAddress, 0, nil)
                }
            }
            if ok != 0 {
                out.removeSubrange(size...)
                return out
            }
            guard attempt == 0, size > capacity else { throw png.error(path: path) }
            attempt += 1
            capacity = size
        }
    }

    /// Encodes `image` as PNG (see `encode(_:path:)`) and writes it to `path`, replacing any file.
    ///
    /// - Throws: `ImageError` if encoding fails or the file cannot be written.
    public static func write(_ image: Image, to path: String) throws {
        try FileIO.write(encode(image, path: path), to: path)
    }
}
