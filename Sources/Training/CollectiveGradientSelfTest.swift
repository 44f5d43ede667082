import Autograd
import TensorKit

/// The differentiable collectives of Autograd run on a real process group (under mpirun, by
/// `progan-mpi mpi-selftest`): the variable-count all-gather and reduce-scatter against closed
/// forms, and the halo exchange of image slabs by finite differences, each to second order (the
/// graph of the gradient penalty differentiates through their backward rules).
///
/// A failed check does not stop the test: every rank runs every check (so none is left waiting
/// in a collective), then the failure counts are summed, and all ranks throw alike if any failed.
/// - Parameter group: the ranks; collective, so call it on every rank.
/// - Returns: a one-line summary (the same on every rank).
/// - Throws: `CollectiveGradientSelfTestError` if any rank saw a wrong result.
public func runCollectiveGradientSelfTest(_ group: ProcessGroup) throws -> String {
    var failures: [String] = []
    var checks = 0
    func check(_ name: String, _ got: [Float], _ expected: [Float]) {
        checks += 1
        if got != expected { failures.append("\(name): got \(got), expected \(expected)") }
    }
    // Rank q holds q % 3 rows (rank 0 none), as a batch dealt out unevenly; then equal rows.
    for rows in [(0..<group.size).map { $0 % 3 }, [Int](repeating: 2, count: group.size)] {
        try checkGatherGradients(group, rowsPerRank: rows, check: check)
    }
    try checkSlabConvolution(group, check: check)
    try checkSubgroupGather(group, check: check)
    var worst = 0.0
    try checkHaloExchangeByFiniteDifferences(group) { name, analytic, numeric in
        checks += 1
        let error = abs(analytic - numeric) / (haloTolerance.absolute + haloTolerance.relative * abs(numeric))
        worst = max(worst, error)
        if !(error <= 1) { failures.append("\(name): analytic \(analytic), finite difference \(numeric)") }
    }
    let failedEverywhere = Int(try group.allReduceSum([Double(failures.count)])[0])
    if failedEverywhere > 0 {
        throw CollectiveGradientSelfTestError(rank: group.rank, failures: failures, failuresOnAllRanks: failedEverywhere)
    }
    return "mpi-selftest gradients passed: \(checks) checks on \(group.size) rank(s) "
        + "(variable-count all-gather and reduce-scatter, first and second order; halo exchange by "
        + "finite differences, first and second order, worst \(String(format: "%.2g", worst)) of the tolerance; "
        + "slab convolution against the whole image, to second order; row all-gather in subgroups of 2)"
}

/// A differentiable collective whose value or gradient differed from its closed form on some rank.
public struct CollectiveGradientSelfTestError: Error, CustomStringConvertible {
    public let rank: Int
    public let failures: [String]
    public let failuresOnAllRanks: Int
    public var description: String {
        failures.isEmpty
            ? "collective gradient self-test failed: \(failuresOnAllRanks) check(s) failed on other ranks"
            : "collective gradient self-test failed on rank \(rank): " + failures.joined(separator: "; ")
    }
}

/// Rank r holds `rowsPerRank[r]` rows of 2 values; rank q weights the gathered rows by
/// `W_q = (q + 1) * c` (c[j][k] = 2j + k + 1), so the gradient on rank r's rows is the
/// reduce-scatter `n(n+1)/2 * c` of its block. Differentiating `sum(v_r * grad_r)` with
/// `v_r = r + 1` with respect to `W_q` is an all-gather again: row j gets its owner's rank + 1.
/// The same through `reduceScatter(_:counts:)` first, whose gradient is an all-gather.
private func checkGatherGradients(_ comm: Collective, rowsPerRank: [Int],
                                  check: (String, [Float], [Float]) -> Void) throws {
    let (n, r) = (comm.size, comm.rank)
    let total = rowsPerRank.reduce(0, +), before = rowsPerRank[..<r].reduce(0, +)
    let label = "rows \(rowsPerRank)"
    let c = (0..<2 * total).map { Float($0 + 1) }
    let x = Var(Tensor(shape: [rowsPerRank[r], 2], data: (0..<2 * rowsPerRank[r]).map { Float(10 * r + $0) }), requiresGrad: true)
    let w = Var(Tensor(shape: [total, 2], data: c.map { $0 * Float(r + 1) }), requiresGrad: true)
    let y = try x.allGather(comm, counts: rowsPerRank)
    check("allGather forward, \(label)", y.value.data,
          (0..<n).flatMap { q in (0..<2 * rowsPerRank[q]).map { Float(10 * q + $0) } })
    let gx = try gradients(of: (y * w).sum(), wrt: [x], createGraph: true)[0]
    check("allGather backward, \(label)", gx.value.data,
          c[2 * before ..< 2 * (before + rowsPerRank[r])].map { $0 * Float(n * (n + 1) / 2) })
    let v = Var(Tensor(shape: gx.shape, data: [Float](repeating: Float(r + 1), count: gx.value.count)))
    let gw = try gradients(of: (gx * v).sum(), wrt: [w])[0]
    check("allGather double backward, \(label)", gw.value.data,
          (0..<n).flatMap { q in [Float](repeating: Float(q + 1), count: 2 * rowsPerRank[q]) })

    // Reduce-scatter of W_q: rank r gets n(n+1)/2 * c of its block; weighting it by v_r = r + 1
    // gives W_q the gradient "row j: its owner's rank + 1" (an all-gather), and differentiating
    // sum(u_q * grad_q) with u_q = q + 1 with respect to v_r is a reduce-scatter again.
    let vr = Var(Tensor(shape: [rowsPerRank[r], 2], repeating: Float(r + 1)), requiresGrad: true)
    let s = try w.reduceScatter(comm, counts: rowsPerRank)
    check("reduceScatter forward, \(label)", s.value.data,
          c[2 * before ..< 2 * (before + rowsPerRank[r])].map { $0 * Float(n * (n + 1) / 2) })
    let gW = try gradients(of: (s * vr).sum(), wrt: [w], createGraph: true)[0]
    check("reduceScatter backward, \(label)", gW.value.data,
          (0..<n).flatMap { q in [Float](repeating: Float(q + 1), count: 2 * rowsPerRank[q]) })
    let u = Var(Tensor(shape: gW.shape, repeating: Float(r + 1)))
    let gv = try gradients(of: (gW * u).sum(), wrt: [vr])[0]
    check("reduceScatter double backward, \(label)", gv.value.data,
          [Float](repeating: Float(n * (n + 1) / 2), count: 2 * rowsPerRank[r]))
}

/// Tolerance of the halo exchange's finite-difference checks: `|a - d| <= 1e-4 + 1e-4 |d|`.
///
/// The losses are cubic in the slab's elements, so the five-point stencil is exact at any step;
/// the step (0.25) and the inputs (multiples of 1/16) are exact in float32, and the first-order
/// loss is summed in Double from exact cubes. What is left is float32 rounding: of the analytic
/// gradient (each element at most three terms `3 w y^2` of size <= 3, some ten operations deep:
/// ~1e-5), and, in the second order, of the gradients the finite difference is taken of (only
/// the few elements the perturbed element reaches change, ~3e-7 each, divided by 12 * 0.25 and
/// weighted by |u| <= 1: ~1e-5). With these inputs every float32 operation happens to be exact
/// (products of few-bit dyadic numbers), so the summary reports 0; the bound covers other
/// inputs. A dropped or misrouted halo term is of order 1 (measured: a backward sending the
/// halo gradients the wrong way fails every probe).
private let haloTolerance = (absolute: 1e-4, relative: 1e-4)

/// The halo exchange across real ranks by finite differences. Rank r holds a slab of `1 + r % 3`
/// rows of one image (N 1, C 2, W 3); its loss is `L_r = sum(w_r * y_r^3)` on the slab with
/// halos `y_r`, and the checked function is the ranks' total, so the derivative with respect to
/// an element near a slab edge gathers the neighbour's term through the exchange's backward.
/// Second order: `M = sum_r sum(u_r * dL/dx_r)` with the gradient recorded, differentiated again
/// (its backward runs the exchange's backward backwards). Probes: each rank's first and last
/// element, every rank perturbing only where the probe lies.
private func checkHaloExchangeByFiniteDifferences(_ group: ProcessGroup,
                                                  check: (String, Double, Double) -> Void) throws {
    let (n, r) = (group.size, group.rank)
    let rows = 1 + r % 3
    let shape = [1, 2, rows, 3], haloShape = [1, 2, rows + 2, 3]
    func dyadic(_ count: Int, _ seed: Int) -> [Float] {
        (0..<count).map { Float((seed * 37 + $0 * 11) % 29 - 14) / 16 }
    }
    let x0 = Tensor(shape: shape, data: dyadic(6 * rows, 3 + r))
    let w = Var(Tensor(shape: haloShape, data: dyadic(6 * (rows + 2), 50 + r)))
    let u = Var(Tensor(shape: shape, data: dyadic(6 * rows, 90 + r)))
    let above = r > 0 ? r - 1 : nil, below = r < n - 1 ? r + 1 : nil

    /// This rank's gradient of the total loss, recorded for a second differentiation.
    func gradient(_ x: Var) throws -> Var {
        let y = try x.haloExchange(group, above: above, below: below)
        return try gradients(of: (y * y * y * w).sum(), wrt: [x], createGraph: true)[0]
    }
    func totalLoss(_ x: Tensor) throws -> Double {
        let y = try Var(x).haloExchange(group, above: above, below: below).value
        let local = zip(y.data, w.value.data).reduce(0.0) { $0 + Double($1.1) * Double($1.0) * Double($1.0) * Double($1.0) }
        return try group.allReduceSum([local])[0]
    }
    func totalM(_ x: Tensor) throws -> Double {
        let g = try gradient(Var(x, requiresGrad: true)).value
        let local = zip(g.data, u.value.data).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        return try group.allReduceSum([local])[0]
    }

    let x = Var(x0, requiresGrad: true)
    let g = try gradient(x)
    let h = try gradients(of: (g * u).sum(), wrt: [x])[0].value
    let step = 0.25
    for p in 0..<n {
        let probeRows = 1 + p % 3
        for index in [0, 6 * probeRows - 1] {
            func perturbed(_ k: Double) -> Tensor {
                var t = x0
                if r == p { t.data[index] += Float(k * step) }
                return t
            }
            func stencil(_ f: (Tensor) throws -> Double) throws -> Double {
                let (a, b, c, d) = (try f(perturbed(1)), try f(perturbed(-1)), try f(perturbed(2)), try f(perturbed(-2)))
                return (8 * (a - b) - (c - d)) / (12 * step)
            }
            let analytic = try group.allReduceSum([r == p ? Double(g.value.data[index]) : 0, r == p ? Double(h.data[index]) : 0])
            check("halo exchange dL/dx, rank \(p) element \(index)", analytic[0], try stencil(totalLoss))
            check("halo exchange d(u . dL/dx)/dx, rank \(p) element \(index)", analytic[1], try stencil(totalM))
        }
    }
}

/// The slab convolution (fused, slope 1/4) across real ranks against the whole image, which
/// every rank also computes alone: rank r holds `1 + r % 3` rows of one image (N 1, C 2, O 2,
/// W 3). Values, the input gradient's rows, the weight and bias gradients summed over the ranks,
/// and the second-order gradients of `M = <v, dL/dx> + <p, dL/dw>` must be equal bit for bit:
/// with dyadic inputs of a few bits and slope 1/4 every float32 operation is exact (at most 18
/// terms of 8-bit products a sum, three factors deep: far inside 24 bits), so any order of
/// summation gives the same number, and a wrong halo row or misrouted gradient changes a
/// whole term.
private func checkSlabConvolution(_ group: ProcessGroup, check: (String, [Float], [Float]) -> Void) throws {
    let (n, r) = (group.size, group.rank)
    let rows = (0..<n).map { 1 + $0 % 3 }, height = rows.reduce(0, +), first = rows[..<r].reduce(0, +)
    func dyadic(_ shape: [Int], _ seed: Int) -> Tensor {
        Tensor(shape: shape, data: (0..<Tensor.count(of: shape)).map { Float((seed * 37 + $0 * 11) % 29 - 14) / 16 })
    }
    let x = dyadic([1, 2, height, 3], 3), w = dyadic([2, 2, 3, 3], 5), b = dyadic([2], 7)
    let u = dyadic([1, 2, height, 3], 11), v = dyadic([1, 2, height, 3], 13), p = dyadic([2, 2, 3, 3], 17)
    func mine(_ t: Tensor) -> Tensor { t.narrowed(axis: 2, start: first, length: rows[r]) }
    func run(_ x: Tensor, _ u: Tensor, _ v: Tensor, slab: Bool) throws -> [Tensor] {
        let (xv, wv, bv) = (Var(x, requiresGrad: true), Var(w, requiresGrad: true), Var(b, requiresGrad: true))
        let y = slab
            ? try Var.slabConv2dBiasLeakyReLU(xv, wv, bv, slope: 0.25, group, above: r > 0 ? r - 1 : nil, below: r < n - 1 ? r + 1 : nil)
            : try Var.conv2dBiasLeakyReLU(xv, wv, bv, slope: 0.25)
        let g = try gradients(of: (y * Var(u)).sum(), wrt: [xv, wv, bv], createGraph: true)
        let m = try (g[0] * Var(v)).sum() + (g[1] * Var(p)).sum()
        let second = try gradients(of: m, wrt: [xv, wv])
        return [y.value, g[0].value, g[1].value, g[2].value, second[0].value, second[1].value]
    }
    let whole = try run(x, u, v, slab: false)
    let part = try run(mine(x), mine(u), mine(v), slab: true)
    for (k, name) in [(0, "value"), (1, "dL/dx"), (4, "dM/dx")] {
        check("slab convolution \(name), rank \(r)", part[k].data, mine(whole[k]).data)
    }
    for (k, name) in [(2, "dL/dw"), (3, "dL/db"), (5, "dM/dw")] {
        var sum = part[k].data
        group.allReduceSum(&sum)
        check("slab convolution \(name) summed over ranks", sum, whole[k].data)
    }
}

/// `subgroup(colors:)` (MPI_Comm_split) in pairs of consecutive ranks, and the row all-gather
/// within a pair: rank m sends `1 + m % 3` rows valued `100 m + j`; weighting the gathered map
/// by the subgroup rank + 1 on each member gives every slab the gradient `k (k + 1) / 2` for k
/// members (the reduce-scatter of the copies). The world's collectives are untouched.
private func checkSubgroupGather(_ group: ProcessGroup, check: (String, [Float], [Float]) -> Void) throws {
    let (n, r) = (group.size, group.rank)
    let colors = (0..<n).map { $0 / 2 }
    let pair = group.subgroup(colors: colors)
    let members = (0..<n).filter { colors[$0] == colors[r] }
    let rows = members.map { 1 + $0 % 3 }
    let x = Var(Tensor(shape: [1, 1, rows[pair.rank], 2], data: (0..<2 * rows[pair.rank]).map { Float(100 * r + $0) }),
                requiresGrad: true)
    let y = try x.allGatherRows(pair, rows: rows)
    check("subgroup allGatherRows, rank \(r)", y.value.data, members.flatMap { m in (0..<2 * (1 + m % 3)).map { Float(100 * m + $0) } })
    let g = try gradients(of: (y * Float(pair.rank + 1)).sum(), wrt: [x])[0]
    let k = members.count
    check("subgroup allGatherRows gradient, rank \(r)", g.value.data, [Float](repeating: Float(k * (k + 1) / 2), count: 2 * rows[pair.rank]))
    var world: [Float] = [1]
    group.allReduceSum(&world)
    check("world after subgroup", world, [Float(n)])
}
