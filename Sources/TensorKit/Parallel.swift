import Dispatch

/// Loops split across the threads of one rank (`--threads`), sgemm products included (`BLAS.sgemm`).
///
/// Work is split by output: each index of a loop is handled by exactly one thread, whole, with
/// the same arithmetic in the same order as the serial loop, and no sum is split across threads.
/// So results are identical for any thread count, bit for bit.
public enum Parallel {
    /// How many threads the loops may use; 1 runs every loop inline on the caller.
    public nonisolated(unsafe) static var threads = 1

    /// Calls `body(range)` on contiguous ranges that cover `0..<count` exactly once, on up to
    /// `threads` threads at a time (the caller is one of them). Each range but the last starts
    /// and ends on a multiple of `align`; there are at most `count / grain` ranges, so loops too
    /// short to pay for a hand-off (a few microseconds) run inline.
    @inlinable
    public static func forRanges(_ count: Int, grain: Int = 1, align: Int = 1, _ body: (Range<Int>) -> Void) {
        guard count > 0 else { return }
        let units = (count + align - 1) / align
        let parts = min(threads, units, count / max(1, grain))
        if parts <= 1 { body(0..<count); return }
        DispatchQueue.concurrentPerform(iterations: parts) { p in
            let lo = units * p / parts * align, hi = min(count, units * (p + 1) / parts * align)
            if lo < hi { body(lo..<hi) }
        }
    }

    /// `forRanges` for loops whose iterations each touch `work` floats: the grain keeps every
    /// range at 32K floats or more.
    @inlinable
    public static func forRanges(_ count: Int, floatsEach work: Int, _ body: (Range<Int>) -> Void) {
        forRanges(count, grain: max(1, (1 << 15) / max(1, work)), body)
    }
}
