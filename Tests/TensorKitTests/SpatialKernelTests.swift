import XCTest
import TensorKit
import TestSupport

/// Resampling and layout kernels on hand-computed cases.
final class SpatialKernelTests: XCTestCase {
    func testUpsample2x() {
        let x = Tensor(shape: [1, 1, 2, 2], data: [1, 2, 3, 4])
        assertClose(x.upsampled2x(), shape: [1, 1, 4, 4], [1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4])
        // Non-square, two planes.
        let y = Tensor(shape: [1, 2, 1, 2], data: [1, 2, 5, 6])
        assertClose(y.upsampled2x(), shape: [1, 2, 2, 4], [1, 1, 2, 2, 1, 1, 2, 2, 5, 5, 6, 6, 5, 5, 6, 6])
    }

    func testAvgPool2x() {
        let x = Tensor(shape: [1, 1, 2, 4], data: [1, 2, 3, 4, 5, 6, 7, 8])
        assertClose(x.avgPooled2x(), shape: [1, 1, 1, 2], [3.5, 5.5])
        let y = Tensor(shape: [2, 1, 2, 2], data: [1, 2, 3, 4, -4, 0, 0, 0])
        assertClose(y.avgPooled2x(), shape: [2, 1, 1, 1], [2.5, -1])
        // Pooling undoes upsampling.
        let z = TestTensors.normal([2, 3, 2, 3], seed: 1)
        assertClose(z.upsampled2x().avgPooled2x(), z)
    }

    /// A scale applied in the pass gives the bits of scaling the result in a second pass (the
    /// gradient rules' former form): 4 and 1/4 are powers of two, and scaling by them is exact
    /// unless a result is subnormal, which none is here. The defaults are unchanged.
    func testScaledResamplingIsTheScaledResultBitForBit() {
        func bits(_ t: Tensor) -> [UInt32] { t.data.map(\.bitPattern) }
        let a = Tensor(shape: [1, 1, 2, 4], data: [1, 2, 3, 4, 5, 6, 7, 8])
        assertClose(a.avgPooled2x(scale: 1), shape: [1, 1, 1, 2], [14, 22], rtol: 0, atol: 0)
        assertClose(Tensor(shape: [1, 1, 1, 2], data: [1, -2]).upsampled2x(scale: 0.25), shape: [1, 1, 2, 4],
                    [0.25, 0.25, -0.5, -0.5, 0.25, 0.25, -0.5, -0.5], rtol: 0, atol: 0)
        let x = TestTensors.normal([2, 3, 4, 6], seed: 2)
        XCTAssertTrue(x.avgPooled2x(scale: 1).data.allSatisfy { $0 == 0 || abs($0) >= 4 * Float.leastNormalMagnitude })
        XCTAssertEqual(bits(x.avgPooled2x(scale: 1)), bits(x.avgPooled2x() * 4))
        XCTAssertEqual(bits(x.upsampled2x(scale: 0.25)), bits(x.upsampled2x() * 0.25))
        XCTAssertEqual(bits(x.avgPooled2x(scale: 0.25)), bits(x.avgPooled2x()))
        XCTAssertEqual(bits(x.upsampled2x(scale: 1)), bits(x.upsampled2x()))
    }

    func testConcat() {
        let a = Tensor(shape: [2, 1], data: [1, 2]), b = Tensor(shape: [2, 2], data: [3, 4, 5, 6])
        assertClose(Tensor.concat([a, b], axis: 1), shape: [2, 3], [1, 3, 4, 2, 5, 6])
        assertClose(Tensor.concat([b, a], axis: 1), shape: [2, 3], [3, 4, 1, 5, 6, 2])
        let r = Tensor(shape: [1, 2], data: [7, 8])
        assertClose(Tensor.concat([b, r], axis: 0), shape: [3, 2], [3, 4, 5, 6, 7, 8])
        // NCHW on channels: per sample, a's channel then c's two.
        let x = Tensor(shape: [2, 1, 1, 2], data: [1, 2, 3, 4])
        let c = Tensor(shape: [2, 2, 1, 2], data: [10, 11, 12, 13, 20, 21, 22, 23])
        assertClose(Tensor.concat([x, c], axis: 1), shape: [2, 3, 1, 2], [1, 2, 10, 11, 12, 13, 3, 4, 20, 21, 22, 23])
    }

    func testNarrowAndEmbed() {
        let a = Tensor(shape: [2, 3], data: [1, 2, 3, 4, 5, 6])
        let n = a.narrowed(axis: 1, start: 1, length: 2)
        assertClose(n, shape: [2, 2], [2, 3, 5, 6])
        assertClose(n.embedded(axis: 1, start: 1, total: 4), shape: [2, 4], [0, 2, 3, 0, 0, 5, 6, 0])
        assertClose(a.narrowed(axis: 0, start: 1, length: 1), shape: [1, 3], [4, 5, 6])
        assertClose(a.embedded(axis: 0, start: 0, total: 3), shape: [3, 3], [1, 2, 3, 4, 5, 6, 0, 0, 0])
        // Narrowing the embedded part gives it back.
        let t = TestTensors.normal([2, 3, 2], seed: 2)
        assertClose(t.embedded(axis: 1, start: 2, total: 6).narrowed(axis: 1, start: 2, length: 3), t)
    }
}
