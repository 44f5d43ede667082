import Foundation
import Imaging

/// MP4 output through an installed `ffmpeg`: raw 8-bit frames are piped to it (H.264, yuv420p,
/// the format most players take). Encoding video ourselves is out of scope; where ffmpeg is
/// missing, the animated PNG writer is the alternative.
public enum FFmpegVideo {
    /// The first executable `ffmpeg` on `searchPath` (colon-separated), or nil.
    public static func executable(searchPath: String? = ProcessInfo.processInfo.environment["PATH"]) -> String? {
        for dir in (searchPath ?? "").split(separator: ":") where !dir.isEmpty {
            let candidate = "\(dir)/ffmpeg"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// The ffmpeg arguments for frames of `width` x `height` with `channels` (1 or 3) at `fps`,
    /// read from standard input and written to `output` as MP4. Odd sides are padded by one
    /// pixel, since yuv420p needs even ones.
    static func arguments(width: Int, height: Int, channels: Int, fps: Int, output: String) -> [String] {
        ["-hide_banner", "-loglevel", "error", "-y",
         "-f", "rawvideo", "-pix_fmt", channels == 1 ? "gray" : "rgb24", "-s", "\(width)x\(height)",
         "-r", "\(fps)", "-i", "-",
         "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-f", "mp4", output]
    }

    /// Encodes `frames` (same size, 1 or 3 channels) at `fps` into the MP4 file `path`, which
    /// appears only when ffmpeg succeeded.
    ///
    /// - Parameter ffmpeg: the ffmpeg to run; by default the one on PATH.
    /// - Throws: `InputError` when there is no ffmpeg or it fails (with its last message line).
    public static func write(_ frames: [Image], fps: Int, to path: String, ffmpeg: String? = executable()) throws {
        guard let ffmpeg else {
            throw InputError("\(path): writing MP4 needs ffmpeg on PATH (apt-get install ffmpeg), or write an animated PNG with --out NAME.png")
        }
        guard let first = frames.first, first.channels == 1 || first.channels == 3 else {
            throw InputError("\(path): no frames, or frames that are neither gray nor RGB")
        }
        try AtomicFile.write(path) { tmp in
            let log = FileManager.default.temporaryDirectory.appendingPathComponent("ffmpeg-\(getpid())-\(UUID().uuidString).log")
            _ = FileManager.default.createFile(atPath: log.path, contents: nil)
            defer { try? FileManager.default.removeItem(at: log) }
            let process = Process()
            process.executableURL = URL(fileURLWithPath: ffmpeg)
            process.arguments = arguments(width: first.width, height: first.height, channels: first.channels, fps: fps, output: tmp)
            let input = Pipe()
            process.standardInput = input
            process.standardOutput = FileHandle.nullDevice
            process.standardError = try FileHandle(forWritingTo: log)
            // A failing ffmpeg closes the pipe: the write must then return an error, not raise SIGPIPE.
            signal(SIGPIPE, SIG_IGN)
            try process.run()
            var writeError: Error?
            do {
                for frame in frames { try input.fileHandleForWriting.write(contentsOf: Data(frame.pixels)) }
            } catch { writeError = error }
            try? input.fileHandleForWriting.close()
            process.waitUntilExit()
            guard process.terminationStatus == 0, writeError == nil else {
                let message = (try? String(contentsOf: log, encoding: .utf8))?
                    .split(separator: "\n").last.map(String.init) ?? "no message"
                throw InputError("\(path): ffmpeg failed (exit \(process.terminationStatus)): \(message)")
            }
        }
    }
}
