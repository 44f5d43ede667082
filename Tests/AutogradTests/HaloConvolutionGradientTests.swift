import XCTest
import Autograd
import TensorKit
import TestSupport

/// Gradient checks of the convolutions with halo rows (`Var.conv2d(_:_:top:bottom:)` and
/// `conv2dWeightGradient(_:_:kernel:top:bottom:)`, the rules of the slab convolution), with respect
/// to the slab, the halo rows and the weights, to first and second order, on the im2col and the
/// Winograd path (forced on for small channel counts; even heights and widths).
final class HaloConvolutionGradientTests: XCTestCase {
    override func tearDown() {
        Tensor.winogradMinChannels = 32
        Tensor.winogradMinPixels = 64
    }

    /// (N, C, O, H, W): H = 1 is a slab of one row, whose halos both touch every output.
    static let cases: [(Int, Int, Int, Int, Int)] = [(1, 2, 3, 2, 4), (2, 2, 2, 1, 3), (2, 3, 2, 4, 2)]

    private func forEachPath(_ body: (String) throws -> Void) rethrows {
        for winograd in [false, true] {
            Tensor.winogradMinChannels = winograd ? 1 : Int.max
            Tensor.winogradMinPixels = 1
            try body(winograd ? "Winograd" : "im2col")
        }
    }

    func testConvolutionWithHalos() {
        forEachPath { path in
            for (n, c, o, h, w) in Self.cases {
                let x = TestTensors.normal([n, c, h, w], seed: 1), wt = TestTensors.normal([o, c, 3, 3], seed: 2)
                let top = TestTensors.normal([n, c, 1, w], seed: 3), bottom = TestTensors.normal([n, c, 1, w], seed: 4)
                assertOpGradients([x, wt, top, bottom], options: .polynomial(maxElementsPerInput: 24),
                                  "\(path) N\(n) C\(c) O\(o) \(h)x\(w)") {
                    try Var.conv2d($0[0], $0[1], top: $0[2], bottom: $0[3])
                }
            }
        }
    }

    func testWeightGradientWithHalos() {
        forEachPath { path in
            for (n, c, o, h, w) in Self.cases {
                let x = TestTensors.normal([n, c, h, w], seed: 5), g = TestTensors.normal([n, o, h, w], seed: 6)
                let top = TestTensors.normal([n, c, 1, w], seed: 7), bottom = TestTensors.normal([n, c, 1, w], seed: 8)
                assertOpGradients([x, g, top, bottom], options: .polynomial(maxElementsPerInput: 24),
                                  "\(path) N\(n) C\(c) O\(o) \(h)x\(w)") {
                    try Var.conv2dWeightGradient($0[0], $0[1], kernel: 3, top: $0[2], bottom: $0[3])
                }
            }
        }
    }

    /// The value is the stack's same-padded convolution on x's rows, bit for bit on dyadic
    /// inputs (every sum exact, so any order gives it): the halos are read, each on its side.
    func testValueIsTheStacksRows() throws {
        try forEachPath { path in
            let dyadic = { (shape: [Int], seed: UInt64) in
                Tensor(shape: shape, data: TestTensors.normal(shape, seed: seed).data.map { ($0 * 2).rounded() / 2 })
            }
            let x = dyadic([2, 3, 4, 6], 20), w = dyadic([2, 3, 3, 3], 21)
            let top = dyadic([2, 3, 1, 6], 22), bottom = dyadic([2, 3, 1, 6], 23)
            let whole = Tensor.conv2d(Tensor.concat([top, x, bottom], axis: 2), w).narrowed(axis: 2, start: 1, length: 4)
            XCTAssertEqual(try Var.conv2d(Var(x), Var(w), top: Var(top), bottom: Var(bottom)).value, whole, path)
        }
    }

    func testShapeErrors() {
        let x = Var(Tensor.zeros([1, 2, 3, 4])), w = Var(Tensor.zeros([2, 2, 3, 3])), row = Var(Tensor.zeros([1, 2, 1, 4]))
        XCTAssertThrowsError(try Var.conv2d(x, w, top: Var(Tensor.zeros([1, 2, 2, 4])), bottom: row), "two-row halo for 3x3")
        XCTAssertThrowsError(try Var.conv2d(x, w, top: row, bottom: Var(Tensor.zeros([1, 2, 1, 3]))), "narrower halo")
        XCTAssertThrowsError(try Var.conv2d(x, Var(Tensor.zeros([2, 2, 1, 1])), top: row, bottom: row), "1x1 kernel has no halo")
        XCTAssertThrowsError(try Var.conv2dWeightGradient(x, Var(Tensor.zeros([1, 2, 3, 4])), kernel: 3, top: row,
                                                          bottom: Var(Tensor.zeros([2, 2, 1, 4]))), "halo of another batch")
    }
}
