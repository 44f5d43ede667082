#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A file that could not be read, decoded or written: the file's path and one line saying why.
///
/// `description` reads like `photos/x.jpg: not a JPEG or PNG file` or
/// `photos/y.png: libpng: IDAT: CRC error`, so it can be shown to a user as it is.
public struct ImageError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The path of the file the error is about.
    public let path: String
    /// What went wrong, one line, with the C library's own message where there is one.
    public let message: String

    /// Makes an error for `path`; line breaks in `message` become spaces so it stays one line.
    public init(path: String, message: String) {
        self.path = path
        self.message = String(message.map { $0.isNewline ? " " : $0 })
    }

    /// "path: message", one line, ready to show to a user.
    public var description: String { "\(path): \(message)" }
}

/// Whole-file reads and writes through stdio (see `CFile`).
enum FileIO {
    /// The text of the current `errno`.
    static func errnoMessage() -> String { String(cString: strerror(errno)) }

    /// Reads all bytes of the file at `path`.
    static func read(_ path: String) throws -> [UInt8] {
        try CFile(path: path, mode: "rb").readAll()
    }

    /// Writes `bytes` to `path`, replacing the file, atomically: the bytes go to
    /// `.<name>.tmp-<pid>` in the same folder, which is renamed over `path` once complete, so
    /// a failure (a full disk: the failed write or close throws) leaves no partial file and an
    /// earlier file at `path` untouched. Errors name `path`, not the temporary file.
    static func write(_ bytes: [UInt8], to path: String) throws {
        let slash = path.lastIndex(of: "/")
        let folder = slash.map { String(path[...$0]) } ?? ""
        let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
        let temporary = folder + ".\(name).tmp-\(getpid())"
        do {
            let file = try CFile(path: temporary, mode: "wb")
            try file.write(bytes)
            try file.close()
            if rename(temporary, path) != 0 {
                throw ImageError(path: path, message: "cannot write: \(errnoMessage())")
            }
        } catch let error as ImageError {
            unlink(temporary)
            throw ImageError(path: path, message: error.message)
        }
    }
}

/// A C string held in a fixed-size char array (e.g. png_image.message), read up to its NUL or
/// its end, whichever comes first.
func string<T>(fromCharArray tuple: T) -> String {
    withUnsafeBytes(of: tuple) { raw in
        String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
    }
}
