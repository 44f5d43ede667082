import XCTest
import Autograd
import TensorKit
import TestSupport

/// How autograd feeds the profiler: nodes carry the phase they were made in; a plain backward
/// pass charges each rule to its node's phase (backward direction); a pass that records a graph
/// (createGraph) stays in the caller's slot and tags its nodes with the caller's phase.
final class ProfilerAttributionTests: XCTestCase {
    override func setUp() {
        Profiler.setEnabled(true)
        Profiler.enter(0)
        Profiler.reset()
    }

    override func tearDown() {
        Profiler.enter(0)
        Profiler.setEnabled(false)
    }

    /// x [2,3] (constant) -> y = x w (phase 2, w [3,4]) -> z = y w2 (phase 3, w2 [4,5]) -> sum.
    private func graph() throws -> (s: Var, y: Var, w: Var, w2: Var) {
        let x = Var(TestTensors.normal([2, 3], seed: 1))
        let w = Var(TestTensors.normal([3, 4], seed: 2), requiresGrad: true)
        let w2 = Var(TestTensors.normal([4, 5], seed: 3), requiresGrad: true)
        Profiler.enter(2)
        let y = try Var.matmul(x, w)
        Profiler.enter(3)
        let s = try Var.matmul(y, w2).sum()
        return (s, y, w, w2)
    }

    private func macs(_ phase: Int, backward: Bool) -> Double {
        Profiler.snapshot().multiplyAdds[Profiler.Snapshot.slot(phase, backward: backward)]
    }

    func testBackwardIsChargedToTheForwardPhases() throws {
        let (s, y, w, w2) = try graph()
        XCTAssertEqual(y.phase, 2)
        XCTAssertEqual(macs(2, backward: false), 2 * 4 * 3)
        XCTAssertEqual(macs(3, backward: false), 2 * 5 * 4)
        Profiler.enter(1, backward: true)
        _ = try gradients(of: s, wrt: [w, w2])
        XCTAssertEqual(Profiler.current.phase, 1, "the caller's slot is restored")
        XCTAssertTrue(Profiler.current.backward)
        // z's rule: dy = g w2^T (2*4*5) and dw2 = y^T g (4*5*2); y's rule: dw = x^T g (3*4*2).
        XCTAssertEqual(macs(3, backward: true), 80)
        XCTAssertEqual(macs(2, backward: true), 24)
        XCTAssertEqual(macs(1, backward: true), 0)
    }

    func testRecordedBackwardStaysInTheCallersPhase() throws {
        let (s, _, w, _) = try graph()
        Profiler.enter(4)
        let g = try gradients(of: s, wrt: [w], createGraph: true)[0]
        XCTAssertEqual(g.phase, 4)
        // dy = g w2^T (40) and dw = x^T dy (24), both recorded as forward work of phase 4.
        XCTAssertEqual(macs(4, backward: false), 64)
        XCTAssertEqual(macs(3, backward: true) + macs(2, backward: true), 0)
    }

    func testLiveBytesFollowNodeLifetimes() throws {
        let before = Profiler.liveTensorBytes
        do {
            let v = Var(Tensor.zeros([10, 10]))
            XCTAssertEqual(Profiler.liveTensorBytes, before + 400)
            XCTAssertEqual(v.shape, [10, 10])
        }
        XCTAssertEqual(Profiler.liveTensorBytes, before)
        XCTAssertGreaterThanOrEqual(Profiler.snapshot().peakTensorBytes, before + 400)
    }
}
