import Foundation

/// A collective that returned something other than its closed-form result on some rank.
public struct CollectiveSelfTestError: Error, CustomStringConvertible {
    /// The rank that throws this error.
    public let rank: Int
    /// This rank's failed checks, one line each (empty if only other ranks failed).
    public let failures: [String]
    /// How many checks failed on all ranks together.
    public let failuresOnAllRanks: Int

    public var description: String {
        if failures.isEmpty {
            return "collective self-test failed: \(failuresOnAllRanks) check(s) failed on other ranks"
        }
        return "collective self-test failed on rank \(rank): " + failures.joined(separator: "; ")
    }
}

/// Runs every collective of `comm` on rank-dependent values whose results are known in closed
/// form for any group size, and checks the results on every rank.
///
/// A failed check does not stop the test: every rank runs every collective (so none is left
/// waiting), then the failure counts are summed, and all ranks throw alike if any failed.
/// - Parameter comm: the communicator to test; collective, so call it on every rank.
/// - Returns: a one-line summary (the same on every rank).
/// - Throws: `CollectiveSelfTestError` if any rank saw a wrong result, `MPIError` if a call failed.
public func runCollectiveSelfTest(_ comm: Communicator) throws -> String {
    let n = comm.size
    let r = comm.rank
    let last = n - 1
    var failures: [String] = []
    var checks = 0
    func check<T: Equatable>(_ name: String, _ got: T, _ expected: T) {
        checks += 1
        if got != expected { failures.append("\(name): got \(got), expected \(expected)") }
    }
    let triangle = n * (n - 1) / 2  // sum of all ranks

    try comm.barrier()
    checks += 1

    // Broadcasts: the root's payload depends on the root, so a wrong root shows.
    let floats = try comm.broadcast(r == last ? (0..<(3 + last)).map { Float(10 * last + $0) } : [], root: last)
    check("broadcast [Float] from \(last)", floats, (0..<(3 + last)).map { Float(10 * last + $0) })
    let bytes = try comm.broadcast(r == 0 ? [0, 1, 127, 128, 255] : [UInt8](), root: 0)
    check("broadcast [UInt8]", bytes, [0, 1, 127, 128, 255] as [UInt8])
    let bigRoot = n / 2
    let wide = try comm.broadcast(r == bigRoot ? [Int64(1) << 40, -7, Int64(bigRoot)] : [], root: bigRoot)
    check("broadcast [Int64] from \(bigRoot)", wide, [Int64(1) << 40, -7, Int64(bigRoot)])
    let text = "grüße from rank \(last) ✓"
    check("broadcast String", try comm.broadcast(r == last ? text : "", root: last), text)
    check("broadcast Data (empty)", try comm.broadcast(Data(), root: 0), Data())
    check("broadcast Data", try comm.broadcast(r == 0 ? Data([9, 8, 7]) : Data(), root: 0), Data([9, 8, 7]))
    var inPlace = [Double](repeating: Double(r), count: 4)
    try comm.broadcastInPlace(&inPlace, root: last)
    check("broadcastInPlace [Double]", inPlace, [Double](repeating: Double(last), count: 4))

    // Allreduce: element i of rank r is 3r + i (exact in Float for any realistic size).
    var sum = (0..<5).map { Float(3 * r + $0) }
    try comm.allReduce(&sum, op: .sum)
    check("allReduce [Float] sum", sum, (0..<5).map { Float(3 * triangle + n * $0) })
    var maxima = (0..<5).map { Float(3 * r + $0) }
    try comm.allReduce(&maxima, op: .max)
    check("allReduce [Float] max", maxima, (0..<5).map { Float(3 * last + $0) })
    var minima = (0..<5).map { Float(3 * r + $0) }
    try comm.allReduce(&minima, op: .min)
    check("allReduce [Float] min", minima, (0..<5).map { Float($0) })
    var doubles = [Double(r) + 0.25, -Double(r)]
    try comm.allReduce(&doubles, op: .sum)
    check("allReduce [Double] sum", doubles, [Double(triangle) + 0.25 * Double(n), -Double(triangle)])
    // Int64 above 2^32 shows a reduction that truncates to 32 bits.
    var longs = [(Int64(1) << 33) * Int64(r + 1), Int64(-r)]
    try comm.allReduce(&longs, op: .sum)
    check("allReduce [Int64] sum", longs, [(Int64(1) << 33) * Int64(triangle + n), Int64(-triangle)])
    var longMax = [(Int64(1) << 33) + Int64(r)]
    try comm.allReduce(&longMax, op: .max)
    check("allReduce [Int64] max", longMax, [(Int64(1) << 33) + Int64(last)])
    var empty: [Float] = []
    try comm.allReduce(&empty, op: .sum)
    check("allReduce empty", empty, [])
    check("allReduce Float max", try comm.allReduce(Float(r), op: .max), Float(last))
    check("allReduce Double min", try comm.allReduce(Double(r) - 0.5, op: .min), -0.5)
    check("allReduce Int64 sum", try comm.allReduce(Int64(r), op: .sum), Int64(triangle))
    check("allReduce Int32 sum", try comm.allReduce(Int32(r + 1), op: .sum), Int32(triangle + n))

    // Gathers: rank r contributes values that name it.
    let gathered = try comm.allGather(sending: [Float(r), Float(-r), 0.5])
    check("allGather [Float]", gathered, (0..<n).flatMap { [Float($0), Float(-$0), 0.5] })
    // Rank r sends r values, so rank 0 sends none.
    let (varying, counts) = try comm.allGatherv(sending: (0..<r).map { Float(100 * r + $0) })
    check("allGatherv counts", counts, Array(0..<n))
    check("allGatherv [Float]", varying, (0..<n).flatMap { q in (0..<q).map { Float(100 * q + $0) } })
    let collected = try comm.gather(sending: (0..<(r % 3)).map { Int64(r * 1000 + $0) }, root: last)
    if r == last {
        check("gather [Int64] to \(last)", collected ?? [], (0..<n).map { q in (0..<(q % 3)).map { Int64(q * 1000 + $0) } })
    } else {
        check("gather returns nil off the root", collected == nil, true)
    }

    // Reduce-scatter: element j of rank r is r + j; rank r gets j in 3r ..< 3r + 3.
    let block = try comm.reduceScatter(sending: (0..<(3 * n)).map { Float(r + $0) }, op: .sum)
    check("reduceScatter [Float] sum", block, (3 * r ..< 3 * r + 3).map { Float(triangle + n * $0) })
    let blockMax = try comm.reduceScatter(sending: (0..<(2 * n)).map { Double(r * $0) }, op: .max)
    check("reduceScatter [Double] max", blockMax, (2 * r ..< 2 * r + 2).map { Double(last * $0) })

    // The non-throwing methods the autograd graph calls (through Training's Collective conformance).
    let collective = comm
    check("Collective.allGather", collective.allGather([Float(r)]), (0..<n).map { Float($0) })
    check("Collective.reduceScatter", collective.reduceScatter((0..<n).map { Float($0 * r) }),
          [Float(r * triangle)])
    var summed: [Float] = [1, Float(r)]
    collective.allReduceSum(&summed)
    check("Collective.allReduceSum", summed, [Float(n), Float(triangle)])

    // Known-count collectives, as for a batch dealt out unevenly: rank q holds q % 3 elements
    // (rank 0 none), the same list on every rank.
    let known = (0..<n).map { $0 % 3 }
    let before = known[..<r].reduce(0, +), all = known.reduce(0, +)
    check("allGatherv known counts [Float]", try comm.allGatherv(sending: (0..<known[r]).map { Float(100 * r + $0) }, counts: known),
          (0..<n).flatMap { q in (0..<known[q]).map { Float(100 * q + $0) } })
    // Element j of rank r is r + j; rank r gets j in before ..< before + known[r].
    check("reduceScatter known counts [Float] sum",
          try comm.reduceScatter(sending: (0..<all).map { Float(r + $0) }, counts: known, op: .sum),
          (before ..< before + known[r]).map { Float(triangle + n * $0) })
    check("reduceScatter known counts [Double] max",
          try comm.reduceScatter(sending: (0..<all).map { Double(r * $0) }, counts: known, op: .max),
          (before ..< before + known[r]).map { Double(last * $0) })
    check("Collective.allGather counts", collective.allGather([Float](repeating: Float(r), count: known[r]), counts: known),
          (0..<n).flatMap { q in [Float](repeating: Float(q), count: known[q]) })
    check("Collective.reduceScatter counts", collective.reduceScatter([Float](repeating: Float(r), count: all), counts: known),
          [Float](repeating: Float(triangle), count: known[r]))

    // The ring reduce-scatter and the in-place all-gather, on the uneven counts (empty blocks
    // included), then on a bigger buffer with blocks of unequal length.
    for total in [all, 70_001 + 2 * n] {
        let counts = total == all ? known : evenCounts(total: total, parts: n)
        let start = counts[..<r].reduce(0, +)
        // Element j of rank r is (r + 1) * (j % 1000): sums exact in Float in any order.
        var x = (0..<total).map { Float((r + 1) * ($0 % 1000)) }
        try comm.reduceScatterRing(&x, counts: counts)
        check("reduceScatterRing \(total)", Array(x[start ..< start + counts[r]]),
              (start ..< start + counts[r]).map { Float((triangle + n) * ($0 % 1000)) })
        var y = [Float](repeating: -1, count: total)
        for j in start ..< start + counts[r] { y[j] = Float(r) }
        try comm.allGathervInPlace(&y, counts: counts)
        check("allGathervInPlace \(total)", y, (0..<n).flatMap { q in [Float](repeating: Float(q), count: counts[q]) })
    }

    // Point to point, paired: a ring shift (rank r sends to r + 1, receives from r - 1), then a
    // line with open ends (no send past the last rank, zeros received by rank 0).
    let ring = try comm.sendReceive(sending: [Float(r), Float(r) + 0.5], to: (r + 1) % n, from: (r + n - 1) % n,
                                    receiveCount: 2)
    check("sendReceive ring", ring, [Float((r + n - 1) % n), Float((r + n - 1) % n) + 0.5])
    let line = comm.sendReceive([Float(r + 1)], to: r < last ? r + 1 : nil, from: r > 0 ? r - 1 : nil, receiveCount: 1)
    check("Collective.sendReceive line", line, [Float(r)])

    // A duplicated communicator works and is separate.
    let copy = try comm.duplicate()
    check("duplicate rank and size", [copy.rank, copy.size], [r, n])
    check("duplicate allReduce", try copy.allReduce(Int64(1), op: .sum), Int64(n))

    // Split into the even and the odd ranks, each ordered from the highest rank down: ranks and
    // sizes in closed form, and a collective over one half sees that half only.
    let half = try comm.split(color: r % 2, key: -r)
    let members = (0..<n).filter { $0 % 2 == r % 2 }.reversed().map { $0 }
    check("split rank and size", [half.rank, half.size], [members.firstIndex(of: r)!, members.count])
    check("split allGather", try half.allGather(sending: [Float(r)]), members.map { Float($0) })
    check("split allReduce", try half.allReduce(Int64(r), op: .sum), Int64(members.reduce(0, +)))
    check("split sendReceive", half.sendReceive([Float(r)], to: half.rank > 0 ? half.rank - 1 : nil,
                                                from: half.rank < half.size - 1 ? half.rank + 1 : nil, receiveCount: 1),
          [half.rank < half.size - 1 ? Float(members[half.rank + 1]) : 0])
    check("world after split", try comm.allReduce(Int64(1), op: .sum), Int64(n))

    let failedEverywhere = try comm.allReduce(Int64(failures.count), op: .sum)
    if failedEverywhere > 0 {
        throw CollectiveSelfTestError(rank: r, failures: failures, failuresOnAllRanks: Int(failedEverywhere))
    }
    return "mpi-selftest passed: \(checks) checks on \(n) rank(s), thread level "
        + "\(comm.environment.providedThreadLevel) (barrier, broadcast, allReduce sum/max/min, "
        + "allGather, allGatherv, gather, reduceScatter, known-count allGatherv/reduceScatter, sendReceive, "
        + "Collective, duplicate, split)"
}

/// `total` elements dealt out over `parts` ranks as evenly as possible, the first ranks one more.
private func evenCounts(total: Int, parts: Int) -> [Int] {
    (0..<parts).map { total / parts + ($0 < total % parts ? 1 : 0) }
}
