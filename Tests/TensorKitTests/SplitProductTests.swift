import XCTest
import TensorKit
import TestSupport

/// `BLAS.sgemm` computes big products as blocks of rows or columns on `Parallel`'s threads: every
/// element within its float32 rounding bound of the exact product, and the same bits for any
/// thread count (the blocks follow from the shape, not from the threads).
final class SplitProductTests: XCTestCase {
    override func tearDown() {
        Parallel.threads = 1
        BLAS.threads = 1
    }

    func testBlocksFollowTheShapeOnly() {
        XCTAssertEqual(BLAS.splitBlocks(m: 16, n: 16, k: 16), 1, "small products stay whole")
        XCTAssertEqual(BLAS.splitBlocks(m: 512, n: 64, k: 4608), 2, "512 rows: 2 blocks of at least 256")
        XCTAssertEqual(BLAS.splitBlocks(m: 64, n: 512, k: 4608), 2, "the larger dimension is split")
        XCTAssertEqual(BLAS.splitBlocks(m: 3, n: 1 << 16, k: 512), BLAS.maxSplitBlocks)
        XCTAssertEqual(BLAS.splitBlocks(m: 4096, n: 4096, k: 1), 4, "work 2^24: 4 blocks of 2^22")
        XCTAssertEqual(BLAS.splitBlocks(m: 4096, n: 4096, k: 0), 1)
    }

    /// `C = op(A) op(B) + 0.5 C` with leading dimensions wider than the matrices, for every
    /// transpose pair, on a shape split by rows and one split by columns.
    func testSplitProductsMatchTheDefinitionForAnyThreadCount() {
        for (m, n, k) in [(1040, 32, 256), (32, 1040, 256)] {
            XCTAssertEqual(BLAS.splitBlocks(m: m, n: n, k: k), 2, "the shape (\(m), \(n), \(k)) is split")
            let a = TestTensors.normal([m, k], seed: 11), b = TestTensors.normal([k, n], seed: 12)
            let at = a.transposed2D(), bt = b.transposed2D()
            let pad = 3, ldc = n + pad
            let c0 = TestTensors.normal([m, ldc], seed: 13).data
            // The exact result in Double, and the sum of |terms| of each element.
            var reference = BoundedReference(count: m * n)
            for i in 0..<m {
                for j in 0..<n {
                    var s = 0.5 * Double(c0[i * ldc + j]), mag = abs(s)
                    for l in 0..<k {
                        let t = Double(a.data[i * k + l]) * Double(b.data[l * n + j])
                        s += t
                        mag += abs(t)
                    }
                    reference.value[i * n + j] = s
                    reference.magnitude[i * n + j] = mag
                }
            }
            for (transA, transB) in [(false, false), (true, false), (false, true), (true, true)] {
                // Stored with one extra column each, so the leading dimensions are not the widths.
                let sa = (transA ? at : a).padded(columns: 1), sb = (transB ? bt : b).padded(columns: 1)
                var first: [Float]?
                for t in [1, 2, 3] {
                    Parallel.threads = t
                    var c = c0
                    sa.data.withUnsafeBufferPointer { pa in sb.data.withUnsafeBufferPointer { pb in
                        c.withUnsafeMutableBufferPointer { pc in
                            BLAS.sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: 1,
                                       a: pa.baseAddress!, lda: sa.shape[1], b: pb.baseAddress!, ldb: sb.shape[1],
                                       beta: 0.5, c: pc.baseAddress!, ldc: ldc)
                        } } }
                    let label = "(\(m), \(n), \(k)) transA \(transA) transB \(transB), \(t) threads"
                    var product = [Float](repeating: 0, count: m * n)
                    for i in 0..<m {
                        for j in 0..<n { product[i * n + j] = c[i * ldc + j] }
                        for j in n..<ldc { XCTAssertEqual(c[i * ldc + j], c0[i * ldc + j], "\(label): padding written") }
                    }
                    // k products and k - 1 additions, the scaled old value and its addition.
                    assertWithinRoundingBound(product, reference, roundings: k + 2, label)
                    if let first { XCTAssertTrue(product == first, "\(label): differs from 1 thread") } else { first = product }
                }
            }
        }
    }
}

private extension Tensor {
    /// [R, C] -> [C, R].
    func transposed2D() -> Tensor {
        let (r, c) = (shape[0], shape[1])
        var out = [Float](repeating: 0, count: count)
        for i in 0..<r { for j in 0..<c { out[j * r + i] = data[i * c + j] } }
        return Tensor(shape: [c, r], data: out)
    }

    /// Extra columns of NaN on the right: a kernel that reads them poisons its result.
    func padded(columns extra: Int) -> Tensor {
        let (r, c) = (shape[0], shape[1])
        var out = [Float](repeating: .nan, count: r * (c + extra))
        for i in 0..<r { for j in 0..<c { out[i * (c + extra) + j] = data[i * c + j] } }
        return Tensor(shape: [r, c + extra], data: out)
    }
}
