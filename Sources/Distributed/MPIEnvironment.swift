#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CMPI

/// The thread support levels of MPI_Init_thread, in increasing order of what they allow.
public enum MPIThreadLevel: Int, Comparable, CustomStringConvertible, Sendable {
    /// Only one thread exists.
    case single = 0
    /// Many threads, but only the one that initialized MPI calls it.
    case funneled = 1
    /// Many threads call MPI, never two at once.
    case serialized = 2
    /// Many threads call MPI concurrently (needed by a communication thread doing blocking
    /// allreduces while the main thread computes; docs/ARCHITECTURE.md, end of "N ranks train
    /// like one process").
    case multiple = 3

    public static func < (a: MPIThreadLevel, b: MPIThreadLevel) -> Bool { a.rawValue < b.rawValue }

    public var description: String {
        switch self {
        case .single: return "single"
        case .funneled: return "funneled"
        case .serialized: return "serialized"
        case .multiple: return "multiple"
        }
    }

    var mpiValue: Int32 {
        switch self {
        case .single: return cmpi_thread_single()
        case .funneled: return cmpi_thread_funneled()
        case .serialized: return cmpi_thread_serialized()
        case .multiple: return cmpi_thread_multiple()
        }
    }

    init(mpiValue: Int32) {
        // MPI only promises the four constants are ordered, not their values: compare.
        if mpiValue >= cmpi_thread_multiple() { self = .multiple }
        else if mpiValue >= cmpi_thread_serialized() { self = .serialized }
        else if mpiValue >= cmpi_thread_funneled() { self = .funneled }
        else { self = .single }
    }
}

/// The MPI library's lifetime in this process: initialized once, finalized once.
///
/// MPI can be initialized and finalized only once per process. An environment that finds MPI
/// already initialized (by another library or an earlier environment) adopts it and leaves its
/// finalization to whoever initialized it. Works without mpirun too: Open MPI then starts a
/// one-rank "singleton" world.
///
/// Its `deinit` finalizes MPI as a backstop. MPI_Finalize waits for every rank, so on an error
/// that other ranks may not share, end the process with `exit` (no unwinding, no deinit)
/// rather than let the environment go out of scope.
public final class MPIEnvironment {
    /// The thread level asked for.
    public let requestedThreadLevel: MPIThreadLevel
    /// The thread level MPI grants, which may be lower than requested.
    public let providedThreadLevel: MPIThreadLevel
    /// Whether this environment called MPI_Init_thread (and so will finalize).
    public let ownsInitialization: Bool

    /// Initializes MPI, or adopts it if already initialized, and makes MPI_COMM_WORLD return
    /// error codes instead of aborting.
    /// - Parameters:
    ///   - requested: the thread level to ask MPI_Init_thread for.
    ///   - minimum: the lowest level the caller can work with.
    /// - Throws: `MPIError` if MPI was already finalized, if initialization fails, or if MPI
    ///   grants less than `minimum` (then MPI is finalized again if this call initialized it).
    public init(requested: MPIThreadLevel = .funneled, minimum: MPIThreadLevel = .single) throws {
        requestedThreadLevel = requested
        var finalized: Int32 = 0
        try mpiCheck("MPI_Finalized", MPI_Finalized(&finalized))
        if finalized != 0 {
            throw MPIError(call: "MPI_Init_thread", code: MPI_ERR_OTHER,
                           detail: "MPI was already finalized in this process and cannot start again")
        }
        var initialized: Int32 = 0
        try mpiCheck("MPI_Initialized", MPI_Initialized(&initialized))
        var provided: Int32 = 0
        if initialized != 0 {
            ownsInitialization = false
            try mpiCheck("MPI_Query_thread", MPI_Query_thread(&provided))
        } else {
            // Arguments are optional since MPI-2; mpirun passes what ranks need in the environment.
            try mpiCheck("MPI_Init_thread", MPI_Init_thread(nil, nil, requested.mpiValue, &provided))
            ownsInitialization = true
        }
        providedThreadLevel = MPIThreadLevel(mpiValue: provided)
        try mpiCheck("MPI_Comm_set_errhandler",
                     MPI_Comm_set_errhandler(cmpi_comm_world(), cmpi_errors_return()))
        if providedThreadLevel < minimum {
            throw MPIError(call: "MPI_Init_thread", code: MPI_ERR_OTHER,
                           detail: "asked for thread level \(requested), needs at least \(minimum), "
                               + "MPI provides \(providedThreadLevel)")
        }
    }

    /// Whether MPI has been finalized in this process.
    public static var isFinalized: Bool {
        var flag: Int32 = 0
        return MPI_Finalized(&flag) == MPI_SUCCESS && flag != 0
    }

    /// Finalizes MPI if this environment initialized it and nobody finalized it yet.
    ///
    /// Collective over all ranks: call it on every rank, after the last collective. Do not call it
    /// after a failure that other ranks may not share (Open MPI's finalize waits for every rank;
    /// a rank stuck in a collective would never arrive): exit with a nonzero code instead, and
    /// mpirun ends the job.
    /// - Throws: `MPIError` if MPI_Finalize fails.
    public func finalize() throws {
        guard ownsInitialization, !MPIEnvironment.isFinalized else { return }
        try mpiCheck("MPI_Finalize", MPI_Finalize())
    }

    deinit {
        // A backstop only: an error here has nobody to go to.
        try? finalize()
    }
}

/// Ends every rank of the job: prints `line` to stderr, then calls MPI_Abort with `code`.
///
/// Used where a collective cannot finish (a half-done collective leaves the other ranks waiting
/// forever). If MPI_Abort itself should hang or return, an alarm and `_exit` still end this
/// process, and mpirun ends the rest of the job when a rank dies without finalizing.
func abortJob(_ line: String, code: Int32) -> Never {
    writeToStandardError(line)
    alarm(10)
    if !MPIEnvironment.isFinalized {
        _ = MPI_Abort(cmpi_comm_world(), code)
    }
    _exit(code)
}
