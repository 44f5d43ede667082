import TensorKit

/// Sliced Wasserstein distances between two descriptor sets, per pyramid level.
public struct SlicedWassersteinResult: Sendable, Equatable {
    /// Level sizes, finest first (e.g. 128, 64, 32, 16).
    public let resolutions: [Int]
    /// Distance per level times 1e3, as the paper reports it, finest first.
    public let perLevel: [Double]
    /// Mean of `perLevel`.
    public var average: Double { perLevel.reduce(0, +) / Double(max(perLevel.count, 1)) }

    /// The result from the per-(level, repeat) terms of `slicedWassersteinTerms` (all included,
    /// possibly summed over processes): each level's mean over its repeats, times 1e3.
    public init(resolutions: [Int], terms: [Double]) {
        let r = SlicedWasserstein.repeats
        require(terms.count == resolutions.count * r, "SWD terms: \(terms.count) for \(resolutions.count) levels")
        self.resolutions = resolutions
        perLevel = (0..<resolutions.count).map { l in
            var total = 0.0
            for k in 0..<r { total += terms[l * r + k] }
            return total / Double(r) * 1e3
        }
    }
}

/// The sliced Wasserstein distance of Karras et al. (2018), appendix D, between two sets of
/// Laplacian-pyramid patch descriptors.
///
/// At each level both sets are normalized per colour channel (each set with its own mean and
/// standard deviation of that channel over all its descriptors at that level; a channel with zero
/// spread is only centred). Then, for each of `SlicedWasserstein.repeats` repeats, `SlicedWasserstein.directionsPerRepeat`
/// random unit directions are drawn (the same for both sets), both sets are projected, each
/// projection is sorted, and the mean absolute difference of the sorted values is taken. The
/// level's distance is the mean over repeats, reported times 1e3.
///
/// - Parameters:
///   - real, fake: sets with the same resolution, channels and number of images.
///   - seed: seed of the projection directions.
/// - Returns: the per-level distances (x1e3), finest first, and their average.
/// - Throws: `MetricsError.mismatchedSets` if the sets differ in shape or size, or are empty.
/// - Complexity: per level, O(M * D * 512) for the projections (sgemm) and O(512 * M) for the radix
///   sorts, with M = 128 * N descriptors of D = 49 * C values. Memory: one normalized copy of each
///   set's level plus at most 2 * 64 MB of projections.
public func slicedWassersteinDistance(real: SWDDescriptorSet, fake: SWDDescriptorSet,
                                      seed: UInt64) throws -> SlicedWassersteinResult {
    let terms = try slicedWassersteinTerms(real: real, fake: fake, seed: seed) { _, _ in true }
    return SlicedWassersteinResult(resolutions: real.resolutions, terms: terms)
}

/// The pieces of `slicedWassersteinDistance(real:fake:seed:)`, so that processes can share them:
/// the mean sorted-projection difference of each (level, repeat) pair that `include` selects,
/// 0 for the others, laid out `level * SlicedWasserstein.repeats + repeat`.
///
/// Each term depends only on the two sets, the seed and its own (level, repeat), so terms computed
/// by different processes and summed elementwise give exactly the single-process terms; pass the
/// sum to `SlicedWassersteinResult(resolutions:terms:)`. A level is normalized only if one of its
/// repeats is included.
///
/// - Throws: `MetricsError.mismatchedSets` if the sets differ in shape or size, or are empty.
public func slicedWassersteinTerms(real: SWDDescriptorSet, fake: SWDDescriptorSet, seed: UInt64,
                                   include: (_ level: Int, _ repeat: Int) -> Bool) throws -> [Double] {
    guard real.resolution == fake.resolution, real.channels == fake.channels else {
        throw MetricsError.mismatchedSets(
            "real set is \(real.channels)x\(real.resolution)^2, fake set is \(fake.channels)x\(fake.resolution)^2")
    }
    guard real.imageCount == fake.imageCount else {
        throw MetricsError.mismatchedSets(
            "SWD needs sets of equal size, got \(real.imageCount) real and \(fake.imageCount) fake images")
    }
    guard real.imageCount > 0 else {
        throw MetricsError.mismatchedSets("SWD needs at least one image in each set")
    }
    let rng = CounterRNG(seed: seed)
    let repeats = SlicedWasserstein.repeats
    var terms = [Double](repeating: 0, count: real.levels.count * repeats)
    for l in 0..<real.levels.count where (0..<repeats).contains(where: { include(l, $0) }) {
        let a = SlicedWasserstein.normalized(real.levels[l], channels: real.channels)
        let b = SlicedWasserstein.normalized(fake.levels[l], channels: fake.channels)
        for r in 0..<repeats where include(l, r) {
            let dirs = RandomDraws.directions(rng, level: l, repeat: r, count: SlicedWasserstein.directionsPerRepeat,
                                              dimension: real.descriptorLength)
            terms[l * repeats + r] = SlicedWasserstein.meanSortedDifference(
                a, b, directions: dirs, count: SlicedWasserstein.directionsPerRepeat, dimension: real.descriptorLength)
        }
    }
    return terms
}

/// The sliced Wasserstein distance between two equally large batches of images, in one call.
///
/// Builds one `SWDDescriptorSet` per batch (patch corners from `seed`, images numbered from 0) and
/// compares them with projection directions from `seed` (a different `CounterRNG` stream). For sets
/// too large for one batch, or split across processes, build the sets incrementally instead.
///
/// - Parameters:
///   - real, fake: batches of the same count (at least 1), channels and size (16...1024).
///   - seed: seed of all random draws; the result is a pure function of the images and the seed.
/// - Returns: per-level distances (x1e3), full resolution first, down to 16x16, and their average.
/// - Throws: `MetricsError.mismatchedSets` if the batches differ in shape or count.
public func slicedWassersteinDistance(real: ImageBatch, fake: ImageBatch,
                                      seed: UInt64) throws -> SlicedWassersteinResult {
    guard real.size == fake.size, real.channels == fake.channels else {
        throw MetricsError.mismatchedSets(
            "real images are \(real.channels)x\(real.size)^2, fake images \(fake.channels)x\(fake.size)^2")
    }
    var a = try SWDDescriptorSet(resolution: real.size, channels: real.channels, seed: seed)
    var b = try SWDDescriptorSet(resolution: fake.size, channels: fake.channels, seed: seed)
    try a.append(images: real)
    try b.append(images: fake)
    return try slicedWassersteinDistance(real: a, fake: b, seed: seed)
}

/// Constants of the sliced Wasserstein distance, and its pieces (kept separate so each can be tested).
public enum SlicedWasserstein {
    /// Repeats of random projections per level (paper: 4).
    public static let repeats = 4
    /// Projection directions per repeat (paper: 128, so 512 in all).
    public static let directionsPerRepeat = 128

    /// Per-channel normalization of descriptors laid out `(c, dy, dx)`: subtract the channel's mean
    /// and divide by its standard deviation (population), both over all descriptors.
    static func normalized(_ descriptors: [Float], channels: Int) -> [Float] {
        let plane = SWDDescriptorSet.patchSize * SWDDescriptorSet.patchSize
        let dlen = plane * channels
        let m = descriptors.count / dlen
        var out = descriptors
        guard m > 0 else { return out }
        out.withUnsafeMutableBufferPointer { x in
            for c in 0..<channels {
                // Two passes in Double: the sets can hold millions of values.
                var sum = 0.0
                for i in 0..<m { for t in 0..<plane { sum += Double(x[i * dlen + c * plane + t]) } }
                let mean = sum / Double(m * plane)
                var sq = 0.0
                for i in 0..<m {
                    for t in 0..<plane {
                        let d = Double(x[i * dlen + c * plane + t]) - mean
                        sq += d * d
                    }
                }
                let std = (sq / Double(m * plane)).squareRoot()
                let scale = std > 0 ? 1 / std : 1
                for i in 0..<m {
                    for t in 0..<plane {
                        let k = i * dlen + c * plane + t
                        x[k] = Float((Double(x[k]) - mean) * scale)
                    }
                }
            }
        }
        return out
    }

    /// Mean over directions and descriptors of |sort(a · dir) - sort(b · dir)|.
    ///
    /// `a` and `b` hold the same number M of descriptors of `dimension` floats; `directions` is
    /// `count x dimension`. Directions are processed in chunks so that the projections stay
    /// below 64 MB per set.
    static func meanSortedDifference(_ a: [Float], _ b: [Float], directions: [Float],
                                     count: Int, dimension: Int) -> Double {
        let m = a.count / dimension
        require(b.count == a.count && directions.count == count * dimension && m > 0,
                     "meanSortedDifference: shapes disagree")
        let chunk = max(1, min(count, (16 << 20) / m))
        var pa = [Float](repeating: 0, count: chunk * m)
        var pb = [Float](repeating: 0, count: chunk * m)
        var sorter = RadixSorter(capacity: m)
        var total = 0.0
        var k0 = 0
        while k0 < count {
            let kc = min(chunk, count - k0)
            project(directions, row: k0, rows: kc, dimension: dimension, descriptors: a, into: &pa)
            project(directions, row: k0, rows: kc, dimension: dimension, descriptors: b, into: &pb)
            pa.withUnsafeMutableBufferPointer { x in
                pb.withUnsafeMutableBufferPointer { y in
                    guard let xp = x.baseAddress, let yp = y.baseAddress else { return }
                    for k in 0..<kc {
                        let xs = xp + k * m, ys = yp + k * m
                        sorter.sort(xs, count: m)
                        sorter.sort(ys, count: m)
                        var s = 0.0
                        for i in 0..<m { s += Double(abs(xs[i] - ys[i])) }
                        total += s
                    }
                }
            }
            k0 += kc
        }
        return total / Double(count * m)
    }

    /// `out[k, i] = directions[row + k] · descriptors[i]` for k < rows, via one sgemm.
    static func project(_ directions: [Float], row: Int, rows: Int, dimension: Int,
                        descriptors: [Float], into out: inout [Float]) {
        let m = descriptors.count / dimension
        directions.withUnsafeBufferPointer { d in
            descriptors.withUnsafeBufferPointer { x in
                out.withUnsafeMutableBufferPointer { o in
                    guard let dp = d.baseAddress, let xp = x.baseAddress, let op = o.baseAddress else { return }
                    BLAS.sgemm(transA: false, transB: true, m: rows, n: m, k: dimension,
                               alpha: 1, a: dp + row * dimension, lda: dimension,
                               b: xp, ldb: dimension, beta: 0, c: op, ldc: m)
                }
            }
        }
    }
}

/// Ascending sort of floats by LSD radix sort (3 passes of 11, 11 and 10 bits) on keys whose
/// unsigned order is the float order.
///
/// Why not `sort()`: SWD sorts 2 x 512 projections of 128 * N descriptors per level (millions of
/// values for the paper's 16,384 images); radix sort is O(M) instead of O(M log M), and it stays
/// fast in unoptimized (debug/test) builds, where the generic comparison sort is not specialized.
/// NaNs are not expected (projections of finite descriptors); they would sort to the ends.
struct RadixSorter {
    private var keys: [UInt32]
    private var scratch: [UInt32]
    private var histogram: [Int]

    init(capacity: Int) {
        keys = [UInt32](repeating: 0, count: capacity)
        scratch = [UInt32](repeating: 0, count: capacity)
        histogram = [Int](repeating: 0, count: 3 * 2048)
    }

    /// Order-preserving key: flip all bits of negatives, set the sign bit of non-negatives.
    @inline(__always)
    static func key(_ x: Float) -> UInt32 {
        let b = x.bitPattern
        return b & 0x8000_0000 != 0 ? ~b : b | 0x8000_0000
    }

    @inline(__always)
    static func value(_ k: UInt32) -> Float {
        Float(bitPattern: k & 0x8000_0000 != 0 ? k & 0x7FFF_FFFF : ~k)
    }

    /// Sorts `x[0..<count]` in place; `count` must not exceed the capacity given at init.
    mutating func sort(_ x: UnsafeMutablePointer<Float>, count m: Int) {
        require(m <= keys.count, "RadixSorter: \(m) values exceed capacity \(keys.count)")
        keys.withUnsafeMutableBufferPointer { kb in
            scratch.withUnsafeMutableBufferPointer { sb in
                histogram.withUnsafeMutableBufferPointer { hb in
                    guard let a = kb.baseAddress, let b = sb.baseAddress, let h = hb.baseAddress else { return }
                    h.update(repeating: 0, count: 3 * 2048)
                    for i in 0..<m {
                        let k = RadixSorter.key(x[i])
                        a[i] = k
                        h[Int(k & 2047)] += 1
                        h[2048 + Int((k >> 11) & 2047)] += 1
                        h[4096 + Int(k >> 22)] += 1
                    }
                    // Exclusive prefix sums: bucket start positions for each pass.
                    for p in 0..<3 {
                        var sum = 0
                        for d in 0..<2048 {
                            let c = h[p * 2048 + d]
                            h[p * 2048 + d] = sum
                            sum += c
                        }
                    }
                    // Stable scatter passes a -> b -> a -> b.
                    for i in 0..<m {
                        let k = a[i], d = Int(k & 2047)
                        b[h[d]] = k
                        h[d] += 1
                    }
                    for i in 0..<m {
                        let k = b[i], d = 2048 + Int((k >> 11) & 2047)
                        a[h[d]] = k
                        h[d] += 1
                    }
                    for i in 0..<m {
                        let k = a[i], d = 4096 + Int(k >> 22)
                        b[h[d]] = k
                        h[d] += 1
                    }
                    for i in 0..<m { x[i] = RadixSorter.value(b[i]) }
                }
            }
        }
    }
}
