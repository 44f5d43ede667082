import COpenBLAS

/// Thin, typed access to the OpenBLAS routines the project uses. Only TensorKit imports BLAS;
/// other modules go through these functions.
public enum BLAS {
    /// Row-major single-precision GEMM: `C = alpha * op(A) * op(B) + beta * C`.
    ///
    /// A product big enough is computed as blocks of rows or columns of `C` (`splitBlocks`),
    /// each one single-threaded OpenBLAS call, the blocks split across `Parallel`'s threads. The
    /// blocks depend on the shape only, never on the thread count: a block's sums can round
    /// differently from the whole product's (OpenBLAS's kernels give other last bits for a part
    /// of a product), so with a fixed split every thread count gives the same bits. OpenBLAS's
    /// own threads are not used (`--threads` leaves it at one thread a call): between calls they
    /// spin in `sched_yield` for up to ~0.1 s (in one profile with 2 threads at res 32, half of
    /// its worker's CPU time), a third thread wanting a core next to `Parallel`'s two.
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
        // Inside a batch each product is one block: the batch is what is split.
        let blocks = inBatch ? 1 : splitBlocks(m: m, n: n, k: k)
        let t0 = Profiler.isEnabled && !inBatch ? Profiler.now() : 0
        if blocks > 1 {
            splitSgemm(blocks: blocks, transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha,
                       a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
        } else {
            cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                        Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
        }
        // Counted for `progan-mpi bench`: the achieved GFLOP/s are these multiply-adds over time.
        if Profiler.isEnabled && !inBatch {
            Profiler.recordSgemm(m: m, n: n, k: countsWork ? k : 0, seconds: Double(Profiler.now() &- t0) * 1e-9)
        }
    }

    /// The most blocks a product is split into, and so the most threads one product uses.
    /// Each block packs the operand it shares with the others again: 2 to 4 blocks of the
    /// products the networks make cost 0-5% over the whole product on one thread (AMD EPYC,
    /// OpenBLAS 0.3.21 Zen; more blocks cost up to 30-50% on some shapes).
    public static let maxSplitBlocks = 4

    /// Rows (or columns) of `C` a block has at least; blocks start on multiples of 16 (whole
    /// micro-tiles of every x86 OpenBLAS sgemm kernel).
    public static let splitMinRows = 256

    /// Multiply-adds a block has at least (2^22: ~0.1-0.2 ms of sgemm, far above a hand-off).
    public static let splitMinWork = 1 << 22

    /// How many blocks `sgemm` computes a product of this shape as (1: whole). The larger of
    /// `m` and `n` is split: each block then reads all of the smaller operand again, which
    /// costs least that way. A function of the shape only, so results do not depend on the
    /// thread count.
    @inlinable
    public static func splitBlocks(m: Int, n: Int, k: Int) -> Int {
        let rows = max(m, n)
        let work = Double(m) * Double(n) * Double(k)
        return max(1, min(maxSplitBlocks, rows / splitMinRows, Int(work / Double(splitMinWork))))
    }

    /// The first row (or column) of block `p` of `blocks` over `count`: multiples of 16.
    @inlinable
    static func blockStart(_ p: Int, of blocks: Int, count: Int) -> Int {
        let units = (count + 15) / 16
        return min(count, units * p / blocks * 16)
    }

    /// `sgemm` as `blocks` whole single-threaded calls on `Parallel`'s threads.
    @usableFromInline
    static func splitSgemm(blocks: Int, transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                           a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                           beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        let saved = threads
        if saved != 1 { threads = 1 }
        let byRows = m >= n
        let (ta, tb) = (transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans)
        Parallel.forRanges(blocks) { range in
            for p in range {
                let lo = blockStart(p, of: blocks, count: byRows ? m : n)
                let hi = blockStart(p + 1, of: blocks, count: byRows ? m : n)
                guard lo < hi else { continue }
                if byRows {
                    // Rows lo..<hi of C: those rows of op(A), all of op(B).
                    cblas_sgemm(CblasRowMajor, ta, tb, Int32(hi - lo), Int32(n), Int32(k), alpha,
                                transA ? a + lo : a + lo * lda, Int32(lda), b, Int32(ldb),
                                beta, c + lo * ldc, Int32(ldc))
                } else {
                    // Columns lo..<hi of C: all of op(A), those columns of op(B).
                    cblas_sgemm(CblasRowMajor, ta, tb, Int32(m), Int32(hi - lo), Int32(k), alpha,
                                a, Int32(lda), transB ? b + lo * ldb : b + lo, Int32(ldb),
                                beta, c + lo, Int32(ldc))
                }
            }
        }
        if saved != 1 { threads = saved }
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
