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
        job exits with status 75; rerun with --resume auto to continue. Under mpirun send SIGUSR1 to \
        mpirun, or start it through cluster/launch.sh (TERM and Ctrl-C become USR1): mpirun itself \
        kills the ranks 1 s after a TERM or INT, before a long step can finish.
        """)

    /// Exit status after a stop signal (EX_TEMPFAIL): "checkpointed, run me again".
    static let stoppedExitCode: Int32 = 75

    @Option(help: "Dataset file from 'progan-mpi dataset create'.") var data: String
    @Option(help: "Run directory.") var out: String
    @Option(help: "Starting configuration.") var preset = Preset.paper
    @Option(help: "Random seed (weights, latents, data order).") var seed: UInt64?
    @Option(help: "Total length in thousands of images shown to D.") var kimg: Double?
    @Option(help: "Images per stabilization phase, in thousands.") var stabilizeKimg: Double?
    @Option(help: "Images per fade-in phase, in thousands.") var fadeKimg: Double?
    @Option(help: "Global minibatch at every resolution (split across ranks).") var minibatch: Int?
    @Option(help: "Train up to this resolution (default: the dataset's).") var resolution: Int?
    @Option(help: "Loss (default: the preset's, wgangp).") var loss: LossConfig.Kind?
    @Option(help: "Minibatch-stddev group size (0 = the whole global minibatch).") var mbstdGroup: Int?
    @Flag(inversion: .prefixedNo, help: "Mirror real images left-right at random (default: the preset's; paper and paper-v2 mirror).")
    var mirror: Bool?
    @Option(help: "Feature maps: the numerator of min(fmap-base / 2^stage, fmap-max).") var fmapBase: Int?
    @Option(help: "Feature maps: the cap of min(fmap-base / 2^stage, fmap-max).") var fmapMax: Int?
    @Option(help: "Length of the latent vector.") var latentSize: Int?
    @Option(help: "Adam learning rate at every resolution (replaces the preset's per-resolution rates).") var lr: Float?
    @Option(help: "Gradient-penalty target norm gamma (paper 1; the authors' CIFAR-10 750).") var gpTarget: Float?
    @Option(help: "Where the gradient-penalty norm is taken: native (at the current resolution) or full-resolution (as the authors' D, which pools a full-size input: native norm x R/F).")
    var gpScale: LossConfig.GradientScale?
    @Flag(inversion: .prefixedNo, help: "Reset Adam's moments at the start of every fade and every stable phase, as the authors do (default on; their -noreset turns it off).")
    var adamReset: Bool?
    @Option(help: "Decay a step of the generator's moving average Gs (paper: 0.999).") var emaBeta: Float?
    @Option(help: "Adam's epsilon (paper: 1e-8). A larger one makes steps of gradients smaller than it proportional to them instead of +-lr.")
    var adamEpsilon: Float?
    @Flag(help: "Condition G and D on the dataset's class labels (G: one-hot label next to the latent; D: an auxiliary classifier). Needs a labelled dataset.")
    var conditional = false
    @Option(help: "Report every this many thousand images.") var tickKimg: Double = 4
    @Option(help: "Checkpoint every this many ticks.") var checkpointTicks = 1
    @Option(help: "Checkpoints kept in --out (older ones are removed); more give 'metrics --run' a longer history.") var keepCheckpoints = 3
    @Option(help: "'auto' (newest checkpoint in --out, if any), 'none', or a checkpoint path.") var resume: String = "none"
    @OptionGroup var threads: ThreadsOption
    @OptionGroup var precision: PrecisionOption
    @OptionGroup var convolution: ConvolutionOption
    @Option(help: "Sliced Wasserstein distance every this many ticks (0: off); needs a final resolution >= 16.") var swdTicks = 0
    @Option(help: "Images per side for the SWD (the paper used 16384).") var swdImages = 1024
    @Flag(name: .customLong("no-tensorboard"), help: "Do not write TensorBoard event files into --out/tensorboard.")
    var noTensorBoard = false
    @Option(help: .hidden) var maxSteps: Int?

    func validate() throws {
        if let r = resolution, r < 4 || r > 1024 || r & (r - 1) != 0 {
            throw ValidationError("--resolution \(r) is not a power of two between 4 and 1024")
        }
        if let minibatch, minibatch < 1 { throw ValidationError("--minibatch must be positive") }
        for (name, value) in [("--fmap-base", fmapBase), ("--fmap-max", fmapMax), ("--latent-size", latentSize)] {
            if let value, value < 1 { throw ValidationError("\(name) must be positive, got \(value)") }
        }
        if let lr, !(lr > 0 && lr.isFinite) { throw ValidationError("--lr must be a positive number, got \(lr)") }
        if let gpTarget, !(gpTarget > 0 && gpTarget.isFinite) { throw ValidationError("--gp-target must be a positive number, got \(gpTarget)") }
        if let emaBeta, !(0...1).contains(emaBeta) { throw ValidationError("--ema-beta must be in 0...1, got \(emaBeta)") }
        if let adamEpsilon, !(adamEpsilon > 0 && adamEpsilon.isFinite) {
            throw ValidationError("--adam-epsilon must be a positive number, got \(adamEpsilon)")
        }
        // Finite: an infinite length cannot be trained, and config.json cannot hold it.
        for (name, value) in [("--kimg", kimg), ("--stabilize-kimg", stabilizeKimg), ("--fade-kimg", fadeKimg)] {
            if let value, !(value >= 0 && value.isFinite) {
                throw ValidationError("\(name) must be a finite number of thousands of images, 0 or more, got \(value)")
            }
        }
        guard tickKimg > 0, tickKimg.isFinite else { throw ValidationError("--tick-kimg must be a positive finite number, got \(tickKimg)") }
        guard checkpointTicks >= 1 else { throw ValidationError("--checkpoint-ticks must be >= 1") }
        guard keepCheckpoints >= 1 else { throw ValidationError("--keep-checkpoints must be >= 1 (the newest is needed to resume)") }
        guard swdTicks >= 0, swdImages >= 2 else { throw ValidationError("--swd-ticks must be >= 0 and --swd-images >= 2") }
    }

    /// The resolved configuration: the preset at --resolution (default: the dataset's), then every
    /// override. Checked where it is used: against the dataset by `TrainingRun`, for the ranks by
    /// `Trainer`.
    func resolvedConfig(datasetResolution: Int, channels: Int, classes: Int = 0) -> TrainingConfig {
        var c = preset.config(resolution: resolution ?? datasetResolution, channels: channels)
        if conditional { c.network.classes = classes }
        if let seed { c.seed = seed }
        if let stabilizeKimg { c.schedule.stabilizeKimg = stabilizeKimg }
        if let fadeKimg { c.schedule.fadeKimg = fadeKimg }
        if stabilizeKimg != nil || fadeKimg != nil { c.schedule.totalKimg = c.schedule.growthKimg + c.schedule.stabilizeKimg }
        if let kimg { c.schedule.totalKimg = kimg }
        if let minibatch { c.schedule.minibatch = [:]; c.schedule.defaultMinibatch = minibatch }
        if let loss { c.loss.kind = loss }
        if let mbstdGroup { c.network.mbstdGroupSize = mbstdGroup }
        if let mirror { c.mirror = mirror }
        if let fmapBase { c.network.fmapBase = fmapBase }
        if let fmapMax { c.network.fmapMax = fmapMax }
        if let latentSize { c.network.latentSize = latentSize }
        if let lr { c.schedule.learningRate = [:]; c.schedule.defaultLearningRate = lr }
        if let gpTarget { c.loss.gpTarget = gpTarget }
        if let gpScale { c.loss.gpScale = gpScale }
        if let adamReset { c.resetOptimizerOnGrowth = adamReset }
        if let emaBeta { c.emaBeta = emaBeta }
        if let adamEpsilon { c.adamEpsilon = adamEpsilon }
        return c
    }

    func run() throws {
        threads.apply()
        convolution.apply()
        let (group, mpi) = try launchProcessGroup()
        let isRoot = group.rank == 0
        StopSignals.install()
        do {
            let data = try DatasetImages(path: self.data)
            if conditional && data.classCount == 0 {
                throw InputError("--conditional: \(self.data) has no labels; create it from a folder with one subfolder a class (dataset create --images DIR), or from --fashion-mnist")
            }
            let config = resolvedConfig(datasetResolution: data.resolution, channels: data.channels, classes: data.classCount)
            let checkpoint = try resumePath()
            var options = RunOptions(directory: out)
            options.tickKimg = tickKimg
            options.checkpointTicks = checkpointTicks
            options.keepCheckpoints = keepCheckpoints
            options.maxSteps = maxSteps
            options.swdTicks = swdTicks
            options.swdImages = swdImages
            options.tensorboard = !noTensorBoard
            options.echo = isRoot
            if let checkpoint, isRoot { print("resuming from \(checkpoint)") }
            let run = try TrainingRun(config: config, group: group, data: data, options: options, resumeFrom: checkpoint)
            if isRoot {
                print("progan-mpi train: \(group.size) rank(s), \(threads.threads) thread(s) each, "
                      + (convolution.conv == .auto ? "" : "3x3 convolutions \(convolution.conv.rawValue), ")
                      + "dataset \(self.data) (\(data.count) images)")
                print(BLASKernelSelection.summary(threads: threads.threads))
                BLASKernelSelection.printNote()
                print("config: \(try config.json(pretty: true))")
                print(String(format: "G %d parameters, D %d parameters", run.trainer.G.parameters.count, run.trainer.D.parameters.count))
            }
            let outcome = try run.run()
            try mpi?.finalize()
            if case .stopped = outcome { Foundation.exit(Self.stoppedExitCode) }
        } catch {
            exitReporting(error, on: group)
        }
    }

    /// The checkpoint to resume from, per --resume; refuses to mix a new run into an old directory.
    func resumePath() throws -> String? {
        switch resume {
        case "auto":
            return Checkpoint.newest(in: out)
        case "none":
            if Checkpoint.newest(in: out) != nil {
                throw InputError("\(out) already holds checkpoints; pass --resume auto to continue that run, or choose a new --out")
            }
            return nil
        default:
            guard FileManager.default.fileExists(atPath: resume) else { throw InputError("--resume \(resume): no such checkpoint") }
            return resume
        }
    }
}
