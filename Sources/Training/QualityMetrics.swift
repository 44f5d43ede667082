import Autograd
import Foundation
import Metrics
import ProGAN
import TensorKit

/// The paper's sliced Wasserstein distance between real images and EMA-generator samples, at the
/// final resolution (samples of earlier stages are nearest-upsampled, as the sample grids are).
///
/// Shared across the ranks of `group`: each rank loads (reals) or generates (fakes) a contiguous
/// block of the images and cuts their patch descriptors, the descriptors are all-gathered, and the
/// 4 levels x 4 repeats of projections and sorts are dealt out round-robin and summed. Patch
/// corners, latents and projections are functions of the global image index and the seed, so the
/// result equals the one-process result for any number of ranks. Every rank must call the same
/// methods in the same order; every rank returns the result.
///
/// Memory: every rank holds both full descriptor sets (`N * 128 * 49 * C * 4` bytes a level each).
public struct SWDEvaluator {
    /// Images per side (paper: 16384; fewer give a higher noise floor, see `floor`).
    public let count: Int
    public let seed: UInt64
    let group: ProcessGroup
    let reals: SWDDescriptorSet
    let resolution: Int
    let channels: Int

    /// Takes `count` real images at positions drawn from the seeded data order (at most half the
    /// dataset, so that `floor` can use two disjoint sets; more throws `InputError`).
    public init(data: RealImageSource, resolution: Int, count: Int, seed: UInt64,
                group: ProcessGroup = SingleProcess()) throws {
        guard resolution >= ImageBatch.minSize else {
            throw InputError("SWD needs a final resolution of at least \(ImageBatch.minSize)x\(ImageBatch.minSize) (it uses Laplacian levels down to 16x16), not \(resolution)x\(resolution)")
        }
        // Silently using fewer images would report a noisier figure than the one asked for.
        guard count >= 1, count <= data.count / 2 else {
            throw InputError("SWD with \(count) images per side needs a dataset of at least \(max(2, 2 * count)) images "
                              + "(two disjoint sets of real images, for the noise floor); this one has \(data.count): "
                              + "ask for at most \(data.count / 2)")
        }
        self.count = count
        self.seed = seed
        self.group = group
        self.resolution = resolution
        channels = data.channels
        reals = try Self.realSet(data: data, positions: 0..<self.count, resolution: resolution, seed: seed, group: group)
    }

    /// Real-vs-real distance on two disjoint sets: the noise floor of the metric at this count.
    public static func floor(data: RealImageSource, resolution: Int, count: Int, seed: UInt64,
                             group: ProcessGroup = SingleProcess()) throws -> SlicedWassersteinResult {
        let e = try SWDEvaluator(data: data, resolution: resolution, count: count, seed: seed, group: group)
        let other = try realSet(data: data, positions: e.count..<2 * e.count, resolution: resolution, seed: seed, group: group)
        return try e.distance(to: other)
    }

    /// SWD between the reals and `count` samples of `generator` at the given stage. A conditional
    /// generator needs `labelsFrom`: sample i takes the label of a dataset image drawn by i (the
    /// dataset's label distribution, the same split over any number of ranks).
    public func evaluate(_ generator: Generator, latentSize: Int, stageResolution: Int, alpha: Float,
                         labelsFrom labelled: RealImageSource? = nil, batch: Int = 64) throws -> SlicedWassersteinResult {
        let rng = CounterRNG(seed: seed &+ 0xF4CE)
        // Ranks take whole batches of the global numbering: a batch is then computed alike however
        // many ranks share the work (sgemm rounding may depend on the batch's size).
        let batches = (count + batch - 1) / batch
        let blocks = (0..<group.size).map { r in
            min(count, batches * r / group.size * batch) ..< min(count, batches * (r + 1) / group.size * batch)
        }
        let mine = blocks[group.rank]
        var local = try SWDDescriptorSet(resolution: resolution, channels: channels, seed: seed)
        var first = mine.lowerBound
        while first < mine.upperBound {
            let n = min(batch, mine.upperBound - first)
            // Latent of image i is a function of i alone: the split across ranks does not matter.
            let z = Tensor(shape: [n, latentSize], data: (0..<n * latentSize).map { rng.normal(stream: 1, index: UInt64(first * latentSize + $0)) })
            let labels = try labelled.map {
                try $0.drawnLabels(rng: rng, stream: SampleStreams.Stream.swdLabel.rawValue, keys: (0..<n).map { UInt64(first + $0) })
            } ?? []
            var x = try GradMode.with(false) { try generator(Var(z), labels: labels, resolution: stageResolution, alpha: alpha).value }
            while x.shape[2] < resolution { x = x.upsampled2x() }
            let images = try ImageBatch(pixels: x.data.map { max(-1, min(1, $0)) }, count: n, channels: channels,
                                        height: resolution, width: resolution)
            try local.append(images: images, firstIndex: first)
            first += n
        }
        return try distance(to: try Self.gathered(local, blocks: blocks, group: group))
    }

    /// The distance from the reals to a full set, with the (level, repeat) terms dealt out over ranks.
    func distance(to fakes: SWDDescriptorSet) throws -> SlicedWassersteinResult {
        let rank = group.rank, size = group.size
        let local = try slicedWassersteinTerms(real: reals, fake: fakes, seed: seed) { level, r in
            (level * SlicedWasserstein.repeats + r) % size == rank
        }
        return SlicedWassersteinResult(resolutions: reals.resolutions, terms: try group.allReduceSum(local))
    }

    /// Rank `rank`'s contiguous block of `0..<count`.
    static func blocks(count: Int, rank: Int, size: Int) -> Range<Int> {
        count * rank / size ..< count * (rank + 1) / size
    }

    /// Descriptors of the real images at data-order `positions`, numbered from 0, shared by all ranks.
    static func realSet(data: RealImageSource, positions: Range<Int>, resolution: Int, seed: UInt64,
                        group: ProcessGroup) throws -> SWDDescriptorSet {
        let order = DataOrder(count: data.count, seed: seed &+ 0x5D)
        let mine = blocks(count: positions.count, rank: group.rank, size: group.size)
        var local = try SWDDescriptorSet(resolution: resolution, channels: data.channels, seed: seed)
        var first = mine.lowerBound
        while first < mine.upperBound {
            let n = min(256, mine.upperBound - first)
            let x = try data.images((first..<first + n).map { order.index(at: positions.lowerBound + $0) }, resolution: resolution)
            try local.append(images: try ImageBatch(x), firstIndex: first)
            first += n
        }
        return try gathered(local, blocks: (0..<group.size).map { r in blocks(count: positions.count, rank: r, size: group.size) }, group: group)
    }

    /// The full set on every rank from each rank's block (`blocks[r]` holds rank r's image
    /// indices): blocks are padded to the largest block's length for the all-gather (which takes
    /// equal lengths), then trimmed and merged.
    static func gathered(_ local: SWDDescriptorSet, blocks: [Range<Int>], group: ProcessGroup) throws -> SWDDescriptorSet {
        guard group.size > 1 else { return local }
        let perImage = SWDDescriptorSet.patchesPerImage * local.descriptorLength
        let longest = blocks.map(\.count).max()! * perImage
        var levelsByRank = Array(repeating: [[Float]](), count: group.size)
        for level in local.levels {
            var padded = level
            padded.append(contentsOf: repeatElement(0, count: longest - level.count))
            let all = group.allGather(padded)
            for (r, b) in blocks.enumerated() {
                levelsByRank[r].append(Array(all[r * longest ..< r * longest + b.count * perImage]))
            }
        }
        let parts = try blocks.enumerated().map { r, b in
            try SWDDescriptorSet(resolution: local.resolution, channels: local.channels, seed: local.seed,
                                 imageIndices: Array(b), levels: levelsByRank[r])
        }
        return try SWDDescriptorSet(merging: parts)
    }
}
