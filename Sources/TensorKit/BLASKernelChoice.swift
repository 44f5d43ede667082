import COpenBLAS
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The x86 features that decide which OpenBLAS kernel a CPU can run: each counts only when the
/// OS also saves the registers it uses (XCR0), as OpenBLAS's own checks require.
public struct CPUFeatures: Equatable, Sendable, CustomStringConvertible {
    /// AVX2 and FMA3 (the Haswell and Zen kernels).
    public var avx2FMA: Bool
    /// AVX-512 Foundation (the SkylakeX kernel).
    public var avx512F: Bool
    /// AVX512_BF16 (the Cooperlake kernel, whose sgemm is also faster: 163 against 133 GFLOP/s
    /// for SkylakeX on one Xeon 5th-generation core, OpenBLAS 0.3.21, 1024^3).
    public var avx512BF16: Bool

    public init(avx2FMA: Bool, avx512F: Bool, avx512BF16: Bool) {
        self.avx2FMA = avx2FMA
        self.avx512F = avx512F
        self.avx512BF16 = avx512BF16
    }

    /// This CPU's features, from cpuid and xgetbv (none on other architectures).
    public static var current: CPUFeatures {
        func cpuid(_ leaf: UInt32, _ subleaf: UInt32 = 0) -> [UInt32] {
            var r: [UInt32] = [0, 0, 0, 0]
            r.withUnsafeMutableBufferPointer { progan_cpuid(leaf, subleaf, $0.baseAddress!) }
            return r
        }
        let basic = cpuid(1)
        let bit = { (word: UInt32, n: UInt32) -> Bool in (word >> n) & 1 == 1 }
        // No OSXSAVE: the OS saves no AVX state, so no AVX kernel may run.
        guard PROGAN_HAS_CPUID != 0, bit(basic[2], 27), bit(basic[2], 28) else {
            return CPUFeatures(avx2FMA: false, avx512F: false, avx512BF16: false)
        }
        let xcr0 = progan_xgetbv0()
        let ymm = xcr0 & 0x6 == 0x6, zmm = xcr0 & 0xe6 == 0xe6
        let extended = cpuid(7), extended1 = cpuid(7, 1)
        return CPUFeatures(avx2FMA: ymm && bit(extended[1], 5) && bit(basic[2], 12),
                           avx512F: zmm && bit(extended[1], 16),
                           avx512BF16: zmm && bit(extended[1], 16) && bit(extended1[0], 5))
    }

    public var description: String {
        avx512F ? (avx512BF16 ? "AVX-512 with BF16" : "AVX-512") : avx2FMA ? "AVX2 and FMA" : "no AVX2"
    }
}

/// Whether OpenBLAS runs a kernel below what the CPU can run, and which one to ask for instead.
///
/// OpenBLAS built with DYNAMIC_ARCH (Debian's) picks its kernel from the CPU model when it loads;
/// a CPU newer than the library gets a generic one (Debian's 0.3.21 runs Prescott, SSE3 only, on
/// Xeon 5th generation: 30 GFLOP/s sgemm where SkylakeX reaches 133). OPENBLAS_CORETYPE, read
/// at load, overrides the choice, so the executable re-executes itself once with it set.
public enum BLASKernelChoice {
    /// What to do about the kernel OpenBLAS picked.
    public enum Decision: Equatable, Sendable {
        /// The kernel is the best this CPU can run, or the user chose one: leave it.
        case keep
        /// Ask OpenBLAS for this core type (a value of OPENBLAS_CORETYPE) instead.
        case use(String)
    }

    /// Vector width tier of each OpenBLAS x86-64 kernel: 0 SSE only, 1 AVX (and AMD's FMA4
    /// families), 2 AVX2 + FMA, 3 AVX-512. Names OpenBLAS reports from `openblas_get_corename`.
    static let tiers: [String: Int] = {
        var t: [String: Int] = [:]
        for name in ["Unknown", "Katmai", "Coppermine", "Northwood", "Prescott", "Banias", "Atom", "Core2", "Penryn",
                     "Dunnington", "Nehalem", "Athlon", "Opteron", "Opteron_SSE3", "Opteron(SSE3)", "Barcelona", "Nano",
                     "Bobcat"] { t[name.lowercased()] = 0 }
        for name in ["Sandybridge", "Bulldozer", "Piledriver", "Steamroller", "Excavator"] { t[name.lowercased()] = 1 }
        for name in ["Haswell", "Zen"] { t[name.lowercased()] = 2 }
        for name in ["SkylakeX", "Cooperlake", "SapphireRapids"] { t[name.lowercased()] = 3 }
        return t
    }()

    /// The tier of an OpenBLAS kernel name (any case), or nil for a name not in the table.
    public static func tier(of coreName: String) -> Int? { tiers[coreName.lowercased()] }

    /// The best kernel for `features` and its tier, or nil for a CPU without AVX2 (there the
    /// model-specific choice OpenBLAS made is the better judge).
    public static func best(for features: CPUFeatures) -> (coreType: String, tier: Int)? {
        if features.avx512F { return (features.avx512BF16 ? "Cooperlake" : "SkylakeX", 3) }
        if features.avx2FMA { return ("Haswell", 2) }
        return nil
    }

    /// The decision for a CPU with `features` on which OpenBLAS picked kernel `picked`, with
    /// `userCoreType` the OPENBLAS_CORETYPE the process started with (nil or empty: not set).
    ///
    /// Switches only up, and only from a kernel it knows: one of a lower tier than the CPU's best
    /// (a newer OpenBLAS's names, unknown here, are left alone). A user's choice always stands.
    public static func decide(features: CPUFeatures, picked: String, userCoreType: String?) -> Decision {
        if let user = userCoreType, !user.isEmpty { return .keep }
        guard let best = best(for: features), let tier = tier(of: picked), tier < best.tier else { return .keep }
        return .use(best.coreType)
    }
}

extension BLAS {
    /// The kernel OpenBLAS runs (e.g. "Haswell", "SkylakeX", "Prescott").
    public static var coreName: String {
        guard let c = openblas_get_corename() else { return "unknown" }
        return String(cString: c)
    }

    /// Plain sgemm speed of `size`^3 products with the current thread count, in GFLOP/s (2 flops
    /// a multiply-add): the best of repeated products over about `seconds`, after one warm-up.
    public static func sgemmGflops(size: Int = 512, seconds: Double = 0.1) -> Double {
        let a = [Float](repeating: 0.5, count: size * size), b = [Float](repeating: 0.25, count: size * size)
        var c = [Float](repeating: 0, count: size * size)
        var best = Double.infinity, total = 0.0, reps = 0
        a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in c.withUnsafeMutableBufferPointer { pc in
            while reps < 2 || (total < seconds && reps < 1000) {
                let t0 = Profiler.now()
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(size), Int32(size), Int32(size), 1,
                            pa.baseAddress!, Int32(size), pb.baseAddress!, Int32(size), 0, pc.baseAddress!, Int32(size))
                let s = Double(Profiler.now() &- t0) * 1e-9
                if reps > 0 { best = min(best, s); total += s }
                reps += 1
            }
        } } }
        return 2 * Double(size * size * size) / best / 1e9
    }
}

/// Whether convolution products could run with bfloat16 inputs and float32 sums (`--precision
/// bf16`): that needs the CPU's AVX512_BF16 instructions and a BLAS with `cblas_sbgemm`
/// (OpenBLAS built with BUILD_BFLOAT16; Debian's 0.3.21 is not). Where both exist the product
/// would still need a path of its own here, which is not written: the option refuses in every
/// case, saying which of the three is missing, so that a run never silently trains in fp32.
public enum BF16Support {
    /// Whether the loaded BLAS exports `cblas_sbgemm`.
    public static var blasHasSBGEMM: Bool {
        guard let handle = dlopen(nil, RTLD_NOW) else { return false }
        defer { dlclose(handle) }
        return dlsym(handle, "cblas_sbgemm") != nil
    }

    /// Why `--precision bf16` cannot run, as one line for the user (nil never: see the type).
    public static func unavailableReason(features: CPUFeatures, blasHasSBGEMM: Bool, blas: String) -> String {
        guard features.avx512BF16 else {
            return "--precision bf16 needs a CPU with AVX512_BF16 (this one has \(features)); run with --precision fp32 (the default)"
        }
        guard blasHasSBGEMM else {
            return "--precision bf16 needs an OpenBLAS built with bfloat16 (cblas_sbgemm), and \(blas) has none; run with --precision fp32 (the default)"
        }
        return "--precision bf16: this CPU and BLAS could, but progan-mpi has no bfloat16 convolution path yet; run with --precision fp32 (the default)"
    }
}
