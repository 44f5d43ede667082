import Autograd
import TensorKit

/// This rank's part of a spatially decomposed step (docs/ARCHITECTURE.md, "Spatial
/// parallelism"): the phase's `SpatialLayout`, this rank's slab index and its spatial group,
/// the S ranks that hold the slabs of the same images. G and D take one where the phase splits
/// images (S > 1); at a split level they hold only this rank's rows of every map, convolve them
/// with a one-row halo from the neighbouring slabs, and gather the whole map where they enter
/// the replicated levels below (D) or cut it to the slab where they leave them (G).
///
/// Everything computed on the whole map after a gather (D's lower levels and 4x4 head, G's
/// lower levels) is computed alike by the S ranks of the group; each scales the loss terms that
/// come from it by `replicatedShare` = 1/S, so the S copies sum to one in the gradient
/// all-reduce (S is a power of two: the scale is exact).
public struct SpatialPartition {
    /// The phase's decomposition.
    public let layout: SpatialLayout
    /// This rank's index in the job (the layout's rank numbering).
    public let rank: Int
    /// The ranks holding the slabs of this rank's images, in slab order (size S).
    public let group: Collective

    /// - Precondition: `rank` is not idle in `layout`, and `group` has S ranks with this rank's
    ///   slab index as its rank.
    public init(layout: SpatialLayout, rank: Int, group: Collective) {
        require(layout.spatialIndex(of: rank) == group.rank && group.size == layout.spatialRanks,
                "SpatialPartition: rank \(rank) is slab \(String(describing: layout.spatialIndex(of: rank))) of \(layout); group rank \(group.rank) of \(group.size)")
        (self.layout, self.rank, self.group) = (layout, rank, group)
    }

    /// S, the slabs an image is cut into.
    public var slabs: Int { layout.spatialRanks }

    /// The weight of a loss term computed alike on every rank of the group: 1/S.
    public var replicatedShare: Float { 1 / Float(slabs) }

    /// Whether maps of `rows` rows are held as slabs.
    public func isSplit(_ rows: Int) -> Bool { layout.isSplit(at: rows) }

    /// This rank's rows of a map of `rows` rows (all of them where the level is replicated).
    public func rows(at rows: Int) -> Range<Int> { layout.rows(at: rows, of: rank) }

    /// A whole map [N, C, r, r] cut to this rank's rows where the level r is split (no message:
    /// every rank of the group holds the whole map; the adjoint puts this slab's gradient in its
    /// rows and zeros elsewhere, the other rows' gradient being the other ranks' part). A map
    /// that is already a slab, or a replicated level, passes through.
    public func slab(_ x: Var, level r: Int) throws -> Var {
        guard isSplit(r), x.shape.count == 4, x.shape[2] == r else { return x }
        let mine = rows(at: r)
        return try x.narrow(axis: 2, start: mine.lowerBound, length: mine.count)
    }

    /// This rank's slab of a level-`r` map gathered into the whole map where level r is not
    /// split (the group's all-gather along rows; its adjoint, a reduce-scatter, returns each
    /// slab the sum of the S replicated gradients of its rows). A whole map passes through.
    public func whole(_ x: Var, level r: Int) throws -> Var {
        guard !isSplit(r), x.shape.count == 4, x.shape[2] < r else { return x }
        guard r % slabs == 0, x.shape[2] == r / slabs else {
            throw ShapeError("SpatialPartition.whole", "a slab of \(r / max(1, slabs)) rows of a \(r)-row map expected, got \(x.shape)")
        }
        return try x.allGatherRows(group, rows: [Int](repeating: r / slabs, count: slabs))
    }

    /// The slab's neighbours in the group at level `r` (nil at the image's edges).
    func neighbours(_ r: Int) -> (above: Int?, below: Int?) { layout.neighbours(at: r, of: rank) }
}

/// Runs `body` in the `replicated` step phase when a spatial step computes it whole on every
/// rank of the group (bench reports that work as its own part), else as it is.
func replicated<T>(_ spatial: SpatialPartition?, _ body: () throws -> T) rethrows -> T {
    guard let spatial, spatial.slabs > 1 else { return try body() }
    return try StepPhase.replicated.record(body)
}

extension EqualizedConv2d {
    /// `leakyReLU(conv(x) + bias)` of a level-`r` map: the plain fused layer where the level is
    /// whole, the slab convolution (halo rows from the neighbouring slabs) where it is split.
    func callAsFunction(_ x: Var, leakyReLUSlope slope: Float, spatial: SpatialPartition?, level r: Int) throws -> Var {
        guard let spatial, spatial.isSplit(r) else { return try callAsFunction(x, leakyReLUSlope: slope) }
        let w = runtimeScale == 1 ? weight : weight * runtimeScale
        let (above, below) = spatial.neighbours(r)
        return try Var.slabConv2dBiasLeakyReLU(x, w, bias, slope: slope, spatial.group, above: above, below: below)
    }
}

/// How this rank takes part in the steps of one phase (a resolution and a minibatch): the
/// `SpatialLayout` of the job's ranks, the samples of this rank's group, the group's spatial
/// partition (nil where images are not split, or for an idle rank), and the ranks whose
/// samples together form the minibatch the minibatch-stddev layer sees.
public struct StepDecomposition {
    /// D data groups x S slabs.
    public let layout: SpatialLayout
    /// The global samples of this rank's group (empty for an idle rank).
    public let samples: Range<Int>
    /// This rank's spatial group and slab (nil: whole images).
    public let spatial: SpatialPartition?
    /// The minibatch-stddev ranks: all ranks when S = 1; else the ranks with this rank's slab
    /// index, one a data group (idle ranks join those of slab 0 with no samples).
    public let batch: Collective
    /// Samples of each rank of `batch`, in its rank order.
    public let batchCounts: [Int]

    /// Makes the sub-communicators of `layout` (a collective call of every rank of `world`);
    /// `stddev` is `world` as the minibatch-stddev layer's collectives (tagged for the profiler).
    public init(_ layout: SpatialLayout, rank: Int, world: Collective, stddev: Collective) {
        self.layout = layout
        guard layout.spatialRanks > 1 else {
            // Plain data parallelism, as before spatial steps existed: every rank a block.
            let shards = BatchShards(total: layout.minibatch, parts: layout.ranks)
            (samples, spatial, batch, batchCounts) = (shards.range(of: rank), nil, stddev, shards.counts)
            return
        }
        let ranks = 0..<layout.ranks
        let d = layout.dataGroups
        // Idle ranks: groups of their own (they make no spatial calls), slab 0 for the batch.
        let groupColors = ranks.map { layout.dataGroup(of: $0) ?? d + $0 }
        let slabColors = ranks.map { layout.spatialIndex(of: $0) ?? 0 }
        let group = world.subgroup(colors: groupColors)
        batch = stddev.subgroup(colors: slabColors)
        let groupCounts = BatchShards(total: layout.minibatch, parts: d).counts
        batchCounts = ranks.filter { slabColors[$0] == slabColors[rank] }.map { layout.dataGroup(of: $0).map { groupCounts[$0] } ?? 0 }
        samples = layout.samples(of: rank)
        spatial = layout.dataGroup(of: rank) == nil ? nil : SpatialPartition(layout: layout, rank: rank,
                                                                                              group: PhaseTaggedCollective.spatial(group))
    }

    /// This rank's rows of a real image where the phase splits images (nil: all rows).
    public var slabRows: Range<Int>? {
        guard let spatial, spatial.isSplit(layout.resolution) else { return nil }
        return spatial.rows(at: layout.resolution)
    }
}

