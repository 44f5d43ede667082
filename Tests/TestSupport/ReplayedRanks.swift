import Autograd

/// Runs code written for `size` ranks in one process, one rank after another, with collectives
/// answered by replay: in each pass, collective call k of every rank returns the result of the
/// inputs all ranks gave to call k in the previous pass (zeros in the first). Call k's inputs
/// depend only on the results of calls before it, so after p passes the first p calls of every
/// rank are exact; the simulation stops when a pass reproduces the previous pass's inputs bit for
/// bit, and then every result is the one real ranks would have seen.
///
/// Unlike threads, this needs nothing of the code under test to be thread-safe (the autograd
/// recording switch is process-wide). The equal-count collectives and the paired point-to-point
/// are implemented here; the variable-count ones run through `Collective`'s padding fallback.
///
/// - Parameters:
///   - size: number of simulated ranks.
///   - maxPasses: give up after this many passes (a graph whose collective inputs never settle).
///   - body: one rank's program; must depend on nothing but its collective (it runs once a pass).
/// - Returns: each rank's result of the last pass, in rank order.
public func replayRanks<T>(_ size: Int, maxPasses: Int = 40, _ body: (Collective) throws -> T) throws -> [T] {
    var previous: [[ReplayedRank.Call]] = Array(repeating: [], count: size)
    for _ in 0..<maxPasses {
        var results: [T] = []
        var calls: [[ReplayedRank.Call]] = []
        for r in 0..<size {
            let rank = ReplayedRank(rank: r, size: size, previous: previous)
            results.append(try body(rank))
            calls.append(rank.calls)
        }
        let kinds = calls[0].map(\.kind)
        guard calls.allSatisfy({ $0.map(\.kind) == kinds }) else {
            throw ReplayError("the ranks called different collectives: \(calls.map { $0.map(\.kind) })")
        }
        if calls.map({ $0.map(\.bits) }) == previous.map({ $0.map(\.bits) }) { return results }
        previous = calls
    }
    throw ReplayError("the collectives' inputs did not settle in \(maxPasses) passes")
}

/// Why a replayed simulation failed.
public struct ReplayError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// One simulated rank of `replayRanks`.
final class ReplayedRank: Collective {
    struct Call {
        let kind: String
        let input: [Float]
        /// The destination of a point-to-point send.
        var peer: Int? = nil
        var bits: [UInt32] { input.map(\.bitPattern) }
    }

    let rank: Int, size: Int
    /// Every rank's calls of the previous pass.
    let previous: [[Call]]
    /// This rank's calls in this pass.
    private(set) var calls: [Call] = []

    init(rank: Int, size: Int, previous: [[Call]]) {
        (self.rank, self.size, self.previous) = (rank, size, previous)
    }

    /// Records this call; returns every rank's input to the same call of the previous pass, or
    /// nil if that pass did not get this far (or called something else there).
    private func exchange(_ kind: String, _ x: [Float], peer: Int? = nil, pointToPoint: Bool = false) -> [[Float]]? {
        let k = calls.count
        calls.append(Call(kind: kind, input: x, peer: peer))
        guard previous.allSatisfy({ $0.count > k && $0[k].kind == kind && (pointToPoint || $0[k].input.count == x.count) })
        else { return nil }
        return previous.map { $0[k].input }
    }

    /// Each rank's destination in call `k` of the previous pass (-1: none).
    private func previousPeers(call k: Int) -> [Int] { previous.map { $0[k].peer ?? -1 } }

    func allGather(_ x: [Float]) -> [Float] {
        exchange("allGather", x)?.flatMap { $0 } ?? [Float](repeating: 0, count: size * x.count)
    }

    func reduceScatter(_ x: [Float]) -> [Float] {
        precondition(x.count % size == 0, "reduceScatter: \(x.count) elements on \(size) ranks")
        let block = x.count / size
        guard let all = exchange("reduceScatter", x) else { return [Float](repeating: 0, count: block) }
        return (rank * block ..< (rank + 1) * block).map { i in all.reduce(0) { $0 + $1[i] } }
    }

    /// Every rank's send buffer travels in the exchange; this rank keeps its source's.
    func sendReceive(_ x: [Float], to destination: Int?, from source: Int?, receiveCount: Int) -> [Float] {
        // The record names the destination, so that the source can check the pairing.
        guard let all = exchange("sendReceive", x, peer: destination, pointToPoint: true), let source else {
            return [Float](repeating: 0, count: receiveCount)
        }
        precondition(previousPeers(call: calls.count - 1)[source] == rank && all[source].count == receiveCount,
                     "sendReceive: rank \(source) does not send \(receiveCount) elements to rank \(rank)")
        return all[source]
    }

    func allReduceSum(_ x: inout [Float]) {
        guard let all = exchange("allReduceSum", x) else { x = [Float](repeating: 0, count: x.count); return }
        x = x.indices.map { i in all.reduce(0) { $0 + $1[i] } }
    }
}
