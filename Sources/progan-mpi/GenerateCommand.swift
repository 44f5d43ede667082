import ArgumentParser
import Autograd
import Foundation
import Imaging
import ProGAN
import TensorKit
import Training

/// `progan-mpi generate`: samples from a checkpoint's EMA generator.
struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate", abstract: "Draw a grid of samples from a checkpoint's averaged (EMA) generator.")

    @Option(help: "Checkpoint file (checkpoint-*.h5).") var checkpoint: String
    @Option(name: .shortAndLong, help: "Output PNG.") var out: String
    @Option(help: "Number of samples.") var count = 64
    @Option(help: "Latent seed.") var seed: UInt64 = 0
    @Flag(help: "Sample the trained generator G instead of its moving average Gs.") var raw = false

    func validate() throws {
        guard (1...1024).contains(count) else { throw ValidationError("--count must be in 1...1024, got \(count)") }
        guard out.lowercased().hasSuffix(".png") else { throw ValidationError("--out must name a .png file") }
    }

    func run() throws {
        reportingErrors {
            let (gs, config, progress) = try Checkpoint.loadGenerator(checkpoint, network: raw ? "G" : "Gs")
            let latentSize = config.network.latentSize
            let rng = CounterRNG(seed: seed)
            let z = Tensor(shape: [count, latentSize], data: (0..<count * latentSize).map { rng.normal(stream: 7, index: UInt64($0)) })
            let res = progress.resolution == 0 ? 4 : progress.resolution
            let x = try GradMode.with(false) { try gs(Var(z), resolution: res, alpha: progress.alpha).value }
            // Missing folders are made, as 'dataset create' does; the PNG is written atomically.
            let parent = (out as NSString).deletingLastPathComponent
            if !parent.isEmpty {
                do { try RunDirectory.create(parent) } catch {
                    throw InputError("--out \(out): cannot make its folder: \(error)")
                }
            }
            try ImageGrid().write(x.data, count: count, channels: x.shape[1], height: x.shape[2], width: x.shape[3], to: out)
            print("wrote \(out): \(count) samples at \(res)x\(res) from \(checkpoint) (\(String(format: "%.1f", Double(progress.imagesShown) / 1000)) kimg)")
        }
    }
}
