import TensorKit

/// The 7x7 neighbourhood descriptors of a set of images, per Laplacian pyramid level, collected
/// batch by batch for the sliced Wasserstein distance (Karras et al. 2018, appendix D).
///
/// For every image, the Laplacian pyramid runs from full resolution down to 16x16; at each level
/// 128 patches of 7x7 pixels are cut at random corners (drawn from `CounterRNG` with the *global*
/// image index, see `RandomDraws`), giving descriptors of `7 * 7 * C` values laid out `(c, dy, dx)`.
///
/// Splitting across processes: each rank appends its images with their global indices, then the
/// ranks exchange `imageIndices` and `levels` (plain arrays) and rebuild sets with
/// `init(resolution:channels:seed:imageIndices:levels:)` and `init(merging:)`. Merged sets are
/// ordered by image index, so the distance is the same however the images were split.
///
/// Memory: `N * 128 * 49 * C * 4` bytes per level (about 75 MB per level for 1,000 RGB images).
public struct SWDDescriptorSet: Sendable {
    /// Patches cut from each image at each level (paper: 128).
    public static let patchesPerImage = 128
    /// Side of a patch (paper: 7).
    public static let patchSize = 7
    /// Size of the coarsest pyramid level (paper: 16).
    public static let coarsestSize = 16

    /// Image size S the set accepts.
    public let resolution: Int
    /// Channels C the set accepts.
    public let channels: Int
    /// Seed of the patch-corner draws.
    public let seed: UInt64
    /// Level sizes, finest first: S, S/2, ..., 16.
    public let resolutions: [Int]
    /// Global indices of the images, in the order their descriptors are stored.
    public private(set) var imageIndices: [Int]
    /// Per level (finest first): `imageCount * 128` descriptors of `descriptorLength` floats,
    /// image-major in the order of `imageIndices`, each descriptor laid out `(c, dy, dx)`.
    public private(set) var levels: [[Float]]

    private var seen: Set<Int>
    private var next: Int

    /// Values per descriptor: 7 * 7 * C.
    public var descriptorLength: Int { channels * Self.patchSize * Self.patchSize }
    /// Number of images whose descriptors the set holds.
    public var imageCount: Int { imageIndices.count }
    /// Descriptors per level: imageCount * 128.
    public var descriptorCount: Int { imageCount * Self.patchesPerImage }

    /// An empty set for images of `resolution` x `resolution` with `channels` channels.
    ///
    /// - Parameters:
    ///   - resolution: S, a power of two in 16...1024.
    ///   - channels: 1 or 3.
    ///   - seed: seed of the patch corners; sets compared with each other may share it.
    /// - Throws: `MetricsError.invalidImages` for an unsupported shape.
    public init(resolution: Int, channels: Int, seed: UInt64) throws {
        try ImageBatch.validate(count: 1, channels: channels, height: resolution, width: resolution,
                                valueCount: channels * resolution * resolution)
        self.resolution = resolution
        self.channels = channels
        self.seed = seed
        var sizes: [Int] = []
        var s = resolution
        while s >= Self.coarsestSize { sizes.append(s); s /= 2 }
        self.resolutions = sizes
        self.imageIndices = []
        self.levels = Array(repeating: [], count: sizes.count)
        self.seen = []
        self.next = 0
    }

    /// Rebuilds a set from raw arrays, e.g. after gathering them from other processes.
    ///
    /// - Parameters:
    ///   - resolution, channels, seed: as for an empty set.
    ///   - imageIndices: global image indices, distinct, non-negative.
    ///   - levels: one array per level, `imageIndices.count * 128 * descriptorLength` floats each.
    /// - Throws: `MetricsError` if the shape is unsupported, the arrays have the wrong lengths, or
    ///   an index repeats.
    public init(resolution: Int, channels: Int, seed: UInt64, imageIndices: [Int], levels: [[Float]]) throws {
        try self.init(resolution: resolution, channels: channels, seed: seed)
        guard levels.count == resolutions.count else {
            throw MetricsError.invalidArgument(
                "a \(resolution)x\(resolution) set has \(resolutions.count) levels, got \(levels.count)")
        }
        let expected = imageIndices.count * Self.patchesPerImage * descriptorLength
        for (l, level) in levels.enumerated() where level.count != expected {
            throw MetricsError.invalidArgument(
                "level \(l) needs \(expected) floats for \(imageIndices.count) images, got \(level.count)")
        }
        for g in imageIndices { try insertIndex(g) }
        self.imageIndices = imageIndices
        self.levels = levels
    }

    /// Concatenates sets built from disjoint images (e.g. one per rank), ordered by image index.
    ///
    /// - Parameter parts: at least one set; all with the same resolution, channels and seed.
    /// - Throws: `MetricsError` if the parts disagree or share an image index.
    /// - Complexity: O(total descriptors) plus sorting the image indices.
    public init(merging parts: [SWDDescriptorSet]) throws {
        guard let first = parts.first else {
            throw MetricsError.invalidArgument("merging needs at least one descriptor set")
        }
        try self.init(resolution: first.resolution, channels: first.channels, seed: first.seed)
        for p in parts where p.resolution != resolution || p.channels != channels || p.seed != seed {
            throw MetricsError.mismatchedSets(
                "cannot merge a \(p.channels)x\(p.resolution)^2 set (seed \(p.seed)) into a "
                + "\(channels)x\(resolution)^2 set (seed \(seed))")
        }
        // (image index, part, position in part), sorted by image index.
        var order: [(Int, Int, Int)] = []
        for (pi, p) in parts.enumerated() {
            for (k, g) in p.imageIndices.enumerated() { order.append((g, pi, k)) }
        }
        order.sort { $0.0 < $1.0 }
        let chunk = Self.patchesPerImage * descriptorLength
        for l in 0..<levels.count {
            var level: [Float] = []
            level.reserveCapacity(order.count * chunk)
            for (_, pi, k) in order {
                level.append(contentsOf: parts[pi].levels[l][(k * chunk)..<((k + 1) * chunk)])
            }
            levels[l] = level
        }
        for (g, _, _) in order { try insertIndex(g) }
        imageIndices = order.map { $0.0 }
    }

    /// Extracts the descriptors of a batch of images and appends them.
    ///
    /// - Parameters:
    ///   - images: a batch of the set's resolution and channels.
    ///   - firstIndex: global index of the batch's first image; the batch covers
    ///     `firstIndex ..< firstIndex + images.count`. Default: one past the largest index so far
    ///     (0 for an empty set), which numbers a stream of batches consecutively.
    /// - Throws: `MetricsError` if the batch does not match the set or an index was already used.
    /// - Complexity: O(N*C*S*S) for the pyramids plus O(N * levels * 128 * 49 * C) for the patches.
    public mutating func append(images: ImageBatch, firstIndex: Int? = nil) throws {
        guard images.size == resolution, images.channels == channels else {
            throw MetricsError.mismatchedSets(
                "set takes \(channels)x\(resolution)x\(resolution) images, got "
                + "\(images.channels)x\(images.size)x\(images.size)")
        }
        let start = firstIndex ?? next
        guard start >= 0 else {
            throw MetricsError.invalidArgument("image indices must be non-negative, got \(start)")
        }
        for g in start..<(start + images.count) where seen.contains(g) {
            throw MetricsError.invalidArgument("image index \(g) is already in the descriptor set")
        }
        let rng = CounterRNG(seed: seed)
        let p = Self.patchSize, perImage = Self.patchesPerImage, dlen = descriptorLength
        for l in 0..<levels.count {
            levels[l].reserveCapacity(levels[l].count + images.count * perImage * dlen)
        }
        var descriptors = [Float](repeating: 0, count: perImage * dlen)
        for b in 0..<images.count {
            let g = start + b
            let pyramid = images.withImage(b) {
                LaplacianPyramid(unchecked: $0, channels: channels, size: resolution,
                                 coarsestSize: Self.coarsestSize)
            }
            for (l, level) in pyramid.levels.enumerated() {
                let s = pyramid.sizes[l]
                level.withUnsafeBufferPointer { src in
                    descriptors.withUnsafeMutableBufferPointer { dst in
                        for patch in 0..<perImage {
                            let (y0, x0) = RandomDraws.patchCorner(rng, level: l, image: g, patch: patch,
                                                                   patchesPerImage: perImage, range: s - p + 1)
                            var o = patch * dlen
                            for c in 0..<channels {
                                for dy in 0..<p {
                                    let row = c * s * s + (y0 + dy) * s + x0
                                    for dx in 0..<p { dst[o + dx] = src[row + dx] }
                                    o += p
                                }
                            }
                        }
                    }
                }
                levels[l].append(contentsOf: descriptors)
            }
            try insertIndex(g)
            imageIndices.append(g)
        }
    }

    private mutating func insertIndex(_ g: Int) throws {
        guard g >= 0 else {
            throw MetricsError.invalidArgument("image indices must be non-negative, got \(g)")
        }
        guard seen.insert(g).inserted else {
            throw MetricsError.invalidArgument("image index \(g) appears twice in the descriptor set")
        }
        next = max(next, g + 1)
    }
}
