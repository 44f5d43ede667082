import XCTest
import Autograd
import TensorKit

/// `accumulateGradients` adds into `grad` only for parameters the loss depends on: the others keep
/// nil, which is how the trainer knows which layers to leave out of the all-reduce and Adam.
final class AccumulateGradientsTests: XCTestCase {
    func testUnreachedParameterKeepsNilAndReachedOnesAccumulate() throws {
        let used = Var(Tensor(shape: [3], data: [1, -2, 3]), requiresGrad: true)
        let unused = Var(Tensor(shape: [2], data: [5, 6]), requiresGrad: true)
        let loss = try (used * used).sum()
        try accumulateGradients(of: loss, into: [used, unused])
        XCTAssertEqual(used.grad?.data, [2, -4, 6])
        XCTAssertNil(unused.grad)
        // A second loss adds to the first; a parameter it does not reach keeps what it had.
        try accumulateGradients(of: try (unused * 3).sum(), into: [used, unused])
        XCTAssertEqual(used.grad?.data, [2, -4, 6])
        XCTAssertEqual(unused.grad?.data, [3, 3])
    }

    func testGradientsStillReturnZerosForUnreachedInputs() throws {
        let used = Var(Tensor(shape: [2], data: [1, 2]), requiresGrad: true)
        let unused = Var(Tensor(shape: [2, 2], data: [1, 2, 3, 4]), requiresGrad: true)
        let gs = try gradients(of: try used.sum(), wrt: [used, unused])
        XCTAssertEqual(gs[0].value.data, [1, 1])
        XCTAssertEqual(gs[1].value, Tensor.zeros([2, 2]))
    }
}
