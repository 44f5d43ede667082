import Foundation
import XCTest
import TensorKit

/// Which OpenBLAS kernel to ask for, from the CPU's features and the kernel OpenBLAS picked.
final class BLASKernelChoiceTests: XCTestCase {
    let xeon = CPUFeatures(avx2FMA: true, avx512F: true, avx512BF16: true)
    let skylake = CPUFeatures(avx2FMA: true, avx512F: true, avx512BF16: false)
    let epyc = CPUFeatures(avx2FMA: true, avx512F: false, avx512BF16: false)
    let old = CPUFeatures(avx2FMA: false, avx512F: false, avx512BF16: false)

    /// Debian's OpenBLAS 0.3.21 on a Xeon 5th generation: generic Prescott, where Cooperlake runs.
    func testXeonOnAGenericKernelSwitches() {
        XCTAssertEqual(BLASKernelChoice.decide(features: xeon, picked: "Prescott", userCoreType: nil), .use("Cooperlake"))
        XCTAssertEqual(BLASKernelChoice.decide(features: skylake, picked: "Prescott", userCoreType: nil), .use("SkylakeX"))
        XCTAssertEqual(BLASKernelChoice.decide(features: skylake, picked: "Core2", userCoreType: ""), .use("SkylakeX"),
                       "an empty variable is not a choice")
        XCTAssertEqual(BLASKernelChoice.decide(features: skylake, picked: "Katmai", userCoreType: nil), .use("SkylakeX"))
        XCTAssertEqual(BLASKernelChoice.decide(features: skylake, picked: "Haswell", userCoreType: nil), .use("SkylakeX"),
                       "AVX2 kernel on an AVX-512 CPU")
        XCTAssertEqual(BLASKernelChoice.decide(features: epyc, picked: "Sandybridge", userCoreType: nil), .use("Haswell"))
        XCTAssertEqual(BLASKernelChoice.decide(features: epyc, picked: "Prescott", userCoreType: nil), .use("Haswell"))
    }

    /// AMD EPYC (AVX2, FMA): OpenBLAS's Haswell or Zen kernel is already the best.
    func testAMDOnItsOwnKernelStays() {
        XCTAssertEqual(BLASKernelChoice.decide(features: epyc, picked: "Haswell", userCoreType: nil), .keep)
        XCTAssertEqual(BLASKernelChoice.decide(features: epyc, picked: "Zen", userCoreType: nil), .keep)
        XCTAssertEqual(BLASKernelChoice.decide(features: xeon, picked: "Cooperlake", userCoreType: nil), .keep)
        XCTAssertEqual(BLASKernelChoice.decide(features: skylake, picked: "SkylakeX", userCoreType: nil), .keep)
    }

    /// The user's OPENBLAS_CORETYPE stands, even when it is slower.
    /// `--precision bf16` names what is missing: the CPU instructions first, then the BLAS
    /// routine; with both, the missing convolution path.
    func testBF16ReasonNamesWhatIsMissing() {
        let amd = CPUFeatures(avx2FMA: true, avx512F: false, avx512BF16: false)
        let xeon = CPUFeatures(avx2FMA: true, avx512F: true, avx512BF16: true)
        XCTAssertTrue(BF16Support.unavailableReason(features: amd, blasHasSBGEMM: true, blas: "B").contains("needs a CPU with AVX512_BF16"))
        XCTAssertTrue(BF16Support.unavailableReason(features: xeon, blasHasSBGEMM: false, blas: "OpenBLAS 0.3.21")
            .contains("needs an OpenBLAS built with bfloat16 (cblas_sbgemm), and OpenBLAS 0.3.21 has none"))
        XCTAssertTrue(BF16Support.unavailableReason(features: xeon, blasHasSBGEMM: true, blas: "B").contains("no bfloat16 convolution path"))
        // Debian's OpenBLAS 0.3.21 exports no cblas_sbgemm (the library these tests link).
        if BLAS.configuration.contains("0.3.21") { XCTAssertFalse(BF16Support.blasHasSBGEMM) }
    }

    func testUserChoiceStands() {
        XCTAssertEqual(BLASKernelChoice.decide(features: xeon, picked: "Prescott", userCoreType: "Prescott"), .keep)
        XCTAssertEqual(BLASKernelChoice.decide(features: xeon, picked: "Haswell", userCoreType: "haswell"), .keep)
    }

    /// Without AVX2 there is nothing to gain over OpenBLAS's own model-based choice; names this
    /// table does not know (a newer OpenBLAS) are never switched away from.
    func testOldCPUsAndUnknownKernelsStay() {
        XCTAssertEqual(BLASKernelChoice.decide(features: old, picked: "Prescott", userCoreType: nil), .keep)
        XCTAssertEqual(BLASKernelChoice.decide(features: old, picked: "Sandybridge", userCoreType: nil), .keep)
        XCTAssertEqual(BLASKernelChoice.decide(features: xeon, picked: "Graniterapids", userCoreType: nil), .keep)
    }

    /// cpuid agrees with the kernel's view of the CPU (/proc/cpuinfo flags, which also drops
    /// features the OS does not save registers for).
    func testCPUFeaturesMatchProcCpuinfo() throws {
        guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let line = info.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else {
            throw XCTSkip("no /proc/cpuinfo flags here")
        }
        let flags = Set(line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == ":" }).map(String.init))
        let f = CPUFeatures.current
        XCTAssertEqual(f.avx2FMA, flags.contains("avx2") && flags.contains("fma"), "\(f)")
        XCTAssertEqual(f.avx512F, flags.contains("avx512f"), "\(f)")
        XCTAssertEqual(f.avx512BF16, flags.contains("avx512_bf16"), "\(f)")
    }

    /// What this process's OpenBLAS reports: a known kernel name and a plausible sgemm speed.
    func testCoreNameAndSgemmSpeed() {
        XCTAssertFalse(BLAS.coreName.isEmpty)
        XCTAssertTrue(BLAS.configuration.contains(BLAS.coreName), "\(BLAS.configuration) vs \(BLAS.coreName)")
        let gflops = BLAS.sgemmGflops(size: 128, seconds: 0.01)
        XCTAssertTrue(gflops.isFinite && gflops > 0.1, "sgemm at \(gflops) GFLOP/s")
    }
}
