import ArgumentParser
import Foundation
import TensorKit

/// `progan-mpi bench-kernels`: GFLOP/s of the convolution kernels the networks spend their time
/// in, next to plain sgemm of the same size in the same run, so the im2col overhead is visible.
///
/// A micro-benchmark, not a test: hidden from help. Each kernel runs `--warmup` times untimed,
/// then `--repeats` timed runs; the median is reported. A 3x3 same-padded convolution at C in and
/// O out channels, H x W, batch N does `2 N O H W C 9` flops in each of forward, backward-data
/// (`conv2d(g, flipT(w))`, as the autograd rule runs it) and backward-weight
/// (`conv2dWeightGradient`); the sgemm baselines have the shapes of the products inside them:
/// `[O, C*9] x [C*9, N*H*W]` (forward, backward-data) and `[O, N*H*W] x [C*9, N*H*W]^T`
/// (backward-weight), the same flop count.
struct BenchKernelsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-kernels",
        abstract: "Print GFLOP/s of 3x3 convolution forward/backward kernels and of sgemm of a comparable size.",
        shouldDisplay: false)

    @OptionGroup var threads: ThreadsOption

    @Option(help: "Batch size N.")
    var batch = 16

    @Option(help: "Input and output channels C = O.")
    var channels = 512

    @Option(help: "Height and width of the feature maps.")
    var size = 16

    @Option(help: "Smallest channel count for Winograd F(2x2,3x3) (a large value: im2col only).")
    var winogradMinChannels = Tensor.winogradMinChannels

    @Option(help: "Most input channels for the fused Winograd kernel (0: off).")
    var fusedMaxChannels = Tensor.fusedWinogradMaxChannels

    @Option(help: "Most input channels for the fused Winograd F(4x4,3x3) kernel (0: off).")
    var fused4MaxChannels = Tensor.fusedWinograd4MaxChannels

    @Option(help: "Most input and output channels for the fused Winograd weight gradient (0: off).")
    var fusedWeightMaxChannels = Tensor.fusedWeightGradientMaxChannels

    @Option(help: "Most input and output channels for the fused Winograd F(4x4,3x3) weight gradient (0: off).")
    var fusedWeight4MaxChannels = Tensor.fusedWeightGradient4MaxChannels

    @Option(help: "Most floats of convolution scratch (im2col columns, Winograd buffers) before chunking.")
    var scratchFloats = Tensor.im2colBudget

    @Option(help: "Untimed runs of each kernel before timing.")
    var warmup = 1

    @Option(help: "Timed runs of each kernel; the median is reported.")
    var repeats = 5

    func validate() throws {
        guard batch >= 1, channels >= 1, size >= 1 else {
            throw ValidationError("--batch, --channels and --size must be at least 1")
        }
        guard warmup >= 0, repeats >= 1 else { throw ValidationError("--warmup must be >= 0 and --repeats >= 1") }
    }

    /// Median seconds of `repeats` timed runs of `body`, after `warmup` untimed ones.
    func time(_ body: () -> Float) -> (median: Double, all: [Double]) {
        var sink: Float = 0
        for _ in 0..<warmup { sink += body() }
        let clock = ContinuousClock()
        var times: [Double] = []
        for _ in 0..<repeats {
            let d = clock.measure { sink += body() }
            times.append(Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18)
        }
        // Keeps the results observable, so no run can be optimized away.
        if sink.isNaN { print("(a result was NaN)") }
        let sorted = times.sorted()
        let mid = sorted.count / 2
        let median = sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
        return (median, times)
    }

    func run() throws {
        threads.apply()
        Tensor.winogradMinChannels = winogradMinChannels
        Tensor.fusedWinogradMaxChannels = fusedMaxChannels
        Tensor.fusedWeightGradientMaxChannels = fusedWeightMaxChannels
        Tensor.fusedWeightGradient4MaxChannels = fusedWeight4MaxChannels
        Tensor.fusedWinograd4MaxChannels = fused4MaxChannels
        Tensor.im2colBudget = scratchFloats
        let (n, c, o, hw, k) = (batch, channels, channels, size * size, 3)
        let flops = 2.0 * Double(n) * Double(o) * Double(hw) * Double(c * k * k)
        let rng = CounterRNG(seed: 1)
        let x = Tensor.randomNormal([n, c, size, size], rng: rng, stream: 1)
        let w = Tensor.randomNormal([o, c, k, k], rng: rng, stream: 2) * 0.01
        let g = Tensor.randomNormal([n, o, size, size], rng: rng, stream: 3)
        // sgemm operands of the conv's product shapes: [m, kk] x [kk, cols].
        let (m, kk, cols) = (o, c * k * k, n * hw)
        let a = Tensor.randomNormal([m, kk], rng: rng, stream: 4)
        let b = Tensor.randomNormal([kk, cols], rng: rng, stream: 5)
        let gt = Tensor.randomNormal([m, cols], rng: rng, stream: 6)
        let bt = Tensor.randomNormal([kk, cols], rng: rng, stream: 7)

        print("bench-kernels: 3x3 conv, N \(n), C \(c) -> O \(o), \(size)x\(size); "
              + "\(String(format: "%.2f", flops / 1e9)) GFLOP per kernel call")
        print("OpenBLAS \(BLAS.configuration), threads \(BLAS.threads); "
              + "\(ProcessInfo.processInfo.activeProcessorCount) CPUs online; warm-up \(warmup), median of \(repeats)")
        let chunk = max(1, min(n * size, Tensor.im2colBudget / max(1, c * k * k * size)))
        print("im2col: \(chunk) of \(n * size) image rows per chunk (budget \(Tensor.im2colBudget) floats)")

        // OpenBLAS 0.3.21 runs small-N products (N <= 256 here) at a third of its speed until the
        // process has made one larger product (seen with Python/ctypes too): one untimed large call
        // first, as any training step makes, so the table compares steady states.
        _ = Tensor.matmul(Tensor.randomNormal([512, 1024], rng: rng, stream: 8), Tensor.randomNormal([1024, 1024], rng: rng, stream: 9))

        let cases: [(String, () -> Float)] = [
            ("conv forward", { Tensor.conv2d(x, w).data[0] }),
            ("conv backward-data", { Tensor.conv2d(g, w.flippedTransposedKernel()).data[0] }),
            ("conv backward-weight", { Tensor.conv2dWeightGradient(x, g, kernel: k).data[0] }),
            ("sgemm NN \(m)x\(kk) * \(kk)x\(cols)", { Tensor.matmul(a, b).data[0] }),
            ("sgemm NT \(m)x\(cols) * (\(kk)x\(cols))^T", { Tensor.matmul(gt, bt, transB: true).data[0] }),
        ]
        var allCases = cases
        if k == 3 && size % 2 == 0 && min(c, o) >= winogradMinChannels {
            // Winograd's own products, for its overhead: 16 of [O, C] x [C, T], T = N H W / 4 tiles.
            let tiles = n * hw / 4
            let u = Tensor.randomNormal([16 * o, c], rng: rng, stream: 10)
            let v = Tensor.randomNormal([16 * c, tiles], rng: rng, stream: 11)
            allCases.append(("winograd sgemm 16x \(o)x\(c) * \(c)x\(tiles)", {
                var sink: Float = 0
                for xi in 0..<16 {
                    let a = Tensor(shape: [o, c], data: Array(u.data[(xi * o * c)..<((xi + 1) * o * c)]))
                    let b = Tensor(shape: [c, tiles], data: Array(v.data[(xi * c * tiles)..<((xi + 1) * c * tiles)]))
                    sink += Tensor.matmul(a, b).data[0]
                }
                return sink
            }))
        }
        for (name, body) in allCases {
            let t = time(body)
            let all = t.all.map { String(format: "%.1f", $0 * 1e3) }.joined(separator: " ")
            print(name.padding(toLength: 36, withPad: " ", startingAt: 0)
                  + String(format: "%8.1f GFLOP/s  median %8.1f ms", flops / t.median / 1e9, t.median * 1e3)
                  + "  (runs ms: \(all))")
        }
    }
}
