import Foundation
import XCTest

/// A tmpfs of a few MiB mounted on a fresh directory, to see what happens when a disk fills up or
/// is read-only. Mounting needs root (or CAP_SYS_ADMIN): elsewhere `mount` throws `XCTSkip`
/// with the reason, which XCTest prints.
public final class SmallFileSystem {
    /// The mount point.
    public let path: String

    /// Mounts a tmpfs of `kibibytes` KiB (read-only with `readOnly`) on a new directory.
    public init(kibibytes: Int, readOnly: Bool = false) throws {
        path = FileManager.default.temporaryDirectory
            .appendingPathComponent("small-fs-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        guard getuid() == 0 else {
            try? FileManager.default.removeItem(atPath: path)
            throw XCTSkip("mounting a \(kibibytes) KiB tmpfs needs root; this test runs as uid \(getuid())")
        }
        let options = "size=\(kibibytes)k" + (readOnly ? ",ro" : "")
        let r = try ChildProcess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", path], timeout: 30)
        guard r.exitCode == 0 else {
            try? FileManager.default.removeItem(atPath: path)
            throw XCTSkip("cannot mount a tmpfs here (mount -t tmpfs -o \(options) refused: "
                          + "\(r.stderr.trimmingCharacters(in: .whitespacesAndNewlines)))")
        }
    }

    /// Path of `name` inside the file system.
    public func path(_ name: String) -> String { path + "/" + name }

    /// Unmounts (lazily, so that a file a failed writer still holds open cannot keep it busy)
    /// and removes the mount point.
    public func unmount() {
        _ = try? ChildProcess.run(["umount", "-l", path], timeout: 30)
        try? FileManager.default.removeItem(atPath: path)
    }

    deinit { unmount() }
}
