import ArgumentParser
import Foundation
import Storage
import Training

/// `progan-mpi dataset create|inspect`.
struct DatasetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dataset",
        abstract: "Create or inspect an HDF5 training dataset (uint8 NCHW arrays data4x4 ... dataRxR).",
        subcommands: [Create.self, Inspect.self])

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a dataset file from Fashion-MNIST IDX files or a folder of PNG/JPEG images.")

        @Option(help: "Folder with Fashion-MNIST IDX files (train-images-idx3-ubyte[.gz], ...); padded 28 -> 32.")
        var fashionMnist: String?
        @Flag(help: "With --fashion-mnist: also include the 10k test images.")
        var includeTest = false
        @Option(help: "Folder of PNG/JPEG images (searched recursively); with every image in a first-level subfolder (two or more), the subfolders' names are the classes.")
        var images: String?
        @Option(help: "With --images: target resolution, a power of two 4...1024.")
        var resolution: Int?
        @Option(help: "With --images: 1 (grayscale) or 3 (RGB).")
        var channels = 3
        @Option(help: "With --images: threads decoding and resizing images (the output is the same for any number).")
        var threads = 1
        @Option(name: .shortAndLong, help: "Output HDF5 file.")
        var out: String
        @Flag(help: "Replace an existing output file.")
        var force = false

        func validate() throws {
            guard (fashionMnist == nil) != (images == nil) else {
                throw ValidationError("give exactly one source: --fashion-mnist DIR or --images DIR --resolution R")
            }
            guard threads >= 1 else { throw ValidationError("--threads must be at least 1, got \(threads)") }
            if images != nil && resolution == nil { throw ValidationError("--images needs --resolution R (a power of two, e.g. 64)") }
            if FileManager.default.fileExists(atPath: out) && !force {
                throw ValidationError("\(out) exists; pass --force to replace it")
            }
        }

        func run() throws {
            let start = Date()
            let say: (String) -> Void = { print("dataset: \($0)"); fflush(stdout) }
            let summary = reportingErrors {
                // The output's folder is made here (data/ does not exist in a fresh clone); the file
                // itself appears only when complete (written under a temporary name, then renamed).
                let parent = (out as NSString).deletingLastPathComponent
                if !parent.isEmpty { try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true) }
                if let dir = fashionMnist {
                    return try DatasetBuilder.fashionMNIST(directory: dir, output: out, includeTest: includeTest, progress: say)
                }
                return try DatasetBuilder.imageFolder(directory: images!, output: out, resolution: resolution!,
                                                      channels: channels, threads: threads, progress: say)
            }
            for s in summary.skipped { print("skipped: \(s)") }
            if let names = summary.classNames { print("labels: \(names.count) classes: \(names.joined(separator: ", "))") }
            print(String(format: "wrote %@: %d images, %dx%d, %d channel(s), levels 4..%d%@ (%.1f s)", out, summary.count,
                         summary.resolution, summary.resolution, summary.channels, summary.resolution,
                         summary.skipped.isEmpty ? "" : ", \(summary.skipped.count) file(s) skipped",
                         Date().timeIntervalSince(start)))
        }
    }

    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print what a dataset file holds.")
        @Argument(help: "Dataset file.") var file: String

        func run() throws {
            reportingErrors {
                let d = try DatasetImages(path: file)
                print("file:       \(file)")
                print("source:     \(d.file.source)")
                print("images:     \(d.count)")
                print("channels:   \(d.channels)")
                print("resolution: \(d.resolution)x\(d.resolution)")
                print("levels:     \(d.file.levels.map { "data\($0)x\($0)" }.joined(separator: " "))")
                print("labels:     \(d.file.hasLabels ? "yes, \(d.classCount) classes" : "no")")
                if d.file.hasLabels {
                    let names = d.file.classNames
                    for (k, n) in d.classCounts.enumerated() {
                        let name = (names.map { $0[k] } ?? "(no name stored)").padding(toLength: 20, withPad: " ", startingAt: 0)
                        print(String(format: "  class %2d  ", k) + name + String(format: " %8d images", n))
                    }
                }
                let sample = try d.images(Array(0..<min(d.count, 256)), resolution: d.resolution)
                let mean = sample.data.reduce(0, +) / Float(sample.data.count)
                print(String(format: "pixel mean (first %d, in [-1,1]): %.3f", sample.shape[0], mean))
            }
        }
    }
}
