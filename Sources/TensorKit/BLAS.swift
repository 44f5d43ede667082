import COpenBLAS

/// Thin, typed access to the OpenBLAS routines the project uses. Only TensorKit imports BLAS;
/// other modules go through these functions.
public enum BLAS {
    /// Row-major single-precision GEMM: `C = alpha * op(A) * op(B) + beta * C`.
    ///
    /// - Parameters:
    ///   - transA, transB: whether `A` (stored `m x k`, or `k x m` when transposed) and `B`
    ///     (`k x n`, or `n x k`) are used transposed.
    ///   - m, n, k: the shape of the product, `op(A)` is `m x k`, `op(B)` is `k x n`.
    ///   - lda, ldb, ldc: leading dimensions (row strides) of the stored matrices.
    ///   - countsWork: whether the profiler counts this call's `m n k` multiply-adds. Winograd
    ///     convolutions pass false and count their direct-convolution equivalent instead, so
    ///     achieved GFLOP/s stay comparable across algorithms.
    @inlinable
    public static func sgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
                             alpha: Float, a: UnsafePointer<Float>, lda: Int,
                             b: UnsafePointer<Float>, ldb: Int,
                             beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, countsWork: Bool = true) {
        if m == 0 || n == 0 { return }
        if k == 0 {
            // BLAS leaves C untouched for k == 0 only when beta == 1; make it explicit.
            for i in 0..<m { for j in 0..<n { c[i * ldc + j] *= beta } }
            return
        }
        guard Profiler.isEnabled else {
            cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                        Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
            return
        }
        // Counted for `progan-mpi bench`: the achieved GFLOP/s are these multiply-adds over time.
        let t0 = Profiler.now()
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
        Profiler.recordSgemm(m: m, n: n, k: countsWork ? k : 0, seconds: Double(Profiler.now() &- t0) * 1e-9)
    }

    /// Number of threads OpenBLAS uses in each call of this process.
    public static var threads: Int {
        get { Int(openblas_get_num_threads()) }
        set { openblas_set_num_threads(Int32(max(1, newValue))) }
    }

    /// The OpenBLAS build configuration string (core type, threading), for logs and benchmarks.
    public static var configuration: String {
        guard let c = openblas_get_config() else { return "unknown" }
        return String(cString: c)
    }
}
