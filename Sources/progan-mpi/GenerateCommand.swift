import ArgumentParser
import Autograd
import Foundation
import Imaging
import ProGAN
import Storage
import TensorKit
import Training

/// `progan-mpi generate`: samples from a checkpoint's EMA generator, as a grid, one PNG a sample,
/// an HDF5 array, or a latent-walk animation.
struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Draw samples from a checkpoint's averaged (EMA) generator.",
        discussion: """
        --out decides the form: FILE.png a grid (default), DIR/ (or an existing folder) one PNG per \
        sample named by index, FILE.h5 one uint8 NCHW array /images (HDF5). With --interpolate, \
        FILE.png is an animated PNG and FILE.mp4 an MP4 (needs ffmpeg on PATH).
        """)

    @Option(help: "Checkpoint file (checkpoint-*.h5).") var checkpoint: String
    @Option(name: .shortAndLong, help: "Output: FILE.png, DIR/, FILE.h5, or with --interpolate FILE.png / FILE.mp4.") var out: String
    @Option(help: "Number of samples (default 64; 1 with --interpolate, where each is a walk of its own).") var count: Int?
    @Option(help: "Latent seed.") var seed: UInt64 = 0
    @Option(help: "Truncation trick: latents from a normal truncated to [-PSI, PSI] (e.g. 0.7; smaller: less varied, cleaner).") var truncation: Float?
    @Option(help: "Write a latent walk of this many seconds as an animation (the authors' interpolation video).") var interpolate: Double?
    @Option(help: "With --interpolate: frames per second.") var fps = 30
    @Option(help: "With --interpolate: the walk's smoothing, in seconds (the Gaussian's standard deviation).") var smoothing = 1.0
    @Flag(help: "Sample the trained generator G instead of its moving average Gs.") var raw = false
    @Option(name: .customLong("class"), help: "Conditional checkpoints: a class to draw (repeat for several); one row a class, the same latents in every row. Default: every class.")
    var classes: [Int] = []

    /// What `--out` names.
    enum Output { case grid, folder, hdf5, animatedPNG, mp4 }

    var output: Output {
        let lower = out.lowercased()
        var isDirectory: ObjCBool = false
        if out.hasSuffix("/") || (FileManager.default.fileExists(atPath: out, isDirectory: &isDirectory) && isDirectory.boolValue) {
            return .folder
        }
        if lower.hasSuffix(".h5") || lower.hasSuffix(".hdf5") { return .hdf5 }
        if lower.hasSuffix(".mp4") { return .mp4 }
        return interpolate == nil ? .grid : .animatedPNG
    }

    var sampleCount: Int { count ?? (interpolate == nil ? 64 : 1) }

    func validate() throws {
        guard (1...1024).contains(sampleCount) else { throw ValidationError("--count must be in 1...1024, got \(sampleCount)") }
        if let truncation, !(truncation > 0) {
            throw ValidationError("--truncation must be positive (e.g. 0.7), got \(truncation)")
        }
        let lower = out.lowercased()
        if let seconds = interpolate {
            guard seconds > 0, fps >= 1, smoothing > 0 else {
                throw ValidationError("--interpolate, --fps and --smoothing must be positive")
            }
            guard Int((seconds * Double(fps)).rounded()) <= 10_000 else {
                throw ValidationError("--interpolate \(seconds) at --fps \(fps) is over 10000 frames; shorten it")
            }
            guard truncation == nil else {
                throw ValidationError("--truncation draws independent latents; a walk (--interpolate) cannot take it")
            }
            guard output == .animatedPNG || output == .mp4, lower.hasSuffix(".png") || lower.hasSuffix(".mp4") else {
                throw ValidationError("--interpolate writes an animation: --out must name a .png (animated PNG) or .mp4 file")
            }
        } else {
            guard output != .mp4 else { throw ValidationError("--out .mp4 is a walk video: add --interpolate SECONDS") }
            guard output != .grid || lower.hasSuffix(".png") else {
                throw ValidationError("--out must name a .png file (grid), a folder ending in / (one PNG per sample) or a .h5 file")
            }
        }
    }

    /// The generator's inputs: the one place the latent and label choice is made. Unconditional:
    /// `--count` independent latents. Conditional: one row a class, the same latents in every row
    /// (see `classRows`). Latents are truncated normals with `--truncation`.
    func sampleInputs(latentSize: Int, classes available: Int) throws -> (z: Tensor, labels: [Int], columns: Int?) {
        let (labels, columns) = try classRows(available)
        let perRow = columns ?? sampleCount
        let z = truncation.map { LatentSampling.truncatedNormal(count: perRow, size: latentSize, threshold: $0, seed: seed) }
            ?? LatentSampling.normal(count: perRow, size: latentSize, seed: seed)
        guard !labels.isEmpty else { return (z, [], nil) }
        let rows = labels.count / perRow
        return (Tensor(shape: [labels.count, latentSize], data: Array(repeating: z.data, count: rows).flatMap { $0 }), labels, columns)
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
        let columns = max(1, sampleCount / rows.count)
        return (rows.flatMap { Array(repeating: $0, count: columns) }, columns)
    }

    func run() throws {
        reportingErrors {
            let (gs, config, progress) = try Checkpoint.loadGenerator(checkpoint, network: raw ? "G" : "Gs")
            let latentSize = config.network.latentSize
            let res = progress.resolution == 0 ? 4 : progress.resolution
            // Batches of 16 bound the graph-free forward pass's memory for large counts.
            let generate: (Tensor, [Int]) throws -> Tensor = { z, labels in
                let n = z.shape[0]
                var data: [Float] = []
                var shape = [0]
                for start in stride(from: 0, to: n, by: 16) {
                    let end = min(n, start + 16)
                    let part = Tensor(shape: [end - start, latentSize], data: Array(z.data[start * latentSize ..< end * latentSize]))
                    let partLabels = labels.isEmpty ? [] : Array(labels[start..<end])
                    let x = try GradMode.with(false) { try gs(Var(part), labels: partLabels, resolution: res, alpha: progress.alpha).value }
                    data += x.data
                    shape = x.shape
                }
                shape[0] = n
                return Tensor(shape: shape, data: data)
            }
            let kimg = String(format: "%.1f", Double(progress.imagesShown) / 1000)
            // Missing folders are made, as 'dataset create' does; every file is written atomically.
            let parent = (out as NSString).deletingLastPathComponent
            if !parent.isEmpty {
                do { try RunDirectory.create(parent) } catch {
                    throw InputError("--out \(out): cannot make its folder: \(error)")
                }
            }
            let what: String
            switch output {
            case .grid, .folder, .hdf5:
                let (z, labels, columns) = try sampleInputs(latentSize: latentSize, classes: config.network.classes)
                let x = try generate(z, labels)
                switch output {
                case .folder:
                    try SampleExport.writePNGs(x, directory: out)
                    what = "\(x.shape[0]) PNG files"
                case .hdf5:
                    try SampleExport.writeHDF5(x, labels: labels.isEmpty ? nil : labels.map(Int64.init), attributes: [
                        "checkpoint": .string(checkpoint), "seed": .int64(Int64(bitPattern: seed)),
                        "truncation": .double(Double(truncation ?? 0)), "kimg": .double(Double(progress.imagesShown) / 1000),
                    ], to: out)
                    what = "/images uint8 \(x.shape)"
                default:
                    try AtomicFile.write(out) { tmp in
                        try ImageGrid(columns: columns).write(x.data, count: x.shape[0], channels: x.shape[1], height: x.shape[2],
                                                              width: x.shape[3], to: tmp)
                    }
                    what = "a grid of \(x.shape[0]) samples" + (columns == nil ? "" : ", one class a row")
                }
            case .animatedPNG, .mp4:
                let frames = max(1, Int((interpolate! * Double(fps)).rounded()))
                let walk = LatentSampling.walk(frames: frames, size: sampleCount * latentSize,
                                               smoothingFrames: smoothing * Double(fps), seed: seed)
                // A conditional walk keeps one class: the first --class (default 0).
                _ = try classRows(config.network.classes)   // refuses a class the checkpoint lacks
                let walkLabels = config.network.classes > 0 ? [Int](repeating: classes.first ?? 0, count: sampleCount) : []
                let images = try SampleExport.walkFrames(walk, count: sampleCount, grid: ImageGrid(gap: sampleCount == 1 ? 0 : 2),
                                                         render: { try generate($0, walkLabels.isEmpty ? [] : Array(repeating: walkLabels[0], count: $0.shape[0])) })
                if output == .mp4 {
                    try FFmpegVideo.write(images, fps: fps, to: out)
                } else {
                    // APNG delays are a fraction of a second: 1/fps exactly.
                    try AtomicFile.write(out) { try AnimatedPNG.write(images, to: $0, delay: (1, UInt16(clamping: fps))) }
                }
                what = "a \(frames)-frame walk at \(fps) fps"
            }
            print("wrote \(out): \(what), \(res)x\(res), from \(checkpoint) (\(kimg) kimg)")
        }
    }
}
