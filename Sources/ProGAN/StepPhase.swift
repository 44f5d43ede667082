import TensorKit

/// The phases of a training step, as `Profiler` phases: `progan-mpi bench` reports time, sgemm
/// work and tensor memory per phase and direction (forward, backward).
public enum StepPhase: Int, CaseIterable, Sendable {
    /// Anything not inside one of the others (loss sums, bookkeeping between phases).
    case other = 0
    /// Real images: reading, mirroring, fade blending.
    case data
    /// G's forward passes (backward: G's weight and input gradients in the G step).
    case generator
    /// D on reals and fakes in the D step, and the WGAN loss terms.
    case discriminator
    /// The gradient penalty's forward: D on the mixed images, gradient norms, penalty.
    case penalty
    /// The penalty's first backward (recorded with `createGraph`: forward work of the D loss).
    case penaltyGradient
    /// D on G's output in the G step.
    case discriminatorForG
    /// Summing gradients over ranks.
    case allreduce
    /// Minibatch-stddev collectives (all-gather forward, reduce-scatter backward).
    case mbstdCollective
    /// Flattening gradients, the finiteness check, Adam, and the EMA of G.
    case optimizer
    /// Spatial steps: the halo rows exchanged with the neighbouring slabs (both directions).
    case halo
    /// Spatial steps: gathering slabs into whole maps, its reduce-scatter adjoint, and the
    /// gradient penalty's sum of partial squared norms over the group.
    case spatialGather
    /// Spatial steps: the levels computed whole, alike on every rank of the group (G's and D's
    /// levels with too few rows to split, D's 4x4 head).
    case replicated

    /// A short name for reports and JSON keys.
    public var name: String {
        switch self {
        case .other: return "other"
        case .data: return "data"
        case .generator: return "G"
        case .discriminator: return "D"
        case .penalty: return "GP"
        case .penaltyGradient: return "GP_grad"
        case .discriminatorForG: return "D_for_G"
        case .allreduce: return "allreduce"
        case .mbstdCollective: return "mbstd_collective"
        case .optimizer: return "optimizer"
        case .halo: return "halo"
        case .spatialGather: return "spatial_gather"
        case .replicated: return "replicated"
        }
    }

    /// Makes this phase (in the given direction) the profiler's current slot; returns the previous.
    @discardableResult
    @inline(__always)
    public func enter(backward: Bool = false) -> (phase: Int, backward: Bool) {
        Profiler.enter(rawValue, backward: backward)
    }

    /// Runs `body` in this phase and returns to the caller's slot: the one way the step marks
    /// its parts. Autograd nodes made inside carry the phase, so a later plain backward charges
    /// their rules to it. Costs one untaken branch each way while the profiler is off.
    @inline(__always)
    public func record<T>(backward: Bool = false, _ body: () throws -> T) rethrows -> T {
        let caller = Profiler.enter(rawValue, backward: backward)
        defer { Profiler.restore(caller) }
        return try body()
    }
}

extension Profiler.Snapshot {
    /// Seconds charged to `phases`, forward and backward together.
    public func seconds(in phases: [StepPhase]) -> Double {
        phases.reduce(0) { sum, phase in
            sum + seconds[Self.slot(phase.rawValue, backward: false)] + seconds[Self.slot(phase.rawValue, backward: true)]
        }
    }
}
