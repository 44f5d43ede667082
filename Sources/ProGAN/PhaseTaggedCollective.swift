import Autograd
import TensorKit

/// A group whose collectives are charged to profiler phases (`StepPhase`) by kind, in the
/// direction of the pass that calls them, so that `bench` reports communication as its own
/// parts. Subgroups are tagged alike. Kinds given no phase run in the caller's phase.
public final class PhaseTaggedCollective: Collective {
    public let inner: Collective
    /// All-gathers and reduce-scatters (both forms).
    let gathers: StepPhase?
    /// All-reduces.
    let sums: StepPhase?
    /// Paired point to point.
    let pointToPoint: StepPhase?

    public init(_ inner: Collective, gathers: StepPhase?, sums: StepPhase?, pointToPoint: StepPhase?) {
        (self.inner, self.gathers, self.sums, self.pointToPoint) = (inner, gathers, sums, pointToPoint)
    }

    /// The training loop's group as the networks see it: the minibatch-stddev all-gather and its
    /// reduce-scatter adjoint in `mbstdCollective` (the gradient all-reduce is charged where the
    /// optimizer calls it).
    public static func minibatchStddev(_ group: Collective) -> PhaseTaggedCollective {
        PhaseTaggedCollective(group, gathers: .mbstdCollective, sums: nil, pointToPoint: nil)
    }

    /// A spatial group: the halo exchange in `halo`; gathering slabs, its adjoint and the
    /// penalty's norm sums in `spatialGather`.
    public static func spatial(_ group: Collective) -> PhaseTaggedCollective {
        PhaseTaggedCollective(group, gathers: .spatialGather, sums: .spatialGather, pointToPoint: .halo)
    }

    public var rank: Int { inner.rank }
    public var size: Int { inner.size }

    private func charged<T>(to phase: StepPhase?, _ body: () -> T) -> T {
        guard let phase else { return body() }
        return phase.record(backward: Profiler.current.backward, body)
    }

    public func allGather(_ x: [Float]) -> [Float] { charged(to: gathers) { inner.allGather(x) } }
    public func reduceScatter(_ x: [Float]) -> [Float] { charged(to: gathers) { inner.reduceScatter(x) } }
    public func allGather(_ x: [Float], counts: [Int]) -> [Float] { charged(to: gathers) { inner.allGather(x, counts: counts) } }
    public func reduceScatter(_ x: [Float], counts: [Int]) -> [Float] {
        charged(to: gathers) { inner.reduceScatter(x, counts: counts) }
    }
    public func allReduceSum(_ x: inout [Float]) { charged(to: sums) { inner.allReduceSum(&x) } }
    public func sendReceive(_ x: [Float], to destination: Int?, from source: Int?, receiveCount: Int) -> [Float] {
        charged(to: pointToPoint) { inner.sendReceive(x, to: destination, from: source, receiveCount: receiveCount) }
    }
    public func subgroup(colors: [Int]) -> Collective {
        PhaseTaggedCollective(inner.subgroup(colors: colors), gathers: gathers, sums: sums, pointToPoint: pointToPoint)
    }
}
