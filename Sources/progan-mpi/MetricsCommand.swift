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
        subcommands: [SWD.self, MSSSIMCommand.self])

    struct SWD: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "swd",
            abstract: "The paper's multi-scale SWD (x1e3 per Laplacian level, full resolution down to 16x16).")
        @Option(help: "Checkpoint whose EMA generator is measured (omit with --real-vs-real).") var checkpoint: String?
        @Option(help: "Dataset file.") var data: String
        @Option(help: "Images per side (the paper used 16384).") var images = 4096
        @Option(help: "Seed of the image choice, patches and projections.") var seed: UInt64 = 1
        @Flag(help: "Compare two disjoint sets of real images: the metric's noise floor at this size.") var realVsReal = false
        @Flag(help: "Print one JSON object instead of text.") var json = false
        @Option(help: "Threads per rank, for BLAS and the other kernels (default 1: one rank a core).") var threads = 1
        @Option(help: "Images generated per forward pass (ranks share whole batches).") var batch = 64

        func validate() throws {
            guard batch >= 1 else { throw ValidationError("--batch must be at least 1, got \(batch)") }
            guard threads >= 1 else { throw ValidationError("--threads must be at least 1, got \(threads)") }
            guard (checkpoint == nil) == realVsReal else { throw ValidationError("pass --checkpoint CK, or --real-vs-real") }
            guard images >= 2 else { throw ValidationError("--images must be >= 2") }
        }

        func run() throws {
            reportingErrors {
                let start = Date()
                BLAS.threads = threads
                Parallel.threads = threads
                // Under mpirun the images and projections are shared out; rank 0 prints.
                let (group, mpi) = try launchProcessGroup()
                let d = try DatasetImages(path: data)
                let result: SlicedWassersteinResult
                var kimg: Double?
                if realVsReal {
                    result = try SWDEvaluator.floor(data: d, resolution: d.resolution, count: images, seed: seed, group: group)
                } else {
                    let (gs, config, progress) = try Checkpoint.loadGenerator(checkpoint!)
                    guard config.network.channels == d.channels, config.network.resolution <= d.resolution else {
                        throw ConfigError("checkpoint is \(config.network.resolution)x\(config.network.resolution) with \(config.network.channels) channel(s); dataset \(data) is \(d.resolution)x\(d.resolution) with \(d.channels)")
                    }
                    let evaluator = try SWDEvaluator(data: d, resolution: config.network.resolution, count: images,
                                                     seed: seed, group: group)
                    result = try evaluator.evaluate(gs, latentSize: config.network.latentSize,
                                                    stageResolution: max(4, progress.resolution), alpha: progress.alpha,
                                                    batch: batch)
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
                    let levels = zip(result.resolutions, result.perLevel).map { "\($0.0)px \(String(format: "%.2f", $0.1))" }
                    print("SWD x1e3 (\(realVsReal ? "real vs real" : checkpoint!)): \(levels.joined(separator: "  "))  avg \(String(format: "%.2f", result.average))  [\(group.size) rank(s), \(String(format: "%.1f", Date().timeIntervalSince(start))) s]")
                }
            }
        }
    }

    struct MSSSIMCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "msssim",
            abstract: "Average MS-SSIM between random pairs of generated images (lower = more varied).")
        @Option(help: "Checkpoint whose EMA generator is sampled.") var checkpoint: String
        @Option(help: "Images to generate.") var images = 256
        @Option(help: "Random pairs to average over.") var pairs = 1000
        @Option(help: "Seed of latents and pairs.") var seed: UInt64 = 1

        func run() throws {
            reportingErrors {
                let (gs, config, progress) = try Checkpoint.loadGenerator(checkpoint)
                let rng = CounterRNG(seed: seed)
                let l = config.network.latentSize
                let z = Tensor(shape: [images, l], data: (0..<images * l).map { rng.normal(stream: 3, index: UInt64($0)) })
                var x = try GradMode.with(false) { try gs(Var(z), resolution: max(4, progress.resolution), alpha: progress.alpha).value }
                while x.shape[2] < ImageBatch.minSize { x = x.upsampled2x() }
                let batch = try ImageBatch(pixels: x.data.map { max(-1, min(1, $0)) }, count: images, channels: x.shape[1],
                                           height: x.shape[2], width: x.shape[3])
                let value = try averageMSSSIM(images: batch, pairs: pairs, seed: seed)
                print(String(format: "MS-SSIM (%d pairs of %d samples, %@): %.4f", pairs, images, checkpoint, value))
            }
        }
    }
}
