import XCTest
import TensorKit
import Autograd
@testable import ProGAN
import TestSupport

/// Adam sharded over ranks (reduce-scatter, each rank's block, all-gather) against the dense
/// update on the summed gradient, on ranks simulated by `replayRanks`. Gradients are multiples of
/// 1/64 below 2, so their sums are exact in any order and the comparison can be bit for bit.
final class AdamShardedTests: XCTestCase {
    static let sizes = [11, 9, 5]

    static func make() -> ParameterSet {
        let p = ParameterSet()
        _ = p.add("always", Tensor(shape: [11], data: (0..<11).map { Float($0) * 0.3 - 1 }))
        _ = p.add("sometimes", Tensor(shape: [9], data: (0..<9).map { Float($0) * -0.2 + 0.5 }))
        _ = p.add("later", Tensor(shape: [5], data: [0, -0.0, 1, -2, 3]))
        return p
    }

    /// Which parameters have a gradient at each step: the layout changes at steps 2, 4 and 6
    /// (growth and fades do this), which makes the sharded update gather the moments first.
    static func present(step: Int) -> [Bool] { [true, step == 2 || step == 3, step == 6] }

    /// Rank r's gradient of parameter i at `step` (packed: present parameters only).
    static func gradient(rank r: Int, step: Int, present: [Bool]) -> [Float] {
        var g: [Float] = []
        for (i, n) in sizes.enumerated() where present[i] {
            g += (0..<n).map { Float(($0 * 5 + step * 3 + i + 7 * r) % 13) / 64 - 0.09375 }
        }
        return g
    }

    /// What every rank ends with: weights, then (gathered) first and second moments.
    struct Replica: Equatable { let weights: [UInt32]; let m: [UInt32]; let v: [UInt32]; let step: Int }

    static func replica(_ params: ParameterSet, _ adam: Adam) -> Replica {
        Replica(weights: params.flatValues().map(\.bitPattern), m: adam.m.joined().map(\.bitPattern),
                v: adam.v.joined().map(\.bitPattern), step: adam.step)
    }

    /// One process: the dense update on the sum of every rank's gradient.
    func dense(ranks: Int, steps: Int) -> Replica {
        let params = Self.make()
        let adam = Adam(params, beta1: 0.5, beta2: 0.99)
        for step in 1...steps {
            let present = Self.present(step: step)
            var sum = Self.gradient(rank: 0, step: step, present: present)
            for r in 1..<max(ranks, 1) {
                for (j, x) in Self.gradient(rank: r, step: step, present: present).enumerated() { sum[j] += x }
            }
            adam.update(params, flatGradient: sum, present: present, learningRate: 0.01)
        }
        return Self.replica(params, adam)
    }

    func sharded(ranks: Int, steps: Int) throws -> [Replica] {
        try replayRanks(ranks, maxPasses: 200) { group in
            let params = Self.make()
            let adam = Adam(params, beta1: 0.5, beta2: 0.99)
            for step in 1...steps {
                let present = Self.present(step: step)
                var g = Self.gradient(rank: group.rank, step: step, present: present)
                XCTAssertTrue(adam.update(params, flatGradient: &g, present: present, learningRate: 0.01, over: group))
            }
            adam.gatherMoments(params, over: group)
            XCTAssertNil(adam.shardedAs)
            return Self.replica(params, adam)
        }
    }

    /// 2, 3 and 4 ranks (blocks cutting through parameters), and 30 ranks for 25 values (empty blocks).
    func testShardedUpdateIsTheDenseUpdateOnEveryRank() throws {
        for ranks in [2, 3, 4, 30] {
            let expected = dense(ranks: ranks, steps: 6)
            let replicas = try sharded(ranks: ranks, steps: 6)
            for (r, replica) in replicas.enumerated() {
                XCTAssertEqual(replica, expected, "\(ranks) ranks, rank \(r)")
            }
        }
    }

    /// Without gathering, a rank's moments are current in its own block only: the sharding is real
    /// (each rank does 1/N of the work), and `gatherMoments` is what makes the others current.
    func testMomentsAreCurrentOnlyInTheOwnBlockUntilGathered() throws {
        let expected = dense(ranks: 2, steps: 1)
        let results = try replayRanks(2, maxPasses: 50) { group -> ([UInt32], OptimizerShards?) in
            let params = Self.make()
            let adam = Adam(params, beta1: 0.5, beta2: 0.99)
            var g = Self.gradient(rank: group.rank, step: 1, present: Self.present(step: 1))
            _ = adam.update(params, flatGradient: &g, present: Self.present(step: 1), learningRate: 0.01, over: group)
            return (adam.m[0].map(\.bitPattern), adam.shardedAs)
        }
        // Step 1: only "always" (11 values) is present: rank 0 updates 0..<6, rank 1 6..<11.
        XCTAssertEqual(results[0].1?.range, 0..<6)
        XCTAssertEqual(results[1].1?.range, 6..<11)
        XCTAssertEqual(Array(results[0].0[0..<6]), Array(expected.m[0..<6]))
        XCTAssertEqual(Array(results[0].0[6..<11]), [UInt32](repeating: 0, count: 5))
        XCTAssertEqual(Array(results[1].0[6..<11]), Array(expected.m[6..<11]))
        XCTAssertEqual(Array(results[1].0[0..<6]), [UInt32](repeating: 0, count: 6))
    }

    /// A non-finite gradient on one rank makes every rank skip the update: weights, moments and
    /// the step count stay.
    func testANonFiniteGradientOnOneRankSkipsEverywhere() throws {
        let results = try replayRanks(3, maxPasses: 50) { group -> (Bool, Replica) in
            let params = Self.make()
            let adam = Adam(params, beta1: 0.5, beta2: 0.99)
            let present = Self.present(step: 1)
            var g = Self.gradient(rank: group.rank, step: 1, present: present)
            if group.rank == 2 { g[10] = .nan }
            let applied = adam.update(params, flatGradient: &g, present: present, learningRate: 0.01, over: group)
            return (applied, Self.replica(params, adam))
        }
        let untouched = Self.replica(Self.make(), Adam(Self.make(), beta1: 0.5, beta2: 0.99))
        for (r, (applied, replica)) in results.enumerated() {
            XCTAssertFalse(applied, "rank \(r)")
            XCTAssertEqual(replica, untouched, "rank \(r)")
        }
    }

    func testPresentLayoutHelpers() {
        let params = Self.make()
        let present = [true, false, true]
        XCTAssertEqual(params.presentCount(present), 16)
        // Positions 9..<13 of the layout: the last two of "always", the first two of "later".
        let always = Self.make().parameters[0].value.data, later = Self.make().parameters[2].value.data
        XCTAssertEqual(params.flatValues(present: present, range: 9..<13).map(\.bitPattern),
                       [always[9], always[10], later[0], later[1]].map(\.bitPattern))
        let values = (0..<16).map { Float($0) }
        params.assign(flatValues: values, present: present, keeping: 3..<12)
        XCTAssertEqual(params.parameters[0].value.data[0..<3], [0, 1, 2])
        XCTAssertEqual(params.parameters[0].value.data[3], Self.make().parameters[0].value.data[3], "kept")
        XCTAssertEqual(params.parameters[1].value.data, Self.make().parameters[1].value.data, "not present")
        XCTAssertEqual(params.parameters[2].value.data, [later[0], 12, 13, 14, 15], "position 11 kept")
    }
}
