/// The file formats `Image(contentsOfFile:)` reads, told apart by their first bytes.
public enum ImageFormat: String, Sendable {
    case png
    case jpeg

    /// The format whose signature `bytes` start with, or nil: PNG's 8-byte signature, or JPEG's
    /// start-of-image marker followed by a marker byte (FF D8 FF). File names are not consulted.
    public init?(detecting bytes: [UInt8]) {
        if bytes.starts(with: PNGCodec.signature) {
            self = .png
        } else if bytes.starts(with: [0xFF, 0xD8, 0xFF]) {
            self = .jpeg
        } else {
            return nil
        }
    }
}

extension Image {
    /// Reads and decodes the PNG or JPEG file at `path`, whatever its extension.
    ///
    /// - Throws: `ImageError`: "cannot open: ..." when the file cannot be read, "not a JPEG or PNG
    ///   file" when its first bytes match neither, else the decoder's "libpng: ..." or "libjpeg: ...".
    public init(contentsOfFile path: String) throws {
        let bytes = try FileIO.read(path)
        switch ImageFormat(detecting: bytes) {
        case .png: self = try PNGCodec.decode(bytes, path: path)
        case .jpeg: self = try JPEGCodec.decode(bytes, path: path)
        case nil: throw ImageError(path: path, message: "not a JPEG or PNG file")
        }
    }
}
