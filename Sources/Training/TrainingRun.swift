import Autograd
import Foundation
import Imaging
import Metrics
import ProGAN
import TensorKit

/// Options of a training run that do not change the trained model (not part of `TrainingConfig`).
public struct RunOptions: Sendable {
    public var directory: String
    /// Report (log line, metrics, sample grid) every this many thousand images.
    public var tickKimg: Double = 4
    /// Checkpoint every this many ticks (and always at the end and on a stop signal).
    public var checkpointTicks = 1
    /// Samples in the grid written per tick.
    public var gridCount = 64
    /// Stop after this many steps in this invocation (tests); nil runs to the schedule's end.
    public var maxSteps: Int?
    /// Checkpoints kept in the run directory (older ones are removed).
    public var keepCheckpoints = 3
    /// Print the tick lines to stdout as well as to log.txt.
    public var echo = true
    /// Compute the sliced Wasserstein distance every this many ticks (0: never).
    public var swdTicks = 0
    /// Images per side for the SWD.
    public var swdImages = 1024
    /// Write TensorBoard event files into `directory/tensorboard` (rank 0; see `TensorBoardLog`).
    public var tensorboard = true
    public init(directory: String) { self.directory = directory }
}

/// How a run ended.
public enum RunOutcome: Equatable, Sendable {
    case finished
    case stepLimit
    /// A stop signal was received; the state was checkpointed.
    case stopped(signal: Int32)
}

/// The training loop in clear phases: set up (check the data against the configuration, resume
/// or init, write the resolved config.json), loop (step; at each tick: report, samples, SWD,
/// checkpoint; every step: agree on stop signals), finish. Rank 0 alone writes files; all ranks
/// take the same decisions because every decision is a pure function of the shared progress,
/// and stop flags are combined with an all-reduce.
public final class TrainingRun {
    public let trainer: Trainer
    public let data: RealImageSource
    public let options: RunOptions
    let order: DataOrder
    var isRoot: Bool { trainer.group.rank == 0 }
    private var log: FileHandle?
    private var swd: SWDEvaluator?
    private var metrics: FileHandle?
    private var tensorboard: TensorBoardLog?
    /// Rank 0's lock on the run directory, held until the run object goes away.
    private var lock: RunLock?

    /// Sets up a run; with `resume` loads the checkpoint first (all ranks read it). The one place
    /// that checks the data against the configuration (the `Trainer` validates the rest).
    /// - Throws: `InputError` if the dataset cannot serve the configuration, `ConfigError` if the
    ///   configuration cannot work on `group.size` ranks, checkpoint errors.
    public init(config: TrainingConfig, group: ProcessGroup, data: RealImageSource, options: RunOptions,
                resumeFrom checkpoint: String?) throws {
        let r = config.network.resolution
        guard data.resolution >= r else {
            throw InputError("training at \(r)x\(r) needs images at \(r)x\(r), but the dataset holds them up to \(data.resolution)x\(data.resolution) (it has no level data\(r)x\(r)): create the dataset at \(r), or pass --resolution \(data.resolution) or less")
        }
        guard data.channels == config.network.channels else {
            throw InputError("the dataset has \(data.channels) channel(s) but the network is configured for \(config.network.channels)")
        }
        if config.network.isConditional && data.classCount != config.network.classes {
            throw InputError(data.classCount == 0
                ? "conditional training needs labels, but the dataset has none: create it from a folder with one subfolder a class, or train without --conditional"
                : "the network is conditioned on \(config.network.classes) classes but the dataset has \(data.classCount)")
        }
        try TrainingRun.checkMinibatches(config.schedule, datasetCount: data.count)
        trainer = try Trainer(config: config, group: group)
        if let checkpoint { try Checkpoint.load(checkpoint, into: trainer) }
        self.data = data
        self.options = options
        order = DataOrder(count: data.count, seed: config.seed)
    }

    /// A step must fit in the dataset and in a phase: a larger minibatch would draw images twice
    /// in one step, or step over a whole fade-in or stabilization phase (the run could end
    /// "done" at 4x4 after one step).
    static func checkMinibatches(_ schedule: GrowthSchedule, datasetCount: Int) throws {
        let phases = [("stabilization", schedule.stabilizeKimg), ("fade-in", schedule.fadeKimg)].filter { $0.1 > 0 }
        for r in schedule.resolutions {
            let mb = schedule.minibatch(at: r)
            guard mb <= datasetCount else {
                throw InputError("a global minibatch of \(mb) at \(r)x\(r) is more than the dataset's \(datasetCount) images: pass --minibatch \(datasetCount) or less")
            }
            for (name, kimg) in phases where Double(mb) > kimg * 1000 {
                throw InputError("a global minibatch of \(mb) at \(r)x\(r) is longer than a \(name) phase of \(String(format: "%g", kimg * 1000)) images, so one step would pass over it: lower --minibatch, or raise --stabilize-kimg and --fade-kimg")
            }
        }
    }

    /// Runs until the schedule ends, `maxSteps` steps were taken, or a stop signal arrives.
    public func run() throws -> RunOutcome {
        // The phase clock runs for the whole run: each tick logs where its time went.
        let savedLevel = Profiler.level
        if savedLevel < .phases { Profiler.setLevel(.phases) }
        defer { Profiler.setLevel(savedLevel) }
        Profiler.reset()
        let started = Date()
        let startImages = trainer.progress.imagesShown
        if isRoot { try begin() }
        try startSWD()
        var tick = TickAccumulator(tickImages: max(1, Int(options.tickKimg * 1000)), imagesShown: startImages)
        var steps = 0
        var layout: SpatialLayout? = nil
        while !trainer.finished {
            let minibatch = trainer.point.minibatch
            tick.add(try trainer.step(data: data, order: order), minibatch: minibatch)
            steps += 1
            // How the ranks share each phase's work, once a phase ("256x256: 14 images in 2
            // group(s) of 7 x 4 slab(s) on 8 ranks").
            if let now = trainer.decomposition?.layout, now != layout {
                layout = now
                if isRoot && trainer.group.size > 1 { write(line: "ranks: \(now)") }
            }
            let atLimit = options.maxSteps.map { steps >= $0 } ?? false
            let signal = try agreedStopSignal()
            guard tick.isDue(imagesShown: trainer.progress.imagesShown) || trainer.finished || atLimit || signal != 0 else {
                continue
            }
            try endTick(&tick, elapsed: Date().timeIntervalSince(started))
            if let outcome = try checkpointAndStop(ticks: tick.count, atLimit: atLimit, signal: signal) { return outcome }
        }
        if isRoot { write(line: "done: \(String(format: "%.1f", Double(trainer.progress.imagesShown) / 1000)) kimg in \(formatDuration(Date().timeIntervalSince(started)))") }
        return .finished
    }

    /// The stop signal any rank received (0: none), agreed by all. Asked every step: cheap (one
    /// integer), and a signal must be honoured before the scheduler's grace period ends.
    private func agreedStopSignal() throws -> Int32 {
        Int32(try trainer.group.allReduceMax(Int(StopSignals.pending)))
    }

    /// After a tick: a checkpoint every `checkpointTicks` ticks and whenever the run stops here
    /// (schedule done, step limit, signal); the outcome if it stops, nil if it goes on. The
    /// schedule's end is left to the loop, which then says it is done.
    private func checkpointAndStop(ticks: Int, atLimit: Bool, signal: Int32) throws -> RunOutcome? {
        if ticks % options.checkpointTicks == 0 || trainer.finished || atLimit || signal != 0 {
            try checkpoint()
        }
        if signal != 0 {
            if isRoot { write(line: "stop: signal \(signal) received; checkpoint written at \(trainer.progress.imagesShown) images, exiting") }
            return .stopped(signal: signal)
        }
        return atLimit ? .stepLimit : nil
    }

    /// Rank 0's start: outputs opened, config.json written, the start line, the reals grid.
    private func begin() throws {
        try openOutputs()
        try trainer.config.json(pretty: true).write(toFile: options.directory + "/config.json", atomically: true, encoding: .utf8)
        let done = Double(trainer.progress.imagesShown) / 1000
        write(line: "start: \(String(format: "%.3f", done)) kimg done (\(trainer.progress.imagesShown) images), \(String(format: "%g", trainer.config.schedule.totalKimg)) kimg to train, \(trainer.group.size) rank(s)")
        if trainer.progress.imagesShown == 0 { try writeGrid(name: "reals.png", tag: "reals", samples: try realsGrid()) }
    }

    /// Sets up the SWD evaluator, if asked for, and logs the real-vs-real noise floor. Every rank
    /// takes part: images and projections are shared out (see SWDEvaluator).
    private func startSWD() throws {
        guard options.swdTicks > 0 else { return }
        let group = trainer.group
        let res = trainer.config.network.resolution
        let evaluator = try SWDEvaluator(data: data, resolution: res, count: options.swdImages,
                                         seed: trainer.config.seed, group: group)
        let floor = try SWDEvaluator.floor(data: data, resolution: res, count: options.swdImages,
                                           seed: trainer.config.seed, group: group)
        swd = evaluator
        if isRoot {
            write(line: "swd real-vs-real floor (\(evaluator.count) images): " + describe(floor))
            try writeRecord(SWDRecord(kind: "swd_floor", kimg: nil, images: evaluator.count, result: floor))
            try tensorboard?.swd(floor, prefix: "SWD_floor", imagesShown: trainer.progress.imagesShown)
        }
    }

    /// The tick's report (all ranks agree on the loss means), sample grid and, when due, SWD.
    private func endTick(_ tick: inout TickAccumulator, elapsed: Double) throws {
        let means = try tick.means(over: trainer.group)
        let seconds = Date().timeIntervalSince(tick.started)
        let secPerKimg = seconds / (Double(trainer.progress.imagesShown - tick.startImages) / 1000)
        tick.finish(imagesShown: trainer.progress.imagesShown)
        if isRoot {
            try report(means: means, secPerKimg: secPerKimg, totalElapsed: elapsed)
            try writeGrid(name: String(format: "fakes-%09d.png", trainer.progress.imagesShown), tag: "fakes",
                          samples: try trainer.gridSamples(count: options.gridCount),
                          columns: trainer.gridColumns(count: options.gridCount))
        }
        Profiler.reset()
        if let swd, tick.count % options.swdTicks == 0 || trainer.finished { try evaluateSWD(swd) }
    }

    private func evaluateSWD(_ swd: SWDEvaluator) throws {
        let t0 = Date()
        let r = try swd.evaluate(trainer.Gs, latentSize: trainer.config.network.latentSize,
                                 stageResolution: trainer.progress.resolution, alpha: trainer.progress.alpha,
                                 labelsFrom: trainer.config.network.isConditional ? data : nil)
        guard isRoot else { return }
        let kimg = Double(trainer.progress.imagesShown) / 1000
        write(line: String(format: "swd at kimg %.1f: ", kimg) + describe(r) + String(format: " (%.1f s)", Date().timeIntervalSince(t0)))
        try writeRecord(SWDRecord(kind: "swd", kimg: kimg, images: swd.count, result: r))
        try tensorboard?.swd(r, prefix: "SWD", imagesShown: trainer.progress.imagesShown)
    }

    /// Gathers the sharded optimizer state, checks the replicas are identical, then rank 0 writes
    /// the checkpoint.
    /// - Throws: `InternalError` naming the first array that differs between ranks.
    public func checkpoint() throws {
        trainer.gatherOptimizerState()
        if let name = try firstDifferingArray(replicatedArrays(trainer), group: trainer.group) {
            throw InternalError("replicas diverged: \(name) differs across ranks at step \(trainer.progress.step)")
        }
        if isRoot {
            let path = options.directory + "/" + Checkpoint.fileName(imagesShown: trainer.progress.imagesShown)
            try Checkpoint.save(trainer, to: path)
            pruneCheckpoints()
        }
        try trainer.group.barrier()
    }

    private func pruneCheckpoints() {
        let fm = FileManager.default
        let names = ((try? fm.contentsOfDirectory(atPath: options.directory)) ?? [])
            .filter { $0.hasPrefix("checkpoint-") && $0.hasSuffix(".h5") }.sorted()
        for name in names.dropLast(options.keepCheckpoints) { try? fm.removeItem(atPath: options.directory + "/" + name) }
    }

    private func openOutputs() throws {
        let fm = FileManager.default
        try RunDirectory.create(options.directory)
        // Before touching anything: another run may be writing here (its temporary checkpoint
        // would look like a killed run's leftover).
        lock = try RunLock(directory: options.directory)
        // A run killed after its last checkpoint left records past it; the resumed run writes them again.
        try RunDirectory.trimMetrics(options.directory + "/metrics.jsonl", toImages: trainer.progress.imagesShown)
        for name in ["log.txt", "metrics.jsonl"] where !fm.fileExists(atPath: options.directory + "/" + name) {
            guard fm.createFile(atPath: options.directory + "/" + name, contents: nil) else {
                throw InputError("cannot create \(options.directory)/\(name): check that the run directory is writable")
            }
        }
        log = FileHandle(forWritingAtPath: options.directory + "/log.txt")
        metrics = FileHandle(forWritingAtPath: options.directory + "/metrics.jsonl")
        log?.seekToEndOfFile()
        metrics?.seekToEndOfFile()
        if options.tensorboard {
            tensorboard = try TensorBoardLog(directory: options.directory + "/tensorboard", imagesShown: trainer.progress.imagesShown)
        }
        for name in Checkpoint.removeLeftoverTemporaries(in: options.directory) {
            write(line: "removed \(name): a checkpoint left half-written by a killed run")
        }
    }

    func write(line: String) {
        log?.write(Data((line + "\n").utf8))
        if options.echo { print(line); fflush(stdout) }
    }

    /// The tick line (log and stdout), the metrics.jsonl record and its TensorBoard scalars.
    private func report(means: StepStats, secPerKimg: Double, totalElapsed: Double) throws {
        let pr = trainer.progress
        let p = trainer.point
        let kimg = Double(pr.imagesShown) / 1000
        let eta = max(0, trainer.config.schedule.totalKimg - kimg) * secPerKimg
        let res = "\(pr.resolution)x\(pr.resolution)"
        let phase = pr.alpha < 1 ? String(format: "fade %.2f", pr.alpha) : "stable"
        func f(_ v: Double?) -> String { v.map { String(format: "%+.4f", $0) } ?? "-" }
        write(line: String(format: "kimg %8.1f  res %-9@ %-9@ mb %3d  lossD %@  lossG %@  gp %@  D(real) %@  D(fake) %@  %7.1f s/kimg  ETA %@",
                           kimg, res, phase, p.minibatch, f(means.lossD), f(means.lossG), f(means.gradientPenalty),
                           f(means.realScores), f(means.fakeScores), secPerKimg, formatDuration(eta)))
        if let real = means.realAccuracy, let fake = means.fakeAccuracy {
            write(line: String(format: "                   classes: D accuracy real %.3f fake %.3f  CE real %.4f fake %.4f G %.4f",
                               real, fake, means.classLossReal ?? .nan, means.classLossFake ?? .nan, means.classLossG ?? .nan))
        }
        let record = TickRecord(kimg: kimg, step: pr.step, resolution: pr.resolution, alpha: Double(pr.alpha),
                                minibatch: p.minibatch, learningRate: Double(p.learningRate), secondsPerKimg: secPerKimg,
                                elapsedSeconds: totalElapsed, skippedD: pr.skippedD, skippedG: pr.skippedG,
                                time: Date().timeIntervalSince1970, losses: means,
                                timings: StepTimings(Profiler.snapshot()))
        try writeRecord(record)
        try tensorboard?.scalars(record, imagesShown: pr.imagesShown)
    }

    private func writeRecord<R: Encodable>(_ record: R) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        metrics?.write(try encoder.encode(record) + Data("\n".utf8))
    }

    private func describe(_ r: SlicedWassersteinResult) -> String {
        zip(r.resolutions, r.perLevel).map { "\($0.0)px \(String(format: "%.2f", $0.1))" }.joined(separator: "  ")
            + String(format: "  avg %.2f (x1e3)", r.average)
    }

    private func realsGrid() throws -> Tensor {
        let n = min(options.gridCount, data.count)
        return try data.images(Array(0..<n), resolution: trainer.config.network.resolution)
    }

    /// Writes the grid as the PNG `name` in the run directory and as TensorBoard image `tag`.
    private func writeGrid(name: String, tag: String, samples: Tensor, columns: Int? = nil) throws {
        var s = samples
        // Show every tick at the final size so grids line up (nearest upsampling of small stages).
        while s.shape[2] < trainer.config.network.resolution { s = s.upsampled2x() }
        let grid = ImageGrid(columns: columns).render(s.data, count: s.shape[0], channels: s.shape[1], height: s.shape[2], width: s.shape[3])
        try PNGCodec.write(grid, to: options.directory + "/" + name)
        try tensorboard?.image(grid, tag: tag, imagesShown: trainer.progress.imagesShown)
    }
}

/// A tick's running totals: the loss statistics summed over steps (loss shares weighted by
/// their step's minibatch, so dividing by the images gives means of the step means), the images,
/// and where the tick started.
struct TickAccumulator {
    /// Images a tick spans; a tick ends when `imagesShown / tickImages` changes.
    let tickImages: Int
    /// Ticks ended in this invocation.
    private(set) var count = 0
    private(set) var started = Date()
    private(set) var startImages: Int
    private var index: Int
    private var sums = StepStats()
    private var images = 0

    init(tickImages: Int, imagesShown: Int) {
        self.tickImages = tickImages
        startImages = imagesShown
        index = imagesShown / tickImages
    }

    mutating func add(_ stats: StepStats, minibatch: Int) {
        for key in stats.presentKeys {
            sums[key] = (sums[key] ?? 0) + stats[key]! * (key.isMeanShare ? Double(minibatch) : 1)
        }
        images += minibatch
    }

    /// Whether a tick boundary was crossed.
    func isDue(imagesShown: Int) -> Bool { imagesShown / tickImages != index }

    /// The means over the tick's images of every rank (an all-reduce: every rank must call it).
    func means(over group: ProcessGroup) throws -> StepStats {
        let keys = sums.presentKeys
        let totals = try group.allReduceSum(keys.map { sums[$0]! })
        var means = StepStats()
        for (key, total) in zip(keys, totals) { means[key] = total / Double(max(1, images)) }
        return means
    }

    /// Ends the tick at `imagesShown` and starts the next.
    mutating func finish(imagesShown: Int) {
        count += 1
        index = imagesShown / tickImages
        sums = StepStats()
        images = 0
        started = Date()
        startImages = imagesShown
    }
}

/// An SWD line of metrics.jsonl: the real-vs-real floor at the start, or a measurement.
struct SWDRecord: Codable {
    var kind: String
    var kimg: Double?
    var images: Int
    var average: Double
    var levels: [Double]
    var resolutions: [Int]

    init(kind: String, kimg: Double?, images: Int, result: SlicedWassersteinResult) {
        self.kind = kind
        self.kimg = kimg
        self.images = images
        average = result.average
        levels = result.perLevel
        resolutions = result.resolutions
    }

    enum CodingKeys: String, CodingKey {
        case kind, kimg, images, average = "swd_avg", levels = "swd_levels", resolutions = "swd_resolutions"
    }
}

/// "1:02:03" or "4:05".
public func formatDuration(_ seconds: Double) -> String {
    guard seconds.isFinite else { return "?" }
    let s = Int(seconds.rounded())
    return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
}
