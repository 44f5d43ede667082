import Autograd
import Foundation
import Metrics
import ProGAN
import TensorKit

/// The paper's sliced Wasserstein distance between real images and EMA-generator samples, at the
/// final resolution (samples of earlier stages are nearest-upsampled, as the sample grids are).
public struct SWDEvaluator {
    /// Images per side (paper: 16384; fewer give a higher noise floor, see `floor`).
    public let count: Int
    public let seed: UInt64
    let reals: ImageBatch
    let resolution: Int

    /// Takes `count` real images at positions drawn from the seeded data order.
    public init(data: RealImageSource, resolution: Int, count: Int, seed: UInt64) throws {
        guard resolution >= ImageBatch.minSize else {
            throw ConfigError("SWD needs a final resolution of at least \(ImageBatch.minSize)x\(ImageBatch.minSize) (it uses Laplacian levels down to 16x16), not \(resolution)x\(resolution)")
        }
        let n = min(count, data.count / 2)
        let order = DataOrder(count: data.count, seed: seed &+ 0x5D)
        reals = try ImageBatch(try data.images((0..<n).map(order.index(at:)), resolution: resolution))
        self.count = n
        self.seed = seed
        self.resolution = resolution
    }

    /// Real-vs-real distance on two disjoint sets: the noise floor of the metric at this count.
    public static func floor(data: RealImageSource, resolution: Int, count: Int, seed: UInt64) throws -> SlicedWassersteinResult {
        let n = min(count, data.count / 2)
        let order = DataOrder(count: data.count, seed: seed &+ 0x5D)
        let a = try ImageBatch(try data.images((0..<n).map(order.index(at:)), resolution: resolution))
        let b = try ImageBatch(try data.images((n..<2 * n).map(order.index(at:)), resolution: resolution))
        return try slicedWassersteinDistance(real: a, fake: b, seed: seed)
    }

    /// SWD between the reals and `count` samples of `generator` at the given stage.
    public func evaluate(_ generator: Generator, latentSize: Int, stageResolution: Int, alpha: Float,
                         batch: Int = 64) throws -> SlicedWassersteinResult {
        let rng = CounterRNG(seed: seed &+ 0xF4CE)
        var pixels: [Float] = []
        pixels.reserveCapacity(count * reals.imageLength)
        var first = 0
        while first < count {
            let n = min(batch, count - first)
            let z = Tensor(shape: [n, latentSize], data: (0..<n * latentSize).map { rng.normal(stream: 1, index: UInt64(first * latentSize + $0)) })
            var x = try GradMode.with(false) { try generator(Var(z), resolution: stageResolution, alpha: alpha).value }
            while x.shape[2] < resolution { x = x.upsampled2x() }
            pixels += x.data.map { max(-1, min(1, $0)) }
            first += n
        }
        let fakes = try ImageBatch(pixels: pixels, count: count, channels: reals.channels, height: resolution, width: resolution)
        return try slicedWassersteinDistance(real: reals, fake: fakes, seed: seed)
    }
}
