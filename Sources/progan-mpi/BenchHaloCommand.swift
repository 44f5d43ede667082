import ArgumentParser
import Autograd
import Distributed
import Foundation
import TensorKit
import Training

/// `progan-mpi bench-halo`: under mpirun, the cost of the slab convolution's halo exchange
/// against the convolution it serves, on the same ranks in the same run.
///
/// A micro-benchmark, hidden from help. The ranks form one spatial group; each holds a slab of
/// `--rows` rows of a `--width`-wide map of `--channels` channels (batch `--batch`) and times,
/// after a barrier, the medians over `--repeats` runs of: the two paired point-to-point calls of
/// one exchange (one row each way, `Communicator.sendReceive`), `Var.haloExchange` (those plus
/// the copy of the slab into [halo; slab; halo]), the 3x3 convolution of the widened slab
/// (C -> C), and `Var.slabConv2d` whole. Rank 0 prints the medians of its own timings.
struct BenchHaloCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-halo",
        abstract: "Time a slab's halo exchange against its 3x3 convolution (run under mpirun).",
        shouldDisplay: false)

    @OptionGroup var threads: ThreadsOption

    @Option(help: "Batch size N.") var batch = 1
    @Option(help: "Channels C (in and out).") var channels = 16
    @Option(help: "Width W of the map.") var width = 1024
    @Option(help: "Rows of each rank's slab.") var rows = 512
    @Option(help: "Timed runs; the median is reported.") var repeats = 20

    func validate() throws {
        guard batch >= 1, channels >= 1, width >= 1, rows >= 1, repeats >= 1 else {
            throw ValidationError("--batch, --channels, --width, --rows and --repeats must be at least 1")
        }
    }

    func run() throws {
        threads.apply()
        let environment = try MPIEnvironment(requested: .funneled)
        let comm = try Communicator(world: environment)
        let (r, n) = (comm.rank, comm.size)
        let above = r > 0 ? r - 1 : nil, below = r < n - 1 ? r + 1 : nil
        let rng = CounterRNG(seed: 1)
        let slab = Tensor.randomNormal([batch, channels, rows, width], rng: rng, stream: UInt64(r))
        let wide = Tensor.randomNormal([batch, channels, rows + 2, width], rng: rng, stream: 100)
        let w = Tensor.randomNormal([channels, channels, 3, 3], rng: rng, stream: 200) * 0.1
        let row = batch * channels * width
        let first = Array(slab.data[0..<row]), last = Array(slab.data[(slab.count - row)...])

        func median(_ body: () throws -> Void) throws -> Double {
            try body()  // warm-up
            var times: [Double] = []
            let clock = ContinuousClock()
            for _ in 0..<repeats {
                try comm.barrier()
                let d = try clock.measure { try body() }
                times.append(Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18)
            }
            return times.sorted()[times.count / 2]
        }
        let exchange = try median {
            _ = comm.sendReceive(first, to: above, from: below, receiveCount: row)
            _ = comm.sendReceive(last, to: below, from: above, receiveCount: row)
        }
        let halo = try median { _ = try Var(slab).haloExchange(comm, above: above, below: below) }
        let conv = try median { _ = Tensor.conv2d(wide, w) }
        let slabConv = try median { _ = try Var.slabConv2d(Var(slab), Var(w), comm, above: above, below: below) }
        if r == 0 {
            let ms = { (t: Double) in String(format: "%.3f ms", t * 1e3) }
            print("bench-halo: \(n) rank(s), slab [\(batch), \(channels), \(rows), \(width)] a rank, "
                  + "one row = \(row * 4) bytes each way; OpenBLAS \(BLAS.configuration), threads \(BLAS.threads); median of \(repeats)")
            print("exchange (2 paired sendReceive)   \(ms(exchange))")
            print("haloExchange (with the slab copy) \(ms(halo))")
            print("3x3 conv of [halo; slab; halo]    \(ms(conv))")
            print("slabConv2d                        \(ms(slabConv))")
            print(String(format: "exchange / conv %.4f; haloExchange / slabConv2d %.4f", exchange / conv, halo / slabConv))
        }
        try environment.finalize()
    }
}
