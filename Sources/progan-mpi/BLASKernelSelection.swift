import Foundation
import TensorKit

/// Runs the process on the best OpenBLAS kernel for its CPU.
///
/// OpenBLAS chooses its kernel when the library loads, before any of our code runs, and reads
/// OPENBLAS_CORETYPE only then. So when it picked one below what the CPU can run (a CPU newer than
/// the library gets a generic kernel: `BLASKernelChoice`), the process re-executes itself once
/// with OPENBLAS_CORETYPE set, same argv and environment, same PID. That must happen before
/// MPI_Init: each rank of a job re-executes itself, which Open MPI tolerates before MPI_Init
/// since the PID its launcher knows stays the same. A user's OPENBLAS_CORETYPE always stands.
enum BLASKernelSelection {
    /// Set for the re-executed process: the kernel OpenBLAS had picked. It also stops a second
    /// re-execution, whatever the library does with the requested core type.
    static let marker = "PROGAN_MPI_BLAS_PICKED"

    /// The line `train` and `bench` print on stderr at start when the kernel was switched (or a
    /// switch failed); nil otherwise.
    nonisolated(unsafe) static var note: String?

    /// Call first thing in the process: returns only if no re-execution is needed (or it failed).
    static func ensureBestKernel() {
        #if os(Linux)
        if let picked = getenv(marker).map({ String(cString: $0) }) {
            unsetenv(marker)
            note = "progan-mpi: OpenBLAS picked its \(picked) kernel for this CPU (\(CPUFeatures.current)); running "
                + "\(BLAS.coreName) instead (OPENBLAS_CORETYPE set at start; set it yourself to choose)"
            return
        }
        let picked = BLAS.coreName
        let user = getenv("OPENBLAS_CORETYPE").map { String(cString: $0) }
        guard case .use(let coreType) = BLASKernelChoice.decide(features: .current, picked: picked, userCoreType: user)
        else { return }
        setenv("OPENBLAS_CORETYPE", coreType, 1)
        setenv(marker, picked, 1)
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        // Only reached when exec failed: carry on as we are.
        let reason = String(cString: strerror(errno))
        unsetenv("OPENBLAS_CORETYPE")
        unsetenv(marker)
        note = "progan-mpi: OpenBLAS runs its \(picked) kernel on a CPU with \(CPUFeatures.current); re-executing with "
            + "OPENBLAS_CORETYPE=\(coreType) failed (\(reason)): set OPENBLAS_CORETYPE=\(coreType) for full speed"
        #endif
    }

    /// Prints `note`, if any, on stderr (once).
    static func printNote() {
        guard let note else { return }
        FileHandle.standardError.write(Data((note + "\n").utf8))
        self.note = nil
    }

    /// One start line: the kernel, threads and plain sgemm speed of this process.
    static func summary(threads: Int) -> String {
        String(format: "BLAS: OpenBLAS %@ kernel, %d thread(s), sgemm 512^3 at %.1f GFLOP/s", BLAS.coreName, threads,
               BLAS.sgemmGflops())
    }
}
