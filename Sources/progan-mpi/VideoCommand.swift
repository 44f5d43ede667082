import ArgumentParser
import Foundation
import Training

/// `progan-mpi video RUN`: the run's tick grids as one animation.
struct VideoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "video",
        abstract: "Turn a run's tick grids (fakes-*.png) into one animated PNG: the training video.")

    @Argument(help: "Run directory.") var runDirectory: String
    @Option(name: .shortAndLong, help: "Output animated PNG (default RUN/training-video.png).") var out: String?
    @Option(help: "Frames (ticks) per second.") var fps = 10

    func validate() throws {
        guard (1...1000).contains(fps) else { throw ValidationError("--fps must be in 1...1000, got \(fps)") }
        if let out, !out.lowercased().hasSuffix(".png") { throw ValidationError("--out must name a .png file (animated PNG)") }
    }

    func run() throws {
        reportingErrors {
            let path = out ?? (runDirectory as NSString).appendingPathComponent("training-video.png")
            let frames = try RunHistory.writeTrainingVideo(run: runDirectory, to: path, fps: fps)
            print("wrote \(path): \(frames) frame(s) at \(fps) fps")
        }
    }
}
