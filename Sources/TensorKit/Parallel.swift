import Dispatch
import Synchronization

/// Loops split across the threads of one rank (`--threads`), sgemm products included (`BLAS.sgemm`).
///
/// Work is split by output: each index of a loop is handled by exactly one thread, whole, with
/// the same arithmetic in the same order as the serial loop, and no sum is split across threads.
/// So results are identical for any thread count, bit for bit.
public enum Parallel {
    /// How many threads the loops may use; 1 runs every loop inline on the caller.
    public nonisolated(unsafe) static var threads = 1

    /// Ranges a loop is cut into for each thread, at most. The `threads` threads take them one
    /// at a time until none is left, so a thread the OS keeps off its core (other processes on a
    /// shared node) holds back at most one small range, not a `1/threads` share of the loop.
    public static let rangesPerThread = 4

    /// Calls `body(range)` on contiguous ranges that cover `0..<count` exactly once, on up to
    /// `threads` threads at a time (the caller is one of them). Each range but the last starts
    /// and ends on a multiple of `align`; there are at most `count / grain` ranges, so loops too
    /// short to pay for a hand-off (a few microseconds) run inline.
    @inlinable
    public static func forRanges(_ count: Int, grain: Int = 1, align: Int = 1, _ body: (Range<Int>) -> Void) {
        guard count > 0 else { return }
        let units = (count + align - 1) / align
        let parts = threads <= 1 ? 1 : min(threads * rangesPerThread, units, count / max(1, grain))
        if parts <= 1 { body(0..<count); return }
        run(parts: parts, threads: min(threads, parts)) { p in
            let lo = units * p / parts * align, hi = min(count, units * (p + 1) / parts * align)
            if lo < hi { body(lo..<hi) }
        }
    }

    /// Calls `part(p)` for every `p` in `0..<parts`, on `threads` threads that each take the next
    /// part not yet taken.
    @usableFromInline
    static func run(parts: Int, threads: Int, _ part: (Int) -> Void) {
        if #available(macOS 15, *) {
            let next = Atomic<Int>(0)
            DispatchQueue.concurrentPerform(iterations: threads) { _ in
                while true {
                    let p = next.wrappingAdd(1, ordering: .relaxed).oldValue
                    if p >= parts { break }
                    part(p)
                }
            }
        } else {
            // Without `Atomic` (macOS before 15) GCD hands out the parts, on up to a thread a core.
            DispatchQueue.concurrentPerform(iterations: parts, execute: part)
        }
    }

    /// `forRanges` for loops whose iterations each touch `work` floats: the grain keeps every
    /// range at 32K floats or more.
    @inlinable
    public static func forRanges(_ count: Int, floatsEach work: Int, _ body: (Range<Int>) -> Void) {
        forRanges(count, grain: max(1, (1 << 15) / max(1, work)), body)
    }
}
