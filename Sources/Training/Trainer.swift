import Autograd
import Foundation
import ProGAN
import TensorKit

/// Everything that defines a training run; saved as JSON in the run directory and in every
/// checkpoint, so a resume can refuse a checkpoint from a different configuration.
public struct TrainingConfig: Codable, Equatable, Sendable {
    public var network: NetworkConfig
    public var schedule: GrowthSchedule
    public var loss = LossConfig()
    public var seed: UInt64 = 1000
    /// Adam betas and epsilon (paper: 0, 0.99, 1e-8).
    public var adamBeta1: Float = 0
    public var adamBeta2: Float = 0.99
    public var adamEpsilon: Float = 1e-8
    /// EMA decay of the sampling generator per step.
    public var emaBeta: Float = 0.999
    /// Reset Adam moments at the start of every fade and of every stable phase (as the authors' code).
    public var resetOptimizerOnGrowth = true
    /// Random left-right mirroring of real images.
    public var mirror = false

    public init(network: NetworkConfig, schedule: GrowthSchedule) {
        self.network = network
        self.schedule = schedule
    }

    /// The configuration as JSON with sorted keys (config.json, the train command's echo).
    public func json(pretty: Bool = false) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys] : [.sortedKeys]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    /// Checks the configuration; `Trainer.init` calls it. Any number of ranks can train it: each
    /// step's minibatch is dealt out over them as evenly as possible (`BatchShards`).
    /// - Throws: `ConfigError` saying what cannot work.
    public func validate() throws {
        try network.validate()
        try schedule.validate()
        guard schedule.finalResolution == network.resolution else {
            throw ConfigError("schedule ends at \(schedule.finalResolution)x\(schedule.finalResolution) but the network is built for \(network.resolution)x\(network.resolution)")
        }
        if network.mbstdGroupSize > 0 {
            for r in schedule.resolutions {
                let b = schedule.minibatch(at: r)
                guard b % min(network.mbstdGroupSize, b) == 0 else {
                    throw ConfigError("minibatch-stddev group size \(network.mbstdGroupSize) does not divide the minibatch \(b) at \(r)x\(r)")
                }
            }
        }
    }
}

/// The state of a run that a checkpoint must carry besides the weights.
public struct TrainingProgress: Codable, Equatable, Sendable {
    /// Images shown to D so far (the schedule's clock).
    public var imagesShown = 0
    /// Steps taken (the random streams' clock).
    public var step = 0
    /// Resolution and fade state of the last step, to detect growth.
    public var resolution = 0
    public var alpha: Float = 0
    /// Updates skipped for non-finite gradients.
    public var skippedD = 0
    public var skippedG = 0
    public init() {}
}

/// One replica of the ProGAN training state on one rank: G, D, the EMA generator, both Adams,
/// and the step logic (D step with gradient penalty, then G step, then EMA).
public final class Trainer {
    public let config: TrainingConfig
    public let group: ProcessGroup
    public let G: Generator
    public let D: Discriminator
    /// The exponential moving average of G's weights, used for samples.
    public let Gs: Generator
    public let adamG: Adam
    public let adamD: Adam
    public var progress = TrainingProgress()
    public let streams: SampleStreams
    /// The group as the networks see it: minibatch-stddev collectives in their own profiler phase.
    let collectives: Collective
    /// The current phase's decomposition (made at the first step of a phase with a new
    /// resolution or minibatch; its sub-communicators replace the previous phase's).
    private(set) var decomposition: StepDecomposition?

    /// Builds the networks (identical on every rank: drawn from the seed, then broadcast from rank 0).
    public init(config: TrainingConfig, group: ProcessGroup) throws {
        try config.validate()
        self.config = config
        self.group = group
        G = Generator(config.network, seed: config.seed)
        D = Discriminator(config.network, seed: config.seed &+ 1)
        Gs = Generator(config.network, seed: config.seed)
        adamG = Adam(G.parameters, beta1: config.adamBeta1, beta2: config.adamBeta2, epsilon: config.adamEpsilon)
        adamD = Adam(D.parameters, beta1: config.adamBeta1, beta2: config.adamBeta2, epsilon: config.adamEpsilon)
        streams = SampleStreams(seed: config.seed, latentSize: config.network.latentSize)
        collectives = PhaseTaggedCollective.minibatchStddev(group)
        try synchronizeParameters()
    }

    /// Makes every rank's weights rank 0's (start and resume).
    public func synchronizeParameters() throws {
        guard group.size > 1 else { return }
        for set in [G.parameters, D.parameters, Gs.parameters] {
            var flat = set.flatValues()
            try group.broadcastFromRoot(&flat)
            set.assign(flatValues: flat)
        }
    }

    /// The schedule point of the next step.
    public var point: SchedulePoint { config.schedule.point(imagesShown: progress.imagesShown) }

    /// Whether training has reached its total length.
    public var finished: Bool { Double(progress.imagesShown) >= config.schedule.totalKimg * 1000 }

    /// Runs one global step: a D update and a G update on this rank's share of the global
    /// minibatch, gradients summed over ranks. Returns this rank's loss statistics (to be
    /// all-reduced for reporting).
    ///
    /// Each part runs inside its `StepPhase`; with the `Profiler` on (a training run keeps its
    /// clock running, bench counts everything) that is where its time is read.
    @discardableResult
    public func step(data: RealImageSource, order: DataOrder) throws -> StepStats {
        let p = point
        // The authors reset Adam's moments where the level of detail's floor or ceiling changes:
        // at the first step of every fade and of every stable phase.
        if config.resetOptimizerOnGrowth,
           config.schedule.resetsOptimizer(previousResolution: progress.resolution, previousAlpha: progress.alpha, next: p) {
            adamG.reset(); adamD.reset()
        }
        progress.resolution = p.resolution
        progress.alpha = p.alpha
        let parts = decomposition(at: p)
        // This rank's contiguous block of the global minibatch (its spatial group's, shared by
        // the group's ranks, each holding a slab of rows); it may be empty (more ranks than
        // samples): the rank still joins every collective.
        let (first, local) = (parts.samples.lowerBound, parts.samples.count)
        let reals = try StepPhase.data.record { try realImages(data, order: order, at: p, first: first, count: local, parts: parts) }
        // Conditional: the D step's fakes take the reals' labels; the G step's are drawn.
        let (realLabels, fakeLabels) = try StepPhase.data.record { () throws -> ([Int], [Int]) in
            guard config.network.isConditional else { return ([], []) }
            return (try data.labels((0..<local).map { order.index(at: progress.imagesShown + first + $0) }),
                    try streams.generatorLabels(data, step: progress.step, first: first, count: local))
        }
        let statsD = try discriminatorStep(at: p, reals: reals, labels: realLabels, first: first, count: local, parts: parts)
        let statsG = try generatorStep(at: p, labels: fakeLabels, first: first, count: local, parts: parts)
        StepPhase.optimizer.record { Gs.parameters.moveAverage(towards: G.parameters, beta: config.emaBeta) }
        progress.imagesShown += p.minibatch
        progress.step += 1
        return statsD.merging(statsG)
    }

    /// The decomposition of the step at `p`: the previous one while the resolution and the
    /// minibatch stay, else a new one (every rank reaches the same step together, so the
    /// sub-communicators are made collectively).
    func decomposition(at p: SchedulePoint) -> StepDecomposition {
        if let d = decomposition, d.layout.resolution == p.resolution, d.layout.minibatch == p.minibatch { return d }
        let network = config.network
        let layout = SpatialLayout(ranks: group.size, minibatch: p.minibatch, resolution: p.resolution,
                                   levelCost: { network.levelCost(at: $0) })
        let d = StepDecomposition(layout, rank: group.rank, world: group, stddev: collectives)
        decomposition = d
        return d
    }

    /// This rank's block of the step's real images (its rows where the step splits images),
    /// mirrored where drawn and faded as D sees them. The fade and the mirror act within 2x2
    /// blocks and rows, so a slab whose edges fall on even rows fades as the whole image does.
    func realImages(_ data: RealImageSource, order: DataOrder, at p: SchedulePoint, first: Int, count: Int,
                    parts: StepDecomposition) throws -> Var {
        let positions = (0..<count).map { progress.imagesShown + first + $0 }
        var images = try data.images(positions.map(order.index(at:)), resolution: p.resolution)
        if config.mirror {
            for (i, pos) in positions.enumerated() where streams.mirrored(position: pos) { images.mirrorSample(i) }
        }
        if let rows = parts.slabRows { images = images.narrowed(axis: 2, start: rows.lowerBound, length: rows.count) }
        return Var(images.fadedReals(alpha: p.alpha))
    }

    /// The D step. Its graph (D on reals, fakes and the penalty's mix, and the recorded gradient of
    /// the penalty) is released before the G step builds its own, halving the peak memory at high
    /// resolution.
    func discriminatorStep(at p: SchedulePoint, reals: Var, labels: [Int], first: Int, count: Int,
                           parts: StepDecomposition) throws -> StepStats {
        let z = streams.latents(forDiscriminator: true, step: progress.step, first: first, count: count)
        let fakes = try StepPhase.generator.record {
            try GradMode.with(false) {
                try G(Var(z), labels: labels, resolution: p.resolution, alpha: p.alpha, spatial: parts.spatial)
            }
        }
        let mix = streams.mixingFactors(step: progress.step, first: first, count: count)
        D.parameters.zeroGradients()
        let stats = try StepPhase.discriminator.record {
            try accumulateDiscriminatorGradients(D, reals: reals, fakes: fakes, mix: mix, labels: labels, resolution: p.resolution,
                                                 alpha: p.alpha, globalBatch: p.minibatch, comm: parts.batch,
                                                 config: config.loss, into: D.parameters.parameters,
                                                 rankCounts: parts.batchCounts, spatial: parts.spatial)
        }
        if try !applyUpdate(D.parameters, adamD, learningRate: p.learningRate) { progress.skippedD += 1 }
        return stats
    }

    /// The G step: G's fakes scored by D, gradients into G only.
    func generatorStep(at p: SchedulePoint, labels: [Int], first: Int, count: Int, parts: StepDecomposition) throws -> StepStats {
        let z = streams.latents(forDiscriminator: false, step: progress.step, first: first, count: count)
        let fakes = try StepPhase.generator.record {
            try G(Var(z), labels: labels, resolution: p.resolution, alpha: p.alpha, spatial: parts.spatial)
        }
        G.parameters.zeroGradients()
        let stats = try StepPhase.discriminatorForG.record {
            let (loss, stats) = try generatorLoss(D, fakes: fakes, labels: labels, resolution: p.resolution, alpha: p.alpha,
                                                  globalBatch: p.minibatch, comm: parts.batch, config: config.loss,
                                                  rankCounts: parts.batchCounts, spatial: parts.spatial)
            try accumulateGradients(of: loss, into: G.parameters.parameters)
            return stats
        }
        if try !applyUpdate(G.parameters, adamG, learningRate: p.learningRate) { progress.skippedG += 1 }
        return stats
    }

    /// Sums the gradient over ranks and applies Adam, unless any element is non-finite (then
    /// every rank skips alike, since all see the same sum). Returns whether applied.
    /// Only the parameters in this step's graph travel (the same on every rank): layers of
    /// resolutions not reached yet have no gradient, and Adam leaves them as a zero gradient would.
    /// On several ranks the update is sharded: each rank updates its 1/N of the parameters
    /// (`Adam.update(_:flatGradient:present:learningRate:over:)`), so the optimizer's cost does
    /// not stay whole on every rank as the ranks per image grow.
    func applyUpdate(_ params: ParameterSet, _ adam: Adam, learningRate: Float) throws -> Bool {
        let present = StepPhase.optimizer.record { params.gradientPresence }
        var flat = StepPhase.optimizer.record { params.flatGradient(present: present) }
        if group.size > 1 {
            guard adam.update(params, flatGradient: &flat, present: present, learningRate: learningRate, over: group) else { return false }
            StepPhase.optimizer.record { params.zeroGradients() }
            return true
        }
        StepPhase.allreduce.record { group.allReduceSum(&flat) }   // one process: the identity
        return StepPhase.optimizer.record {
            guard allFinite(flat) else { return false }
            adam.update(params, flatGradient: flat, present: present, learningRate: learningRate)
            params.zeroGradients()
            return true
        }
    }

    /// Brings every rank's Adam moments together after sharded updates: a collective, called by
    /// every rank before a checkpoint (rank 0 writes them) or anything else reads the moments.
    public func gatherOptimizerState() {
        adamG.gatherMoments(G.parameters, over: group)
        adamD.gatherMoments(D.parameters, over: group)
    }

    /// Samples from the EMA generator for fixed grid latents, at the current resolution and fade.
    /// A conditional run draws `gridColumns(count:)` latents and renders each in every class,
    /// one class a row (so a column differs only by its label).
    public func gridSamples(count: Int) throws -> Tensor {
        let p = point
        guard let columns = gridColumns(count: count) else {
            let z = streams.gridLatents(count: count)
            return try GradMode.with(false) { try Gs(Var(z), resolution: p.resolution, alpha: p.alpha).value }
        }
        let classes = config.network.classes
        let latents = streams.gridLatents(count: columns)
        var z = [Float]()
        for _ in 0..<classes { z += latents.data }
        let labels = (0..<classes * columns).map { $0 / columns }
        return try GradMode.with(false) {
            try Gs(Var(Tensor(shape: [classes * columns, latents.shape[1]], data: z)), labels: labels,
                   resolution: p.resolution, alpha: p.alpha).value
        }
    }

    /// The columns of the sample grid of a conditional run (`count` / classes, at least 1), nil
    /// for an unconditional one.
    public func gridColumns(count: Int) -> Int? {
        config.network.isConditional ? max(1, count / config.network.classes) : nil
    }
}
