import ArgumentParser
import Autograd
import Foundation
import Metrics
import ProGAN
import TensorKit
import Training

/// `progan-mpi metrics swd|msssim`: sample quality of a checkpoint's EMA generator.
struct MetricsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "metrics",
        abstract: "Measure sample quality: sliced Wasserstein distance (SWD) and MS-SSIM.",
        subcommands: [SWD.self, MSSSIMCommand.self, ClassesCommand.self])

    struct SWD: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "swd",
            abstract: "The paper's multi-scale SWD (x1e3 per Laplacian level, full resolution down to 16x16).")
        @Option(help: "Checkpoint whose EMA generator is measured (omit with --real-vs-real).") var checkpoint: String?
        @Option(name: .customLong("run"), help: "Run directory: measure every checkpoint into RUN/metrics-swd.jsonl and a plot RUN/metrics-swd.png.") var runDirectory: String?
        @Option(help: "Dataset file.") var data: String
        @Option(help: "Images per side (the paper used 16384).") var images = 4096
        @Option(help: "Seed of the image choice, patches and projections.") var seed: UInt64 = 1
        @Flag(help: "Compare two disjoint sets of real images: the metric's noise floor at this size.") var realVsReal = false
        @Flag(help: "Print one JSON object instead of text.") var json = false
        @OptionGroup var threads: ThreadsOption
        @Option(help: "Images generated per forward pass (ranks share whole batches).") var batch = 64

        func validate() throws {
            guard batch >= 1 else { throw ValidationError("--batch must be at least 1, got \(batch)") }
            guard [checkpoint != nil, runDirectory != nil, realVsReal].filter({ $0 }).count == 1 else {
                throw ValidationError("pass one of --checkpoint CK, --run RUN or --real-vs-real")
            }
            guard images >= 2 else { throw ValidationError("--images must be >= 2") }
        }

        func run() throws {
            reportingErrors {
                let start = Date()
                threads.apply()
                // Under mpirun the images and projections are shared out; rank 0 prints.
                let (group, mpi) = try launchProcessGroup()
                let d = try DatasetImages(path: data)
                if let run = runDirectory {
                    try measureRun(run, data: d, group: group)
                    try mpi?.finalize()
                    return
                }
                let result: SlicedWassersteinResult
                var kimg: Double?
                if realVsReal {
                    result = try SWDEvaluator.floor(data: d, resolution: d.resolution, count: images, seed: seed, group: group)
                } else {
                    let (gs, config, progress) = try Checkpoint.loadGenerator(checkpoint!)
                    guard config.network.channels == d.channels, config.network.resolution <= d.resolution else {
                        throw InputError("checkpoint is \(config.network.resolution)x\(config.network.resolution) with \(config.network.channels) channel(s); dataset \(data) is \(d.resolution)x\(d.resolution) with \(d.channels)")
                    }
                    let classes = config.network.classes
                    guard classes == 0 || classes == d.classCount else {
                        throw InputError("checkpoint is conditioned on \(classes) classes but dataset \(data) has \(d.classCount)")
                    }
                    let evaluator = try SWDEvaluator(data: d, resolution: config.network.resolution, count: images,
                                                     seed: seed, group: group)
                    result = try evaluator.evaluate(gs, latentSize: config.network.latentSize,
                                                    stageResolution: max(4, progress.resolution), alpha: progress.alpha,
                                                    labelsFrom: classes > 0 ? d : nil, batch: batch)
                    kimg = Double(progress.imagesShown) / 1000
                }
                try mpi?.finalize()
                guard group.rank == 0 else { return }
                if json {
                    var o: [String: Any] = ["swd_levels": result.perLevel, "swd_resolutions": result.resolutions,
                                            "swd_avg": result.average, "images": min(images, d.count / 2), "ranks": group.size]
                    if let kimg { o["kimg"] = kimg }
                    print(String(decoding: try JSONSerialization.data(withJSONObject: o, options: [.sortedKeys]), as: UTF8.self))
                } else {
                    print("SWD x1e3 (\(realVsReal ? "real vs real" : checkpoint!)): \(describe(result))  [\(group.size) rank(s), \(String(format: "%.1f", Date().timeIntervalSince(start))) s]")
                }
            }
        }

        func describe(_ result: SlicedWassersteinResult) -> String {
            let levels = zip(result.resolutions, result.perLevel).map { "\($0.0)px \(String(format: "%.2f", $0.1))" }
            return levels.joined(separator: "  ") + "  avg " + String(format: "%.2f", result.average)
        }

        /// Every checkpoint of `run` against one set of real images (cut once), rank 0 writing the
        /// table and the plot (one line per Laplacian level).
        func measureRun(_ run: String, data d: DatasetImages, group: ProcessGroup) throws {
            let checkpoints = try RunHistory.checkpoints(in: run)
            guard let first = checkpoints.first else { throw InputError("\(run): no checkpoints (checkpoint-*.h5) to measure") }
            let (_, config, _) = try Checkpoint.loadGenerator(first.path)
            guard config.network.channels == d.channels, config.network.resolution <= d.resolution else {
                throw InputError("the run is \(config.network.resolution)x\(config.network.resolution) with \(config.network.channels) channel(s); dataset \(data) is \(d.resolution)x\(d.resolution) with \(d.channels)")
            }
            let evaluator = try SWDEvaluator(data: d, resolution: config.network.resolution, count: images, seed: seed, group: group)
            var table = RunMetrics(metric: "swd")
            for ck in checkpoints {
                let (gs, c, progress) = try Checkpoint.loadGenerator(ck.path)
                guard c.network == config.network else { throw InputError("\(ck.path): a different network from \(first.path); is it the same run?") }
                let r = try evaluator.evaluate(gs, latentSize: c.network.latentSize, stageResolution: max(4, progress.resolution),
                                               alpha: progress.alpha, batch: batch)
                table.add(checkpoint: ck.path, progress: progress,
                          values: ["swd_levels": r.perLevel, "swd_resolutions": r.resolutions, "swd_avg": r.average,
                                   "images_compared": evaluator.count],
                          levels: zip(r.resolutions, r.perLevel).map { ($0, Double($1)) })
                if group.rank == 0 { print(String(format: "kimg %.1f: ", ck.kimg) + describe(r)); fflush(stdout) }
            }
            if group.rank == 0 {
                let (jsonl, png) = try table.write(prefix: (run as NSString).appendingPathComponent("metrics-swd"))
                print("wrote \(jsonl) and \(png): \(checkpoints.count) checkpoint(s)")
            }
        }
    }

    struct MSSSIMCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "msssim",
            abstract: "Average MS-SSIM between random pairs of generated images (lower = more varied).")
        @Option(help: "Checkpoint whose EMA generator is sampled.") var checkpoint: String?
        @Option(name: .customLong("run"), help: "Run directory: measure every checkpoint into RUN/metrics-msssim.jsonl and a plot RUN/metrics-msssim.png.") var runDirectory: String?
        @Option(help: "Images to generate.") var images = 256
        @Option(help: "Random pairs to average over.") var pairs = 1000
        @Option(help: "Seed of latents and pairs.") var seed: UInt64 = 1

        func validate() throws {
            guard (checkpoint == nil) != (runDirectory == nil) else { throw ValidationError("pass --checkpoint CK or --run RUN") }
            guard images >= 2 else { throw ValidationError("--images must be at least 2 (pairs of distinct samples), got \(images)") }
            guard pairs >= 1 else { throw ValidationError("--pairs must be at least 1, got \(pairs)") }
        }

        func run() throws {
            reportingErrors {
                if let run = runDirectory {
                    let checkpoints = try RunHistory.checkpoints(in: run)
                    guard !checkpoints.isEmpty else { throw InputError("\(run): no checkpoints (checkpoint-*.h5) to measure") }
                    var table = RunMetrics(metric: "msssim")
                    for ck in checkpoints {
                        let (gs, config, progress) = try Checkpoint.loadGenerator(ck.path)
                        let value = try measure(gs, config: config, progress: progress)
                        table.add(checkpoint: ck.path, progress: progress, values: ["msssim": value, "pairs": pairs, "samples": images],
                                  plotted: value)
                        print(String(format: "kimg %.1f: MS-SSIM %.4f", ck.kimg, value)); fflush(stdout)
                    }
                    let (jsonl, png) = try table.write(prefix: (run as NSString).appendingPathComponent("metrics-msssim"))
                    print("wrote \(jsonl) and \(png): \(checkpoints.count) checkpoint(s)")
                    return
                }
                let (gs, config, progress) = try Checkpoint.loadGenerator(checkpoint!)
                let value = try measure(gs, config: config, progress: progress)
                print(String(format: "MS-SSIM (%d pairs of %d samples, %@): %.4f", pairs, images, checkpoint!, value))
            }
        }

        /// Average MS-SSIM of random pairs of the generator's samples at its checkpoint's stage.
        func measure(_ gs: Generator, config: TrainingConfig, progress: TrainingProgress) throws -> Double {
                let rng = CounterRNG(seed: seed)
                let l = config.network.latentSize
                let z = Tensor(shape: [images, l], data: (0..<images * l).map { rng.normal(stream: 3, index: UInt64($0)) })
                // A conditional generator: the classes in turn.
                let labels = config.network.isConditional ? (0..<images).map { $0 % config.network.classes } : []
                var x = try GradMode.with(false) {
                    try gs(Var(z), labels: labels, resolution: max(4, progress.resolution), alpha: progress.alpha).value
                }
                while x.shape[2] < ImageBatch.minSize { x = x.upsampled2x() }
                let batch = try ImageBatch(pixels: x.data.map { max(-1, min(1, $0)) }, count: images, channels: x.shape[1],
                                           height: x.shape[2], width: x.shape[3])
                return Double(try averageMSSSIM(images: batch, pairs: pairs, seed: seed))
        }
    }
}
