import Foundation
import TensorKit
import TestSupport
import XCTest

/// The release binary runs the best OpenBLAS kernel for this CPU and says which in its start
/// lines; when OpenBLAS picks a generic one, the process re-executes itself with a better one
/// before MPI starts, and says so once.
final class BLASKernelStartTests: TrainingCLITestCase {
    /// `BLAS: OpenBLAS <kernel> kernel, ...` from train's start lines.
    func kernel(in stdout: String) -> String? {
        guard let line = stdout.split(separator: "\n").first(where: { $0.hasPrefix("BLAS: OpenBLAS ") }) else { return nil }
        return line.dropFirst("BLAS: OpenBLAS ".count).split(separator: " ").first.map(String.init)
    }

    func skipIfUserChoseAKernel() throws {
        if let v = ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"], !v.isEmpty {
            throw XCTSkip("OPENBLAS_CORETYPE=\(v) is set: the user's choice stands, nothing to check")
        }
    }

    /// With no OPENBLAS_CORETYPE, train's start lines name a kernel of the CPU's best tier (on a
    /// CPU with AVX2 at least; older ones keep OpenBLAS's own choice) and an sgemm speed.
    func testTrainStartsOnTheBestKernel() throws {
        try skipIfUserChoseAKernel()
        let data = try makeDataset()
        let r = try progan(["train", "--data", data, "--out", path("run"), "--preset", "tiny", "--max-steps", "1"])
        XCTAssertTrue(r.succeeded, r.summary)
        let name = try XCTUnwrap(kernel(in: r.stdout), r.stdout)
        XCTAssertTrue(r.stdout.contains("GFLOP/s"), r.stdout)
        if let best = BLASKernelChoice.best(for: .current) {
            XCTAssertEqual(BLASKernelChoice.tier(of: name), best.tier, "kernel \(name) on a CPU with \(CPUFeatures.current)")
        }
    }

    /// A stand-in for an OpenBLAS that does not know this CPU: a preloaded library makes
    /// `openblas_get_corename` say Prescott until the process was re-executed. Two ranks under
    /// mpirun: each re-executes itself before MPI_Init, the job runs on the better kernel, and
    /// rank 0 alone says so, in one line on stderr.
    func testGenericKernelIsReplacedInEveryRank() throws {
        try skipIfUserChoseAKernel()
        guard let best = BLASKernelChoice.best(for: .current) else { throw XCTSkip("no AVX2 here: nothing to switch to") }
        guard let cc = ChildProcess.which("cc") else { throw XCTSkip("no C compiler for the stand-in library") }
        let source = path("fakecore.c"), library = path("fakecore.so")
        try """
        #define _GNU_SOURCE
        #include <stdlib.h>
        #include <dlfcn.h>
        char *openblas_get_corename(void) {
            if (!getenv("PROGAN_MPI_BLAS_PICKED") && !getenv("OPENBLAS_CORETYPE")) return "Prescott";
            char *(*real)(void) = (char *(*)(void))dlsym(RTLD_NEXT, "openblas_get_corename");
            return real();
        }
        """.write(toFile: source, atomically: true, encoding: .utf8)
        let built = try ChildProcess.run([cc, "-shared", "-fPIC", "-o", library, source, "-ldl"], timeout: 60)
        try XCTSkipUnless(built.succeeded, "cannot build the stand-in library: \(built.summary)")

        let b = try binary()
        let r = try ChildProcess.run(["mpirun", "-np", "2", "--oversubscribe", "-x", "LD_PRELOAD", b, "bench", "--res", "4",
                                      "--batch", "2", "--iters", "1", "--warmup", "0", "--json"],
                                     extraEnvironment: ["LD_PRELOAD": library], timeout: 300)
        XCTAssertTrue(r.succeeded, r.summary)
        let notes = r.stderr.split(separator: "\n").filter { $0.contains("OpenBLAS picked its Prescott kernel") }
        XCTAssertEqual(notes.count, 1, r.stderr)
        XCTAssertTrue(notes.first?.contains("running \(best.coreType) instead") ?? false, r.stderr)
        let json = try XCTUnwrap(r.stdout.split(separator: "\n").last { $0.hasPrefix("{") }, r.stdout)
        let j = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        XCTAssertEqual(j["ranks"] as? Int, 2)
        XCTAssertTrue((j["blas_config"] as? String ?? "").contains(best.coreType), "\(j["blas_config"] ?? "")")
    }
}
