import Foundation

/// Prints one line to stderr and exits nonzero: the CLI's way to report bad input.
func fail(_ message: String, code: Int32 = 1) -> Never {
    FileHandle.standardError.write(Data("progan-mpi: error: \(message)\n".utf8))
    exit(code)
}

/// Runs `body`, turning any thrown error into one line on stderr and exit status 1.
func reportingErrors<T>(_ body: () throws -> T) -> T {
    do { return try body() } catch { fail("\(error)") }
}
