import XCTest
import TensorKit
import Autograd
import TestSupport

/// `Collective.subgroup(colors:)` on simulated ranks (its fallback on the parent's collectives):
/// collectives span one group, point-to-point names group ranks, and the world is untouched.
final class SubgroupTests: XCTestCase {
    func testCollectivesSpanOneGroup() throws {
        // 6 ranks as 3 groups of 2 (3 x 2), and as 2 groups of 3 with interleaved members.
        for colors in [[0, 0, 1, 1, 2, 2], [0, 1, 0, 1, 0, 1]] {
            let got = try replayRanks(6) { world -> [[Float]] in
                let group = world.subgroup(colors: colors)
                let members = colors.indices.filter { colors[$0] == colors[world.rank] }
                XCTAssertEqual(members[group.rank], world.rank)
                XCTAssertEqual(group.size, members.count)
                let r = Float(world.rank)
                var sum = [r, 1]
                group.allReduceSum(&sum)
                let line = group.sendReceive([r], to: group.rank > 0 ? group.rank - 1 : nil,
                                             from: group.rank < group.size - 1 ? group.rank + 1 : nil, receiveCount: 1)
                var world1: [Float] = [1]
                world.allReduceSum(&world1)
                // Variable counts: group rank k sends k + 1 elements.
                let counts = (0..<group.size).map { $0 + 1 }
                let v = group.allGather([Float](repeating: r, count: group.rank + 1), counts: counts)
                let rs = group.reduceScatter([Float](repeating: r, count: counts.reduce(0, +)), counts: counts)
                return [group.allGather([r, r + 0.5]), sum, line, world1, v, rs]
            }
            for rank in 0..<6 {
                let members = colors.indices.filter { colors[$0] == colors[rank] }
                let k = members.firstIndex(of: rank)!
                let what = "colors \(colors), rank \(rank)"
                XCTAssertEqual(got[rank][0], members.flatMap { [Float($0), Float($0) + 0.5] }, what)
                XCTAssertEqual(got[rank][1], [Float(members.reduce(0, +)), Float(members.count)], what)
                XCTAssertEqual(got[rank][2], [k < members.count - 1 ? Float(members[k + 1]) : 0], what)
                XCTAssertEqual(got[rank][3], [6], what)
                XCTAssertEqual(got[rank][4], members.enumerated().flatMap { [Float](repeating: Float($1), count: $0 + 1) }, what)
                XCTAssertEqual(got[rank][5], [Float](repeating: Float(members.reduce(0, +)), count: k + 1), what)
            }
        }
    }

    /// The differentiable group sum: rank r's loss `w_r * S^2` with `S = sum over its group of
    /// x`; d(total)/dx_r = sum over the group of 2 w S, and the second derivative 2 sum w.
    func testAllReduceSumGradientsToSecondOrder() throws {
        let colors = [0, 0, 1, 1]
        let xs: [Float] = [0.5, -1.25, 2, 0.75]
        let ws: [Float] = [1.5, -0.5, 0.25, 2]
        let got = try replayRanks(4) { world -> [Float] in
            let group = world.subgroup(colors: colors)
            let x = Var(Tensor(shape: [1], data: [xs[world.rank]]), requiresGrad: true)
            let s = x.allReduceSum(group)
            let loss = try (s * s * ws[world.rank]).sum()
            let g = try gradients(of: loss, wrt: [x], createGraph: true)[0]
            let h = try gradients(of: g.sum(), wrt: [x])[0]
            return [s.value.data[0], g.value.data[0], h.value.data[0]]
        }
        for rank in 0..<4 {
            let members = colors.indices.filter { colors[$0] == colors[rank] }
            let s = members.map { xs[$0] }.reduce(0, +), w = members.map { ws[$0] }.reduce(0, +)
            // Two or three float operations on exact small binary fractions: exact.
            XCTAssertEqual(got[rank], [s, 2 * w * s, 2 * w * Float(members.count)], "rank \(rank)")
        }
    }
}
