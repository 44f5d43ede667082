import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The run directory's file-system chores: creating it with errors a user can act on, the lock
/// that keeps a second run out of it, and trimming metrics.jsonl back to a resumed checkpoint.
public enum RunDirectory {
    /// Creates `path` and its missing parents.
    /// - Throws: `InputError`, one line: "<path> exists and is not a directory", or the system's
    ///   reason ("read-only file system", "permission denied") with the path that failed.
    public static func create(_ path: String) throws {
        var prefix = path.hasPrefix("/") ? "/" : ""
        for component in path.split(separator: "/") {
            prefix += (prefix.isEmpty || prefix.hasSuffix("/") ? "" : "/") + component
            var info = stat()
            if stat(prefix, &info) == 0 {
                guard (info.st_mode & S_IFMT) == S_IFDIR else {
                    throw InputError("--out \(path): \(prefix) exists and is not a directory; choose another run directory")
                }
                continue
            }
            if mkdir(prefix, 0o755) != 0 && errno != EEXIST {
                throw InputError("--out \(path): cannot create \(prefix): \(reason(errno)); choose a writable place for the run directory")
            }
        }
        // Writable? (a directory of someone else's, or a read-only mount that already exists)
        if access(path, W_OK) != 0 {
            throw InputError("--out \(path): cannot write there: \(reason(errno)); choose a writable place for the run directory")
        }
    }

    /// strerror, lower-cased like the rest of a sentence ("read-only file system").
    static func reason(_ code: Int32) -> String {
        let text = String(cString: strerror(code))
        return text.prefix(1).lowercased() + text.dropFirst()
    }

    /// Drops the records of metrics.jsonl after `imagesShown` images: a run killed after its
    /// last checkpoint had written them, and the resumed run writes them again.
    /// - Returns: how many records were dropped.
    @discardableResult
    public static func trimMetrics(_ path: String, toImages imagesShown: Int) throws -> Int {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return 0 }
        var kept: [Substring] = []
        var dropped = 0
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            if let kimg = object?["kimg"] as? Double, Int((kimg * 1000).rounded()) > imagesShown {
                dropped += 1
            } else {
                kept.append(line)
            }
        }
        guard dropped > 0 else { return 0 }
        let body = kept.map { $0 + "\n" }.joined()
        do { try body.write(toFile: path, atomically: true, encoding: .utf8) } catch {
            throw InputError("cannot rewrite \(path): \(error.localizedDescription)")
        }
        return dropped
    }
}

/// An exclusive lock on a run directory (flock(2) on `<dir>/.lock`), held for the life of this
/// object: the operating system releases it when the holder exits or is killed, so a killed run
/// never blocks its own resume. The file names the holder (host and PID) for a refusal message.
public final class RunLock {
    private let descriptor: Int32

    /// Takes the lock, or throws `InputError` naming the run that holds it.
    public init(directory: String) throws {
        let path = directory + "/.lock"
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw InputError("cannot create \(path): \(RunDirectory.reason(errno)); check that the run directory is writable")
        }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let code = errno
            var buffer = [UInt8](repeating: 0, count: 256)
            let n = pread(fd, &buffer, buffer.count, 0)
            close(fd)
            let holder = n > 0 ? String(decoding: buffer[0..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) : ""
            if code == EWOULDBLOCK {
                throw InputError("\(directory) is in use by another training run (\(holder.isEmpty ? "holder unknown" : holder)); "
                                 + "wait for it to end or stop it, or choose another --out")
            }
            throw InputError("cannot lock \(path): \(RunDirectory.reason(code))")
        }
        var host = [CChar](repeating: 0, count: 256)
        gethostname(&host, host.count - 1)
        let text = "pid \(getpid()) on host \(String(cString: host))\n"
        _ = ftruncate(fd, 0)
        _ = text.withCString { pwrite(fd, $0, strlen($0), 0) }
        descriptor = fd
    }

    deinit { close(descriptor) }
}
