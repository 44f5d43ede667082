import Autograd
import Foundation
import ProGAN
import TensorKit

/// What `progan-mpi bench` runs: full training iterations of the paper-width networks, stable at
/// one resolution, on synthetic data.
public struct BenchmarkOptions: Sendable {
    /// Resolution R, a power of two in 4...1024, trained at alpha 1.
    public var resolution: Int
    /// G and D are built up to this resolution (R by default): a run growing to 1024 that is at
    /// R has the layers of the resolutions beyond R too, unused but in memory.
    public var networkResolution: Int
    /// Global minibatch (split across ranks).
    public var batch: Int
    /// Timed iterations.
    public var iterations: Int
    /// Untimed iterations first (allocator and caches warm up).
    public var warmup: Int
    /// Image channels.
    public var channels = 3
    /// Seed of weights, latents and synthetic images.
    public var seed: UInt64 = 1000

    /// - Parameter batch: nil takes the paper's minibatch at `resolution`.
    /// - Parameter networkResolution: nil builds the networks up to `resolution`.
    public init(resolution: Int, batch: Int? = nil, iterations: Int = 5, warmup: Int = 1, networkResolution: Int? = nil) {
        self.resolution = resolution
        self.networkResolution = networkResolution ?? resolution
        self.batch = batch ?? BenchmarkOptions.paperMinibatch(at: resolution)
        self.iterations = iterations
        self.warmup = warmup
    }

    /// The paper's minibatch at a resolution (appendix A.1): 16 up to 128, then 14, 6, 3.
    public static func paperMinibatch(at resolution: Int) -> Int {
        switch resolution {
        case ...128: return 16
        case 256: return 14
        case 512: return 6
        default: return 3
        }
    }

    /// The training configuration benchmarked: the paper's networks (fmap base 8192, max 512,
    /// latent 512, global minibatch stddev), WGAN-GP, Adam (0, 0.99, 1e-8), EMA 0.999, a schedule
    /// that starts and stays at `resolution` with alpha 1 (its first stable phase never ends).
    public var trainingConfig: TrainingConfig {
        var net = NetworkConfig()
        net.resolution = networkResolution
        net.channels = channels
        var schedule = GrowthSchedule(finalResolution: networkResolution, stabilizeKimg: 1e9, fadeKimg: 1, totalKimg: 1e9,
                                      defaultMinibatch: batch)
        schedule.initialResolution = resolution
        var c = TrainingConfig(network: net, schedule: schedule)
        c.seed = seed
        return c
    }

    /// Checks the options; the messages name the command-line flags. Any number of ranks works:
    /// the batch is dealt out as evenly as possible (`BatchShards`), some ranks may hold none.
    public func validate() throws {
        guard resolution >= 4, resolution <= 1024, resolution & (resolution - 1) == 0 else {
            throw InputError("--res \(resolution) is not a power of two between 4 and 1024")
        }
        guard networkResolution >= resolution, networkResolution <= 1024, networkResolution & (networkResolution - 1) == 0 else {
            throw InputError("--max-res \(networkResolution) is not a power of two between --res \(resolution) and 1024")
        }
        guard batch >= 1 else { throw InputError("--batch must be at least 1, got \(batch)") }
        guard iterations >= 1 else { throw InputError("--iters must be at least 1, got \(iterations)") }
        guard warmup >= 0 else { throw InputError("--warmup must be at least 0, got \(warmup)") }
    }
}

/// A part of the iteration: a profiler slot (a phase in one direction) or a group of them.
public struct BenchmarkPart: Codable, Sendable {
    /// E.g. "GP_double_backward", or a slot "GP_grad/forward".
    public var name: String
    /// Seconds per iteration, rank mean.
    public var seconds: Double
    /// Share of the iteration's time.
    public var share: Double
    /// sgemm GFLOP per iteration made in this part (one rank).
    public var gflop: Double
    /// Share of this part's time spent inside the arithmetic kernels (sgemm, fused convolutions).
    public var sgemmShare: Double

    /// sgemm GFLOP over the part's whole time.
    public var gflops: Double { seconds > 0 ? gflop / seconds : 0 }
}

/// What `progan-mpi bench` measured. Times are per iteration; "global" figures cover all ranks.
public struct BenchmarkResult: Codable, Sendable {
    /// `localBatch`: the largest rank's share of the batch (rank 0's; shares differ by at most one).
    public var resolution = 0, networkResolution = 0, batch = 0, ranks = 0, localBatch = 0, iterations = 0, warmup = 0
    /// Threads a rank (`--threads`: `Parallel`'s threads, which also run the split sgemm
    /// products), and OpenBLAS's own threads a call (1 since products are split by `Parallel`).
    public var threads = 0
    public var blasThreads = 0
    public var blasConfig = ""
    public var parametersG = 0, parametersD = 0
    /// Global images per second: the global minibatch over the slowest rank's time per iteration.
    public var imagesPerSecond = 0.0
    public var secondsPerIteration = 0.0
    /// Each timed iteration's seconds (the slowest rank's).
    public var iterationSeconds: [Double] = []
    /// The iteration by parts (G forward, D backward, gradient penalty, all-reduce, ...), in order.
    public var breakdown: [BenchmarkPart] = []
    /// Every profiler slot that saw time ("phase/direction").
    public var slots: [BenchmarkPart] = []
    /// sgemm GFLOP per iteration over all ranks (2 flops per multiply-add, every sgemm call:
    /// forward, backward, double backward).
    public var gflopPerIteration = 0.0
    /// That work over the time per iteration: global, and per rank.
    public var achievedGflops = 0.0
    public var achievedGflopsPerRank = 0.0
    /// The arithmetic kernels' own speed (sgemm and the fused convolutions): their flops over the
    /// time inside them.
    public var sgemmCallsGflops = 0.0
    public var sgemmCallsPerIteration = 0.0
    /// Convolution kernels (lowering + sgemm or fused kernel + layout): flops over their time, and
    /// the share of their time outside the arithmetic kernels (im2col, layout copies, allocation).
    public var convGflops = 0.0
    public var convOverheadShare = 0.0
    /// Plain sgemm measured in the same run on every rank, rank mean: the shape of the largest
    /// 3x3 conv at this resolution (columns capped at 4096), and a fixed large shape.
    public var sgemmGflops = 0.0
    public var sgemmShape = ""
    public var sgemmPeakGflops = 0.0
    public var sgemmPeakShape = ""
    /// Peak resident memory (getrusage ru_maxrss), the largest rank's, in KiB; and all ranks'.
    public var peakRssKib = 0
    public var peakRssKibPerRank: [Int] = []
    /// Most bytes held by autograd values at once (rank 0), the slot where that happened, and the
    /// bytes each phase's nodes held then: what holds the memory at the peak.
    public var peakTensorBytes = 0.0
    public var peakTensorSlot = ""
    public var peakTensorBytesByPhase: [String: Double] = [:]
    /// Shares of the iteration in MPI (rank mean): gradient all-reduce (including the wait for
    /// the slowest rank) and the minibatch-stddev all-gather / reduce-scatter.
    public var mpiShare = 0.0
    public var allreduceShare = 0.0
    public var mbstdShare = 0.0
    /// Spatial steps (images split into slabs): how the ranks share the batch
    /// (`SpatialLayout`'s description), and the shares of the iteration in the halo exchange,
    /// in gathering slabs (and their reduce-scatter, and the penalty's norm sums), and in the
    /// levels computed whole on every rank of a spatial group.
    public var decomposition = ""
    public var haloShare = 0.0
    public var spatialGatherShare = 0.0
    public var replicatedShare = 0.0
    /// Each rank's share of its own time in MPI (all-reduce and minibatch-stddev collectives), in
    /// rank order: the ranks that wait least are the slow ones, since a collective waits for the
    /// last rank to arrive.
    public var mpiSharePerRank: [Double] = []

    public init() {}

    /// The breakdown's groups of slots (phase, backward), in report order.
    static let groups: [(String, [(StepPhase, Bool)])] = [
        ("data", [(.data, false)]),
        ("G_forward", [(.generator, false)]),
        ("G_backward", [(.generator, true)]),
        ("D_forward", [(.discriminator, false), (.discriminatorForG, false)]),
        ("D_backward", [(.discriminator, true), (.discriminatorForG, true)]),
        ("GP_forward", [(.penalty, false)]),
        ("GP_grad", [(.penaltyGradient, false)]),
        ("GP_double_backward", [(.penalty, true), (.penaltyGradient, true)]),
        ("allreduce", [(.allreduce, false), (.allreduce, true)]),
        ("mbstd_collective", [(.mbstdCollective, false), (.mbstdCollective, true)]),
        ("halo", [(.halo, false), (.halo, true)]),
        ("spatial_gather", [(.spatialGather, false), (.spatialGather, true)]),
        ("replicated", [(.replicated, false), (.replicated, true)]),
        ("optimizer", [(.optimizer, false), (.optimizer, true)]),
        ("other", [(.other, false), (.other, true)]),
    ]

    /// The breakdown part named `name` (zero if absent).
    public func part(_ name: String) -> BenchmarkPart {
        breakdown.first { $0.name == name } ?? BenchmarkPart(name: name, seconds: 0, share: 0, gflop: 0, sgemmShare: 0)
    }
}

/// Runs full training iterations (D step with gradient penalty, G step, EMA, Adam, gradient
/// all-reduce) of the real `Trainer` and measures them with the `Profiler`.
public final class Benchmark {
    public let options: BenchmarkOptions
    public let group: ProcessGroup
    let trainer: Trainer
    let data: InMemoryImages
    let order: DataOrder

    /// Builds the networks (the same on every rank) and the synthetic data.
    public init(options: BenchmarkOptions, group: ProcessGroup) throws {
        try options.validate()
        self.options = options
        self.group = group
        trainer = try Trainer(config: options.trainingConfig, group: group)
        data = InMemoryImages.synthetic(count: options.batch, channels: options.channels,
                                        resolution: options.resolution, seed: options.seed)
        order = DataOrder(count: options.batch, seed: options.seed)
    }

    /// How the ranks share the batch (D groups x S slabs), as the trainer decides it.
    var layout: SpatialLayout { trainer.decomposition(at: trainer.point).layout }

    /// Parameters of G and D.
    public var parameterCounts: (G: Int, D: Int) { (trainer.G.parameters.count, trainer.D.parameters.count) }

    /// Runs the warm-up and timed iterations; `progress(timed, index, count, seconds)` is called
    /// after each (on every rank). Every rank must call this.
    public func run(progress: (Bool, Int, Int, Double) -> Void = { _, _, _, _ in }) throws -> BenchmarkResult {
        for i in 0..<options.warmup {
            let t0 = Profiler.now()
            try trainer.step(data: data, order: order)
            progress(false, i + 1, options.warmup, Double(Profiler.now() - t0) * 1e-9)
        }
        try group.barrier()
        StepPhase.other.enter()
        Profiler.setEnabled(true)
        Profiler.reset()
        var iterationSeconds: [Double] = []
        for i in 0..<options.iterations {
            let t0 = Profiler.now()
            try trainer.step(data: data, order: order)
            iterationSeconds.append(Double(Profiler.now() - t0) * 1e-9)
            progress(true, i + 1, options.iterations, iterationSeconds[i])
        }
        let profile = Profiler.snapshot()
        Profiler.setEnabled(false)
        let (sgemmShape, sgemmGflops) = referenceShape()
        let peakShape = SgemmShape(m: 512, n: 1024, k: 4608)
        let peakGflops = peakShape.gflops()
        return try summarize(profile: profile, iterationSeconds: iterationSeconds,
                             sgemm: (sgemmShape, sgemmGflops), peak: (peakShape, peakGflops))
    }

    /// The largest 3x3 conv at the resolution: D's first conv at R (nf(R) -> nf(R) channels).
    func referenceShape() -> (SgemmShape, Double) {
        let r = options.resolution
        let c = options.trainingConfig.network.width(at: r)
        let columns = min(4096, max(1, r * r * layout.samples(of: 0).count / layout.spatialRanks))
        let shape = SgemmShape(m: c, n: columns, k: c * 9)
        return (shape, shape.gflops())
    }

    func summarize(profile: Profiler.Snapshot, iterationSeconds: [Double], sgemm: (SgemmShape, Double),
                   peak: (SgemmShape, Double)) throws -> BenchmarkResult {
        let iters = Double(options.iterations)
        let slots = profile.seconds.count
        // Every rank's numbers, laid out [wall, per-iteration..., slot seconds, slot MACs, slot
        // sgemm seconds, conv (s, MACs, sgemm s), sgemm refs, rss, sgemm calls], gathered by a sum.
        var mine: [Double] = [iterationSeconds.reduce(0, +)] + iterationSeconds
        mine += profile.seconds + profile.multiplyAdds + profile.sgemmSeconds
        mine += [profile.convSeconds, profile.convMultiplyAdds, profile.convSgemmSeconds, sgemm.1, peak.1,
                 Double(peakRSSKiB()), Double(profile.sgemmCalls)]
        let all = try gatherAll(mine)
        let ranks = Double(group.size)
        func mean(_ i: Int) -> Double { all.reduce(0) { $0 + $1[i] } / ranks }
        func total(_ i: Int) -> Double { all.reduce(0) { $0 + $1[i] } }
        let n = iterationSeconds.count
        let (secOff, macOff, sgOff) = (1 + n, 1 + n + slots, 1 + n + 2 * slots)
        let tail = 1 + n + 3 * slots

        var r = BenchmarkResult()
        r.resolution = options.resolution; r.networkResolution = options.networkResolution; r.batch = options.batch; r.ranks = group.size
        r.localBatch = layout.samples(of: 0).count; r.iterations = options.iterations; r.warmup = options.warmup
        if layout.spatialRanks > 1 { r.decomposition = layout.description }
        r.threads = Parallel.threads; r.blasThreads = BLAS.threads; r.blasConfig = BLAS.configuration
        (r.parametersG, r.parametersD) = parameterCounts
        let wall = all.map { $0[0] }.max()!
        r.secondsPerIteration = wall / iters
        r.imagesPerSecond = Double(options.batch) * iters / wall
        r.iterationSeconds = (0..<n).map { i in all.map { $0[1 + i] }.max()! }
        let meanIteration = mean(0) / iters

        func part(_ name: String, _ ss: [Int]) -> BenchmarkPart {
            let sec = ss.reduce(0.0) { $0 + mean(secOff + $1) } / iters
            let macs = ss.reduce(0.0) { $0 + mean(macOff + $1) } / iters
            let sg = ss.reduce(0.0) { $0 + mean(sgOff + $1) } / iters
            return BenchmarkPart(name: name, seconds: sec, share: sec / meanIteration, gflop: 2 * macs / 1e9,
                                 sgemmShare: sec > 0 ? sg / sec : 0)
        }
        for s in 0..<slots where mean(secOff + s) > 0 {
            let phase = StepPhase(rawValue: s / 2)?.name ?? "phase\(s / 2)"
            r.slots.append(part(phase + (s % 2 == 1 ? "/backward" : "/forward"), [s]))
        }
        r.breakdown = BenchmarkResult.groups.map { name, members in
            part(name, members.map { Profiler.Snapshot.slot($0.0.rawValue, backward: $0.1) })
        }

        let macs = (0..<slots).reduce(0.0) { $0 + total(macOff + $1) }
        let sgemmSeconds = (0..<slots).reduce(0.0) { $0 + total(sgOff + $1) }
        r.gflopPerIteration = 2 * macs / iters / 1e9
        r.achievedGflops = r.gflopPerIteration / r.secondsPerIteration
        r.achievedGflopsPerRank = r.achievedGflops / ranks
        r.sgemmCallsGflops = sgemmSeconds > 0 ? 2 * macs / sgemmSeconds / 1e9 : 0
        r.sgemmCallsPerIteration = mean(tail + 6) / iters
        let (convSeconds, convMacs, convSgemm) = (total(tail), total(tail + 1), total(tail + 2))
        r.convGflops = convSeconds > 0 ? 2 * convMacs / convSeconds / 1e9 : 0
        r.convOverheadShare = convSeconds > 0 ? (convSeconds - convSgemm) / convSeconds : 0
        r.sgemmGflops = mean(tail + 3); r.sgemmShape = sgemm.0.description
        r.sgemmPeakGflops = mean(tail + 4); r.sgemmPeakShape = peak.0.description
        r.peakRssKibPerRank = all.map { Int($0[tail + 5]) }
        r.peakRssKib = r.peakRssKibPerRank.max()!

        r.peakTensorBytes = profile.peakTensorBytes
        let peakPhase = StepPhase(rawValue: profile.peakSlot.phase)?.name ?? "phase\(profile.peakSlot.phase)"
        r.peakTensorSlot = peakPhase + (profile.peakSlot.backward ? " backward" : " forward")
        for (i, b) in profile.peakTensorBytesByPhase.enumerated() where b > 0 {
            r.peakTensorBytesByPhase[StepPhase(rawValue: i)?.name ?? "phase\(i)"] = b
        }
        r.allreduceShare = r.part("allreduce").share
        r.mbstdShare = r.part("mbstd_collective").share
        r.haloShare = r.part("halo").share
        r.spatialGatherShare = r.part("spatial_gather").share
        r.replicatedShare = r.part("replicated").share
        r.mpiShare = r.allreduceShare + r.mbstdShare + r.haloShare + r.spatialGatherShare
        let mpiSlots = [StepPhase.allreduce, .mbstdCollective, .halo, .spatialGather].flatMap { phase in
            [false, true].map { Profiler.Snapshot.slot(phase.rawValue, backward: $0) }
        }
        r.mpiSharePerRank = all.map { rank in
            rank[0] > 0 ? mpiSlots.reduce(0.0) { $0 + rank[secOff + $1] } / rank[0] : 0
        }
        return r
    }

    /// Every rank's `values` (equal counts), in rank order: one all-reduce of a sum where each
    /// rank fills only its own block.
    func gatherAll(_ values: [Double]) throws -> [[Double]] {
        let k = values.count
        var v = [Double](repeating: 0, count: k * group.size)
        for (i, x) in values.enumerated() { v[group.rank * k + i] = x }
        let sum = try group.allReduceSum(v)
        return (0..<group.size).map { Array(sum[$0 * k ..< ($0 + 1) * k]) }
    }
}

/// Peak resident set size of this process in KiB (getrusage's ru_maxrss: KiB on Linux, bytes on macOS).
public func peakRSSKiB() -> Int {
    var usage = rusage()
    #if os(Linux)
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Int(usage.ru_maxrss)
    #else
    getrusage(RUSAGE_SELF, &usage)
    return Int(usage.ru_maxrss) / 1024
    #endif
}

/// A row-major `[m, k] x [k, n]` sgemm, timed as a reference for the networks' GFLOP/s.
struct SgemmShape: CustomStringConvertible {
    let m: Int, n: Int, k: Int
    var description: String { "\(m)x\(k) * \(k)x\(n)" }

    /// GFLOP/s: the median of 3 timed calls after one untimed.
    func gflops() -> Double {
        let rng = CounterRNG(seed: 7)
        let a = Tensor.randomNormal([m, k], rng: rng, stream: 1)
        let b = Tensor.randomNormal([k, n], rng: rng, stream: 2)
        var c = [Float](repeating: 0, count: m * n)
        var times: [Double] = []
        a.data.withUnsafeBufferPointer { pa in b.data.withUnsafeBufferPointer { pb in
            c.withUnsafeMutableBufferPointer { pc in
                for i in 0..<4 {
                    let t0 = Profiler.now()
                    BLAS.sgemm(transA: false, transB: false, m: m, n: n, k: k, alpha: 1, a: pa.baseAddress!, lda: k,
                               b: pb.baseAddress!, ldb: n, beta: 0, c: pc.baseAddress!, ldc: n)
                    if i > 0 { times.append(Double(Profiler.now() - t0) * 1e-9) }
                }
            } } }
        return 2 * Double(m) * Double(n) * Double(k) / times.sorted()[1] / 1e9
    }
}
