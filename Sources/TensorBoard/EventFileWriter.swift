import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes one TensorBoard event file: scalars and images, as TFRecord-framed `Event` messages.
///
/// The file is created in `directory` as `events.out.tfevents.<unix seconds>.<hostname>`
/// (TensorBoard finds event files by the "tfevents" in their name and reads a folder's files in
/// name order, so a later writer's file sorts after an earlier one's). Its first record is the
/// `file_version` event TensorBoard expects.
///
/// Writes are buffered; call `flush()` at points a reader should see (the training loop does
/// after each tick), so that a run that is killed keeps everything flushed before. A record torn
/// by a crash mid-write can only be the last one; TensorBoard's reader stops there and keeps
/// the records before it.
///
/// Not thread-safe: one writer, one thread.
public final class EventFileWriter {
    /// The event file's path.
    public let path: String
    private var file: UnsafeMutablePointer<FILE>?

    /// Creates `directory` if needed and a new event file in it, and writes the version event.
    ///
    /// Never appends to or replaces an existing file: if the name is taken (a second writer in the
    /// same second), `.1`, `.2`, ... is added, which still sorts after the taken name.
    ///
    /// - Parameters:
    ///   - directory: the folder TensorBoard's `--logdir` (or a subfolder of it) points at.
    ///   - hostname: the last part of the name; this machine's by default.
    ///   - wallTime: the creation time, for the name and the version event.
    /// - Throws: `TensorBoardError` if the folder or the file cannot be created or written.
    public init(directory: String, hostname: String = EventFileWriter.hostname(), wallTime: Date = Date()) throws {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw TensorBoardError(path: directory, message: "cannot create folder: \(Self.reason(error))")
        }
        let base = directory + "/" + Self.fileName(wallTime: wallTime, hostname: hostname)
        var candidate = base
        var handle: UnsafeMutablePointer<FILE>?
        for suffix in 1...1000 {
            // "x": exclusive create (C11), so two writers can never share a file.
            handle = fopen(candidate, "wbx")
            if handle != nil || errno != EEXIST { break }
            candidate = base + ".\(suffix)"
        }
        guard let handle else {
            throw TensorBoardError(path: candidate, message: "cannot create: \(Self.errnoMessage())")
        }
        path = candidate
        file = handle
        try writeRecord(EventMessage.fileVersion(wallTime: wallTime.timeIntervalSince1970))
        try flush()
    }

    deinit { if let file { fclose(file) } }

    /// `events.out.tfevents.<unix seconds>.<hostname>`, the name TensorFlow's writers use (with
    /// any "/" in the hostname replaced, so the name stays one path component).
    public static func fileName(wallTime: Date, hostname: String) -> String {
        let host = hostname.isEmpty ? "localhost" : hostname.replacingOccurrences(of: "/", with: "_")
        return "events.out.tfevents.\(Int64(wallTime.timeIntervalSince1970)).\(host)"
    }

    /// This machine's hostname (gethostname), or "localhost" if it has none.
    public static func hostname() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return name.isEmpty ? "localhost" : name
    }

    /// Writes one event holding `values` (any mix of scalars and images) at `step`.
    ///
    /// - Parameters:
    ///   - step: the x axis of TensorBoard's charts (the training loop uses images shown).
    ///   - wallTime: the event's time (TensorBoard's "relative" and "wall" axes).
    /// - Throws: `TensorBoardError` if the file is closed or the write fails.
    public func write(_ values: [SummaryValue], step: Int64, wallTime: Date = Date()) throws {
        try writeRecord(EventMessage.summary(wallTime: wallTime.timeIntervalSince1970, step: step, values: values))
    }

    /// Writes one scalar (see `write(_:step:wallTime:)`).
    public func write(scalar value: Double, tag: String, step: Int64, wallTime: Date = Date()) throws {
        try write([.scalar(tag: tag, value: Float(value))], step: step, wallTime: wallTime)
    }

    /// Writes one image (see `write(_:step:wallTime:)`).
    public func write(image: SummaryImage, tag: String, step: Int64, wallTime: Date = Date()) throws {
        try write([.image(tag: tag, image)], step: step, wallTime: wallTime)
    }

    /// Writes a `SessionLog` START event: the run (re)starts at `step`. TensorBoard's loader then
    /// drops every point it read before with a step >= `step`: after a crash and a resume from an
    /// older checkpoint, the points the crashed run logged past that checkpoint, which the resumed
    /// run logs again.
    ///
    /// - Throws: `TensorBoardError` if the file is closed or the write fails.
    public func writeSessionStart(step: Int64, wallTime: Date = Date()) throws {
        try writeRecord(EventMessage.sessionStart(wallTime: wallTime.timeIntervalSince1970, step: step))
    }

    /// Hands the buffered records to the operating system, so readers (and a crash) see them.
    ///
    /// - Throws: `TensorBoardError` if the write fails (e.g. a full disk).
    public func flush() throws {
        let f = try open()
        guard fflush(f) == 0 else { throw TensorBoardError(path: path, message: "cannot write: \(Self.errnoMessage())") }
    }

    /// Flushes and closes the file. Further writes throw. `deinit` closes too, but cannot
    /// report a failure.
    ///
    /// - Throws: `TensorBoardError` if the last buffered bytes cannot be written.
    public func close() throws {
        let f = try open()
        file = nil
        guard fclose(f) == 0 else { throw TensorBoardError(path: path, message: "cannot write: \(Self.errnoMessage())") }
    }

    private func writeRecord(_ payload: [UInt8]) throws {
        let f = try open()
        let record = TFRecord.frame(payload)
        let written = record.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, f) }
        guard written == record.count else {
            throw TensorBoardError(path: path, message: "cannot write: \(Self.errnoMessage())")
        }
    }

    private func open() throws -> UnsafeMutablePointer<FILE> {
        guard let file else { throw TensorBoardError(path: path, message: "event file already closed") }
        return file
    }

    private static func errnoMessage() -> String { String(cString: strerror(errno)) }

    /// The system's reason for a Foundation file error ("Permission denied"), else its description.
    private static func reason(_ error: Error) -> String {
        let ns = error as NSError
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(underlying.code)))
        }
        return ns.localizedDescription
    }
}
