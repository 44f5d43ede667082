import Autograd
import XCTest
@testable import Training

/// The check before a checkpoint names the first array that differs between ranks. Two ranks
/// played in one process: rank 0's broadcast is recorded, then replayed to "rank 1".
final class ReplicaConsistencyTests: XCTestCase {
    /// A group of two seen from one rank: broadcasts return `rootBytes` (or record this rank's
    /// bytes as rank 0's); the maximum is taken with `otherRankMax`.
    final class TwoRanks: ProcessGroup {
        let rank: Int
        var size: Int { 2 }
        var rootBytes: [UInt8]?
        var otherRankMax = 0
        init(rank: Int) { self.rank = rank }

        func broadcastBytesFromRoot(_ x: [UInt8]) throws -> [UInt8] {
            if rank == 0 { rootBytes = x; return x }
            return rootBytes!
        }
        func allReduceMax(_ x: Int) throws -> Int { max(x, otherRankMax) }
        func allGather(_ x: [Float]) -> [Float] { fatalError("not used") }
        func reduceScatter(_ x: [Float]) -> [Float] { fatalError("not used") }
        func allReduceSum(_ x: inout [Float]) { fatalError("not used") }
        func broadcastFromRoot(_ x: inout [Float]) throws { fatalError("not used") }
        func allReduceSum(_ x: [Double]) throws -> [Double] { fatalError("not used") }
        func barrier() throws {}
    }

    let arrays: [(name: String, values: [Float])] = [
        ("G/a", [1, 2, 3]), ("G/b", [4, 5]), ("D/c", [6]), ("Gs/a", [1, 2, 3]),
    ]

    /// Rank 1's verdict when it holds `mine` and rank 0 holds `arrays`.
    func verdict(_ mine: [(name: String, values: [Float])]) throws -> String? {
        let root = TwoRanks(rank: 0)
        XCTAssertNil(try firstDifferingArray(arrays, group: root), "rank 0 never differs from itself")
        let other = TwoRanks(rank: 1)
        other.rootBytes = root.rootBytes
        return try firstDifferingArray(mine, group: other)
    }

    func testIdenticalReplicasPass() throws {
        XCTAssertNil(try verdict(arrays))
    }

    func testTheFirstDifferingArrayIsNamed() throws {
        var mine = arrays
        mine[2].values[0] = 6.000001
        mine[3].values[2] = -3
        XCTAssertEqual(try verdict(mine), "D/c")
        mine = arrays
        // One bit of one value.
        mine[1].values[0] = Float(bitPattern: Float(4).bitPattern ^ 1)
        XCTAssertEqual(try verdict(mine), "G/b")
    }

    /// The earliest difference over all ranks wins: another rank reporting an earlier array.
    func testTheEarliestOverRanksIsNamed() throws {
        var mine = arrays
        mine[3].values[0] = 0
        let root = TwoRanks(rank: 0)
        _ = try firstDifferingArray(arrays, group: root)
        let other = TwoRanks(rank: 1)
        other.rootBytes = root.rootBytes
        other.otherRankMax = arrays.count - 1   // a third rank differs at index 1
        XCTAssertEqual(try firstDifferingArray(mine, group: other), "G/b")
    }
}
