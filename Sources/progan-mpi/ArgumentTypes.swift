import ArgumentParser
import ProGAN
import TensorKit
import Training

// Closed sets of choices parse as enums: ArgumentParser lists the choices in help and refuses
// anything else with one line, and the commands use the value without checking it again.
extension Preset: ExpressibleByArgument {}
extension LossConfig.Kind: ExpressibleByArgument {}
extension LossConfig.GradientScale: ExpressibleByArgument {}

/// `--threads`, shared by every command that computes: BLAS threads per rank.
struct ThreadsOption: ParsableArguments {
    @Option(help: "Threads per rank, for BLAS and the other kernels (default 1: one rank a core).") var threads = 1

    func validate() throws {
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1, got \(threads)") }
    }

    /// Makes OpenBLAS and the other kernels (`Parallel`) use `threads` threads in this process.
    func apply() {
        BLAS.threads = threads
        Parallel.threads = threads
    }
}
