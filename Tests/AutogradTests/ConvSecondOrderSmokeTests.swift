import XCTest
import Autograd
import TensorKit

final class ConvSecondOrderSmokeTests: XCTestCase {
    func testConvSecondOrder() throws {
        let rng = CounterRNG(seed: 1)
        let x = Var(Tensor.randomNormal([2, 3, 5, 5], rng: rng, stream: 1), requiresGrad: true)
        let w = Var(Tensor.randomNormal([4, 3, 3, 3], rng: rng, stream: 2), requiresGrad: true)
        func f(_ x: Var, _ w: Var) throws -> Var {
            let y = try Var.conv2d(x, w).leakyReLU(0.2)
            return try y.square().sum()
        }
        // penalty = sum (df/dx)^2 ; derivative w.r.t. w by FD
        func pen(_ w: Var) throws -> (Var, Var) {
            let y = try f(x, w)
            let gx = try gradients(of: y, wrt: [x], createGraph: true)[0]
            return (try gx.square().sum(), y)
        }
        let (p, _) = try pen(w)
        let gw = try gradients(of: p, wrt: [w])[0]
        let eps: Float = 1e-2
        var maxRel: Float = 0
        for i in [0, 5, 17, 50, 107] {
            var wp = w.value; wp.data[i] += eps
            var wm = w.value; wm.data[i] -= eps
            let fp = try pen(Var(wp, requiresGrad: true)).0.value.scalarValue
            let fm = try pen(Var(wm, requiresGrad: true)).0.value.scalarValue
            let fd = (fp - fm) / (2 * eps)
            maxRel = max(maxRel, abs(fd - gw.value.data[i]) / max(1, abs(fd)))
        }
        XCTAssertLessThan(maxRel, 1e-2)
    }
}
