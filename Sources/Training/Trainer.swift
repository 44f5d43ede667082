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
    /// Reset Adam moments when a new resolution starts fading in (as the authors' code).
    public var resetOptimizerOnGrowth = true
    /// Random left-right mirroring of real images.
    public var mirror = false

    public init(network: NetworkConfig, schedule: GrowthSchedule) {
        self.network = network
        self.schedule = schedule
    }

    public func validate(ranks: Int) throws {
        try network.validate()
        try schedule.validate(ranks: ranks)
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

/// Seconds spent in each phase of a step, summed since the last reset.
public struct StepTimings: Sendable {
    public var generator = 0.0, discriminator = 0.0, penalty = 0.0, allreduce = 0.0, optimizer = 0.0, data = 0.0
    public var total: Double { generator + discriminator + penalty + allreduce + optimizer + data }
    public init() {}
    public var asDictionary: [String: Double] {
        ["time/G": generator, "time/D": discriminator, "time/GP": penalty, "time/allreduce": allreduce,
         "time/optimizer": optimizer, "time/data": data]
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
    public var timings = StepTimings()
    public let streams: SampleStreams

    /// Builds the networks (identical on every rank: drawn from the seed, then broadcast from rank 0).
    public init(config: TrainingConfig, group: ProcessGroup) throws {
        try config.validate(ranks: group.size)
        self.config = config
        self.group = group
        G = Generator(config.network, seed: config.seed)
        D = Discriminator(config.network, seed: config.seed &+ 1)
        Gs = Generator(config.network, seed: config.seed)
        adamG = Adam(G.parameters, beta1: config.adamBeta1, beta2: config.adamBeta2, epsilon: config.adamEpsilon)
        adamD = Adam(D.parameters, beta1: config.adamBeta1, beta2: config.adamBeta2, epsilon: config.adamEpsilon)
        streams = SampleStreams(seed: config.seed, latentSize: config.network.latentSize)
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
    /// minibatch, gradients summed over ranks. Returns this rank's loss statistics (sums over
    /// its samples, to be all-reduced for reporting).
    @discardableResult
    public func step(data: RealImageSource, order: DataOrder) throws -> LossStats {
        let p = point
        if p.resolution != progress.resolution {
            // A new resolution starts fading in: the authors reset Adam's moments here.
            if config.resetOptimizerOnGrowth && progress.resolution != 0 { adamG.reset(); adamD.reset() }
            progress.resolution = p.resolution
        }
        progress.alpha = p.alpha
        let local = p.minibatch / group.size
        let first = group.rank * local
        let comm: Collective = group

        // Data: this rank's block of the global minibatch. (StepPhase.enter: profiler hooks for
        // `progan-mpi bench`; they do nothing unless it turned the profiler on.)
        StepPhase.data.enter()
        var t0 = Date()
        let positions = (0..<local).map { progress.imagesShown + first + $0 }
        var realsT = try data.images(positions.map(order.index(at:)), resolution: p.resolution)
        if config.mirror {
            for (i, pos) in positions.enumerated() where streams.mirrored(position: pos) { realsT.mirrorSample(i) }
        }
        realsT = realsT.fadedReals(alpha: p.alpha)
        let reals = Var(realsT)
        timings.data += Date().timeIntervalSince(t0)

        // D step, in its own scope: its graph (D on reals, fakes and the GP mix, and the recorded
        // gradient of the penalty) is released before the G step builds its own, halving the
        // peak memory at high resolution.
        let statsD: LossStats
        do {
            StepPhase.generator.enter()
            t0 = Date()
            let zD = streams.latents(forDiscriminator: true, step: progress.step, first: first, count: local)
            let fakes = try GradMode.with(false) { try G(Var(zD), resolution: p.resolution, alpha: p.alpha) }
            timings.generator += Date().timeIntervalSince(t0)
            StepPhase.discriminator.enter()
            t0 = Date()
            let mix = streams.mixingFactors(step: progress.step, first: first, count: local)
            // Two passes, each freeing its graph: D(fake) - D(real) + drift, then the penalty.
            D.parameters.zeroGradients()
            var penaltySeconds = 0.0
            let stats = try accumulateDiscriminatorGradients(D, reals: reals, fakes: fakes, mix: mix, resolution: p.resolution,
                                                             alpha: p.alpha, globalBatch: p.minibatch, comm: comm,
                                                             config: config.loss, into: D.parameters.parameters,
                                                             penaltySeconds: &penaltySeconds)
            timings.penalty += penaltySeconds
            timings.discriminator += Date().timeIntervalSince(t0) - penaltySeconds
            if try !applyUpdate(D.parameters, adamD, learningRate: p.learningRate) { progress.skippedD += 1 }
            statsD = stats
        }

        // G step.
        StepPhase.generator.enter()
        t0 = Date()
        let zG = streams.latents(forDiscriminator: false, step: progress.step, first: first, count: local)
        let fakesG = try G(Var(zG), resolution: p.resolution, alpha: p.alpha)
        timings.generator += Date().timeIntervalSince(t0)
        StepPhase.discriminatorForG.enter()
        t0 = Date()
        let (lossG, statsG) = try generatorLoss(D, fakes: fakesG, resolution: p.resolution, alpha: p.alpha,
                                                globalBatch: p.minibatch, comm: comm, config: config.loss)
        StepPhase.discriminatorForG.enter(backward: true)
        G.parameters.zeroGradients()
        try accumulateGradients(of: lossG, into: G.parameters.parameters)
        timings.discriminator += Date().timeIntervalSince(t0)
        if try !applyUpdate(G.parameters, adamG, learningRate: p.learningRate) { progress.skippedG += 1 }

        StepPhase.optimizer.enter()
        t0 = Date()
        Gs.parameters.moveAverage(towards: G.parameters, beta: config.emaBeta)
        timings.optimizer += Date().timeIntervalSince(t0)
        StepPhase.other.enter()

        progress.imagesShown += p.minibatch
        progress.step += 1
        return statsD.merging(statsG) { a, _ in a }
    }

    /// Sums the gradient over ranks in one fused buffer and applies Adam, unless any element is
    /// non-finite (then every rank skips alike, since all see the same sum). Returns whether applied.
    /// Only the parameters in this step's graph travel (the same on every rank): layers of
    /// resolutions not reached yet have no gradient, and Adam leaves them as a zero gradient would.
    func applyUpdate(_ params: ParameterSet, _ adam: Adam, learningRate: Float) throws -> Bool {
        StepPhase.optimizer.enter()
        var t0 = Date()
        let present = params.gradientPresence
        var flat = params.flatGradient(present: present)
        StepPhase.allreduce.enter()
        group.allReduceSum(&flat)
        StepPhase.optimizer.enter()
        timings.allreduce += Date().timeIntervalSince(t0)
        t0 = Date()
        defer { timings.optimizer += Date().timeIntervalSince(t0) }
        guard allFinite(flat) else { return false }
        adam.update(params, flatGradient: flat, present: present, learningRate: learningRate)
        params.zeroGradients()
        return true
    }

    /// Samples from the EMA generator for fixed grid latents, at the current resolution and fade.
    public func gridSamples(count: Int) throws -> Tensor {
        let p = point
        let z = streams.gridLatents(count: count)
        return try GradMode.with(false) { try Gs(Var(z), resolution: p.resolution, alpha: p.alpha).value }
    }
}
