import ArgumentParser
import ProGAN
import TensorKit
import Training

// Closed sets of choices parse as enums: ArgumentParser lists the choices in help and refuses
// anything else with one line, and the commands use the value without checking it again.
extension Preset: ExpressibleByArgument {}
extension LossConfig.Kind: ExpressibleByArgument {}
extension LossConfig.GradientScale: ExpressibleByArgument {}

/// `--threads`, shared by every command that computes: threads per rank.
struct ThreadsOption: ParsableArguments {
    @Option(help: "Threads per rank, for sgemm and the other kernels (default 1: one rank a core).") var threads = 1

    func validate() throws {
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1, got \(threads)") }
    }

    /// Makes the kernels use `threads` threads in this process: `Parallel`'s, which also split
    /// the sgemm products (`BLAS.sgemm`). OpenBLAS itself stays at one thread a call: its own
    /// threads would spin between calls and take cores from `Parallel`'s.
    func apply() {
        BLAS.threads = 1
        Parallel.threads = threads
    }
}

/// `--conv`: which 3x3 convolution kernels run. `auto` is the fastest choice for each layer;
/// the others exist to compare kernels (speed in `bench`, rounding in `train`).
struct ConvolutionOption: ParsableArguments {
    enum Algorithm: String, ExpressibleByArgument, CaseIterable { case auto, unfused, im2col }

    @Option(help: "3x3 convolution kernels: auto (where the CPU has AVX2 and FMA, Winograd with transforms and products fused in one kernel, F(4x4,3x3) up to 128 channels and F(2x2,3x3) up to 256 (weight gradients: F(4x4,3x3) up to 128, F(2x2,3x3) up to 32); F(2x2,3x3) on sgemm or im2col elsewhere), unfused (the same without the fused kernels) or im2col.")
    var conv: Algorithm = .auto

    /// Sets the kernels' switches in this process.
    func apply() {
        if conv == .im2col { Tensor.winogradMinChannels = Int.max }
        if conv != .auto {
            (Tensor.fusedWinogradMaxChannels, Tensor.fusedWeightGradientMaxChannels) = (0, 0)
            Tensor.fusedWeightGradient4MaxChannels = 0
        }
    }
}

/// `--precision`: the arithmetic of the convolutions' matrix products. Only fp32 runs; bf16 is
/// refused with the reason (`BF16Support`), so that a run never trains in another precision
/// than asked.
struct PrecisionOption: ParsableArguments {
    enum Precision: String, ExpressibleByArgument, CaseIterable { case fp32, bf16 }

    @Option(help: "Arithmetic of the convolution products: fp32, or bf16 (needs AVX512_BF16 and an OpenBLAS with cblas_sbgemm).")
    var precision: Precision = .fp32

    func validate() throws {
        guard precision == .fp32 else {
            throw ValidationError(BF16Support.unavailableReason(features: .current, blasHasSBGEMM: BF16Support.blasHasSBGEMM,
                                                                blas: BLAS.configuration))
        }
    }
}

/// The arguments with every "--name -5" written "--name=-5". ArgumentParser takes a word that
/// starts with "-" for an option, so "--minibatch -1" answered "Missing value for
/// '--minibatch'"; joined, the value reaches the option, whose check then says what is wrong
/// ("--minibatch must be positive"). Only numbers are joined (-1, -0.5, -inf, -nan).
func joiningNegativeValues(_ arguments: [String]) -> [String] {
    func isNegativeNumber(_ word: String) -> Bool {
        guard word.hasPrefix("-"), word.count > 1 else { return false }
        return Double(word) != nil
    }
    var out: [String] = []
    var i = 0
    while i < arguments.count {
        let word = arguments[i]
        if word.hasPrefix("--"), word.count > 2, !word.contains("="), i + 1 < arguments.count, isNegativeNumber(arguments[i + 1]) {
            out.append(word + "=" + arguments[i + 1])
            i += 2
        } else {
            out.append(word)
            i += 1
        }
    }
    return out
}
