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
    @Option(name: .customLong("class"), help: "Conditional checkpoints: a class to draw (repeat for several); one row a class, the same latents in every row. Default: every class.")
    var classes: [Int] = []

    func validate() throws {
        guard (1...1024).contains(count) else { throw ValidationError("--count must be in 1...1024, got \(count)") }
        guard out.lowercased().hasSuffix(".png") else { throw ValidationError("--out must name a .png file") }
    }

    /// A conditional generator's labels (one row a class: `--count` / rows samples each, at least 1)
    /// and the grid's columns; no labels and nil for an unconditional one.
    /// - Throws: `InputError` for --class on an unconditional checkpoint or a class it lacks.
    func classRows(_ available: Int) throws -> (labels: [Int], columns: Int?) {
        guard available > 0 else {
            if let k = classes.first { throw InputError("--class \(k): the checkpoint's generator is unconditional (trained without --conditional)") }
            return ([], nil)
        }
        if let bad = classes.first(where: { !(0..<available).contains($0) }) {
            throw InputError("--class \(bad): the checkpoint's generator has \(available) classes, 0...\(available - 1)")
        }
        let rows = classes.isEmpty ? Array(0..<available) : classes
        let columns = max(1, count / rows.count)
        return (rows.flatMap { Array(repeating: $0, count: columns) }, columns)
    }

    func run() throws {
        reportingErrors {
            let (gs, config, progress) = try Checkpoint.loadGenerator(checkpoint, network: raw ? "G" : "Gs")
            let latentSize = config.network.latentSize
            let rng = CounterRNG(seed: seed)
            let (labels, columns) = try classRows(config.network.classes)
            let perRow = columns ?? count
            let row = (0..<perRow * latentSize).map { rng.normal(stream: 7, index: UInt64($0)) }
            let z = Tensor(shape: [labels.isEmpty ? count : labels.count, latentSize],
                           data: labels.isEmpty ? row : Array(repeating: row, count: labels.count / perRow).flatMap { $0 })
            let res = progress.resolution == 0 ? 4 : progress.resolution
            let x = try GradMode.with(false) { try gs(Var(z), labels: labels, resolution: res, alpha: progress.alpha).value }
            let tmp = out + ".tmp-\(getpid())"
            do {
                try ImageGrid(columns: columns).write(x.data, count: x.shape[0], channels: x.shape[1], height: x.shape[2], width: x.shape[3], to: tmp)
                guard rename(tmp, out) == 0 else { throw InputError("\(out): cannot write (\(String(cString: strerror(errno))))") }
            } catch { unlink(tmp); throw error }
            print("wrote \(out): \(x.shape[0]) samples at \(res)x\(res) from \(checkpoint) (\(String(format: "%.1f", Double(progress.imagesShown) / 1000)) kimg)")
        }
    }
}
