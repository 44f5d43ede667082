import CMPI
import Foundation

/// The collective a rank is waiting in, named like the MPI call for the watchdog's message.
public enum CollectiveKind: UInt8, CustomStringConvertible, Sendable, CaseIterable {
    case barrier = 1, broadcast, allReduce, allGather, allGatherv, reduceScatter, gather, gatherv, duplicate,
         reduceScatterv, sendReceive, split

    public var description: String {
        switch self {
        case .barrier: return "MPI_Barrier"
        case .broadcast: return "MPI_Bcast"
        case .allReduce: return "MPI_Allreduce"
        case .allGather: return "MPI_Allgather"
        case .allGatherv: return "MPI_Allgatherv"
        case .reduceScatter: return "MPI_Reduce_scatter_block"
        case .gather: return "MPI_Gather"
        case .gatherv: return "MPI_Gatherv"
        case .duplicate: return "MPI_Comm_dup"
        case .reduceScatterv: return "MPI_Reduce_scatter"
        case .sendReceive: return "MPI_Sendrecv"
        case .split: return "MPI_Comm_split"
        }
    }
}

/// Reports a rank that waits too long inside a collective, and optionally ends the job.
///
/// A rank whose peer died or skipped a collective waits forever without a word. A background
/// thread polls what this rank is doing; after `warnAfter` seconds inside one collective it
/// prints one line naming the collective and the caller's current `label` (e.g.
/// "step 1234, D gradient allreduce"), and after `abortAfter` seconds, if set, it ends the job.
///
/// Hot path and memory ordering: entering a collective stores one 64-bit word, the monotonic
/// time with the collective's kind in its low 8 bits (256 ns resolution lost, irrelevant at
/// seconds), and leaving stores 0. No lock, no read-modify-write: on x86-64 and arm64 a
/// relaxed atomic store is a plain store. Because the word is self-contained, the watchdog's
/// relaxed load sees either the old or the new whole value; it needs no ordering with other
/// memory, so relaxed suffices. A stale read costs at most one poll interval of delay. The label
/// is a String and sits behind a lock, but callers set it once per step, not per collective.
public final class CollectiveWatchdog {
    /// When the watchdog speaks and when it ends the job.
    public struct Configuration: Sendable, Equatable {
        /// Seconds inside one collective before the warning line.
        public var warnAfter: Double
        /// Seconds inside one collective before the job is aborted; nil never aborts.
        public var abortAfter: Double?
        /// Seconds between polls; nil picks a quarter of the shorter limit, within 10 ms ... 1 s.
        public var pollInterval: Double?

        /// Makes a configuration.
        /// - Parameters:
        ///   - warnAfter: seconds before the warning (default 60).
        ///   - abortAfter: seconds before aborting the job, or nil (default) to only warn.
        ///   - pollInterval: seconds between checks, or nil for the default.
        public init(warnAfter: Double = 60, abortAfter: Double? = nil, pollInterval: Double? = nil) {
            self.warnAfter = warnAfter
            self.abortAfter = abortAfter
            self.pollInterval = pollInterval
        }

        var effectivePollInterval: Double {
            if let pollInterval { return max(0.001, pollInterval) }
            let shortest = min(warnAfter, abortAfter ?? warnAfter)
            return min(1, max(0.01, shortest / 4))
        }
    }

    /// The exit code of a job the watchdog aborts (as timeout(1) uses).
    public static let abortExitCode: Int32 = 124

    /// The limits in force.
    public let configuration: Configuration
    /// The rank this watchdog watches, for its messages.
    public let rank: Int

    // The state word (see the type's comment) and the stop flag, both accessed atomically.
    private let word: UnsafeMutablePointer<UInt64>
    private let stopFlag: UnsafeMutablePointer<UInt64>
    private let labelLock = NSLock()
    private var currentLabel = ""
    private let report: (String) -> Void
    private let abort: (String) -> Void
    // The state words last warned and aborted about; touched only by the polling thread.
    private var lastWarned: UInt64 = 0
    private var lastAborted: UInt64 = 0
    /// Whether `start()` was called.
    public private(set) var isStarted = false

    /// Makes a watchdog; it polls only after `start()`.
    /// - Parameters:
    ///   - rank: the rank named in messages.
    ///   - configuration: the limits.
    ///   - report: receives the warning line; default writes it to stderr.
    ///   - abort: receives the abort line and ends the job; default writes it to stderr and
    ///     calls MPI_Abort with `abortExitCode`. Called from the watchdog's thread.
    public init(rank: Int, configuration: Configuration = Configuration(),
                report: ((String) -> Void)? = nil, abort: ((String) -> Void)? = nil) {
        self.rank = rank
        self.configuration = configuration
        self.report = report ?? { writeToStandardError($0) }
        // MPI_Abort from this thread is outside what levels below MPI_THREAD_MULTIPLE allow, but
        // it is the process's last act, and abortJob falls back to _exit if it hangs.
        self.abort = abort ?? { abortJob($0, code: CollectiveWatchdog.abortExitCode) }
        word = UnsafeMutablePointer<UInt64>.allocate(capacity: 1)
        word.initialize(to: 0)
        stopFlag = UnsafeMutablePointer<UInt64>.allocate(capacity: 1)
        stopFlag.initialize(to: 0)
    }

    deinit {
        // The thread holds only a weak reference between polls, so none is running here.
        word.deallocate()
        stopFlag.deallocate()
    }

    /// What the caller is doing, named in the watchdog's messages (e.g. "step 12, D gradient
    /// allreduce"). Takes a lock: set it per step or phase, not per collective.
    public var label: String {
        get { labelLock.lock(); defer { labelLock.unlock() }; return currentLabel }
        set { labelLock.lock(); currentLabel = newValue; labelLock.unlock() }
    }

    /// Starts the polling thread; calling it again does nothing.
    public func start() {
        guard !isStarted else { return }
        isStarted = true
        let interval = configuration.effectivePollInterval
        // The thread holds the watchdog only while it polls, never while it sleeps, so
        // dropping the last reference ends the thread too.
        let thread = Thread { [weak self] in
            while self?.pollIfRunning() ?? false {
                Thread.sleep(forTimeInterval: interval)
            }
        }
        thread.name = "collective-watchdog"
        thread.start()
    }

    /// Stops the polling thread within one poll interval.
    public func stop() {
        cmpi_atomic_store_relaxed_u64(stopFlag, 1)
    }

    /// Marks the start of a collective of `kind` (the hot path: one clock read, one store).
    @inline(__always)
    func enter(_ kind: CollectiveKind) {
        cmpi_atomic_store_relaxed_u64(word, (monotonicNanoseconds() & ~0xFF) | UInt64(kind.rawValue))
    }

    /// Marks the end of the current collective.
    @inline(__always)
    func leave() {
        cmpi_atomic_store_relaxed_u64(word, 0)
    }

    /// The collective this rank is in and since when (monotonic ns), or nil between collectives.
    var current: (kind: CollectiveKind, since: UInt64)? {
        let value = cmpi_atomic_load_relaxed_u64(word)
        guard value != 0, let kind = CollectiveKind(rawValue: UInt8(value & 0xFF)) else { return nil }
        return (kind, value & ~0xFF)
    }

    private func pollIfRunning() -> Bool {
        guard cmpi_atomic_load_relaxed_u64(stopFlag) == 0 else { return false }
        poll(now: monotonicNanoseconds())
        return true
    }

    /// One check at time `now`: warns once per stuck collective, aborts past the hard limit.
    func poll(now: UInt64) {
        let value = cmpi_atomic_load_relaxed_u64(word)
        guard value != 0, let kind = CollectiveKind(rawValue: UInt8(value & 0xFF)) else { return }
        let since = value & ~0xFF
        guard now > since else { return }
        let waited = Double(now - since) / 1e9
        let place = label.isEmpty ? "" : " at \"\(label)\""
        let seconds = String(format: "%.1f", waited)
        if let limit = configuration.abortAfter, waited >= limit {
            // A test's abort returns: abort once per collective, and warn no more for it.
            guard value != lastAborted else { return }
            lastAborted = value
            lastWarned = value
            abort("progan-mpi: rank \(rank) waited \(seconds) s in \(kind)\(place), over the "
                + "\(limit) s limit: aborting the job (a rank may have died, hung or skipped it)")
            return
        }
        if waited >= configuration.warnAfter, value != lastWarned {
            lastWarned = value
            report("progan-mpi: rank \(rank) has waited \(seconds) s in \(kind)\(place): "
                + "a rank may have died, hung or skipped this collective")
        }
    }
}
