import CMPI

/// A failed MPI call: the call's name, its error code and MPI's own text for that code.
///
/// MPI_COMM_WORLD is switched to `MPI_ERRORS_RETURN` by `MPIEnvironment`, so failures come back
/// as codes and are thrown as this error instead of aborting inside the library.
public struct MPIError: Error, CustomStringConvertible, Equatable {
    /// The MPI function that failed, e.g. `"MPI_Allreduce"`.
    public let call: String
    /// The error code MPI returned (`MPI_ERR_*`).
    public let code: Int32
    /// MPI_Error_string's text for `code`, plus any detail this module adds.
    public let message: String

    /// Makes an error for `call`, looking up MPI's text for `code`.
    /// - Parameters:
    ///   - call: the MPI function's name.
    ///   - code: the code it returned.
    ///   - detail: what this module knows beyond MPI's text (a size, a state), or nil.
    public init(call: String, code: Int32, detail: String? = nil) {
        self.call = call
        self.code = code
        let text = MPIError.errorString(code)
        if let detail {
            self.message = text.isEmpty ? detail : "\(text): \(detail)"
        } else {
            self.message = text.isEmpty ? "MPI error code \(code)" : text
        }
    }

    public var description: String { "\(call) failed: \(message) (MPI error \(code))" }

    /// MPI_Error_string's text for `code`; empty if MPI cannot say (it may be called before
    /// MPI_Init and after MPI_Finalize, which the standard allows).
    static func errorString(_ code: Int32) -> String {
        var buffer = [CChar](repeating: 0, count: Int(cmpi_max_error_string()) + 1)
        var length: Int32 = 0
        guard MPI_Error_string(code, &buffer, &length) == MPI_SUCCESS else { return "" }
        let bytes = buffer.prefix(max(0, min(Int(length), buffer.count - 1))).map { UInt8(bitPattern: $0) }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// Runs one MPI call and throws `MPIError` named `call` unless it returns `MPI_SUCCESS`.
@inline(__always)
func mpiCheck(_ call: String, _ code: Int32) throws {
    if code != MPI_SUCCESS { throw MPIError(call: call, code: code) }
}
