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

/// The training loop in clear phases: set up (validate, resume or init, write the resolved
/// config), loop (step; at each tick: agree on stop flags, report, samples, checkpoint), finish.
/// Rank 0 alone writes files; all ranks take the same decisions because every decision is a pure
/// function of the shared progress, and stop flags are combined with an all-reduce.
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

    /// Sets up a run; with `resume` loads the checkpoint first (all ranks read it).
    public init(config: TrainingConfig, group: ProcessGroup, data: RealImageSource, options: RunOptions,
                resumeFrom checkpoint: String?) throws {
        guard data.resolution >= config.network.resolution else {
            throw ConfigError("the dataset holds images up to \(data.resolution)x\(data.resolution) but training asks for \(config.network.resolution)x\(config.network.resolution); create the dataset at that resolution or pass a smaller --resolution")
        }
        guard data.channels == config.network.channels else {
            throw ConfigError("the dataset has \(data.channels) channel(s) but the network is configured for \(config.network.channels)")
        }
        trainer = try Trainer(config: config, group: group)
        if let checkpoint { try Checkpoint.load(checkpoint, into: trainer) }
        self.data = data
        self.options = options
        order = DataOrder(count: data.count, seed: config.seed)
    }

    /// Runs until the schedule ends, `maxSteps` steps were taken, or a stop signal arrives.
    public func run() throws -> RunOutcome {
        let group = trainer.group
        if isRoot { try openOutputs() }
        let tickImages = max(1, Int(options.tickKimg * 1000))
        var lastTick = trainer.progress.imagesShown / tickImages
        var ticks = 0
        var statsSum: [String: Double] = [:]
        var statsImages = 0
        var tickStart = Date()
        var tickStartImages = trainer.progress.imagesShown
        let runStart = Date()
        let startImages = trainer.progress.imagesShown
        var steps = 0
        if isRoot {
            write(line: "start: \(trainer.progress.imagesShown / 1000) kimg done, \(String(format: "%.0f", trainer.config.schedule.totalKimg)) kimg to train, \(group.size) rank(s)")
            if trainer.progress.imagesShown == 0 { try writeGrid(name: "reals.png", tag: "reals", samples: try realsGrid()) }
        }
        if options.swdTicks > 0 {
            // Every rank takes part: images and projections are shared out (see SWDEvaluator).
            let res = trainer.config.network.resolution
            let evaluator = try SWDEvaluator(data: data, resolution: res, count: options.swdImages,
                                             seed: trainer.config.seed, group: group)
            let floor = try SWDEvaluator.floor(data: data, resolution: res, count: options.swdImages,
                                               seed: trainer.config.seed, group: group)
            swd = evaluator
            if isRoot {
                write(line: "swd real-vs-real floor (\(evaluator.count) images): " + describe(floor))
                try writeRecord(["kind": "swd_floor", "images": evaluator.count, "swd_avg": floor.average,
                                 "swd_levels": floor.perLevel, "swd_resolutions": floor.resolutions])
                try tensorboard?.swd(floor, prefix: "SWD_floor", imagesShown: trainer.progress.imagesShown)
            }
        }
        while !trainer.finished {
            let p = trainer.point
            let stats = try trainer.step(data: data, order: order)
            steps += 1
            for (k, v) in stats { statsSum[k, default: 0] += v * (k.hasPrefix("loss") ? Double(p.minibatch) : 1) }
            statsImages += p.minibatch
            let tick = trainer.progress.imagesShown / tickImages
            let atTick = tick != lastTick || trainer.finished
            let atLimit = options.maxSteps.map { steps >= $0 } ?? false
            // Agree on stop signals every step: cheap (one integer), and a signal must be honoured
            // before the scheduler's grace period ends.
            let signal = Int32(try group.allReduceMax(Int(StopSignals.pending)))
            if atTick || atLimit || signal != 0 {
                lastTick = tick
                ticks += 1
                let keys = statsSum.keys.sorted()
                let sums = try group.allReduceSum(keys.map { statsSum[$0]! })
                var means: [String: Double] = [:]
                for (k, s) in zip(keys, sums) { means[k] = s / Double(max(1, statsImages)) }
                let elapsed = Date().timeIntervalSince(tickStart)
                let secPerKimg = elapsed / (Double(trainer.progress.imagesShown - tickStartImages) / 1000)
                if isRoot {
                    try report(means: means, secPerKimg: secPerKimg, totalElapsed: Date().timeIntervalSince(runStart),
                               imagesThisRun: trainer.progress.imagesShown - startImages)
                    try writeGrid(name: String(format: "fakes-%09d.png", trainer.progress.imagesShown), tag: "fakes",
                                  samples: try trainer.gridSamples(count: options.gridCount))
                }
                if let swd, ticks % options.swdTicks == 0 || trainer.finished {
                    let t0 = Date()
                    let r = try swd.evaluate(trainer.Gs, latentSize: trainer.config.network.latentSize,
                                             stageResolution: trainer.progress.resolution, alpha: trainer.progress.alpha)
                    if isRoot {
                        write(line: String(format: "swd at kimg %.1f: ", Double(trainer.progress.imagesShown) / 1000) + describe(r)
                              + String(format: " (%.1f s)", Date().timeIntervalSince(t0)))
                        try writeRecord(["kind": "swd", "kimg": Double(trainer.progress.imagesShown) / 1000,
                                         "images": swd.count, "swd_avg": r.average, "swd_levels": r.perLevel,
                                         "swd_resolutions": r.resolutions])
                        try tensorboard?.swd(r, prefix: "SWD", imagesShown: trainer.progress.imagesShown)
                    }
                }
                statsSum = [:]; statsImages = 0
                tickStart = Date(); tickStartImages = trainer.progress.imagesShown
                if ticks % options.checkpointTicks == 0 || trainer.finished || atLimit || signal != 0 {
                    try checkpoint()
                }
                if signal != 0 {
                    if isRoot { write(line: "stop: signal \(signal) received; checkpoint written at \(trainer.progress.imagesShown) images, exiting") }
                    return .stopped(signal: signal)
                }
                if atLimit { return .stepLimit }
            }
        }
        if isRoot { write(line: "done: \(String(format: "%.1f", Double(trainer.progress.imagesShown) / 1000)) kimg in \(formatDuration(Date().timeIntervalSince(runStart)))") }
        return .finished
    }

    /// Checks the replicas are identical (a checksum all-reduce), then rank 0 writes the checkpoint.
    public func checkpoint() throws {
        let group = trainer.group
        let local = trainer.G.parameters.flatValues().reduce(0.0) { $0 + Double($1) }
            + trainer.D.parameters.flatValues().reduce(0.0) { $0 + Double($1) }
        let sums = try group.allReduceSum([local, local * local])
        let mean = sums[0] / Double(group.size)
        if abs(sums[1] / Double(group.size) - mean * mean) > 1e-9 * max(1, mean * mean) {
            throw ConfigError("replicas diverged: the weight checksums differ across ranks (step \(trainer.progress.step)); this is a bug, please report it")
        }
        if isRoot {
            let path = options.directory + "/" + Checkpoint.fileName(imagesShown: trainer.progress.imagesShown)
            try Checkpoint.save(trainer, to: path)
            pruneCheckpoints()
        }
        try group.barrier()
    }

    private func pruneCheckpoints() {
        let fm = FileManager.default
        let names = ((try? fm.contentsOfDirectory(atPath: options.directory)) ?? [])
            .filter { $0.hasPrefix("checkpoint-") && $0.hasSuffix(".h5") }.sorted()
        for name in names.dropLast(options.keepCheckpoints) { try? fm.removeItem(atPath: options.directory + "/" + name) }
    }

    private func openOutputs() throws {
        let fm = FileManager.default
        try fm.createDirectory(atPath: options.directory, withIntermediateDirectories: true)
        for name in ["log.txt", "metrics.jsonl"] where !fm.fileExists(atPath: options.directory + "/" + name) {
            guard fm.createFile(atPath: options.directory + "/" + name, contents: nil) else {
                throw ConfigError("cannot create \(options.directory)/\(name): check that the run directory is writable")
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

    private func report(means: [String: Double], secPerKimg: Double, totalElapsed: Double, imagesThisRun: Int) throws {
        let pr = trainer.progress
        let p = trainer.point
        let kimg = Double(pr.imagesShown) / 1000
        let remainingKimg = max(0, trainer.config.schedule.totalKimg - kimg)
        let eta = remainingKimg * secPerKimg
        let res = "\(pr.resolution)x\(pr.resolution)"
        let phase = pr.alpha < 1 ? String(format: "fade %.2f", pr.alpha) : "stable"
        func f(_ k: String) -> String { means[k].map { String(format: "%+.4f", $0) } ?? "-" }
        write(line: String(format: "kimg %8.1f  res %-9@ %-9@ mb %3d  lossD %@  lossG %@  gp %@  D(real) %@  D(fake) %@  %7.1f s/kimg  ETA %@",
                           kimg, res, phase, p.minibatch, f("loss/D"), f("loss/G"), f("loss/gp"), f("D/real"), f("D/fake"),
                           secPerKimg, formatDuration(eta)))
        var record: [String: Any] = ["kimg": kimg, "step": pr.step, "resolution": pr.resolution, "alpha": Double(pr.alpha),
                                     "minibatch": p.minibatch, "lr": Double(p.learningRate), "sec_per_kimg": secPerKimg,
                                     "elapsed_s": totalElapsed, "skipped_D": pr.skippedD, "skipped_G": pr.skippedG,
                                     "time": Date().timeIntervalSince1970]
        for (k, v) in means { record[k] = v }
        for (k, v) in trainer.timings.asDictionary { record[k] = v }
        try writeRecord(record)
        try tensorboard?.scalars(record, imagesShown: pr.imagesShown)
        trainer.timings = StepTimings()
    }

    private func writeRecord(_ record: [String: Any]) throws {
        let data = try JSONSerialization.data(withJSONObject: record, options: [.sortedKeys])
        metrics?.write(data + Data("\n".utf8))
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
    private func writeGrid(name: String, tag: String, samples: Tensor) throws {
        var s = samples
        // Show every tick at the final size so grids line up (nearest upsampling of small stages).
        while s.shape[2] < trainer.config.network.resolution { s = s.upsampled2x() }
        let grid = ImageGrid().render(s.data, count: s.shape[0], channels: s.shape[1], height: s.shape[2], width: s.shape[3])
        try PNGCodec.write(grid, to: options.directory + "/" + name)
        try tensorboard?.image(grid, tag: tag, imagesShown: trainer.progress.imagesShown)
    }
}

/// "1:02:03" or "4:05".
public func formatDuration(_ seconds: Double) -> String {
    guard seconds.isFinite else { return "?" }
    let s = Int(seconds.rounded())
    return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
}
