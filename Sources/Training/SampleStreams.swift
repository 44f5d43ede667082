import TensorKit

/// Every random draw of training as a pure function of (seed, step, global sample index)
/// (docs/ARCHITECTURE.md, "N ranks train like one process"): a rank computes exactly its own samples' draws, and a resumed run
/// continues as if never stopped, whatever the number of ranks.
public struct SampleStreams: Sendable {
    public let rng: CounterRNG
    public let latentSize: Int

    enum Stream: UInt64 {
        case dLatent = 1, gLatent = 2, gpMix = 3, shuffle = 4, mirror = 5, gridLatent = 6
        // 7 is LatentSampling's.
        case gLabel = 8, swdLabel = 9
    }

    public init(seed: UInt64, latentSize: Int) {
        rng = CounterRNG(seed: seed)
        self.latentSize = latentSize
    }

    @inline(__always)
    func key(step: Int, sample: Int) -> UInt64 { UInt64(step) << 24 | UInt64(sample) }

    /// Latents [count, latentSize] for global samples `first..<first+count` of a step.
    public func latents(forDiscriminator: Bool, step: Int, first: Int, count: Int) -> Tensor {
        let s = (forDiscriminator ? Stream.dLatent : Stream.gLatent).rawValue
        var data = [Float](repeating: 0, count: count * latentSize)
        for i in 0..<count {
            let base = key(step: step, sample: first + i) &* UInt64(latentSize)
            for j in 0..<latentSize { data[i * latentSize + j] = rng.normal(stream: s, index: base &+ UInt64(j)) }
        }
        return Tensor(shape: [count, latentSize], data: data)
    }

    /// Gradient-penalty mixing factors in [0, 1) for global samples `first..<first+count`.
    public func mixingFactors(step: Int, first: Int, count: Int) -> [Float] {
        (0..<count).map { rng.uniform(stream: Stream.gpMix.rawValue, index: key(step: step, sample: first + $0)) }
    }

    /// The labels a conditional G step generates global samples `first..<first+count` with:
    /// each the label of a dataset image drawn by (step, sample), so the labels follow the
    /// dataset's distribution and are the same whatever the rank count.
    public func generatorLabels(_ data: RealImageSource, step: Int, first: Int, count: Int) throws -> [Int] {
        try data.drawnLabels(rng: rng, stream: Stream.gLabel.rawValue, keys: (0..<count).map { key(step: step, sample: first + $0) })
    }

    /// Whether to mirror the image at a global image position (mirror augmentation).
    public func mirrored(position: Int) -> Bool {
        rng.bits(stream: Stream.mirror.rawValue, index: UInt64(position)) & 1 == 1
    }

    /// Fixed latents for sample grids (the same every tick and after resume).
    public func gridLatents(count: Int) -> Tensor {
        var data = [Float](repeating: 0, count: count * latentSize)
        for i in 0..<data.count { data[i] = rng.normal(stream: Stream.gridLatent.rawValue, index: UInt64(i)) }
        return Tensor(shape: [count, latentSize], data: data)
    }
}

/// The data order: a fresh permutation of the dataset each epoch, drawn from the counter RNG, so
/// the image at global position `k` (images shown so far plus sample index) is a pure function of k.
public final class DataOrder {
    public let count: Int
    let rng: CounterRNG
    private var epoch = -1
    private var permutation: [Int] = []

    public init(count: Int, seed: UInt64) {
        require(count > 0, "DataOrder: empty dataset")
        self.count = count
        rng = CounterRNG(seed: seed)
    }

    /// Dataset index of the image at global position `position`.
    public func index(at position: Int) -> Int {
        let e = position / count
        if e != epoch {
            epoch = e
            permutation = Array(0..<count)
            let stream = SampleStreams.Stream.shuffle.rawValue &+ UInt64(e) << 8
            for i in stride(from: count - 1, to: 0, by: -1) {
                permutation.swapAt(i, rng.below(i + 1, stream: stream, index: UInt64(i)))
            }
        }
        return permutation[position % count]
    }
}
