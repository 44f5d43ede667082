import TensorKit

/// How one phase's ranks share the work: `dataGroups` groups of `spatialRanks` ranks each; a
/// group holds a block of the global minibatch (`BatchShards` over the groups), and each rank of
/// a group a horizontal slab of rows of every one of the group's images. Ranks beyond
/// `dataGroups * spatialRanks` idle (they still join the gradient all-reduce, with zeros).
/// A pure function of its arguments, so every rank knows every rank's part without a message.
///
/// **The choice.** S (`spatialRanks`) is a power of two, so that at every level r the r rows
/// (a power of two) split into S equal slabs of r / S rows, and every slab edge falls on an even
/// row while a slab has at least 2 rows: 2x2 pooling and nearest 2x upsampling then map slabs to
/// slabs with no exchange, and no rank waits on a larger slab. Among S = 1, 2, 4, ... (S <= ranks,
/// slabs of at least 2 rows at the phase's resolution) and D = 1 ... min(minibatch, ranks / S),
/// it takes the pair whose busiest rank holds the least image area, `ceil(N / D) / S` images;
/// on a tie the smaller S (less halo exchange and replicated work), then the larger D.
/// 8 ranks, minibatch 3 at 1024: 1 x 8 (3/8 of an image a rank, none idle) beats 3 x 2 plus two
/// idle ranks (1/2 of an image a rank) and 2 x 4 (groups of 2 and 1 images: 1/2 on the busiest);
/// 8 ranks, minibatch 14: 2 x 4 (7/4, the ideal 14/8) beats 8 x 1 with shards of 2 and 1.
///
/// **Levels.** At resolution r, a rank's rows are `rows(at:)`: its slab `s * r/S ..< (s+1) * r/S`
/// where r/S >= 2 and r > 4 (`isSplit(at:)`), and all r rows, computed replicated, below (the
/// group all-gathers the map where it leaves the split levels). A 4x4 phase is never split.
public struct SpatialLayout: Equatable, Sendable, CustomStringConvertible {
    /// Ranks in the job.
    public let ranks: Int
    /// The phase's global minibatch.
    public let minibatch: Int
    /// The phase's resolution (a power of two, at least 4).
    public let resolution: Int
    /// D: groups of ranks that share images.
    public let dataGroups: Int
    /// S: ranks in a group, each with a slab of rows.
    public let spatialRanks: Int

    /// The fewest rows a slab may hold.
    public static let minimumSlabRows = 2

    /// Maps of at most this many rows are never split: the 4x4 level holds the networks' dense
    /// layers and D's minibatch-stddev head, which need the whole map (and cost little).
    public static let replicatedRows = 4

    /// Chooses (D, S) as described on the type.
    /// - Parameter levelCost: the work of one image at each level r (4 ... resolution), e.g.
    ///   the networks' multiply-adds there. With it, a rank's load counts the levels too small
    ///   to split, which every rank of a group computes whole: `ceil(N / D) * (sum over split
    ///   levels of cost / S + sum over whole levels of cost)`. Without it, all the work is
    ///   taken to be at the top level (`ceil(N / D) / S`).
    /// - Precondition: `ranks >= 1`, `minibatch >= 1`, `resolution` a power of two >= 4.
    public init(ranks: Int, minibatch: Int, resolution: Int, levelCost: ((Int) -> Double)? = nil) {
        require(ranks >= 1 && minibatch >= 1 && resolution >= 4 && resolution & (resolution - 1) == 0,
                     "SpatialLayout: \(ranks) ranks, minibatch \(minibatch), resolution \(resolution)")
        var levels: [Int] = []
        var r = 4
        while r <= resolution { levels.append(r); r *= 2 }
        let costs = levels.map { levelCost?($0) ?? ($0 == resolution ? 1 : 0) }
        var best: (load: Double, s: Int, d: Int)? = nil
        var s = 1
        while s <= ranks && resolution / s >= SpatialLayout.minimumSlabRows && (s == 1 || resolution > SpatialLayout.replicatedRows) {
            let split = SpatialLayout(ranks: ranks, minibatch: minibatch, resolution: resolution, dataGroups: 1, spatialRanks: s)
            let perImage = zip(levels, costs).reduce(0.0) { $0 + (split.isSplit(at: $1.0) ? $1.1 / Double(s) : $1.1) }
            for d in 1...min(minibatch, ranks / s) {
                let load = Double((minibatch + d - 1) / d) * perImage
                // Less by a margin (sums of costs round): a tie keeps the smaller S seen first;
                // within one S, the larger D.
                let margin = 1e-9 * (best?.load ?? 0)
                if best == nil || load < best!.load - margin || (load <= best!.load + margin && s == best!.s) {
                    best = (load, s, d)
                }
            }
            s *= 2
        }
        self.init(ranks: ranks, minibatch: minibatch, resolution: resolution, dataGroups: best!.d, spatialRanks: best!.s)
    }

    /// A given decomposition (for tests and for a later command-line override).
    /// - Precondition: S a power of two with slabs of at least 2 rows, D * S <= ranks, D <= minibatch.
    public init(ranks: Int, minibatch: Int, resolution: Int, dataGroups: Int, spatialRanks: Int) {
        require(spatialRanks >= 1 && spatialRanks & (spatialRanks - 1) == 0
                     && resolution / spatialRanks >= SpatialLayout.minimumSlabRows
                     && dataGroups >= 1 && dataGroups <= minibatch && dataGroups * spatialRanks <= ranks,
                     "SpatialLayout: \(dataGroups) x \(spatialRanks) on \(ranks) ranks, minibatch \(minibatch) at \(resolution)")
        (self.ranks, self.minibatch, self.resolution) = (ranks, minibatch, resolution)
        (self.dataGroups, self.spatialRanks) = (dataGroups, spatialRanks)
    }

    /// The data group of `rank` (ranks of a group are consecutive, so slab neighbours are
    /// neighbouring ranks, usually on one node), or nil for an idle rank.
    public func dataGroup(of rank: Int) -> Int? {
        require((0..<ranks).contains(rank), "SpatialLayout: rank \(rank) of \(ranks)")
        return rank < dataGroups * spatialRanks ? rank / spatialRanks : nil
    }

    /// The slab index of `rank` in its group, 0 the top slab (nil for an idle rank).
    public func spatialIndex(of rank: Int) -> Int? { dataGroup(of: rank).map { _ in rank % spatialRanks } }

    /// The global samples of `rank`'s group (empty for an idle rank).
    public func samples(of rank: Int) -> Range<Int> {
        guard let g = dataGroup(of: rank) else { return 0..<0 }
        return BatchShards(total: minibatch, parts: dataGroups).range(of: g)
    }

    /// Whether maps of `rows` rows are split into slabs (at least `minimumSlabRows` a slab, and
    /// more than `replicatedRows` rows).
    public func isSplit(at rows: Int) -> Bool {
        spatialRanks > 1 && rows > SpatialLayout.replicatedRows && rows / spatialRanks >= SpatialLayout.minimumSlabRows
    }

    /// The rows of a `rows`-row map (a level's resolution) that `rank` computes: its slab where
    /// the level is split, all rows where it is replicated (and none for an idle rank).
    /// - Precondition: `rows` a power of two >= 1.
    public func rows(at rows: Int, of rank: Int) -> Range<Int> {
        require(rows >= 1 && rows & (rows - 1) == 0, "SpatialLayout: \(rows) rows")
        guard let s = spatialIndex(of: rank) else { return 0..<0 }
        guard isSplit(at: rows) else { return 0..<rows }
        let h = rows / spatialRanks
        return s * h ..< (s + 1) * h
    }

    /// The group's neighbours of `rank`'s slab in its spatial group's rank order (nil at the
    /// image's edge or where the level is not split).
    public func neighbours(at rows: Int, of rank: Int) -> (above: Int?, below: Int?) {
        guard let s = spatialIndex(of: rank), isSplit(at: rows) else { return (nil, nil) }
        return (s > 0 ? s - 1 : nil, s < spatialRanks - 1 ? s + 1 : nil)
    }

    /// Idle ranks.
    public var idleRanks: Int { ranks - dataGroups * spatialRanks }

    /// For `train`'s phase line, e.g. "1024x1024: 3 images in 3 group(s) of 1 x 8 slab(s) on 24
    /// ranks", or without slabs "128x128: 16 images, 2 a rank, on 8 ranks" (uneven groups show
    /// their range of images, "1-2"; idle ranks are counted).
    public var description: String {
        let per = BatchShards(total: minibatch, parts: dataGroups).counts
        let images = Set(per).count == 1 ? "\(per[0])" : "\(per.min()!)-\(per.max()!)"
        let idle = idleRanks > 0 ? " (\(idleRanks) idle)" : ""
        // Plain data parallelism reads as images a rank.
        guard spatialRanks > 1 else { return "\(resolution)x\(resolution): \(minibatch) images, \(images) a rank, on \(ranks) ranks" + idle }
        return "\(resolution)x\(resolution): \(minibatch) images in \(dataGroups) group(s) of \(images) x \(spatialRanks) slab(s) on \(ranks) ranks" + idle
    }
}
