import ArgumentParser
import Foundation
import Training

extension MetricsCommand {
    /// `progan-mpi metrics classes`: whether a conditional checkpoint honours its classes.
    struct ClassesCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "classes",
            abstract: "A conditional checkpoint's D as a classifier: its accuracy on labelled real images (ideally held out) and on the EMA generator's fakes of each class.")
        @Option(help: "Checkpoint of a conditional run.") var checkpoint: String
        @Option(help: "Labelled dataset with the checkpoint's classes (e.g. a held-out split).") var data: String
        @Option(help: "Real images to classify (from the start of the dataset).") var images = 10000
        @Option(help: "Fakes per class.") var fakesPerClass = 512
        @Option(help: "Seed of the fakes' latents.") var seed: UInt64 = 1
        @Flag(help: "Print one JSON object instead of text.") var json = false

        func validate() throws {
            guard images >= 1, fakesPerClass >= 1 else { throw ValidationError("--images and --fakes-per-class must be positive") }
        }

        func run() throws {
            reportingErrors {
                let (gs, config, progress) = try Checkpoint.loadGenerator(checkpoint)
                let d = try Checkpoint.loadDiscriminator(checkpoint)
                let r = try ClassAccuracy.measure(D: d, Gs: gs, config: config, progress: progress,
                                                  data: try DatasetImages(path: data), realCount: images,
                                                  fakesPerClass: fakesPerClass, seed: seed)
                if json {
                    let encoder = JSONEncoder()
                    encoder.outputFormatting = [.sortedKeys]
                    print(String(decoding: try encoder.encode(r), as: UTF8.self))
                    return
                }
                func pct(_ v: Double?) -> String { v.map { String(format: "%5.1f%%", 100 * $0) } ?? "    -" }
                print(String(format: "%@ (%.1f kimg, %dx%d, alpha %.2f)", checkpoint, r.kimg, r.resolution, r.resolution, r.alpha))
                print("D's accuracy on \(r.reals) real images of \(data): \(pct(r.realAccuracy))")
                print("on \(r.fakesPerClass) fakes of each class: \(pct(r.fakeAccuracy)) (chance \(pct(1 / Double(r.fakeAccuracyByClass.count))))")
                print("class   reals   fakes")
                for k in r.fakeAccuracyByClass.indices {
                    print(String(format: "%5d  %@  %@", k, pct(r.realAccuracyByClass[k]), pct(r.fakeAccuracyByClass[k])))
                }
            }
        }
    }
}
