import XCTest
import Autograd
import TensorKit
import TestSupport

/// First- and second-order gradient checks of the reductions, broadcasts and reshape, plus their
/// forward values and output shapes.
final class ReductionGradientTests: XCTestCase {
    let x = TestTensors.normal([2, 3, 4], seed: 21)

    func testSumTo() throws {
        for target: [Int] in [[1, 3, 1], [3, 1], [4], [2, 1, 4], [1, 1, 1], [], [2, 3, 4]] {
            assertOpGradients([x], "sum(to: \(target))") { try $0[0].sum(to: target) }
            XCTAssertEqual(try Var(x).sum(to: target).shape, target)
        }
    }

    func testExpandTo() throws {
        for (from, to): ([Int], [Int]) in [([1, 3, 1], [2, 3, 4]), ([3, 1], [2, 3, 4]), ([], [2, 3]), ([2, 1], [2, 5]),
                                           ([1, 3, 1, 1], [2, 3, 2, 2])] {
            let t = TestTensors.normal(from, seed: 22)
            assertOpGradients([t], "expand \(from) to \(to)") { try $0[0].expand(to: to) }
            XCTAssertEqual(try Var(t).expand(to: to).shape, to)
        }
    }

    func testSumAxes() throws {
        for (axes, keep): ([Int], Bool) in [([0], false), ([1], true), ([0, 2], false), ([-1], false), ([-1, 0], true),
                                             ([0, 1, 2], false)] {
            assertOpGradients([x], "sum(axes: \(axes), keepDims: \(keep))") { try $0[0].sum(axes: axes, keepDims: keep) }
        }
        XCTAssertEqual(try Var(x).sum(axes: [0, 2]).shape, [3])
        XCTAssertEqual(try Var(x).sum(axes: [-1], keepDims: true).shape, [2, 3, 1])
    }

    func testMeanAxes() throws {
        for (axes, keep): ([Int], Bool) in [([0], false), ([1, 2], true), ([-2], false)] {
            assertOpGradients([x], "mean(axes: \(axes))") { try $0[0].mean(axes: axes, keepDims: keep) }
        }
        // The mean over the last axis of [[1, 2, 3], [4, 5, 9]].
        let m = try Var(Tensor(shape: [2, 3], data: [1, 2, 3, 4, 5, 9])).mean(axes: [-1])
        assertClose(m.value, shape: [2], [2, 6])
    }

    func testSumAndMeanOfAll() throws {
        assertOpGradients([x], "sum()") { try $0[0].sum() }
        assertOpGradients([x], "mean()") { try $0[0].mean() }
        let t = Var(Tensor(shape: [2, 2], data: [1, 2, 3, 6]))
        XCTAssertEqual(try t.sum().shape, [])
        XCTAssertEqual(try t.sum().value.scalarValue, 12)
        XCTAssertEqual(try t.mean().value.scalarValue, 3)
        // A scalar's sum is itself.
        XCTAssertEqual(try Var.scalar(4).sum().value.scalarValue, 4)
    }

    func testReshape() throws {
        assertOpGradients([x], "reshape") { try $0[0].reshape([6, 4]) }
        assertOpGradients([x], "reshape to rank 1") { try $0[0].reshape([24]) }
        // reshape preserves the row-major order.
        let r = try Var(x).reshape([4, 6]).value
        XCTAssertEqual(r.data, x.data)
        XCTAssertEqual(r.shape, [4, 6])
    }

    /// `sum(to:)` and `expand(to:)` are adjoint: <expand(a), b> = <a, sum(b)>, both the double sum
    /// `S = sum a_j b_ij`, each within its rounding bound of S (`RoundingBound`): one float32
    /// rounding for the products on the left; on the right one for `sum(to:)` (it adds in Double
    /// and rounds once to float32) and one for the product (`sumAll` adds in Double).
    func testSumToAndExpandAreAdjoint() throws {
        let a = TestTensors.normal([1, 3, 1], seed: 23), b = TestTensors.normal([2, 3, 4], seed: 24)
        var exact = 0.0, magnitude = 0.0
        for i in 0..<2 { for j in 0..<3 { for k in 0..<4 {
            let term = Double(a.data[j]) * Double(b.data[(i * 3 + j) * 4 + k])
            exact += term
            magnitude += abs(term)
        } } }
        assertWithinRoundingBound((a.expand(to: [2, 3, 4]) * b).sumAll(), exact, magnitude: magnitude,
                                  roundings: 1, referenceRoundings: 2 * 24, "<expand(a), b>")
        assertWithinRoundingBound((a * b.sum(to: [1, 3, 1])).sumAll(), exact, magnitude: magnitude,
                                  roundings: 2, referenceRoundings: 2 * 24, "<a, sum(b)>")
    }
}
