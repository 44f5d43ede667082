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
///   - labels: for a conditional D, the class of each real, which is also the class each fake
///     was generated with (the authors' D step draws both from the reals' labels); then D's loss
///     adds its auxiliary classifier's cross-entropy on reals and on fakes (see `classifierTerms`).
public func discriminatorLoss(_ D: Discriminator, reals: Var, fakes: Var, mix: [Float], labels: [Int] = [],
                              resolution: Int, alpha: Float, globalBatch: Int, comm: Collective,
                              config: LossConfig, rankCounts: [Int]? = nil,
                              spatial: SpatialPartition? = nil) throws -> (loss: Var, stats: StepStats) {
    let n = Float(globalBatch)
    let counts = try shardCounts(globalBatch: globalBatch, local: reals.shape.first ?? 0, comm: comm, given: rankCounts)
    let (realOut, fakeOut) = try scoreRealsAndFakes(D, reals: reals, fakes: fakes, resolution: resolution,
                                                    alpha: alpha, comm: comm, rankCounts: counts, spatial: spatial)
    let share = spatial?.replicatedShare ?? 1
    let (realScores, realLogits) = try D.splitOutput(realOut)
    let (fakeScores, fakeLogits) = try D.splitOutput(fakeOut)
    var stats = StepStats()
    stats.realScores = realScores.value.sumAll()
    stats.fakeScores = fakeScores.value.sumAll()
    let classes = try classifierTerms(realLogits: realLogits, fakeLogits: fakeLogits, labels: labels, n: n, stats: &stats)
    switch config.kind {
    case .lsgan:
        var loss = try ((realScores - 1).square().sum() + fakeScores.square().sum() * config.lsganFakeWeight) * (0.5 / n)
        if let classes { loss = try loss + classes }
        if share != 1 { loss = loss * share }
        stats = stats.scaled(by: Double(share))
        stats.lossD = loss.value.sumAll()
        return (loss, stats)
    case .wgangp:
        let wdist = try (fakeScores.sum() - realScores.sum()) * (1 / n)
        let (penalty, norms) = try gradientPenalty(D, reals: reals, fakes: fakes, mix: mix, resolution: resolution,
                                                   alpha: alpha, n: n, comm: comm, rankCounts: counts, config: config,
                                                   spatial: spatial)
        let drift = try realScores.square().sum() * (config.drift / n)
        // Terms from D's output weighted as replicated (the penalty already is).
        func weighted(_ term: Var) -> Var { share == 1 ? term : term * share }
        var loss = try weighted(wdist) + penalty + weighted(drift)
        if let classes { loss = try loss + weighted(classes) }
        stats.drift = drift.value.sumAll()
        stats = stats.scaled(by: Double(share))
        stats.lossD = loss.value.sumAll()
        stats.gradientPenalty = penalty.value.sumAll()
        stats.gradientNorms = norms.value.sumAll()
        return (loss, stats)
    }
}

/// D's scores of this rank's reals and fakes, in one pass over both stacked (one minibatch-stddev
/// all-gather and reduce-scatter instead of two each; larger products), each minibatch with its
/// own stddev groups as in two separate calls.
func scoreRealsAndFakes(_ D: Discriminator, reals: Var, fakes: Var, resolution: Int, alpha: Float,
                        comm: Collective, rankCounts: [Int], spatial: SpatialPartition? = nil) throws -> (reals: Var, fakes: Var) {
    guard reals.shape == fakes.shape else {
        throw ShapeError("discriminatorLoss", "reals \(reals.shape) and fakes \(fakes.shape) differ in shape")
    }
    let n = reals.shape[0]
    let scores = try D(Var.concat([reals, fakes], axis: 0), resolution: resolution, alpha: alpha, comm: comm,
                       minibatches: 2, rankCounts: rankCounts, spatial: spatial)
    return (try scores.narrow(axis: 0, start: 0, length: n), try scores.narrow(axis: 0, start: n, length: n))
}

/// The WGAN-GP penalty `lambda / target^2 * sum (|grad D(x_hat)| - target)^2 / n` on images mixed
/// per sample by `mix`, and the gradient norms. The gradient is recorded (createGraph) so the
/// penalty can be differentiated. Profiler phases: all of it in `penalty`, the recorded first
/// backward in `penaltyGradient`.
///
/// Spatial steps: the images are this rank's slabs and D's score is replicated on the group, so
/// the score's gradient is seeded with 1/S (the gather's adjoint sums the S copies), each
/// slab's partial sum of squares is summed over the group before the square root, and the
/// penalty, replicated too, is scaled by 1/S. The norms returned are then 1/S of each sample's.
func gradientPenalty(_ D: Discriminator, reals: Var, fakes: Var, mix: [Float], resolution: Int, alpha: Float,
                     n: Float, comm: Collective, rankCounts: [Int]? = nil, config: LossConfig,
                     spatial: SpatialPartition? = nil) throws -> (penalty: Var, norms: Var) {
    try StepPhase.penalty.record {
        let t = Var(Tensor(shape: [mix.count, 1, 1, 1], data: mix))
        let mixed = Var(try Var.lerp(reals.detached(), fakes.detached(), t).value, requiresGrad: true)
        // The penalty constrains the score's gradient only, not the class logits' (as the authors').
        let mixedScores = try D.splitOutput(D(mixed, resolution: resolution, alpha: alpha, comm: comm,
                                              rankCounts: rankCounts, spatial: spatial)).scores
        let share = spatial?.replicatedShare ?? 1
        let grad = try StepPhase.penaltyGradient.record {
            try gradients(of: share == 1 ? mixedScores.sum() : mixedScores.sum() * share, wrt: [mixed], createGraph: true)[0]
        }
        let scale = config.gradientNormScale(resolution: resolution, finalResolution: D.config.resolution)
        var squares = try grad.square().sum(axes: [1, 2, 3])
        if let spatial, spatial.isSplit(resolution) {
            squares = StepPhase.spatialGather.record { squares.allReduceSum(spatial.group) }
        }
        var norms = try squares.sqrt()
        if scale != 1 { norms = norms * scale }
        var penalty = try (norms - config.gpTarget).square().sum() * (config.gpLambda / (config.gpTarget * config.gpTarget) / n)
        if share != 1 { (penalty, norms) = (penalty * share, norms * share) }
        return (penalty, norms)
    }
}

/// The D step's gradients, accumulated into `parameters` in two passes that each free their graph
/// before the next is built: first `D(fake) - D(real) + drift` (D on reals and fakes), then the
/// gradient penalty (D on the mixed images and its recorded gradient). The sum is the gradient of
/// `discriminatorLoss` (the parts share only the weights), at about half its peak memory.
/// Returns the same statistics as `discriminatorLoss`.
///
/// Spatial steps (`spatial`): `reals`, `fakes` are this rank's slabs of its group's samples, and
/// `comm` / `rankCounts` the ranks holding the same slab index (see `Discriminator`); the loss
/// terms from D's replicated output are weighted 1/S and so are the statistics, so that the sum
/// over all ranks is the one-process value.
public func accumulateDiscriminatorGradients(_ D: Discriminator, reals: Var, fakes: Var, mix: [Float],
                                             labels: [Int] = [], resolution: Int, alpha: Float, globalBatch: Int,
                                             comm: Collective, config: LossConfig,
                                             into parameters: [Var], rankCounts: [Int]? = nil,
                                             spatial: SpatialPartition? = nil) throws -> StepStats {
    guard config.kind == .wgangp else {
        let (loss, stats) = try discriminatorLoss(D, reals: reals, fakes: fakes, mix: mix, labels: labels,
                                                  resolution: resolution, alpha: alpha, globalBatch: globalBatch,
                                                  comm: comm, config: config, rankCounts: rankCounts, spatial: spatial)
        try accumulateGradients(of: loss, into: parameters)
        return stats
    }
    let n = Float(globalBatch)
    let counts = try shardCounts(globalBatch: globalBatch, local: reals.shape.first ?? 0, comm: comm, given: rankCounts)
    let share = spatial?.replicatedShare ?? 1
    var stats = StepStats()
    do {
        let (realOut, fakeOut) = try scoreRealsAndFakes(D, reals: reals, fakes: fakes, resolution: resolution,
                                                        alpha: alpha, comm: comm, rankCounts: counts, spatial: spatial)
        let (realScores, realLogits) = try D.splitOutput(realOut)
        let (fakeScores, fakeLogits) = try D.splitOutput(fakeOut)
        let wdist = try (fakeScores.sum() - realScores.sum()) * (1 / n)
        let drift = try realScores.square().sum() * (config.drift / n)
        var part = try wdist + drift
        if let classes = try classifierTerms(realLogits: realLogits, fakeLogits: fakeLogits, labels: labels, n: n,
                                             stats: &stats) {
            part = try part + classes
        }
        if share != 1 { part = part * share }
        stats.realScores = realScores.value.sumAll()
        stats.fakeScores = fakeScores.value.sumAll()
        stats.drift = drift.value.sumAll()
        stats = stats.scaled(by: Double(share))
        stats.lossD = part.value.sumAll()
        try accumulateGradients(of: part, into: parameters)
    }
    let (penalty, norms) = try gradientPenalty(D, reals: reals, fakes: fakes, mix: mix, resolution: resolution,
                                               alpha: alpha, n: n, comm: comm, rankCounts: counts, config: config,
                                               spatial: spatial)
    try accumulateGradients(of: penalty, into: parameters)
    stats.gradientPenalty = penalty.value.sumAll()
    stats.gradientNorms = norms.value.sumAll()
    stats.lossD! += penalty.value.sumAll()
    return stats
}

/// Samples each rank holds of the global minibatch (`given`, or else `BatchShards` over `comm`);
/// throws if this rank's batch is not its share, which would make the ranks' collectives
/// disagree. One process holds its whole batch whatever `globalBatch` says (there it only
/// normalizes the loss).
func shardCounts(globalBatch: Int, local: Int, comm: Collective, given: [Int]? = nil) throws -> [Int] {
    guard globalBatch >= 1 else { throw ConfigError("the global minibatch must be positive, got \(globalBatch)") }
    if comm.size == 1 { return [local] }
    if let given {
        guard given.count == comm.size, given.reduce(0, +) == globalBatch else {
            throw ShapeError("loss", "sample counts \(given) for \(comm.size) ranks do not deal out the global minibatch \(globalBatch)")
        }
    }
    let counts = given ?? BatchShards(total: globalBatch, parts: comm.size).counts
    guard counts[comm.rank] == local else {
        throw ShapeError("loss", "rank \(comm.rank) of \(comm.size) holds \(local) samples; its share of the global minibatch \(globalBatch) is \(counts[comm.rank])")
    }
    return counts
}

/// The G loss for this rank's share: WGAN `-D(G(z))`, or LSGAN `(D(G(z)) - 1)^2 / 2`, scaled by
/// 1 / global minibatch. For a conditional D, `labels` are the classes the fakes were generated
/// with, and the loss adds D's classifier cross-entropy of the fakes against them (weight
/// `auxiliaryClassifierWeight`, also over the global minibatch).
public func generatorLoss(_ D: Discriminator, fakes: Var, labels: [Int] = [], resolution: Int, alpha: Float,
                          globalBatch: Int, comm: Collective, config: LossConfig, rankCounts: [Int]? = nil,
                          spatial: SpatialPartition? = nil) throws -> (loss: Var, stats: StepStats) {
    let n = Float(globalBatch)
    let counts = try shardCounts(globalBatch: globalBatch, local: fakes.shape.first ?? 0, comm: comm, given: rankCounts)
    let (scores, logits) = try D.splitOutput(D(fakes, resolution: resolution, alpha: alpha, comm: comm, rankCounts: counts,
                                               spatial: spatial))
    var loss: Var
    switch config.kind {
    case .wgangp: loss = try -scores.sum() * (1 / n)
    case .lsgan: loss = try (scores - 1).square().sum() * (0.5 / n)
    }
    var stats = StepStats()
    if let logits {
        let ce = try softmaxCrossEntropy(logits, labels: labels).sum() * (auxiliaryClassifierWeight / n)
        stats.classLossG = ce.value.sumAll()
        loss = try loss + ce
    } else if !labels.isEmpty {
        throw ConfigError("generatorLoss: labels given for an unconditional discriminator")
    }
    if let share = spatial?.replicatedShare, share != 1 {
        loss = loss * share
        stats = stats.scaled(by: Double(share))
    }
    stats.lossG = loss.value.sumAll()
    return (loss, stats)
}

/// Weight of the auxiliary classifier's cross-entropy terms in D's and G's losses (the authors' 1).
public let auxiliaryClassifierWeight: Float = 1

/// The auxiliary classifier's part of D's loss: `weight * (sum_i CE(real logits_i, y_i) +
/// sum_i CE(fake logits_i, y_i)) / N` over this rank's samples (N the global minibatch, as every
/// term), or nil for an unconditional D. Records both cross-entropy shares and the correctly
/// classified reals and fakes (sample sums) in `stats`.
func classifierTerms(realLogits: Var?, fakeLogits: Var?, labels: [Int], n: Float,
                     stats: inout StepStats) throws -> Var? {
    guard let realLogits, let fakeLogits else {
        guard labels.isEmpty else { throw ConfigError("discriminatorLoss: labels given for an unconditional discriminator") }
        return nil
    }
    let real = try softmaxCrossEntropy(realLogits, labels: labels).sum() * (auxiliaryClassifierWeight / n)
    let fake = try softmaxCrossEntropy(fakeLogits, labels: labels).sum() * (auxiliaryClassifierWeight / n)
    stats.classLossReal = real.value.sumAll()
    stats.classLossFake = fake.value.sumAll()
    stats.realAccuracy = Double(correctPredictions(realLogits.value, labels: labels))
    stats.fakeAccuracy = Double(correctPredictions(fakeLogits.value, labels: labels))
    return try real + fake
}

/// Softmax cross-entropy of each row of `logits` [n, K] against its label, [n]:
/// `log(sum_k exp(x_k)) - x_label`, as `Var` ops. The row maximum m is subtracted inside the
/// exponential and added back outside as a constant: `log sum exp(x - m) + m` is the same function
/// of x for any m, so holding m constant leaves the gradient exact, and no exp overflows.
/// - Throws: `ShapeError` unless logits are [n, K] with n labels; `ConfigError` for a label
///   outside 0..<K.
public func softmaxCrossEntropy(_ logits: Var, labels: [Int]) throws -> Var {
    guard logits.shape.count == 2, logits.shape[0] == labels.count else {
        throw ShapeError("softmaxCrossEntropy", "logits must be [\(labels.count), K] for \(labels.count) labels, got \(logits.shape)")
    }
    let (n, k) = (logits.shape[0], logits.shape[1])
    var maxima = [Float](repeating: 0, count: n)
    for i in 0..<n { maxima[i] = logits.value.data[i * k ..< (i + 1) * k].max() ?? 0 }
    let m = Var(Tensor(shape: [n, 1], data: maxima))
    let logSumExp = try (logits - m).exp().sum(axes: [1], keepDims: true).log() + m
    let picked = try (logits * Var(oneHot(labels, classes: k))).sum(axes: [1], keepDims: true)
    return try (logSumExp - picked).reshape([n])
}

/// How many rows of `logits` [n, K] have their largest value at the row's label (the first
/// largest, on ties).
public func correctPredictions(_ logits: Tensor, labels: [Int]) -> Int {
    let k = logits.shape[1]
    var correct = 0
    for (i, label) in labels.enumerated() {
        let row = logits.data[i * k ..< (i + 1) * k]
        if let best = row.indices.max(by: { row[$0] < row[$1] || (row[$0] == row[$1] && $0 > $1) }), best - i * k == label {
            correct += 1
        }
    }
    return correct
}
