#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// Optional accounting of where a computation's time, sgemm work and tensor memory go, by phase:
/// what `progan-mpi bench` reports, and (time only) what a training run logs each tick. Off by
/// default; then every hook is one untaken branch.
///
/// Two levels: `.phases` runs only the phase clock (one clock read when the slot changes: what
/// training keeps on); `.full` adds the sgemm, convolution and tensor-memory counters (bench).
///
/// A phase is a small integer named by the caller (the trainer's G forward, gradient penalty, ...).
/// Time is charged to a *slot*, a phase in one direction (forward or backward): the clock runs
/// for the current slot until the next `enter`. Autograd tags each node it creates with the
/// current phase and, in a plain backward pass, charges each node's rule to (its phase, backward),
/// so backward time lands on the phases whose forward built the graph.
///
/// Single-threaded by design: call it from one thread only. The loops `Parallel` splits make no
/// hook calls on their other threads, and `BLAS.batch` counts its products on the calling thread.
public enum Profiler {
    /// Phases are `0..<phaseCount`.
    public static let phaseCount = 16
    static let slotCount = 2 * phaseCount

    /// What is recorded.
    public enum Level: Int, Comparable, Sendable {
        /// Nothing.
        case off
        /// Seconds per slot; autograd nodes carry their phase so backward time lands on it.
        case phases
        /// Also sgemm work, convolution kernels and tensor memory by phase.
        case full
        public static func < (a: Level, b: Level) -> Bool { a.rawValue < b.rawValue }
    }

    /// The current level.
    public nonisolated(unsafe) private(set) static var level = Level.off
    /// Whether the phase clock runs (`.phases` or `.full`).
    public nonisolated(unsafe) private(set) static var isTiming = false
    /// Whether everything is recorded (`.full`): the counters beyond time.
    public nonisolated(unsafe) private(set) static var isEnabled = false
    /// The phase new autograd nodes are tagged with and whose slot is charged now.
    public nonisolated(unsafe) private(set) static var phase = 0
    /// Whether the current slot is the phase's backward direction.
    public nonisolated(unsafe) private(set) static var isBackward = false

    // Plain buffers rather than arrays: no copy-on-write or exclusivity checks in the hooks.
    static let seconds = zeroed(slotCount)
    static let multiplyAdds = zeroed(slotCount)
    static let sgemmSecs = zeroed(slotCount)
    static let liveBytesByPhase = zeroed(phaseCount)
    static let peakBytesByPhase = zeroed(phaseCount)
    nonisolated(unsafe) static var mark: UInt64 = 0
    nonisolated(unsafe) static var live = 0.0
    nonisolated(unsafe) static var peak = 0.0
    nonisolated(unsafe) static var peakSlot = 0
    nonisolated(unsafe) static var sgemmSecondsTotal = 0.0

    /// Seconds inside `Tensor.conv2d` and `Tensor.conv2dWeightGradient` (lowering, sgemm, layout).
    public nonisolated(unsafe) static var convSeconds = 0.0
    /// Multiply-adds of those convolution kernels.
    public nonisolated(unsafe) static var convMultiplyAdds = 0.0
    /// Seconds of sgemm calls made by the convolution kernels.
    public nonisolated(unsafe) static var convSgemmSeconds = 0.0
    /// Number of sgemm calls.
    public nonisolated(unsafe) static var sgemmCalls = 0

    static func zeroed(_ n: Int) -> UnsafeMutablePointer<Double> {
        let p = UnsafeMutablePointer<Double>.allocate(capacity: n)
        p.initialize(repeating: 0, count: n)
        return p
    }

    /// Monotonic clock in nanoseconds.
    @inline(__always)
    public static func now() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }

    @inline(__always) static var slot: Int { phase &* 2 &+ (isBackward ? 1 : 0) }

    /// Turns full recording on or off (`setLevel(.full)` or `.off`).
    public static func setEnabled(_ on: Bool) { setLevel(on ? .full : .off) }

    /// Sets what is recorded; the clock restarts in the current slot when it starts running.
    public static func setLevel(_ new: Level) {
        if new != .off && !isTiming { mark = now() }
        if new == .off && isTiming { charge() }
        level = new
        isTiming = new != .off
        isEnabled = new == .full
    }

    /// Zeroes every counter except the live tensor bytes (tensors alive now stay counted); the
    /// memory peak restarts from what is alive now.
    public static func reset() {
        for s in 0..<slotCount { seconds[s] = 0; multiplyAdds[s] = 0; sgemmSecs[s] = 0 }
        convSeconds = 0; convMultiplyAdds = 0; convSgemmSeconds = 0; sgemmCalls = 0
        peak = live; peakSlot = slot
        for p in 0..<phaseCount { peakBytesByPhase[p] = liveBytesByPhase[p] }
        mark = now()
    }

    @inline(__always)
    static func charge() {
        let t = now()
        seconds[slot] += Double(t &- mark) * 1e-9
        mark = t
    }

    /// Makes `(phase, backward)` the current slot; returns the previous one for `restore`.
    @discardableResult
    @inline(__always)
    public static func enter(_ phase: Int, backward: Bool = false) -> (phase: Int, backward: Bool) {
        let previous = (Profiler.phase, isBackward)
        guard isTiming else { return previous }
        require(phase >= 0 && phase < phaseCount, "Profiler: phase \(phase) outside 0..<\(phaseCount)")
        if phase != Profiler.phase || backward != isBackward {
            charge()
            Profiler.phase = phase
            isBackward = backward
        }
        return previous
    }

    /// The current slot, for `restore`.
    public static var current: (phase: Int, backward: Bool) { (phase, isBackward) }

    /// Returns to a slot saved by `enter` or `current`.
    @inline(__always)
    public static func restore(_ saved: (phase: Int, backward: Bool)) {
        enter(saved.phase, backward: saved.backward)
    }

    /// Records one sgemm of `m x k` by `k x n` that took `seconds`.
    @usableFromInline
    static func recordSgemm(m: Int, n: Int, k: Int, seconds s: Double) {
        multiplyAdds[slot] += Double(m) * Double(n) * Double(k)
        sgemmSecs[slot] += s
        sgemmSecondsTotal += s
        sgemmCalls += 1
    }

    /// Records `calls` sgemm calls made together (`BLAS.batch`) that took `seconds` of wall time;
    /// their work is counted by the caller, as Winograd's is.
    static func recordSgemmBatch(calls: Int, seconds s: Double) {
        sgemmSecs[slot] += s
        sgemmSecondsTotal += s
        sgemmCalls += calls
    }

    /// Runs `body`, a fused convolution kernel's arithmetic (CKernels), and counts its wall time
    /// with sgemm's: the time in arithmetic kernels, next to which the rest of a convolution
    /// (lowering, transforms in Swift, layout, allocation) is overhead. Its work is counted by the
    /// caller, as Winograd's is.
    @inline(__always)
    static func fusedKernel(_ body: () -> Void) {
        guard isEnabled else { body(); return }
        let t0 = now()
        body()
        recordSgemmBatch(calls: 0, seconds: Double(now() &- t0) * 1e-9)
    }

    /// Marks the start of a convolution kernel (clock, sgemm seconds so far).
    @inline(__always)
    static func convolutionStart() -> (UInt64, Double) {
        isEnabled ? (now(), sgemmSecondsTotal) : (0, 0)
    }

    /// Charges a convolution kernel of `macs` multiply-adds started at `start`. With
    /// `countSlot`, the multiply-adds are also counted in the current slot (kernels whose sgemm
    /// calls do not count their own work: Winograd's products are fewer than the convolution's).
    @inline(__always)
    static func convolutionEnd(_ start: (UInt64, Double), multiplyAdds macs: Int, countSlot: Bool = false) {
        guard isEnabled else { return }
        if countSlot { multiplyAdds[slot] += Double(macs) }
        convSeconds += Double(now() &- start.0) * 1e-9
        convSgemmSeconds += sgemmSecondsTotal - start.1
        convMultiplyAdds += Double(macs)
    }

    /// Counts `bytes` of tensor storage now held by an autograd node of `phase`.
    @inline(__always)
    public static func retain(bytes: Int, phase p: Int) {
        liveBytesByPhase[p] += Double(bytes)
        live += Double(bytes)
        if live > peak {
            peak = live
            peakSlot = slot
            for i in 0..<phaseCount { peakBytesByPhase[i] = liveBytesByPhase[i] }
        }
    }

    /// Uncounts storage counted by `retain` (the node was freed).
    @inline(__always)
    public static func release(bytes: Int, phase p: Int) {
        liveBytesByPhase[p] -= Double(bytes)
        live -= Double(bytes)
    }

    /// Bytes of tensors held by autograd nodes now (those made while profiling was on).
    public static var liveTensorBytes: Double { live }

    /// What was recorded since the last `reset`.
    public static func snapshot() -> Snapshot {
        if isTiming { charge() }
        var s = Snapshot()
        for i in 0..<slotCount {
            s.seconds.append(seconds[i]); s.multiplyAdds.append(multiplyAdds[i]); s.sgemmSeconds.append(sgemmSecs[i])
        }
        s.convSeconds = convSeconds
        s.convMultiplyAdds = convMultiplyAdds
        s.convSgemmSeconds = convSgemmSeconds
        s.sgemmCalls = sgemmCalls
        s.peakTensorBytes = peak
        s.peakSlot = (peakSlot / 2, peakSlot % 2 == 1)
        s.peakTensorBytesByPhase = (0..<phaseCount).map { peakBytesByPhase[$0] }
        return s
    }

    /// Counters at one moment. Arrays are indexed by slot `2 * phase + (backward ? 1 : 0)`.
    public struct Snapshot: Sendable {
        /// Seconds charged to each slot.
        public var seconds: [Double] = []
        /// sgemm multiply-adds made in each slot.
        public var multiplyAdds: [Double] = []
        /// Seconds inside sgemm in each slot.
        public var sgemmSeconds: [Double] = []
        public var convSeconds = 0.0, convMultiplyAdds = 0.0, convSgemmSeconds = 0.0
        public var sgemmCalls = 0
        /// Most bytes of tensors held by autograd nodes at once, and the slot where that happened.
        public var peakTensorBytes = 0.0
        public var peakSlot = (phase: 0, backward: false)
        /// At that peak, the bytes held by nodes of each phase.
        public var peakTensorBytesByPhase: [Double] = []

        /// Index of a slot in the arrays.
        public static func slot(_ phase: Int, backward: Bool) -> Int { 2 * phase + (backward ? 1 : 0) }
    }
}
