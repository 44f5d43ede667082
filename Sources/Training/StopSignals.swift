#if canImport(Glibc)
import Glibc
#endif

/// Signals that ask a run to save itself and stop (Slurm's pre-timeout USR1, TERM from scancel
/// or a requeue, INT from a terminal). The handler only records the signal; the training loop
/// reads it at a step boundary and agrees on it with all ranks (docs/ARCHITECTURE.md, "Stopping
/// and failing").
public enum StopSignals {
    nonisolated(unsafe) static var received: sig_atomic_t = 0

    /// Installs the handlers for SIGUSR1, SIGTERM and SIGINT.
    public static func install() {
        for s in [SIGUSR1, SIGTERM, SIGINT] {
            signal(s, { number in StopSignals.received = number })
        }
    }

    /// The signal received so far, or 0.
    public static var pending: Int32 { received }
}
