/// Architecture of G and D (paper section 4.1 and Table 2; the authors' `networks.py`).
///
/// Widths follow `nf(stage) = min(fmapBase / 2^stage, fmapMax)` with `stage = log2(res) - 1`:
/// 512 channels for 4..32 px, 256 at 64, 128 at 128, 64 at 256, 32 at 512, 16 at 1024 with the
/// defaults. Every deviation from the paper is an option here, saved in each checkpoint.
public struct NetworkConfig: Codable, Equatable, Sendable {
    /// Final (largest) resolution, a power of two in 4...1024.
    public var resolution: Int = 1024
    /// Image channels: 1 (grayscale) or 3 (RGB).
    public var channels: Int = 3
    /// Latent vector length.
    public var latentSize: Int = 512
    /// Width numerator of `nf`.
    public var fmapBase: Int = 8192
    /// Width cap of `nf`.
    public var fmapMax: Int = 512
    /// Pixel-normalize the latent vector before the first layer.
    public var normalizeLatents: Bool = true
    /// Pixelwise feature normalization after every conv layer of G.
    public var pixelNorm: Bool = true
    /// Equalized learning rate: weights N(0,1) scaled at run time by gain / sqrt(fan_in).
    public var equalizedLR: Bool = true
    /// Minibatch-stddev group size; 0 means the whole global minibatch (the default, across ranks).
    public var mbstdGroupSize: Int = 0
    /// Negative slope of the leaky ReLUs.
    public var leakySlope: Float = 0.2
    /// Classes of a conditional network, 0 for an unconditional one. G then takes the one-hot
    /// label concatenated to the latent, and D outputs 1 + classes columns: its score, then the
    /// class logits of an auxiliary classifier (as the authors' code conditions on labels).
    public var classes: Int = 0

    public init() {}

    enum CodingKeys: String, CodingKey {
        case resolution, channels, latentSize, fmapBase, fmapMax, normalizeLatents, pixelNorm, equalizedLR
        case mbstdGroupSize, leakySlope, classes
    }

    /// Decodes configurations written before `classes` existed as unconditional (what they
    /// trained), so their checkpoints still load.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        resolution = try c.decode(Int.self, forKey: .resolution)
        channels = try c.decode(Int.self, forKey: .channels)
        latentSize = try c.decode(Int.self, forKey: .latentSize)
        fmapBase = try c.decode(Int.self, forKey: .fmapBase)
        fmapMax = try c.decode(Int.self, forKey: .fmapMax)
        normalizeLatents = try c.decode(Bool.self, forKey: .normalizeLatents)
        pixelNorm = try c.decode(Bool.self, forKey: .pixelNorm)
        equalizedLR = try c.decode(Bool.self, forKey: .equalizedLR)
        mbstdGroupSize = try c.decode(Int.self, forKey: .mbstdGroupSize)
        leakySlope = try c.decode(Float.self, forKey: .leakySlope)
        classes = try c.decodeIfPresent(Int.self, forKey: .classes) ?? 0
    }

    /// Whether G and D are conditioned on class labels.
    public var isConditional: Bool { classes > 0 }

    /// Feature maps at a stage (`stage = log2(resolution) - 1`).
    public func nf(_ stage: Int) -> Int { min(fmapBase >> stage, fmapMax) }

    /// Feature maps of G's block (and D's first conv) at a resolution.
    public func width(at resolution: Int) -> Int { nf(log2(resolution) - 1) }

    /// Multiply-adds of one image's forward pass through G's and D's 3x3 convolutions at level
    /// `resolution` (4x4: one conv each, and the dense layers): the work that spatial
    /// parallelism splits or replicates there (`SpatialLayout`'s level costs). Backward and the
    /// penalty scale every level alike, so forward is enough to compare levels.
    public func levelCost(at resolution: Int) -> Double {
        let r = Double(resolution), c = Double(width(at: resolution))
        if resolution == 4 { return 2 * r * r * 9 * c * c + 2 * 16 * c * c }
        let below = Double(width(at: resolution / 2))
        return 2 * r * r * 9 * (c * c + c * below)
    }

    /// The resolutions from 4 to `resolution`.
    public var resolutions: [Int] { (2...log2(resolution)).map { 1 << $0 } }

    /// Checks the configuration, throwing a message that names the field and the fix.
    public func validate() throws {
        guard resolution >= 4, resolution <= 1024, resolution & (resolution - 1) == 0 else {
            throw ConfigError("resolution \(resolution) is not a power of two between 4 and 1024")
        }
        guard channels == 1 || channels == 3 else {
            throw ConfigError("channels must be 1 or 3, got \(channels)")
        }
        guard latentSize > 0, fmapBase > 0, fmapMax > 0 else {
            throw ConfigError("latent size and widths must be positive (latent \(latentSize), fmap base \(fmapBase), fmap max \(fmapMax))")
        }
        guard nf(log2(resolution) - 1) >= 1 else {
            throw ConfigError("fmap base \(fmapBase) leaves no feature maps at \(resolution)x\(resolution); raise it")
        }
        guard classes == 0 || classes >= 2 else {
            throw ConfigError("a conditional network needs at least 2 classes, got \(classes)")
        }
        guard mbstdGroupSize >= 0 else { throw ConfigError("minibatch-stddev group size must be >= 0 (0 = whole minibatch)") }
    }
}

/// A configuration value that cannot work, with a message saying what and how to fix it.
public struct ConfigError: Error, CustomStringConvertible {
    public let description: String
    public init(_ message: String) { description = message }
}

/// log2 of a positive power of two.
@inlinable
public func log2(_ n: Int) -> Int { Int.bitWidth - 1 - n.leadingZeroBitCount }
