import Autograd
import TensorKit

/// Minibatch standard deviation (paper section 3): appends one feature map holding, for each
/// group of samples, the standard deviation over the group of every feature and pixel, averaged.
///
/// The group is formed from the *global* minibatch: features of all ranks are all-gathered (a
/// differentiable collective whose backward is a reduce-scatter), so the statistic and its
/// gradient are the same as in a one-process run. As in the authors' code, sample `n` of the
/// global batch belongs to group `n % (N / G)`.
///
/// Ranks may hold unequal shares of the global minibatch (`BatchShards`), zero included: the
/// all-gather and its reduce-scatter backward then move unequal counts, and a rank with no
/// samples still joins both (and appends nothing).
///
/// - Parameters:
///   - x: this rank's features [k * n, C, H, W]: `k = minibatches` blocks of n samples, block b
///     this rank's share of minibatch b.
///   - groupSize: samples per group; 0 means the whole global minibatch. Clamped to the global
///     batch size, which it must divide.
///   - comm: the ranks whose shares together form each global minibatch.
///   - minibatches: independent minibatches stacked along axis 0 (D on reals and fakes in one
///     pass): each gets its own groups and statistics, and all travel in one all-gather.
///   - rankCounts: samples each rank holds of one minibatch, in rank order (the same on every
///     rank; `rankCounts[comm.rank] == n`). Nil: learned with one small all-gather.
/// - Returns: [k * n, C + 1, H, W].
public func minibatchStddev(_ x: Var, groupSize: Int, comm: Collective, minibatches: Int = 1,
                            rankCounts: [Int]? = nil) throws -> Var {
    guard x.shape.count == 4 else { throw ShapeError("minibatchStddev", "NCHW features expected, got \(x.shape)") }
    guard minibatches >= 1, x.shape[0] % minibatches == 0 else {
        throw ShapeError("minibatchStddev", "\(x.shape[0]) samples do not split into \(minibatches) minibatches")
    }
    let (local, c, h, w) = (x.shape[0] / minibatches, x.shape[1], x.shape[2], x.shape[3])
    // Float is exact for any sample count here (far below 2^24).
    let counts = rankCounts ?? (comm.size == 1 ? [local] : comm.allGather([Float(local)]).map { Int($0) })
    guard counts.count == comm.size, counts[comm.rank] == local else {
        throw ShapeError("minibatchStddev", "rank \(comm.rank) holds \(local) samples a minibatch, rows per rank \(counts)")
    }
    let offsets = counts.indices.map { counts[..<$0].reduce(0, +) }
    // Gathered rank by rank, each rank's rows minibatch by minibatch.
    let all = try x.allGather(comm, counts: counts.map { $0 * minibatches })
    var stats: [Var] = []
    for b in 0..<minibatches {
        let global = minibatches == 1 ? all : try Var.concat(comm.size == 1 ? [x.narrow(axis: 0, start: b * local, length: local)] :
            (0..<comm.size).filter { counts[$0] > 0 }.map { r in
                try all.narrow(axis: 0, start: offsets[r] * minibatches + b * counts[r], length: counts[r])
            }, axis: 0)
        let n = global.shape[0]
        guard n >= 1 else { throw ShapeError("minibatchStddev", "the global minibatch is empty") }
        let g = groupSize == 0 ? n : min(groupSize, n)
        guard n % g == 0 else {
            throw ConfigError("minibatch-stddev group size \(g) does not divide the global minibatch \(n)")
        }
        let m = n / g
        let y = try global.reshape([g, m, c * h * w])
        let centered = try y - y.mean(axes: [0], keepDims: true)
        let std = try (centered.square().mean(axes: [0]) + 1e-8).sqrt()          // [M, CHW]
        let stat = try std.mean(axes: [1], keepDims: true)                         // [M, 1]
        let tiled = try stat.reshape([1, m, 1]).expand(to: [g, m, 1]).reshape([n, 1, 1, 1]).expand(to: [n, 1, h, w])
        stats.append(comm.size == 1 ? tiled : try tiled.narrow(axis: 0, start: offsets[comm.rank], length: local))
    }
    let stat = stats.count == 1 ? stats[0] : try Var.concat(stats, axis: 0)
    return try Var.concat([x, stat], axis: 1)
}
