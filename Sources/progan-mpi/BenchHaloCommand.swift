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
/// (C -> C), that of the slab alone (same-padded: what the slab convolution should cost),
/// `Var.slabConv2d` whole, the widened slab's convolution with its middle rows kept (how
/// `slabConv2d` was first built), and the forward and backward pass (gradients for the slab
/// and the weight) of the slab's plain `Var.conv2d`, of `Var.slabConv2d` and of the widened
/// form, and of the same three as the gradient penalty uses them (input gradient recorded, a
/// loss on it differentiated for the weight). Rank 0 prints the medians and minima of its own
/// timings.
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

        let upstream = Var(Tensor.randomNormal([batch, channels, rows, width], rng: rng, stream: 300))
        func forwardBackward(_ conv: @escaping (Var, Var) throws -> Var) -> () throws -> Void {
            {
                let (xv, wv) = (Var(slab, requiresGrad: true), Var(w, requiresGrad: true))
                _ = try gradients(of: conv(xv, wv), wrt: [xv, wv], seed: upstream)
            }
        }
        // As in the gradient penalty: the input gradient recorded (createGraph), a loss on it,
        // differentiated for the weight. With L = |y|^2 / 2 the upstream gradient is y, which
        // depends on the weight, so the second pass goes through every rule's own rules, the
        // halo rows' included.
        func penalty(_ conv: @escaping (Var, Var) throws -> Var) -> () throws -> Void {
            {
                let (xv, wv) = (Var(slab, requiresGrad: true), Var(w, requiresGrad: true))
                let y = try conv(xv, wv)
                let g = try gradients(of: (y * y).sum() * 0.5, wrt: [xv], createGraph: true)[0]
                _ = try gradients(of: (g * g).sum(), wrt: [wv])
            }
        }
        // The slab convolution as it was first built: the widened slab convolved, its middle kept.
        let widened = { (x: Var, w: Var) throws -> Var in
            try Var.conv2d(x.haloExchange(comm, above: above, below: below), w).narrow(axis: 2, start: 1, length: rows)
        }
        let cases: [(name: String, body: () throws -> Void)] = [
            ("exchange (2 paired sendReceive)", {
                _ = comm.sendReceive(first, to: above, from: below, receiveCount: row)
                _ = comm.sendReceive(last, to: below, from: above, receiveCount: row)
            }),
            ("haloExchange (with the slab copy)", { _ = try Var(slab).haloExchange(comm, above: above, below: below) }),
            ("3x3 conv of [halo; slab; halo]", { _ = Tensor.conv2d(wide, w) }),
            ("3x3 conv of the slab alone", { _ = Tensor.conv2d(slab, w) }),
            ("slabConv2d", { _ = try Var.slabConv2d(Var(slab), Var(w), comm, above: above, below: below) }),
            ("widened slab conv, middle rows", { _ = try widened(Var(slab), Var(w)) }),
            ("conv2d of the slab, fwd + bwd", forwardBackward { try Var.conv2d($0, $1) }),
            ("slabConv2d fwd + bwd", forwardBackward { try Var.slabConv2d($0, $1, comm, above: above, below: below) }),
            ("widened slab conv, fwd + bwd", forwardBackward(widened)),
            ("conv2d of the slab, penalty", penalty { try Var.conv2d($0, $1) }),
            ("slabConv2d penalty", penalty { try Var.slabConv2d($0, $1, comm, above: above, below: below) }),
            ("widened slab conv, penalty", penalty(widened)),
        ]
        // Interleaved: each repeat times every case once, so that a shared machine's changing
        // load falls alike on all of them; each case's median, and the median of its ratio to its
        // reference within the same repeat.
        var times = [[Double]](repeating: [], count: cases.count)
        let clock = ContinuousClock()
        for repeat_ in -1..<repeats {
            for (i, c) in cases.enumerated() {
                try comm.barrier()
                let d = try clock.measure { try c.body() }
                if repeat_ >= 0 { times[i].append(Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18) }
            }
        }
        func median(_ v: [Double]) -> Double { v.sorted()[v.count / 2] }
        func ratio(_ a: Int, _ b: Int) -> Double { median(zip(times[a], times[b]).map { $0 / $1 }) }
        // The fastest repeat: the one least disturbed by other work on a shared machine.
        func fastest(_ a: Int, _ b: Int) -> Double { times[a].min()! / times[b].min()! }
        if r == 0 {
            let ms = { (t: Double) in String(format: "%.3f ms", t * 1e3) }
            print("bench-halo: \(n) rank(s), slab [\(batch), \(channels), \(rows), \(width)] a rank, "
                  + "one row = \(row * 4) bytes each way; OpenBLAS \(BLAS.configuration), threads \(BLAS.threads); "
                  + "median of \(repeats), cases interleaved")
            for (i, c) in cases.enumerated() {
                print(c.name.padding(toLength: 34, withPad: " ", startingAt: 0) + ms(median(times[i]))
                      + "  (fastest " + ms(times[i].min()!) + ")")
            }
            print(String(format: "exchange / conv %.4f; haloExchange / slabConv2d %.4f", ratio(0, 2), ratio(1, 4)))
            print(String(format: "over the conv of the slab alone (median of paired ratios): slabConv2d %.3f, widened %.3f; "
                         + "fwd + bwd: slabConv2d %.3f, widened %.3f", ratio(4, 3), ratio(5, 3), ratio(7, 6), ratio(8, 6)))
            print(String(format: "over the conv of the slab alone (fastest over fastest): slabConv2d %.3f, widened %.3f; "
                         + "fwd + bwd: slabConv2d %.3f, widened %.3f", fastest(4, 3), fastest(5, 3), fastest(7, 6), fastest(8, 6)))
            print(String(format: "penalty over the slab's plain conv: slabConv2d %.3f, widened %.3f (median of paired ratios), "
                         + "%.3f, %.3f (fastest)", ratio(10, 9), ratio(11, 9), fastest(10, 9), fastest(11, 9)))
        }
        try environment.finalize()
    }
}
