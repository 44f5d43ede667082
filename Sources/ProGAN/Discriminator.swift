import Autograd
import TensorKit

/// The progressive discriminator (paper Table 2, right), the mirror of G.
///
/// fromRGB at every resolution: 1x1 conv + LReLU. Block at R > 4: conv3x3 (nf(R)), conv3x3
/// (nf(R/2)), each + LReLU, then 2x2 average pool. Final 4x4 block: minibatch stddev (one extra
/// feature map), conv3x3, dense to nf(0) (LReLU), dense to 1 (gain 1, linear); a conditional D
/// (`config.classes > 0`) has 1 + classes outputs: the score, then an auxiliary classifier's
/// class logits, as in the authors' code.
/// During a fade-in at R the output of block R is blended with fromRGB_{R/2} of the
/// average-pooled image: `lerp(fromRGB_{R/2}(pool(img)), block_R(fromRGB_R(img)), alpha)`.
public final class Discriminator {
    public let config: NetworkConfig
    public let parameters = ParameterSet()
    var fromRGB: [Int: EqualizedConv2d] = [:]
    var convs: [Int: [EqualizedConv2d]] = [:]
    let finalConv: EqualizedConv2d
    let finalDense0: EqualizedDense
    let finalDense1: EqualizedDense

    /// Builds D with weights drawn from `seed`.
    public init(_ config: NetworkConfig, seed: UInt64) {
        self.config = config
        let ini = Initializer(rng: CounterRNG(seed: seed))
        let eq = config.equalizedLR
        let gain = Float(2).squareRoot()
        for r in config.resolutions.reversed() {
            fromRGB[r] = EqualizedConv2d(parameters, "D/fromRGB/\(r)x\(r)", inChannels: config.channels,
                                         outChannels: config.width(at: r), kernel: 1, gain: gain, equalized: eq,
                                         initializer: ini)
            if r > 4 {
                let (c0, c1) = (config.width(at: r), config.width(at: r / 2))
                convs[r] = [
                    EqualizedConv2d(parameters, "D/\(r)x\(r)/conv0", inChannels: c0, outChannels: c0, kernel: 3,
                                    gain: gain, equalized: eq, initializer: ini),
                    EqualizedConv2d(parameters, "D/\(r)x\(r)/conv1", inChannels: c0, outChannels: c1, kernel: 3,
                                    gain: gain, equalized: eq, initializer: ini),
                ]
            }
        }
        let nf4 = config.width(at: 4)
        finalConv = EqualizedConv2d(parameters, "D/4x4/conv", inChannels: nf4 + 1, outChannels: nf4, kernel: 3,
                                    gain: gain, equalized: eq, initializer: ini)
        finalDense0 = EqualizedDense(parameters, "D/4x4/dense0", inFeatures: nf4 * 16, outFeatures: config.nf(0),
                                     gain: gain, equalized: eq, initializer: ini)
        finalDense1 = EqualizedDense(parameters, "D/4x4/dense1", inFeatures: config.nf(0), outFeatures: 1 + config.classes,
                                     gain: 1, equalized: eq, initializer: ini)
    }

    func lrelu(_ x: Var) -> Var { x.leakyReLU(config.leakySlope) }

    /// Scores [N, 1] for images [N, C, R, R]; for a conditional D, [N, 1 + classes]: column 0
    /// the score, the rest the class logits (`splitOutput` separates them).
    ///
    /// - Parameters:
    ///   - alpha: fade-in weight of the newest block (see the type's documentation).
    ///   - comm: the ranks whose samples together form the minibatch seen by minibatch stddev; the
    ///     local batch is this rank's block of the global one, in rank order (of any size, zero
    ///     included: an empty batch gives empty scores, and the rank still joins the collectives).
    ///   - minibatches: `images` holds this many minibatches stacked along axis 0 (equal blocks,
    ///     each this rank's share of its own global minibatch), scored as by separate calls: one
    ///     pass and one collective instead of several.
    ///   - rankCounts: samples each rank holds of one minibatch (see `minibatchStddev`); nil:
    ///     learned with one small all-gather.
    ///   - spatial: this rank's part of a spatially decomposed step: `images` are then this
    ///     rank's rows of its group's images where the resolution is split, and the result is
    ///     computed alike on every rank of the spatial group (see `SpatialPartition`); `comm` and
    ///     `rankCounts` are then the ranks holding the same slab index of every group's images.
    public func callAsFunction(_ images: Var, resolution: Int, alpha: Float = 1,
                               comm: Collective = LocalCollective(), minibatches: Int = 1,
                               rankCounts: [Int]? = nil, spatial: SpatialPartition? = nil) throws -> Var {
        guard config.resolutions.contains(resolution) else {
            throw ConfigError("discriminator: resolution \(resolution) is not one of \(config.resolutions)")
        }
        let rows = spatial?.rows(at: resolution).count ?? resolution
        guard images.shape == [images.shape.first ?? 0, config.channels, rows, resolution] else {
            throw ShapeError("discriminator", "images must be [N, \(config.channels), \(rows), \(resolution)], got \(images.shape)")
        }
        let slope = config.leakySlope
        // Conv, bias and LReLU fused: one value held a layer (dense layers stay composed).
        var x = try replicated(spatial?.isSplit(resolution) == false ? spatial : nil) {
            try fromRGB[resolution]!(images, leakyReLUSlope: slope)
        }
        var r = resolution
        while r > 4 {
            let split = spatial?.isSplit(r) ?? false
            x = try replicated(split ? nil : spatial) {
                var y = x
                for conv in convs[r]! { y = try conv(y, leakyReLUSlope: slope, spatial: spatial, level: r) }
                // Pooled after the second conv's LReLU, as the authors' Theano code (the paper's
                // numbers) does; their TF code pools before the activation by default. LReLU and a 2x2
                // mean do not commute, so this choice changes D slightly; we follow the paper's code.
                // A slab's edges fall on even rows, so it pools to the slab of half the rows.
                y = try y.avgPool2x()
                if let spatial { y = try spatial.whole(y, level: r / 2) }
                return y
            }
            if r == resolution && alpha < 1 {
                // The pooled image (3 channels) is what a whole lower level gathers, not its features.
                var pooled = try images.avgPool2x()
                if let spatial { pooled = try spatial.whole(pooled, level: r / 2) }
                let old = try replicated(spatial?.isSplit(r / 2) == false ? spatial : nil) {
                    try fromRGB[r / 2]!(pooled, leakyReLUSlope: slope)
                }
                x = try Var.lerp(old, x, alpha)
            }
            r /= 2
        }
        return try replicated(spatial) {
            x = try minibatchStddev(x, groupSize: config.mbstdGroupSize, comm: comm, minibatches: minibatches,
                                    rankCounts: rankCounts)
            x = try finalConv(x, leakyReLUSlope: slope)
            x = lrelu(try finalDense0(x.reshape([x.shape[0], x.shape[1] * 16])))
            return try finalDense1(x)
        }
    }

    /// D's output [N, 1 + classes] as the scores [N, 1] and the class logits [N, classes] (nil
    /// for an unconditional D).
    public func splitOutput(_ output: Var) throws -> (scores: Var, logits: Var?) {
        guard config.isConditional else { return (output, nil) }
        return (try output.narrow(axis: 1, start: 0, length: 1), try output.narrow(axis: 1, start: 1, length: config.classes))
    }
}
