import XCTest
import Autograd
import TensorKit
import TestSupport

/// Gradient checks of resampling and channel layout: upsample2x, avgPool2x, narrow, embed, concat.
final class SpatialGradientTests: XCTestCase {
    func testUpsample2x() throws {
        let x = TestTensors.normal([2, 2, 2, 3], seed: 61)
        assertOpGradients([x]) { try $0[0].upsample2x() }
        XCTAssertEqual(try Var(x).upsample2x().shape, [2, 2, 4, 6])
    }

    func testAvgPool2x() throws {
        let x = TestTensors.normal([2, 2, 4, 2], seed: 62)
        assertOpGradients([x]) { try $0[0].avgPool2x() }
        XCTAssertEqual(try Var(x).avgPool2x().shape, [2, 2, 2, 1])
    }

    /// The fade-in path of the discriminator: pool then upsample, and its reverse.
    func testPoolUpsampleRoundTrips() {
        let x = TestTensors.normal([1, 2, 4, 4], seed: 63)
        assertOpGradients([x]) { try $0[0].avgPool2x().upsample2x() }
        assertOpGradients([x]) { try $0[0].upsample2x().avgPool2x() }
    }

    /// The rules pool or upsample with their scale in one pass. They give the bits of the
    /// two-pass rules they replace (average pooling then * 4, upsampling then * 1/4): scaling by
    /// a power of two is exact unless a result is subnormal, and none is here. Recorded
    /// (createGraph), a rule is again one of these ops, and the gradient of the gradient is the
    /// two-pass rules' too.
    func testResamplingRulesAreTheTwoPassRulesBitForBit() throws {
        func bits(_ t: Tensor) -> [UInt32] { t.data.map(\.bitPattern) }
        let x = TestTensors.normal([2, 3, 4, 6], seed: 73)
        let r = TestTensors.normal([2, 3, 4, 6], seed: 76)
        typealias Case = (name: String, op: (Var) throws -> Var, seed: Tensor, rule: (Tensor) -> Tensor,
                          ruleOfRule: (Tensor) -> Tensor)
        let cases: [Case] = [
            ("upsample2x", { try $0.upsample2x() }, TestTensors.normal([2, 3, 8, 12], seed: 74),
             { $0.avgPooled2x() * 4 }, { ($0 * 4).upsampled2x() * 0.25 }),
            ("avgPool2x", { try $0.avgPool2x() }, TestTensors.normal([2, 3, 2, 3], seed: 75),
             { $0.upsampled2x() * 0.25 }, { ($0 * 0.25).avgPooled2x() * 4 }),
        ]
        for c in cases {
            let xv = Var(x, requiresGrad: true)
            let plain = try gradients(of: c.op(xv), wrt: [xv], seed: Var(c.seed))[0]
            XCTAssertEqual(bits(plain.value), bits(c.rule(c.seed)), c.name)
            // Recorded: the gradient as a function of the seed, differentiated again.
            let s = Var(c.seed, requiresGrad: true)
            let recorded = try gradients(of: c.op(xv), wrt: [xv], seed: s, createGraph: true)[0]
            XCTAssertEqual(bits(recorded.value), bits(plain.value), "\(c.name), recorded")
            let second = try gradients(of: recorded, wrt: [s], seed: Var(r))[0]
            XCTAssertEqual(bits(second.value), bits(c.ruleOfRule(r)), "\(c.name), rule of the rule")
        }
        // No sum of four is below 4 x the least normal float, where 1/4 of it would round.
        let sums = x.avgPooled2x(scale: 1).data + r.avgPooled2x(scale: 1).data + cases[0].seed.avgPooled2x(scale: 1).data
        XCTAssertTrue(sums.allSatisfy { $0 == 0 || abs($0) >= 4 * Float.leastNormalMagnitude })
    }

    func testNarrow() throws {
        let x = TestTensors.normal([3, 4, 2, 2], seed: 64)
        for (axis, start, length) in [(0, 1, 2), (1, 0, 1), (1, 3, 1), (3, 1, 1), (2, 0, 2)] {
            assertOpGradients([x], "narrow axis \(axis) \(start)..<\(start + length)") {
                try $0[0].narrow(axis: axis, start: start, length: length)
            }
        }
    }

    func testEmbed() throws {
        let x = TestTensors.normal([2, 2, 3], seed: 65)
        for (axis, start, total) in [(0, 1, 4), (1, 0, 3), (2, 2, 5), (1, 2, 4)] {
            assertOpGradients([x], "embed axis \(axis) at \(start) in \(total)") {
                try $0[0].embed(axis: axis, start: start, total: total)
            }
        }
    }

    func testConcat() throws {
        let a = TestTensors.normal([2, 1, 2, 2], seed: 66), b = TestTensors.normal([2, 2, 2, 2], seed: 67)
        let c = TestTensors.normal([2, 3, 2, 2], seed: 68)
        assertOpGradients([a, b, c], options: GradientCheckOptions(maxElementsPerInput: 24), "concat on channels") {
            try Var.concat($0, axis: 1)
        }
        let d = TestTensors.normal([1, 2, 2, 2], seed: 69)
        assertOpGradients([b, d], "concat on the batch") { try Var.concat($0, axis: 0) }
        assertOpGradients([b], "concat of one") { try Var.concat($0, axis: 3) }
        // The minibatch-stddev pattern: a feature map concatenated with a broadcast statistic.
        assertOpGradients([b, TestTensors.normal([], seed: 70)], "features ++ expanded scalar") {
            try Var.concat([$0[0], $0[1].expand(to: [2, 1, 2, 2])], axis: 1)
        }
        XCTAssertEqual(try Var.concat([Var(a), Var(b), Var(c)], axis: 1).shape, [2, 6, 2, 2])
    }

    /// Only the parts that require gradients get one; constants in the list are skipped.
    func testConcatWithConstantPart() throws {
        let a = Var(TestTensors.normal([2, 2], seed: 71), requiresGrad: true)
        let b = Var(TestTensors.normal([2, 3], seed: 72))
        let y = try Var.concat([b, a], axis: 1)
        let g = try gradients(of: try randomProjection(y, seed: 5), wrt: [a])[0]
        let r = TestTensors.normal([2, 5], seed: 5)
        assertClose(g.value, r.narrowed(axis: 1, start: 3, length: 2))
    }
}
