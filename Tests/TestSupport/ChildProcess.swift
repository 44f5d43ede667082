import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A finished child process: how it ended, what it wrote, how long it took.
public struct ChildResult {
    /// Exit code, or nil if a signal ended it.
    public var exitCode: Int32?
    /// The signal that ended it, or nil.
    public var signal: Int32?
    /// Whether the test's deadline ran out and the process group was killed.
    public var timedOut: Bool
    public var stdout: String
    public var stderr: String
    public var seconds: Double

    public var succeeded: Bool { exitCode == 0 && !timedOut }

    /// One line for failure messages.
    public var summary: String {
        let end = timedOut ? "timed out" : exitCode.map { "exit \($0)" } ?? "signal \(signal ?? -1)"
        return "\(end) after \(String(format: "%.1f", seconds)) s\n--- stdout:\n\(stdout)\n--- stderr:\n\(stderr)"
    }
}

/// Runs commands in a process group of their own with a deadline, so a hung mpirun and all
/// its ranks can be killed together, and no rank outlives its test.
public enum ChildProcess {
    /// Runs `arguments` (the first found on PATH) with `extraEnvironment` on top of a clean
    /// copy of this process's launch environment, and waits at most `timeout` seconds.
    public static func run(_ arguments: [String], extraEnvironment: [String: String] = [:],
                    timeout: Double, file: StaticString = #filePath, line: UInt = #line) throws -> ChildResult {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("distributed-tests-\(getpid())-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let outPath = directory.appendingPathComponent("stdout").path
        let errPath = directory.appendingPathComponent("stderr").path

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP))
        posix_spawnattr_setpgroup(&attributes, 0)

        var environment = launchEnvironment()
        for (key, value) in extraEnvironment { environment[key] = value }
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (argv + envp).forEach { free($0) } }

        let start = Date()
        var pid: pid_t = 0
        let spawned = posix_spawnp(&pid, arguments[0], &actions, &attributes, argv, envp)
        guard spawned == 0 else {
            throw NSError(domain: "ChildProcess", code: Int(spawned),
                          userInfo: [NSLocalizedDescriptionKey: "cannot start \(arguments[0]): \(String(cString: strerror(spawned)))"])
        }
        var status: Int32 = 0
        var timedOut = false
        while true {
            let done = waitpid(pid, &status, WNOHANG)
            if done == pid { break }
            if done < 0 && errno != EINTR { break }
            if Date().timeIntervalSince(start) > timeout {
                timedOut = true
                kill(-pid, SIGKILL)
                _ = waitpid(pid, &status, 0)
                break
            }
            usleep(20_000)
        }
        let seconds = Date().timeIntervalSince(start)
        // Whatever is left of the group (a rank mpirun failed to reap) goes too.
        kill(-pid, SIGKILL)
        let termination = status & 0x7f
        return ChildResult(
            exitCode: termination == 0 ? (status >> 8) & 0xff : nil,
            signal: termination == 0 ? nil : termination,
            timedOut: timedOut,
            stdout: (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "",
            seconds: seconds)
    }

    /// The environment this test process started with, minus launcher and Slurm variables.
    ///
    /// MPI_Init in this process (the singleton tests) adds OMPI_MCA_ess=singleton, PMIX_* and
    /// more to `environ`; a child mpirun that inherited them would misbehave. On Linux,
    /// /proc/self/environ still holds the environment as it was at exec.
    public static func launchEnvironment() -> [String: String] {
        var environment = ProcessInfo.processInfo.environment
        if let data = FileManager.default.contents(atPath: "/proc/self/environ") {
            environment = [:]
            for entry in data.split(separator: 0) {
                let text = String(decoding: entry, as: UTF8.self)
                guard let equals = text.firstIndex(of: "=") else { continue }
                environment[String(text[..<equals])] = String(text[text.index(after: equals)...])
            }
        }
        let launcherPrefixes = ["SLURM_", "PMIX_", "PMI_", "OMPI_COMM_WORLD_", "ORTE_", "OMPI_MCA_ess", "OMPI_MCA_orte_"]
        environment = environment.filter { key, _ in !launcherPrefixes.contains { key.hasPrefix($0) } }
        environment["OMPI_ALLOW_RUN_AS_ROOT"] = "1"
        environment["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
        return environment
    }

    /// The full path of `name` on PATH, or nil.
    public static func which(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// The `progan-mpi` binary built with this test bundle: beside the test executable first,
    /// then in the package's `.build/debug`. `PROGAN_MPI_BINARY` overrides both.
    public static func proganBinary(filePath: String = #filePath) -> String? {
        if let path = ProcessInfo.processInfo.environment["PROGAN_MPI_BINARY"] { return path }
        var directories: [URL] = []
        if let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            directories.append(URL(fileURLWithPath: exe).deletingLastPathComponent())
        }
        directories.append(Bundle.main.bundleURL)
        directories.append(Bundle.main.bundleURL.deletingLastPathComponent())
        directories.append(packageRoot(filePath).appendingPathComponent(".build/debug"))
        for directory in directories {
            let candidate = directory.appendingPathComponent("progan-mpi").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// The release `progan-mpi` (training tests need its speed; `.ci/test.sh` builds it before
    /// `swift test`), or `PROGAN_MPI_BINARY` when set.
    public static func proganReleaseBinary(filePath: String = #filePath) -> String? {
        if let path = ProcessInfo.processInfo.environment["PROGAN_MPI_BINARY"] { return path }
        let candidate = packageRoot(filePath).appendingPathComponent(".build/release/progan-mpi").path
        return FileManager.default.isExecutableFile(atPath: candidate) ? candidate : nil
    }

    /// The release binary for a test that runs it. Missing, or older than a file under `Sources/`
    /// or `Package.swift` (so not what the tests are about), it skips the test with the command
    /// that fixes it; under CI (`CI=true`) it fails instead, since a skipped test proves nothing
    /// there. `PROGAN_MPI_BINARY`, when set, is taken as it is.
    public static func requireProganReleaseBinary(filePath: String = #filePath) throws -> String {
        let build = "run 'swift build -c release --product progan-mpi' first (.ci/test.sh does)"
        guard let binary = proganReleaseBinary(filePath: filePath) else {
            throw unusable("no release progan-mpi: " + build)
        }
        if ProcessInfo.processInfo.environment["PROGAN_MPI_BINARY"] == nil,
           let newer = newestSource(filePath: filePath), let built = modificationDate(binary), newer.date > built {
            throw unusable("the release progan-mpi is older than \(newer.path): " + build)
        }
        return binary
    }

    /// A skip outside CI, a failure (any other error) under CI.
    static func unusable(_ why: String) -> Error {
        ProcessInfo.processInfo.environment["CI"] == "true" ? BinaryUnusable(description: "CI=true: " + why) : XCTSkip(why)
    }

    struct BinaryUnusable: Error, CustomStringConvertible { let description: String }

    /// The most recently modified file under Sources/ and Package.swift (looked up once a run).
    static func newestSource(filePath: String) -> (path: String, date: Date)? {
        cacheLock.lock()
        defer { cacheLock.unlock() }
        if let cached = newestSourceCache { return cached }
        let root = packageRoot(filePath)
        var newest: (path: String, date: Date)?
        var paths = [root.appendingPathComponent("Package.swift").path]
        let sources = root.appendingPathComponent("Sources")
        if let walk = FileManager.default.enumerator(atPath: sources.path) {
            for case let relative as String in walk { paths.append(sources.appendingPathComponent(relative).path) }
        }
        for path in paths {
            guard let date = modificationDate(path), date > (newest?.date ?? .distantPast) else { continue }
            newest = (path, date)
        }
        newestSourceCache = .some(newest)
        return newest
    }

    private static let cacheLock = NSLock()
    nonisolated(unsafe) private static var newestSourceCache: (path: String, date: Date)??

    static func modificationDate(_ path: String) -> Date? {
        (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date
    }

    /// Tests/TestSupport/ChildProcess.swift -> the package root.
    static func packageRoot(_ filePath: String) -> URL {
        URL(fileURLWithPath: filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }
}
