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
/// - Parameters:
///   - x: this rank's features [k * n, C, H, W]: `k = minibatches` blocks of n samples, block b
///     this rank's share of minibatch b; each minibatch's global batch is `n * comm.size` samples.
///   - groupSize: samples per group; 0 means the whole global minibatch. Clamped to the global
///     batch size, which it must divide.
///   - minibatches: independent minibatches stacked along axis 0 (D on reals and fakes in one
///     pass): each gets its own groups and statistics, and all travel in one all-gather.
/// - Returns: [k * n, C + 1, H, W].
public func minibatchStddev(_ x: Var, groupSize: Int, comm: Collective, minibatches: Int = 1) throws -> Var {
    guard x.shape.count == 4 else { throw ShapeError("minibatchStddev", "NCHW features expected, got \(x.shape)") }
    guard minibatches >= 1, x.shape[0] % minibatches == 0 else {
        throw ShapeError("minibatchStddev", "\(x.shape[0]) samples do not split into \(minibatches) minibatches")
    }
    let (local, c, h, w) = (x.shape[0] / minibatches, x.shape[1], x.shape[2], x.shape[3])
    // Gathered rank by rank, each rank's rows minibatch by minibatch.
    let all = x.allGather(comm)
    var stats: [Var] = []
    for b in 0..<minibatches {
        let global = minibatches == 1 ? all : try Var.concat((0..<comm.size).map { r in
            try all.narrow(axis: 0, start: (r * minibatches + b) * local, length: local)
        }, axis: 0)
        let n = global.shape[0]
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
        stats.append(comm.size == 1 ? tiled : try tiled.narrow(axis: 0, start: comm.rank * local, length: local))
    }
    let stat = stats.count == 1 ? stats[0] : try Var.concat(stats, axis: 0)
    return try Var.concat([x, stat], axis: 1)
}
