/// Where training stands: the resolution being trained, the fade-in weight of its newest layers,
/// and the hyperparameters of that resolution.
public struct SchedulePoint: Equatable, Sendable {
    /// Current resolution (the one being faded in, during a fade).
    public var resolution: Int
    /// Fade-in weight of the newest layers: rises linearly 0 -> 1 during a fade, 1 when stable.
    public var alpha: Float
    /// Global minibatch size.
    public var minibatch: Int
    /// Adam learning rate.
    public var learningRate: Float
    /// "fade" or "stable".
    public var phase: String
}

/// The progressive growing schedule, in images shown to D (the authors' `TrainingSchedule`).
///
/// Training starts at `initialResolution`, stable for `stabilizeKimg`; each doubling then fades in
/// over `fadeKimg` and is stable for `stabilizeKimg`, until `finalResolution`, which trains on until
/// `totalKimg`. The minibatch and learning rate are looked up per resolution.
public struct GrowthSchedule: Codable, Equatable, Sendable {
    public var initialResolution: Int = 4
    public var finalResolution: Int
    /// Thousands of images per stabilization phase.
    public var stabilizeKimg: Double
    /// Thousands of images per fade-in phase.
    public var fadeKimg: Double
    /// Thousands of images to train in all.
    public var totalKimg: Double
    /// Global minibatch per resolution; resolutions not listed use `defaultMinibatch`.
    public var minibatch: [Int: Int] = [:]
    public var defaultMinibatch: Int = 16
    /// Learning rate per resolution; resolutions not listed use `defaultLearningRate`.
    public var learningRate: [Int: Float] = [:]
    public var defaultLearningRate: Float = 0.001

    public init(finalResolution: Int, stabilizeKimg: Double, fadeKimg: Double, totalKimg: Double,
                minibatch: [Int: Int] = [:], defaultMinibatch: Int = 16) {
        self.finalResolution = finalResolution
        self.stabilizeKimg = stabilizeKimg
        self.fadeKimg = fadeKimg
        self.totalKimg = totalKimg
        self.minibatch = minibatch
        self.defaultMinibatch = defaultMinibatch
    }

    /// Minibatch at a resolution.
    public func minibatch(at resolution: Int) -> Int { minibatch[resolution] ?? defaultMinibatch }
    /// Learning rate at a resolution.
    public func learningRate(at resolution: Int) -> Float { learningRate[resolution] ?? defaultLearningRate }

    /// Resolutions the schedule visits.
    public var resolutions: [Int] { (log2(initialResolution)...log2(finalResolution)).map { 1 << $0 } }

    /// Thousands of images after which the final resolution is fully faded in.
    public var growthKimg: Double {
        Double(log2(finalResolution) - log2(initialResolution)) * (stabilizeKimg + fadeKimg)
    }

    /// The schedule point after `imagesShown` images.
    public func point(imagesShown: Int) -> SchedulePoint {
        let kimg = Double(imagesShown) / 1000
        let phaseLength = stabilizeKimg + fadeKimg
        let steps = log2(finalResolution) - log2(initialResolution)
        let phase = phaseLength > 0 ? Int((kimg / phaseLength).rounded(.down)) : steps
        var resolution: Int
        var alpha: Float = 1
        if phase >= steps {
            resolution = finalResolution
        } else {
            let inPhase = kimg - Double(phase) * phaseLength
            resolution = initialResolution << phase
            if inPhase > stabilizeKimg && fadeKimg > 0 {
                resolution *= 2
                alpha = Float(min(1, (inPhase - stabilizeKimg) / fadeKimg))
            }
        }
        return SchedulePoint(resolution: resolution, alpha: alpha, minibatch: minibatch(at: resolution),
                             learningRate: learningRate(at: resolution), phase: alpha < 1 ? "fade" : "stable")
    }

    /// Checks the schedule; throws one line naming the numbers and the fix. Any number of ranks
    /// can train it: each step's minibatch is dealt out over them as evenly as possible
    /// (`BatchShards`), ranks beyond the minibatch holding no samples.
    public func validate() throws {
        guard initialResolution >= 4, initialResolution <= finalResolution,
              initialResolution & (initialResolution - 1) == 0 else {
            throw ConfigError("initial resolution \(initialResolution) must be a power of two between 4 and the final resolution \(finalResolution)")
        }
        guard stabilizeKimg >= 0, fadeKimg >= 0, totalKimg > 0 else {
            throw ConfigError("phase lengths must be >= 0 and total kimg > 0 (stabilize \(stabilizeKimg), fade \(fadeKimg), total \(totalKimg))")
        }
        for r in resolutions {
            let b = minibatch(at: r)
            guard b >= 1 else { throw ConfigError("minibatch at \(r)x\(r) must be positive, got \(b)") }
        }
    }
}

extension GrowthSchedule {
    /// The paper's schedule (section A.1): 800k images per fade and per stabilization; minibatch
    /// 16 up to 128x128, then 14, 6, 3; learning rate 0.001.
    public static func paper(finalResolution: Int) -> GrowthSchedule {
        var s = GrowthSchedule(finalResolution: finalResolution, stabilizeKimg: 800, fadeKimg: 800, totalKimg: 0,
                               minibatch: [256: 14, 512: 6, 1024: 3], defaultMinibatch: 16)
        s.totalKimg = s.growthKimg + 800
        return s
    }
}

extension GrowthSchedule {
    /// The integer bounds of the authors' level of detail at a resolution and fade weight. The
    /// level of detail counts halvings below the final resolution and is fractional during a fade
    /// (`log2(F / R) + 1 - alpha`), so a fade has bounds (lod, lod + 1) and a stable phase (lod, lod).
    public func levelOfDetailBounds(resolution: Int, alpha: Float) -> (floor: Int, ceil: Int) {
        let lod = log2(finalResolution) - log2(resolution)
        return alpha < 1 ? (lod, lod + 1) : (lod, lod)
    }

    /// Whether Adam's moments are reset before the step at `point`, following the last step at
    /// (`previousResolution`, `previousAlpha`): the authors' code resets whenever the floor or the
    /// ceiling of the level of detail changes, which is at the start of every fade and again at
    /// the start of every stable phase. A `previousResolution` of 0 means there was no step (a fresh
    /// run, whose moments are zero anyway; a resume restores the previous step's values, so it
    /// resets exactly where the uninterrupted run would).
    public func resetsOptimizer(previousResolution: Int, previousAlpha: Float, next point: SchedulePoint) -> Bool {
        guard previousResolution != 0 else { return false }
        let before = levelOfDetailBounds(resolution: previousResolution, alpha: previousAlpha)
        let after = levelOfDetailBounds(resolution: point.resolution, alpha: point.alpha)
        return before.floor != after.floor || before.ceil != after.ceil
    }
}
