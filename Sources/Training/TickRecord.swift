import Foundation
import ProGAN
import TensorKit

/// Seconds spent in each part of the steps of a tick, read from the `Profiler`'s phase clock
/// (the same clock `progan-mpi bench` reads, in coarser groups). Coding keys: metrics.jsonl's.
public struct StepTimings: Codable, Equatable, Sendable {
    /// G's forward passes and G's own backward.
    public var generator = 0.0
    /// D on reals and fakes in the D step and on G's output in the G step, forward and backward,
    /// with the minibatch-stddev collectives.
    public var discriminator = 0.0
    /// The gradient penalty: D on the mixed images, the recorded gradient, its backward.
    public var penalty = 0.0
    /// Summing the gradients over ranks (including the wait for the slowest rank).
    public var allreduce = 0.0
    /// Flattening gradients, the finiteness check, Adam, the EMA of G.
    public var optimizer = 0.0
    /// Reading, mirroring and fading the real images.
    public var data = 0.0
    /// Spatial steps: halo exchange, slab gathers, and the levels computed whole on every rank
    /// of a spatial group (zero without spatial decomposition).
    public var spatial = 0.0

    public init() {}

    public enum CodingKeys: String, CodingKey, CaseIterable, Sendable {
        case generator = "time/G", discriminator = "time/D", penalty = "time/GP", allreduce = "time/allreduce"
        case optimizer = "time/optimizer", data = "time/data", spatial = "time/spatial"

        /// The step phases (both directions) whose seconds this key sums.
        public var phases: [StepPhase] {
            switch self {
            case .generator: return [.generator]
            case .discriminator: return [.discriminator, .discriminatorForG, .mbstdCollective]
            case .penalty: return [.penalty, .penaltyGradient]
            case .allreduce: return [.allreduce]
            case .optimizer: return [.optimizer]
            case .data: return [.data]
            // Spatial steps' halo exchange, slab gathers and levels computed whole on every rank of a group.
            case .spatial: return [.halo, .spatialGather, .replicated]
            }
        }

        var field: WritableKeyPath<StepTimings, Double> {
            switch self {
            case .generator: return \.generator
            case .discriminator: return \.discriminator
            case .penalty: return \.penalty
            case .allreduce: return \.allreduce
            case .optimizer: return \.optimizer
            case .data: return \.data
            case .spatial: return \.spatial
            }
        }
    }

    /// Decodes every key; `time/spatial`, absent from runs logged before spatial steps
    /// existed, reads as zero.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        for key in CodingKeys.allCases where key != .spatial { self[keyPath: key.field] = try c.decode(Double.self, forKey: key) }
        spatial = try c.decodeIfPresent(Double.self, forKey: .spatial) ?? 0
    }

    /// The times recorded in `snapshot`.
    public init(_ snapshot: Profiler.Snapshot) {
        for key in CodingKeys.allCases { self[keyPath: key.field] = snapshot.seconds(in: key.phases) }
    }

    /// Seconds in all parts.
    public var total: Double { CodingKeys.allCases.reduce(0) { $0 + self[keyPath: $1.field] } }
}

/// One tick of a training run: the line metrics.jsonl gets and the scalars TensorBoard gets.
/// Its coding keys are the metrics.jsonl names (flat: the loss means and timings sit beside the
/// schedule fields); `scalars` gives each its TensorBoard tag. Made by `TrainingRun` (the
/// memberwise initializer); decodable by anyone reading metrics.jsonl.
public struct TickRecord: Codable, Equatable, Sendable {
    /// Thousands of images shown to D.
    public var kimg: Double
    public var step: Int
    public var resolution: Int
    public var alpha: Double
    /// Global minibatch.
    public var minibatch: Int
    public var learningRate: Double
    /// Seconds per thousand images over this tick.
    public var secondsPerKimg: Double
    /// Seconds since this invocation started.
    public var elapsedSeconds: Double
    /// Updates skipped for non-finite gradients, since the run began.
    public var skippedD: Int
    public var skippedG: Int
    /// Wall clock, seconds since 1970.
    public var time: Double
    /// Loss statistics: means over the tick's images (loss terms: means of the steps' means).
    public var losses: StepStats
    /// Seconds spent in each part of the tick's steps.
    public var timings: StepTimings

    public enum CodingKeys: String, CodingKey, CaseIterable, Sendable {
        case kimg, step, resolution, alpha, minibatch, learningRate = "lr", secondsPerKimg = "sec_per_kimg"
        case elapsedSeconds = "elapsed_s", skippedD = "skipped_D", skippedG = "skipped_G", time
    }

    /// Every value TensorBoard charts, with its tag: the schedule under "Progress/", timings under
    /// "Timing/", losses under "Loss/", D's statistics under "D/". The wall clock `time` is left
    /// out: every event carries it (and a float32 would round it to minutes).
    public var scalars: [(tag: String, value: Double)] {
        let schedule: [(CodingKeys, Double)] = [
            (.kimg, kimg), (.step, Double(step)), (.resolution, Double(resolution)), (.alpha, alpha),
            (.minibatch, Double(minibatch)), (.learningRate, learningRate), (.skippedD, Double(skippedD)),
            (.skippedG, Double(skippedG)), (.secondsPerKimg, secondsPerKimg), (.elapsedSeconds, elapsedSeconds),
        ]
        var out = schedule.compactMap { key, value in key.tensorBoardTag.map { (tag: $0, value: value) } }
        for key in StepStats.CodingKeys.allCases { if let v = losses[key] { out.append((key.tensorBoardTag, v)) } }
        for key in StepTimings.CodingKeys.allCases { out.append((key.tensorBoardTag, timings[keyPath: key.field])) }
        return out
    }

    /// The TensorBoard tag of a metrics.jsonl key, nil for `time` (not charted) and unknown keys.
    public static func tensorBoardTag(forKey key: String) -> String? {
        if let k = StepStats.CodingKeys(rawValue: key) { return k.tensorBoardTag }
        if let k = StepTimings.CodingKeys(rawValue: key) { return k.tensorBoardTag }
        return CodingKeys(rawValue: key)?.tensorBoardTag
    }
}

extension TickRecord {
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        kimg = try c.decode(Double.self, forKey: .kimg)
        step = try c.decode(Int.self, forKey: .step)
        resolution = try c.decode(Int.self, forKey: .resolution)
        alpha = try c.decode(Double.self, forKey: .alpha)
        minibatch = try c.decode(Int.self, forKey: .minibatch)
        learningRate = try c.decode(Double.self, forKey: .learningRate)
        secondsPerKimg = try c.decode(Double.self, forKey: .secondsPerKimg)
        elapsedSeconds = try c.decode(Double.self, forKey: .elapsedSeconds)
        skippedD = try c.decode(Int.self, forKey: .skippedD)
        skippedG = try c.decode(Int.self, forKey: .skippedG)
        time = try c.decode(Double.self, forKey: .time)
        losses = try StepStats(from: decoder)
        timings = try StepTimings(from: decoder)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(kimg, forKey: .kimg)
        try c.encode(step, forKey: .step)
        try c.encode(resolution, forKey: .resolution)
        try c.encode(alpha, forKey: .alpha)
        try c.encode(minibatch, forKey: .minibatch)
        try c.encode(learningRate, forKey: .learningRate)
        try c.encode(secondsPerKimg, forKey: .secondsPerKimg)
        try c.encode(elapsedSeconds, forKey: .elapsedSeconds)
        try c.encode(skippedD, forKey: .skippedD)
        try c.encode(skippedG, forKey: .skippedG)
        try c.encode(time, forKey: .time)
        // The same keyed container: one flat JSON object.
        try losses.encode(to: encoder)
        try timings.encode(to: encoder)
    }
}

extension TickRecord.CodingKeys {
    /// Schedule fields chart under "Progress/", speed under "Timing/"; nil for the wall clock.
    public var tensorBoardTag: String? {
        switch self {
        case .kimg: return "Progress/kimg"
        case .step: return "Progress/step"
        case .resolution: return "Progress/resolution"
        case .alpha: return "Progress/alpha"
        case .minibatch: return "Progress/minibatch"
        case .learningRate: return "Progress/learning_rate"
        case .skippedD: return "Progress/skipped_D"
        case .skippedG: return "Progress/skipped_G"
        case .secondsPerKimg: return "Timing/sec_per_kimg"
        case .elapsedSeconds: return "Timing/elapsed_s"
        case .time: return nil
        }
    }
}

extension StepStats.CodingKeys {
    /// "loss/X" charts as "Loss/X" (the penalty as "Loss/GP"); D's statistics under "D/".
    public var tensorBoardTag: String {
        switch self {
        case .lossD: return "Loss/D"
        case .lossG: return "Loss/G"
        case .gradientPenalty: return "Loss/GP"
        case .drift: return "Loss/drift"
        case .realScores: return "D/real"
        case .fakeScores: return "D/fake"
        // The mean norm of D's input gradient at the penalty's samples (the penalty's target is 1).
        case .gradientNorms: return "D/grad_norm"
        case .classLossReal: return "Loss/class_real"
        case .classLossFake: return "Loss/class_fake"
        case .classLossG: return "Loss/class_G"
        // Fractions of the minibatch that D's auxiliary classifier labels correctly.
        case .realAccuracy: return "D/acc_real"
        case .fakeAccuracy: return "D/acc_fake"
        }
    }
}

extension StepTimings.CodingKeys {
    /// "time/X" charts as "Timing/X".
    public var tensorBoardTag: String { "Timing/" + rawValue.dropFirst("time/".count) }
}
