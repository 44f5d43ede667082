import Autograd
import TensorKit

/// The progressive generator (paper Table 2, left).
///
/// 4x4 block: pixel-normalized latent -> dense to `nf*16` (gain sqrt(2)/4) -> reshape [N,nf,4,4]
/// -> bias, LReLU, pixelnorm -> conv3x3, LReLU, pixelnorm. Each later block: nearest 2x up,
/// two conv3x3 each with LReLU and pixelnorm. toRGB at every resolution: 1x1 conv, gain 1, linear.
/// All blocks up to the final resolution exist from the start; a forward pass at resolution R
/// runs the blocks up to R, and during a fade-in blends the upsampled previous output.
/// A conditional G (`config.classes > 0`) takes the one-hot label concatenated to the latent;
/// the pixel norm of the latent and the dense layer's fan-in both cover the concatenation, as in
/// the authors' code.
public final class Generator {
    public let config: NetworkConfig
    public let parameters = ParameterSet()
    let dense: EqualizedDense
    let denseBias: Var
    var convs: [Int: [EqualizedConv2d]] = [:]
    var toRGB: [Int: EqualizedConv2d] = [:]

    /// Builds G with weights drawn from `seed` (identical on every rank for the same seed).
    public init(_ config: NetworkConfig, seed: UInt64) {
        self.config = config
        let ini = Initializer(rng: CounterRNG(seed: seed))
        let eq = config.equalizedLR
        let nf4 = config.width(at: 4)
        dense = EqualizedDense(parameters, "G/4x4/dense", inFeatures: config.latentSize + config.classes, outFeatures: nf4 * 16,
                               gain: Float(2).squareRoot() / 4, equalized: eq, hasBias: false, initializer: ini)
        denseBias = parameters.add("G/4x4/dense/bias", Tensor.zeros([nf4]))
        let gain = Float(2).squareRoot()
        convs[4] = [EqualizedConv2d(parameters, "G/4x4/conv", inChannels: nf4, outChannels: nf4, kernel: 3,
                                    gain: gain, equalized: eq, initializer: ini)]
        toRGB[4] = EqualizedConv2d(parameters, "G/toRGB/4x4", inChannels: nf4, outChannels: config.channels,
                                   kernel: 1, gain: 1, equalized: eq, initializer: ini)
        for r in config.resolutions.dropFirst() {
            let (cin, cout) = (config.width(at: r / 2), config.width(at: r))
            convs[r] = [
                EqualizedConv2d(parameters, "G/\(r)x\(r)/conv0", inChannels: cin, outChannels: cout, kernel: 3,
                                gain: gain, equalized: eq, initializer: ini),
                EqualizedConv2d(parameters, "G/\(r)x\(r)/conv1", inChannels: cout, outChannels: cout, kernel: 3,
                                gain: gain, equalized: eq, initializer: ini),
            ]
            toRGB[r] = EqualizedConv2d(parameters, "G/toRGB/\(r)x\(r)", inChannels: cout, outChannels: config.channels,
                                       kernel: 1, gain: 1, equalized: eq, initializer: ini)
        }
    }

    /// LReLU then (if configured) pixelnorm, for the 4x4 block's dense features.
    func activate(_ x: Var) throws -> Var {
        let y = x.leakyReLU(config.leakySlope)
        return config.pixelNorm ? try pixelNorm(y) : y
    }

    /// `conv`, bias and LReLU fused into one node, then (if configured) pixelnorm: the graph
    /// holds two values a layer instead of five. At a split level of a spatial step the
    /// convolution takes its halo rows from the neighbouring slabs; the rest is per pixel.
    func activate(_ conv: EqualizedConv2d, _ x: Var, spatial: SpatialPartition? = nil, level r: Int = 0) throws -> Var {
        let y = try conv(x, leakyReLUSlope: config.leakySlope, spatial: spatial, level: r)
        return config.pixelNorm ? try pixelNorm(y) : y
    }

    /// Features after the block at `resolution`, [N, nf, R, R] (with `spatial`, this rank's rows
    /// of them where the level is split; the levels below are computed whole, alike on the
    /// group's ranks, and cut to the slab where the first split level begins).
    func features(_ z: Var, upTo resolution: Int, keep: Int? = nil, spatial: SpatialPartition? = nil) throws -> (Var, Var?) {
        var (x, kept) = try replicated(spatial) { () throws -> (Var, Var?) in
            // Pixel norm over axis 1 of [N, L] is the per-sample normalization of the (latent, label) vector.
            var x = config.normalizeLatents ? try pixelNorm(z) : z
            let nf4 = config.width(at: 4)
            x = try dense(x).reshape([z.shape[0], nf4, 4, 4])
            x = try activate(x + denseBias.reshape([1, nf4, 1, 1]))
            x = try activate(convs[4]![0], x)
            return (x, keep == 4 ? x : nil)
        }
        var r = 8
        while r <= resolution {
            let split = spatial?.isSplit(r) ?? false
            (x, kept) = try replicated(split ? nil : spatial) { () throws -> (Var, Var?) in
                // Nearest upsampling maps a slab of rows to the slab of twice the rows: no halo.
                var y = try x.upsample2x()
                if let spatial { y = try spatial.slab(y, level: r) }
                for conv in convs[r]! { y = try activate(conv, y, spatial: spatial, level: r) }
                return (y, keep == r ? y : kept)
            }
            r *= 2
        }
        return (x, kept)
    }

    /// Images [N, C, R, R] for latents `z` [N, latentSize] at resolution `resolution`.
    ///
    /// - Parameter labels: a conditional G's class of each sample (N values in 0..<classes);
    ///   must be empty for an unconditional one.
    /// - Parameter alpha: fade-in weight of the newest block, in [0, 1]; at 1 (or at 4x4) only the
    ///   newest toRGB is used, below 1 its output is blended with the nearest-upsampled toRGB of the
    ///   previous resolution: `lerp(up(toRGB_{R/2}(h_{R/2})), toRGB_R(h_R), alpha)`.
    /// - Parameter spatial: this rank's part of a spatially decomposed step: the result is then
    ///   this rank's rows of the images where the resolution is split (see `SpatialPartition`);
    ///   every rank of the spatial group passes the same latents and labels.
    public func callAsFunction(_ z: Var, labels: [Int] = [], resolution: Int, alpha: Float = 1,
                               spatial: SpatialPartition? = nil) throws -> Var {
        guard config.resolutions.contains(resolution) else {
            throw ConfigError("generator: resolution \(resolution) is not one of \(config.resolutions)")
        }
        guard z.shape.count == 2, z.shape[1] == config.latentSize else {
            throw ShapeError("generator", "latents must be [N, \(config.latentSize)], got \(z.shape)")
        }
        var z = z
        if config.isConditional {
            guard labels.count == z.shape[0] else {
                throw ConfigError("generator: a conditional generator (\(config.classes) classes) needs one label per latent, got \(labels.count) for \(z.shape[0])")
            }
            z = try Var.concat([z, Var(try oneHot(labels, classes: config.classes))], axis: 1)
        } else if !labels.isEmpty {
            throw ConfigError("generator: labels given to an unconditional generator")
        }
        if resolution == 4 || alpha >= 1 {
            let (h, _) = try features(z, upTo: resolution, spatial: spatial)
            return try toRGB[resolution]!(h)
        }
        let (h, prev) = try features(z, upTo: resolution, keep: resolution / 2, spatial: spatial)
        var old = try toRGB[resolution / 2]!(prev!).upsample2x()
        if let spatial { old = try spatial.slab(old, level: resolution) }
        return try Var.lerp(old, toRGB[resolution]!(h), alpha)
    }
}

/// One-hot rows [N, classes] for class indices.
/// - Throws: `ConfigError` for a label outside 0..<classes.
public func oneHot(_ labels: [Int], classes: Int) throws -> Tensor {
    var data = [Float](repeating: 0, count: labels.count * classes)
    for (i, label) in labels.enumerated() {
        guard (0..<classes).contains(label) else {
            throw ConfigError("label \(label) is outside the \(classes) classes 0..<\(classes)")
        }
        data[i * classes + label] = 1
    }
    return Tensor(shape: [labels.count, classes], data: data)
}
