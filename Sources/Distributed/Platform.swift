#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes one line to stderr unbuffered, so it survives an abort that follows at once.
func writeToStandardError(_ line: String) {
    fputs(line.hasSuffix("\n") ? line : line + "\n", stderr)
    fflush(stderr)
}

/// Nanoseconds of a monotonic clock (immune to wall-clock jumps); about 20 ns a read on Linux
/// (vDSO), cheap enough for every collective's entry.
@inline(__always)
func monotonicNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}
