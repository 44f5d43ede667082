/// The scalar statistics of one step's losses on this rank, named as metrics.jsonl names them
/// (the coding keys). A field is nil where the loss has no such term (LSGAN: no penalty).
///
/// Two kinds of field, summed over ranks alike but averaged differently over a tick:
/// - loss shares (`lossD`, `lossG`, `gradientPenalty`, `drift`, the `classLoss` terms): this
///   rank's part of a mean over the global minibatch, so the all-reduced sum is that step's mean;
/// - sample sums (`realScores`, `fakeScores`, `gradientNorms`, the accuracies as counts of
///   correct samples): sums over this rank's samples, so the all-reduced sum divided by the
///   images is the mean.
public struct StepStats: Codable, Equatable, Sendable {
    /// D's loss (WGAN-GP: D(fake) - D(real) + penalty + drift; conditional: + both class terms).
    public var lossD: Double?
    /// G's loss (conditional: including `classLossG`).
    public var lossG: Double?
    /// The WGAN-GP gradient penalty term.
    public var gradientPenalty: Double?
    /// The drift term epsilon * D(real)^2.
    public var drift: Double?
    /// D's scores of the reals.
    public var realScores: Double?
    /// D's scores of the fakes.
    public var fakeScores: Double?
    /// Norms of D's input gradient at the penalty's mixed samples.
    public var gradientNorms: Double?
    /// Conditional D step: the classifier's cross-entropy of the reals against their labels.
    public var classLossReal: Double?
    /// Conditional D step: the cross-entropy of the fakes against the labels they were made with.
    public var classLossFake: Double?
    /// Conditional G step: the cross-entropy of G's fakes against their labels (part of `lossG`).
    public var classLossG: Double?
    /// Conditional D step: reals whose largest logit is their label.
    public var realAccuracy: Double?
    /// Conditional D step: fakes whose largest logit is the label they were generated with.
    public var fakeAccuracy: Double?

    /// Every field multiplied by `factor`: a spatial step's ranks compute the statistics of
    /// their group's samples alike, and each reports 1/S of them so that the sum over ranks
    /// counts every sample once.
    public func scaled(by factor: Double) -> StepStats {
        guard factor != 1 else { return self }
        var out = self
        for key in CodingKeys.allCases { out[keyPath: key.field] = self[keyPath: key.field].map { $0 * factor } }
        return out
    }

    /// No statistics (fields are set one by one).
    public init() {}

    public enum CodingKeys: String, CodingKey, CaseIterable, Sendable {
        case lossD = "loss/D", lossG = "loss/G", gradientPenalty = "loss/gp", drift = "loss/drift"
        case realScores = "D/real", fakeScores = "D/fake", gradientNorms = "grad_norm"
        case classLossReal = "loss/class_real", classLossFake = "loss/class_fake", classLossG = "loss/class_G"
        case realAccuracy = "D/acc_real", fakeAccuracy = "D/acc_fake"

        /// The field this key names.
        public var field: WritableKeyPath<StepStats, Double?> {
            switch self {
            case .lossD: return \.lossD
            case .lossG: return \.lossG
            case .gradientPenalty: return \.gradientPenalty
            case .drift: return \.drift
            case .realScores: return \.realScores
            case .fakeScores: return \.fakeScores
            case .gradientNorms: return \.gradientNorms
            case .classLossReal: return \.classLossReal
            case .classLossFake: return \.classLossFake
            case .classLossG: return \.classLossG
            case .realAccuracy: return \.realAccuracy
            case .fakeAccuracy: return \.fakeAccuracy
            }
        }

        /// Whether the field is a share of a global-minibatch mean (else a sum over samples).
        public var isMeanShare: Bool {
            switch self {
            case .lossD, .lossG, .gradientPenalty, .drift, .classLossReal, .classLossFake, .classLossG: return true
            case .realScores, .fakeScores, .gradientNorms, .realAccuracy, .fakeAccuracy: return false
            }
        }
    }

    /// The value under `key`.
    public subscript(key: CodingKeys) -> Double? {
        get { self[keyPath: key.field] }
        set { self[keyPath: key.field] = newValue }
    }

    /// The fields set here, in key order.
    public var presentKeys: [CodingKeys] { CodingKeys.allCases.filter { self[$0] != nil } }

    /// These statistics with `other`'s fields filled in where these have none (the D step's
    /// and the G step's statistics make one step's).
    public func merging(_ other: StepStats) -> StepStats {
        var merged = self
        for key in CodingKeys.allCases where merged[key] == nil { merged[key] = other[key] }
        return merged
    }
}
