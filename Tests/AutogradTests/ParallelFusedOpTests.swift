import XCTest
import Autograd
import TensorKit
import TestSupport

/// The fused ops split across threads (`Parallel`) give the same bits for 1 and 2 threads, with
/// their first- and second-order gradients.
final class ParallelFusedOpTests: XCTestCase {
    override func tearDown() { Parallel.threads = 1 }

    func run(threads: Int) throws -> [[Float]] {
        Parallel.threads = threads
        defer { Parallel.threads = 1 }
        let x = Var(TestTensors.normal([4, 16, 32, 32], seed: 81), requiresGrad: true)
        let w = Var(TestTensors.normal([16, 16, 3, 3], seed: 82, scale: 0.3), requiresGrad: true)
        let b = Var(TestTensors.normal([16], seed: 83), requiresGrad: true)
        let y = try Var.pixelNorm(Var.conv2dBiasLeakyReLU(x, w, b, slope: 0.2), epsilon: 1e-8)
        let r = Var(TestTensors.normal([4, 16, 32, 32], seed: 84))
        let score = try (y.square() * r).sum()
        let gx = try gradients(of: score, wrt: [x], createGraph: true)[0]
        let penalty = try gx.square().sum()
        let second = try gradients(of: penalty, wrt: [x, w, b])
        let plain = try gradients(of: try (y * r).sum(), wrt: [x, w, b])
        return [y.value.data, gx.value.data] + second.map { $0.value.data } + plain.map { $0.value.data }
    }

    func testFusedOpsAndTheirGradientsAreDeterministic() throws {
        let serial = try run(threads: 1), parallel = try run(threads: 2)
        XCTAssertEqual(serial.count, parallel.count)
        for (i, (s, p)) in zip(serial, parallel).enumerated() {
            XCTAssertTrue(s == p, "result \(i) differs with 2 threads")
        }
    }
}
