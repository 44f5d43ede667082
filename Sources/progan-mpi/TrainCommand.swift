import ArgumentParser
import Distributed
import Foundation
import ProGAN
import TensorKit
import Training

/// `progan-mpi train`: progressive training on one process or as MPI ranks.
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a Progressive GAN; run under mpirun/srun for data parallelism across ranks.",
        discussion: """
        Writes into --out: config.json (the resolved configuration), log.txt (one line a tick), \
        metrics.jsonl, reals.png and fakes-KIMG.png sample grids, checkpoint-IMAGES.h5, and \
        TensorBoard event files in tensorboard/ (tensorboard --logdir OUT/tensorboard).

        On SIGUSR1/SIGTERM/SIGINT every rank finishes its step, rank 0 writes a checkpoint, and the \
        job exits with status 75; rerun with --resume auto to continue.
        """)

    /// Exit status after a stop signal (EX_TEMPFAIL): "checkpointed, run me again".
    static let stoppedExitCode: Int32 = 75

    @Option(help: "Dataset file from 'progan-mpi dataset create'.") var data: String
    @Option(help: "Run directory.") var out: String
    @Option(help: "Starting configuration: \(Preset.allCases.map(\.rawValue).joined(separator: ", ")).")
    var preset: String = Preset.paper.rawValue
    @Option(help: "Random seed (weights, latents, data order).") var seed: UInt64?
    @Option(help: "Total length in thousands of images shown to D.") var kimg: Double?
    @Option(help: "Images per stabilization phase, in thousands.") var stabilizeKimg: Double?
    @Option(help: "Images per fade-in phase, in thousands.") var fadeKimg: Double?
    @Option(help: "Global minibatch at every resolution (split across ranks).") var minibatch: Int?
    @Option(help: "Train up to this resolution (default: the dataset's).") var resolution: Int?
    @Option(help: "Loss: wgangp or lsgan.") var loss: String?
    @Option(help: "Minibatch-stddev group size (0 = the whole global minibatch).") var mbstdGroup: Int?
    @Flag(help: "Mirror real images left-right at random.") var mirror = false
    @Option(help: "Decay a step of the generator's moving average Gs (paper: 0.999).") var emaBeta: Float?
    @Option(help: "Report every this many thousand images.") var tickKimg: Double = 4
    @Option(help: "Checkpoint every this many ticks.") var checkpointTicks = 1
    @Option(help: "'auto' (newest checkpoint in --out, if any), 'none', or a checkpoint path.") var resume: String = "none"
    @Option(help: "Threads per rank, for BLAS and the other kernels (default 1: one rank a core).") var threads = 1
    @Option(help: "Sliced Wasserstein distance every this many ticks (0: off); needs a final resolution >= 16.") var swdTicks = 0
    @Option(help: "Images per side for the SWD (the paper used 16384).") var swdImages = 1024
    @Flag(name: .customLong("no-tensorboard"), help: "Do not write TensorBoard event files into --out/tensorboard.")
    var noTensorBoard = false
    @Option(help: .hidden) var maxSteps: Int?

    func validate() throws {
        guard Preset(rawValue: preset) != nil else {
            throw ValidationError("unknown preset '\(preset)'; choose one of \(Preset.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if let loss, LossConfig.Kind(rawValue: loss) == nil { throw ValidationError("--loss must be wgangp or lsgan, got '\(loss)'") }
        if let r = resolution, r < 4 || r > 1024 || r & (r - 1) != 0 {
            throw ValidationError("--resolution \(r) is not a power of two between 4 and 1024")
        }
        if let minibatch, minibatch < 1 { throw ValidationError("--minibatch must be positive") }
        if let emaBeta, !(0...1).contains(emaBeta) { throw ValidationError("--ema-beta must be in 0...1, got \(emaBeta)") }
        guard tickKimg > 0 else { throw ValidationError("--tick-kimg must be positive") }
        guard checkpointTicks >= 1 else { throw ValidationError("--checkpoint-ticks must be >= 1") }
        guard swdTicks >= 0, swdImages >= 2 else { throw ValidationError("--swd-ticks must be >= 0 and --swd-images >= 2") }
    }

    /// The resolved configuration: the preset, then every override.
    func resolvedConfig(datasetResolution: Int, channels: Int) throws -> TrainingConfig {
        let res = resolution ?? datasetResolution
        guard res <= datasetResolution else {
            throw ConfigError("--resolution \(res) is above the dataset's \(datasetResolution)x\(datasetResolution): the dataset has no level data\(res)x\(res); recreate it at \(res) or train at most \(datasetResolution)")
        }
        var c = Preset(rawValue: preset)!.config(resolution: res, channels: channels)
        if let seed { c.seed = seed }
        if let stabilizeKimg { c.schedule.stabilizeKimg = stabilizeKimg }
        if let fadeKimg { c.schedule.fadeKimg = fadeKimg }
        if stabilizeKimg != nil || fadeKimg != nil { c.schedule.totalKimg = c.schedule.growthKimg + c.schedule.stabilizeKimg }
        if let kimg { c.schedule.totalKimg = kimg }
        if let minibatch { c.schedule.minibatch = [:]; c.schedule.defaultMinibatch = minibatch }
        if let loss { c.loss.kind = LossConfig.Kind(rawValue: loss)! }
        if let mbstdGroup { c.network.mbstdGroupSize = mbstdGroup }
        if mirror { c.mirror = true }
        if let emaBeta { c.emaBeta = emaBeta }
        return c
    }

    func run() throws {
        BLAS.threads = threads
        Parallel.threads = threads
        let (group, mpi) = try launchProcessGroup()
        let isRoot = group.rank == 0
        StopSignals.install()
        do {
            let data = try DatasetImages(path: self.data)
            let config = try resolvedConfig(datasetResolution: data.resolution, channels: data.channels)
            try config.validate(ranks: group.size)
            let checkpoint = try resumePath()
            var options = RunOptions(directory: out)
            options.tickKimg = tickKimg
            options.checkpointTicks = checkpointTicks
            options.maxSteps = maxSteps
            options.swdTicks = swdTicks
            options.swdImages = swdImages
            options.tensorboard = !noTensorBoard
            options.echo = isRoot
            if let checkpoint, isRoot { print("resuming from \(checkpoint)") }
            let run = try TrainingRun(config: config, group: group, data: data, options: options, resumeFrom: checkpoint)
            if isRoot {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                let json = String(decoding: try encoder.encode(config), as: UTF8.self)
                try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
                try json.write(toFile: out + "/config.json", atomically: true, encoding: .utf8)
                print("progan-mpi train: \(group.size) rank(s), \(threads) thread(s) each, dataset \(self.data) (\(data.count) images)")
                print(BLASKernelSelection.summary(threads: threads))
                BLASKernelSelection.printNote()
                print("config: \(json)")
                print(String(format: "G %d parameters, D %d parameters", run.trainer.G.parameters.count, run.trainer.D.parameters.count))
            }
            let outcome = try run.run()
            try mpi?.finalize()
            if case .stopped = outcome { Foundation.exit(Self.stoppedExitCode) }
        } catch {
            // A configuration error is the same on every rank: let rank 0 say it once. Other
            // errors may be rank-specific, so every rank reports them. No MPI_Finalize: other
            // ranks may wait in a collective; the nonzero exit makes the launcher end the job.
            if isRoot || !(error is ConfigError) {
                fail(group.size > 1 && !isRoot ? "rank \(group.rank): \(error)" : "\(error)")
            }
            Foundation.exit(1)
        }
    }

    /// The checkpoint to resume from, per --resume; refuses to mix a new run into an old directory.
    func resumePath() throws -> String? {
        switch resume {
        case "auto":
            return Checkpoint.newest(in: out)
        case "none":
            if Checkpoint.newest(in: out) != nil {
                throw ConfigError("\(out) already holds checkpoints; pass --resume auto to continue that run, or choose a new --out")
            }
            return nil
        default:
            guard FileManager.default.fileExists(atPath: resume) else { throw ConfigError("--resume \(resume): no such checkpoint") }
            return resume
        }
    }
}
