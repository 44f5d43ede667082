import ArgumentParser
import Distributed
import Foundation
import ProGAN
import TensorKit
import Training

/// `progan-mpi bench`: throughput of full training iterations of the paper's networks at one
/// resolution, with a breakdown by phase, achieved GFLOP/s next to plain sgemm, peak memory, and
/// under mpirun the global figures and the share of time in MPI.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Time full training iterations of the paper-width G and D at one resolution on synthetic data.",
        discussion: """
        Each iteration is a real training step, stable at --res (alpha 1): D step with the WGAN-GP \
        gradient penalty (double backprop) and drift, G step, Adam on both, EMA of G, gradient \
        all-reduce. Networks: fmap base 8192, fmap max 512, latent 512, 3 channels, minibatch \
        stddev over the whole global minibatch. Run under mpirun for the multi-rank figures. \
        Prints a progress line to stderr; --json prints one JSON object to stdout instead of the report.
        """)

    @Option(help: "Resolution R, a power of two from 4 to 1024.") var res: Int
    @Option(help: ArgumentHelp("Build G and D up to this resolution (default: R) and train at R, as a run growing to it does at R.",
                               valueName: "res"))
    var maxRes: Int?
    @Option(help: "Global minibatch (default: the paper's at R: 16 up to 128, 14 at 256, 6 at 512, 3 at 1024).")
    var batch: Int?
    @Option(help: "Timed iterations.") var iters = 5
    @Option(help: "Untimed iterations before them.") var warmup = 1
    @OptionGroup var threads: ThreadsOption
    @OptionGroup var precision: PrecisionOption
    @OptionGroup var convolution: ConvolutionOption
    @Option(help: ArgumentHelp("Most floats of convolution scratch (im2col columns, Winograd buffers) before chunking.",
                               visibility: .hidden))
    var scratchFloats = Tensor.im2colBudget
    @Option(help: ArgumentHelp("Most input channels for the fused Winograd F(4x4,3x3) kernel (0: off).", visibility: .hidden))
    var fused4MaxChannels = Tensor.fusedWinograd4MaxChannels
    @Option(help: ArgumentHelp("Most input and output channels for the fused Winograd F(4x4,3x3) weight gradient (0: off).",
                               visibility: .hidden))
    var fusedWeight4MaxChannels = Tensor.fusedWeightGradient4MaxChannels
    @Flag(help: "Print one JSON object to stdout instead of the report.") var json = false

    /// The flags of this command alone; the benchmark's own options are checked by
    /// `BenchmarkOptions.validate` when the benchmark is set up.
    func validate() throws {
        guard scratchFloats >= 1 else { throw ValidationError("--scratch-floats must be at least 1, got \(scratchFloats)") }
    }

    func run() throws {
        threads.apply()
        convolution.apply()
        Tensor.fusedWinograd4MaxChannels = fused4MaxChannels
        Tensor.fusedWeightGradient4MaxChannels = fusedWeight4MaxChannels
        Tensor.im2colBudget = scratchFloats
        let (group, mpi) = try launchProcessGroup()
        let isRoot = group.rank == 0
        do {
            let options = BenchmarkOptions(resolution: res, batch: batch, iterations: iters, warmup: warmup,
                                           networkResolution: maxRes)
            let bench = try Benchmark(options: options, group: group)
            if isRoot { BLASKernelSelection.printNote() }
            let progress = ProgressLine(enabled: isRoot, prefix: "bench \(res)x\(res) batch \(options.batch)")
            let result = try bench.run { timed, i, n, seconds in
                progress.update(String(format: "%@ %d/%d  %.3f s  %.2f img/s", timed ? "iteration" : "warm-up", i, n,
                                       seconds, Double(options.batch) / seconds), last: timed && i == n)
            }
            if isRoot {
                if json {
                    let encoder = JSONEncoder()
                    encoder.keyEncodingStrategy = .convertToSnakeCase
                    encoder.outputFormatting = [.sortedKeys]
                    print(String(decoding: try encoder.encode(result), as: UTF8.self))
                } else {
                    print(report(result))
                }
            }
            try mpi?.finalize()
        } catch {
            exitReporting(error, on: group)
        }
    }

    /// The human-readable report.
    func report(_ r: BenchmarkResult) -> String {
        func gib(_ bytes: Double) -> String { String(format: "%.2f GiB", bytes / 1_073_741_824) }
        let minS = r.iterationSeconds.min() ?? 0, maxS = r.iterationSeconds.max() ?? 0
        let held: [(String, Double)] = r.peakTensorBytesByPhase.filter { $0.value >= 1_048_576 }.sorted { $0.value > $1.value }
        let holders = held.map { "\($0.0) \(gib($0.1))" }.joined(separator: ", ")
        var lines: [String?] = [
            "progan-mpi bench: \(r.resolution)x\(r.resolution) stable, global batch \(r.batch) "
                + (r.decomposition.isEmpty
                   ? "(\(r.ranks) rank\(r.ranks == 1 ? "" : "s") x \(r.batch % r.ranks == 0 ? "\(r.localBatch)" : "\(r.localBatch) or \(r.localBatch - 1)")), "
                   : "(images split into slabs over \(r.ranks) ranks), ")
                + "\(r.iterations) timed iteration(s) after "
                + "\(r.warmup) warm-up, \(Parallel.threads) thread(s) a rank, 3x3 convolutions: \(convolution.conv.rawValue)",
            r.decomposition.isEmpty ? nil : "ranks: \(r.decomposition) (each rank a slab of rows of its group's images)",
            "networks: G \(r.parametersG) and D \(r.parametersD) parameters (paper widths, blocks up to \(r.networkResolution)x\(r.networkResolution))",
            "OpenBLAS \(r.blasConfig)",
            "",
            String(format: "throughput  %.3f img/s   %.3f s/iteration (min %.3f, max %.3f)",
                   r.imagesPerSecond, r.secondsPerIteration, minS, maxS),
            "",
            "part                  s/iter   share   GFLOP/it  GFLOP/s  in kernels",
        ]
        for p in r.breakdown {
            lines.append(p.name.padding(toLength: 20, withPad: " ", startingAt: 0)
                         + String(format: "%8.3f  %5.1f%%  %9.2f  %7.1f  %7.0f%%", p.seconds, 100 * p.share, p.gflop,
                                  p.gflops, 100 * p.sgemmShare))
        }
        lines += [
            "",
            String(format: "compute: %.2f GFLOP an iteration (all ranks) in %.0f sgemm calls a rank; achieved %.1f GFLOP/s a rank"
                   + "%@; inside the arithmetic kernels (sgemm and the fused convolutions) %.1f GFLOP/s",
                   r.gflopPerIteration, r.sgemmCallsPerIteration, r.achievedGflopsPerRank,
                   r.ranks > 1 ? String(format: " (%.1f global)", r.achievedGflops) : "", r.sgemmCallsGflops),
            String(format: "plain sgemm in this run: %.1f GFLOP/s at %@ (largest conv at %dx%d), %.1f GFLOP/s at %@",
                   r.sgemmGflops, r.sgemmShape, r.resolution, r.resolution, r.sgemmPeakGflops, r.sgemmPeakShape),
            String(format: "conv kernels: %.1f GFLOP/s (%.0f%% of that conv-shaped sgemm), %.0f%% of their time outside the arithmetic kernels (lowering, transforms, layout, allocation); Winograd's GFLOP/s count the direct convolution's flops",
                   r.convGflops, r.sgemmGflops > 0 ? 100 * r.convGflops / r.sgemmGflops : 0, 100 * r.convOverheadShare),
            "memory: peak RSS \(gib(Double(r.peakRssKib) * 1024))" + (r.ranks > 1 ? " (largest rank)" : "")
                + "; autograd values peak at \(gib(r.peakTensorBytes)) in \(r.peakTensorSlot), held by " + holders,
        ]
        if r.ranks > 1 {
            lines.append(String(format: "MPI: %.1f%% of the time (gradient all-reduce %.1f%%, incl. waiting for the slowest rank; "
                                + "minibatch-stddev all-gather/reduce-scatter %.1f%%)",
                                100 * r.mpiShare, 100 * r.allreduceShare, 100 * r.mbstdShare))
            lines.append("MPI share by rank (a slow rank waits least): "
                         + r.mpiSharePerRank.map { String(format: "%.1f%%", 100 * $0) }.joined(separator: " "))
        }
        if !r.decomposition.isEmpty {
            lines.append(String(format: "spatial: halo exchange %.1f%%, slab gathers / reduce-scatters / norm sums %.1f%%, "
                                + "levels computed whole on every rank of a group %.1f%% of the time",
                                100 * r.haloShare, 100 * r.spatialGatherShare, 100 * r.replicatedShare))
        }
        return lines.compactMap { $0 }.joined(separator: "\n")
    }
}

/// One progress line on stderr: rewritten in place on a terminal, one line per update otherwise.
final class ProgressLine {
    let enabled: Bool
    let prefix: String
    let terminal = isatty(STDERR_FILENO) == 1

    init(enabled: Bool, prefix: String) {
        self.enabled = enabled
        self.prefix = prefix
    }

    func update(_ text: String, last: Bool) {
        guard enabled else { return }
        let line = prefix + ": " + text
        let out = terminal ? "\r\u{1B}[K" + line + (last ? "\n" : "") : line + "\n"
        FileHandle.standardError.write(Data(out.utf8))
    }
}
