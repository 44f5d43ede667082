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
        guard Profiler.isEnabled && !inBatch else {
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

    /// Whether a `batch` runs: its products are counted together, by the thread that started it.
    @usableFromInline nonisolated(unsafe) static var inBatch = false

    /// Makes `count` independent products, `product(i)` calling `sgemm` for the i-th. With more
    /// than one `Parallel` thread they are split across the threads by product, each computed
    /// whole on one thread by single-threaded OpenBLAS: one hand-off for the batch instead of
    /// OpenBLAS's own for every call (Winograd's 16 products a chunk), and each product gives the
    /// bits it gives with one thread. The profiler sees `count` calls taking the batch's time.
    public static func batch(_ count: Int, _ product: (Int) -> Void) {
        guard Parallel.threads > 1, count > 1 else {
            for i in 0..<count { product(i) }
            return
        }
        let saved = threads
        threads = 1
        let t0 = Profiler.isEnabled ? Profiler.now() : 0
        inBatch = true
        Parallel.forRanges(count) { range in for i in range { product(i) } }
        inBatch = false
        if Profiler.isEnabled { Profiler.recordSgemmBatch(calls: count, seconds: Double(Profiler.now() &- t0) * 1e-9) }
        threads = saved
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
