import CPNG
import CZlib
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Owners for the C libraries' handles. Each releases its handle in deinit, so no path (an
// early throw included) leaks one, and turns the library's error codes into ImageErrors.
// Closing can fail for files being written (the last buffered bytes go out then), so writers
// close explicitly with a throwing close(); deinit is the fallback for error paths.

/// A stdio `FILE*`, opened on `path`.
final class CFile {
    let path: String
    private var handle: UnsafeMutablePointer<FILE>?

    /// Opens `path` with fopen's `mode` ("rb" or "wb").
    ///
    /// - Throws: `ImageError` "cannot open: ..." (reading) or "cannot create: ..." (writing).
    init(path: String, mode: String) throws {
        guard let handle = fopen(path, mode) else {
            let verb = mode.hasPrefix("r") ? "cannot open" : "cannot create"
            throw ImageError(path: path, message: "\(verb): \(FileIO.errnoMessage())")
        }
        self.path = path
        self.handle = handle
    }

    deinit { if let handle { fclose(handle) } }

    /// All remaining bytes.
    ///
    /// - Throws: `ImageError` "cannot read: ..." on a read error (e.g. EISDIR for a folder,
    ///   which fopen opens but fread refuses).
    func readAll() throws -> [UInt8] {
        let file = try open()
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, file) }
            bytes.append(contentsOf: chunk[0..<n])
            if n < chunk.count { break }
        }
        // fread stops short both at the end and on an error; only ferror tells them apart.
        if ferror(file) != 0 {
            throw ImageError(path: path, message: "cannot read: \(FileIO.errnoMessage())")
        }
        return bytes
    }

    /// Writes all of `bytes`.
    ///
    /// - Throws: `ImageError` "cannot write: ..." when fewer bytes were written.
    func write(_ bytes: [UInt8]) throws {
        let file = try open()
        let written = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) }
        guard written == bytes.count else {
            throw ImageError(path: path, message: "cannot write: \(FileIO.errnoMessage())")
        }
    }

    /// Flushes and closes the file; a failure (e.g. a full disk) is a failed write.
    func close() throws {
        let file = try open()
        handle = nil
        guard fclose(file) == 0 else {
            throw ImageError(path: path, message: "cannot write: \(FileIO.errnoMessage())")
        }
    }

    private func open() throws -> UnsafeMutablePointer<FILE> {
        guard let handle else { throw ImageError(path: path, message: "file already closed") }
        return handle
    }
}

/// A `DIR*` listing one folder.
final class Directory {
    let path: String
    private let handle: OpaquePointer

    /// Opens the folder at `path`.
    ///
    /// - Throws: `ImageError` "cannot open folder: ..." (missing, not a folder, no permission).
    init(path: String) throws(ImageError) {
        guard let handle = opendir(path) else {
            throw ImageError(path: path, message: "cannot open folder: \(FileIO.errnoMessage())")
        }
        self.path = path
        self.handle = handle
    }

    deinit { closedir(handle) }

    /// The names of the folder's entries, "." and ".." included, in readdir's order.
    func names() -> [String] {
        var names: [String] = []
        while let entry = readdir(handle) {
            names.append(withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            })
        }
        return names
    }
}

/// A zlib `gzFile`: reads gzip-compressed or plain files (gzread passes plain data through),
/// writes gzip.
final class GzipFile {
    let path: String
    private var handle: gzFile?

    /// Opens `path` with gzopen's `mode` ("rb" or "wb").
    ///
    /// - Throws: `ImageError` "cannot open: ..." or "cannot create: ...".
    init(path: String, mode: String) throws {
        guard let handle = gzopen(path, mode) else {
            let verb = mode.hasPrefix("r") ? "cannot open" : "cannot create"
            throw ImageError(path: path, message: "\(verb): \(FileIO.errnoMessage())")
        }
        self.path = path
        self.handle = handle
    }

    deinit { if let handle { gzclose(handle) } }

    /// Up to `count` decompressed bytes; fewer only at the end of the data. Reads in chunks, so
    /// asking for more than the file holds costs no more memory than the file.
    ///
    /// - Throws: `ImageError` with zlib's message, e.g. "zlib: unexpected end of file" for a
    ///   truncated gzip stream.
    func read(_ count: Int) throws -> [UInt8] {
        let file = try open()
        var out = [UInt8]()
        out.reserveCapacity(min(count, 1 << 26))
        var chunk = [UInt8](repeating: 0, count: min(count, 1 << 20))
        while out.count < count {
            let want = min(count - out.count, chunk.count)
            let n = chunk.withUnsafeMutableBytes { gzread(file, $0.baseAddress, UInt32(want)) }
            if n < 0 { throw error("cannot read") }
            if n == 0 { break }
            out.append(contentsOf: chunk[0..<Int(n)])
        }
        // gzread hands over what it could decode from a truncated stream and only records the
        // error, so the state is checked even after a successful read.
        var errnum: Int32 = 0
        _ = gzerror(file, &errnum)
        if errnum != Z_OK && errnum != Z_STREAM_END { throw error("cannot read") }
        return out
    }

    /// Compresses and writes all of `bytes`.
    ///
    /// - Throws: `ImageError` with zlib's (or the system's) message.
    func write(_ bytes: [UInt8]) throws {
        let file = try open()
        var offset = 0
        while offset < bytes.count {
            // gzwrite takes an unsigned int length: write in chunks well below it.
            let n = min(bytes.count - offset, 1 << 20)
            let written = bytes.withUnsafeBytes { raw in
                gzwrite(file, raw.baseAddress! + offset, UInt32(n))
            }
            guard written == n else { throw error("cannot write") }
            offset += n
        }
    }

    /// Closes the file; for a writer this flushes the last compressed block, so a failure is a
    /// failed write.
    func close() throws {
        let file = try open()
        handle = nil
        let status = gzclose(file)
        guard status == Z_OK else {
            let reason = status == Z_ERRNO ? FileIO.errnoMessage() : "zlib error \(status)"
            throw ImageError(path: path, message: "cannot write: \(reason)")
        }
    }

    private func open() throws -> gzFile {
        guard let handle else { throw ImageError(path: path, message: "file already closed") }
        return handle
    }

    /// zlib's message for the last error, or `verb` and the system's message for an I/O error.
    private func error(_ verb: String) -> ImageError {
        guard let handle else { return ImageError(path: path, message: "file already closed") }
        var errnum: Int32 = 0
        var text = gzerror(handle, &errnum).map { String(cString: $0) } ?? ""
        if errnum == Z_ERRNO {
            return ImageError(path: path, message: "\(verb): \(FileIO.errnoMessage())")
        }
        // zlib prefixes its message with the path it was opened with; ImageError adds that already.
        if text.hasPrefix(path + ": ") { text.removeFirst(path.count + 2) }
        return ImageError(path: path, message: "zlib: " + (text.isEmpty ? "error \(errnum)" : text))
    }
}

/// libpng's simplified-API control structure; its `opaque` pointer holds libpng's state
/// between begin_read and finish_read and after a failed call, and png_image_free releases it
/// (a no-op when libpng has already done so).
final class PNGImage {
    var raw = png_image()

    init() { raw.version = cpng_image_version() }

    deinit { png_image_free(&raw) }

    /// An error carrying libpng's message for the last failed call on this image.
    func error(path: String) -> ImageError {
        let text = string(fromCharArray: raw.message)
        return ImageError(path: path, message: "libpng: " + (text.isEmpty ? "unknown error" : text))
    }
}
