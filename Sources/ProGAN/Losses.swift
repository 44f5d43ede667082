import Autograd
import TensorKit

/// The adversarial loss and its regularizers (paper section 6.3 / appendix A.1; authors' loss.py).
public struct LossConfig: Codable, Equatable, Sendable {
    public enum Kind: String, Codable, Sendable, CaseIterable { case wgangp, lsgan }
    /// WGAN-GP (the paper's default) or LSGAN (its alternative).
    public var kind: Kind = .wgangp
    /// Gradient-penalty weight lambda.
    public var gpLambda: Float = 10
    /// Gradient-penalty target norm gamma; the penalty is scaled by 1 / gamma^2.
    public var gpTarget: Float = 1
    /// Drift weight epsilon_drift on D(real)^2, keeping critic outputs near 0.
    public var drift: Float = 0.001
    /// LSGAN: weight of the fake term of D's loss (the authors' Theano code uses 0.1).
    public var lsganFakeWeight: Float = 0.1
    /// At which resolution the penalty's gradient norm is measured (see `GradientScale`).
    public var gpScale: GradientScale = .native

    /// Where the gradient-penalty norm is taken, below the final resolution.
    public enum GradientScale: String, Codable, Sendable, CaseIterable {
        /// With respect to D's input at the current resolution R.
        case native
        /// As the authors' code: with respect to a full-resolution (F) input that D average-pools
        /// down to R. Pooling by F/R spreads each native gradient value over (F/R)^2 pixels at
        /// 1/(F/R)^2 each, so that norm is the native norm times R/F; with target 1, the native
        /// norm is pulled toward F/R (256 at 4x4 of a 1024 run).
        case fullResolution = "full-resolution"
    }

    public init() {}

    enum CodingKeys: String, CodingKey { case kind, gpLambda, gpTarget, drift, lsganFakeWeight, gpScale }

    /// Decodes configurations written before `gpScale` and `lsganFakeWeight` existed as what they
    /// trained with: the native norm and an unweighted fake term.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        kind = try c.decode(Kind.self, forKey: .kind)
        gpLambda = try c.decode(Float.self, forKey: .gpLambda)
        gpTarget = try c.decode(Float.self, forKey: .gpTarget)
        drift = try c.decode(Float.self, forKey: .drift)
        lsganFakeWeight = try c.decodeIfPresent(Float.self, forKey: .lsganFakeWeight) ?? 1
        gpScale = try c.decodeIfPresent(GradientScale.self, forKey: .gpScale) ?? .native
    }

    /// The factor from the native gradient norm at `resolution` to the norm the penalty uses, for
    /// a network whose final resolution is `finalResolution`.
    public func gradientNormScale(resolution: Int, finalResolution: Int) -> Float {
        switch gpScale {
        case .native: return 1
        case .fullResolution: return Float(resolution) / Float(finalResolution)
        }
    }
}

/// The D loss for this rank's share of a global minibatch, scaled so that summing the losses
/// (and the gradients) of all ranks gives the mean over the global minibatch.
///
/// WGAN-GP: `D(fake) - D(real) + lambda/gamma^2 * (||grad_xhat D(xhat)|| - gamma)^2 + drift*D(real)^2`,
/// with `xhat = real + mix * (fake - real)` per sample. The penalty is a double-backprop call
/// (the gradient of D w.r.t. `xhat` with `createGraph: true`), differentiated again w.r.t. D.
///
/// - Parameters:
///   - reals, fakes: this rank's samples [n, C, R, R] (fakes detached from G): its share of the
///     global minibatch as `BatchShards` deals it out (n may be 0).
///   - mix: per-sample mixing factors [n] in [0, 1].
///   - globalBatch: the global minibatch size N over all ranks.
public func discriminatorLoss(_ D: Discriminator, reals: Var, fakes: Var, mix: [Float], resolution: Int,
                              alpha: Float, globalBatch: Int, comm: Collective,
                              config: LossConfig) throws -> (loss: Var, stats: StepStats) {
    let n = Float(globalBatch)
    let counts = try shardCounts(globalBatch: globalBatch, local: reals.shape.first ?? 0, comm: comm)
    let (realScores, fakeScores) = try scoreRealsAndFakes(D, reals: reals, fakes: fakes, resolution: resolution,
                                                          alpha: alpha, comm: comm, rankCounts: counts)
    var stats = StepStats()
    stats.realScores = realScores.value.sumAll()
    stats.fakeScores = fakeScores.value.sumAll()
    switch config.kind {
    case .lsgan:
        let loss = try ((realScores - 1).square().sum() + fakeScores.square().sum() * config.lsganFakeWeight) * (0.5 / n)
        stats.lossD = loss.value.sumAll()
        return (loss, stats)
    case .wgangp:
        let wdist = try (fakeScores.sum() - realScores.sum()) * (1 / n)
        let (penalty, norms) = try gradientPenalty(D, reals: reals, fakes: fakes, mix: mix, resolution: resolution,
                                                   alpha: alpha, n: n, comm: comm, rankCounts: counts, config: config)
        let drift = try realScores.square().sum() * (config.drift / n)
        let loss = try wdist + penalty + drift
        stats.lossD = loss.value.sumAll()
        stats.gradientPenalty = penalty.value.sumAll()
        stats.drift = drift.value.sumAll()
        stats.gradientNorms = norms.value.sumAll()
        return (loss, stats)
    }
}

/// D's scores of this rank's reals and fakes, in one pass over both stacked (one minibatch-stddev
/// all-gather and reduce-scatter instead of two each; larger products), each minibatch with its
/// own stddev groups as in two separate calls.
func scoreRealsAndFakes(_ D: Discriminator, reals: Var, fakes: Var, resolution: Int, alpha: Float,
                        comm: Collective, rankCounts: [Int]) throws -> (reals: Var, fakes: Var) {
    guard reals.shape == fakes.shape else {
        throw ShapeError("discriminatorLoss", "reals \(reals.shape) and fakes \(fakes.shape) differ in shape")
    }
    let n = reals.shape[0]
    let scores = try D(Var.concat([reals, fakes], axis: 0), resolution: resolution, alpha: alpha, comm: comm,
                       minibatches: 2, rankCounts: rankCounts)
    return (try scores.narrow(axis: 0, start: 0, length: n), try scores.narrow(axis: 0, start: n, length: n))
}

/// The WGAN-GP penalty `lambda / target^2 * sum (|grad D(x_hat)| - target)^2 / n` on images mixed
/// per sample by `mix`, and the gradient norms. The gradient is recorded (createGraph) so the
/// penalty can be differentiated. Profiler phases: all of it in `penalty`, the recorded first
/// backward in `penaltyGradient`.
func gradientPenalty(_ D: Discriminator, reals: Var, fakes: Var, mix: [Float], resolution: Int, alpha: Float,
                     n: Float, comm: Collective, rankCounts: [Int]? = nil, config: LossConfig) throws -> (penalty: Var, norms: Var) {
    try StepPhase.penalty.record {
        let t = Var(Tensor(shape: [mix.count, 1, 1, 1], data: mix))
        let mixed = Var(try Var.lerp(reals.detached(), fakes.detached(), t).value, requiresGrad: true)
        let mixedScores = try D(mixed, resolution: resolution, alpha: alpha, comm: comm, rankCounts: rankCounts)
        let grad = try StepPhase.penaltyGradient.record {
            try gradients(of: mixedScores.sum(), wrt: [mixed], createGraph: true)[0]
        }
        let scale = config.gradientNormScale(resolution: resolution, finalResolution: D.config.resolution)
        var norms = try grad.square().sum(axes: [1, 2, 3]).sqrt()
        if scale != 1 { norms = norms * scale }
        let penalty = try (norms - config.gpTarget).square().sum() * (config.gpLambda / (config.gpTarget * config.gpTarget) / n)
        return (penalty, norms)
    }
}

/// The D step's gradients, accumulated into `parameters` in two passes that each free their graph
/// before the next is built: first `D(fake) - D(real) + drift` (D on reals and fakes), then the
/// gradient penalty (D on the mixed images and its recorded gradient). The sum is the gradient of
/// `discriminatorLoss` (the parts share only the weights), at about half its peak memory.
/// Returns the same statistics as `discriminatorLoss`.
public func accumulateDiscriminatorGradients(_ D: Discriminator, reals: Var, fakes: Var, mix: [Float],
                                             resolution: Int, alpha: Float, globalBatch: Int, comm: Collective,
                                             config: LossConfig, into parameters: [Var]) throws -> StepStats {
    guard config.kind == .wgangp else {
        let (loss, stats) = try discriminatorLoss(D, reals: reals, fakes: fakes, mix: mix, resolution: resolution,
                                                  alpha: alpha, globalBatch: globalBatch, comm: comm, config: config)
        try accumulateGradients(of: loss, into: parameters)
        return stats
    }
    let n = Float(globalBatch)
    let counts = try shardCounts(globalBatch: globalBatch, local: reals.shape.first ?? 0, comm: comm)
    var stats = StepStats()
    do {
        let (realScores, fakeScores) = try scoreRealsAndFakes(D, reals: reals, fakes: fakes, resolution: resolution,
                                                              alpha: alpha, comm: comm, rankCounts: counts)
        let wdist = try (fakeScores.sum() - realScores.sum()) * (1 / n)
        let drift = try realScores.square().sum() * (config.drift / n)
        let part = try wdist + drift
        stats.realScores = realScores.value.sumAll()
        stats.fakeScores = fakeScores.value.sumAll()
        stats.drift = drift.value.sumAll()
        stats.lossD = part.value.sumAll()
        try accumulateGradients(of: part, into: parameters)
    }
    let (penalty, norms) = try gradientPenalty(D, reals: reals, fakes: fakes, mix: mix, resolution: resolution,
                                               alpha: alpha, n: n, comm: comm, rankCounts: counts, config: config)
    try accumulateGradients(of: penalty, into: parameters)
    stats.gradientPenalty = penalty.value.sumAll()
    stats.gradientNorms = norms.value.sumAll()
    stats.lossD! += penalty.value.sumAll()
    return stats
}

/// Samples each rank holds of the global minibatch (`BatchShards`); throws if this rank's batch
/// is not its share, which would make the ranks' collectives disagree. One process holds its
/// whole batch whatever `globalBatch` says (there it only normalizes the loss).
func shardCounts(globalBatch: Int, local: Int, comm: Collective) throws -> [Int] {
    guard globalBatch >= 1 else { throw ConfigError("the global minibatch must be positive, got \(globalBatch)") }
    if comm.size == 1 { return [local] }
    let counts = BatchShards(total: globalBatch, parts: comm.size).counts
    guard counts[comm.rank] == local else {
        throw ShapeError("loss", "rank \(comm.rank) of \(comm.size) holds \(local) samples; its share of the global minibatch \(globalBatch) is \(counts[comm.rank])")
    }
    return counts
}

/// The G loss for this rank's share: WGAN `-D(G(z))`, or LSGAN `(D(G(z)) - 1)^2 / 2`, scaled by
/// 1 / global minibatch.
public func generatorLoss(_ D: Discriminator, fakes: Var, resolution: Int, alpha: Float, globalBatch: Int,
                          comm: Collective, config: LossConfig) throws -> (loss: Var, stats: StepStats) {
    let n = Float(globalBatch)
    let counts = try shardCounts(globalBatch: globalBatch, local: fakes.shape.first ?? 0, comm: comm)
    let scores = try D(fakes, resolution: resolution, alpha: alpha, comm: comm, rankCounts: counts)
    let loss: Var
    switch config.kind {
    case .wgangp: loss = try -scores.sum() * (1 / n)
    case .lsgan: loss = try (scores - 1).square().sum() * (0.5 / n)
    }
    var stats = StepStats()
    stats.lossG = loss.value.sumAll()
    return (loss, stats)
}
