import Autograd
import TensorKit

/// The differentiable collectives of Autograd run on a real process group (under mpirun, by
/// `progan-mpi mpi-selftest`), checked against closed forms to second order: the graph of the
/// gradient penalty differentiates through their backward rules.
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
    let failedEverywhere = Int(try group.allReduceSum([Double(failures.count)])[0])
    if failedEverywhere > 0 {
        throw CollectiveGradientSelfTestError(rank: group.rank, failures: failures, failuresOnAllRanks: failedEverywhere)
    }
    return "mpi-selftest gradients passed: \(checks) checks on \(group.size) rank(s) "
        + "(variable-count all-gather and reduce-scatter, first and second order)"
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
