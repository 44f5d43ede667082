import Foundation
import Imaging
import Storage
import TensorKit
import TestSupport
import XCTest
@testable import Training

/// The sample writers of `generate`, each read back by a reader that is not the writer: libpng
/// for PNG files, HDF5's command-line tools for the array file, a chunk walker for the animation,
/// and a stand-in ffmpeg that records what it is piped.
final class SampleExportTests: XCTestCase {
    var directory: String!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("sample-export-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: directory) }

    /// N=2 samples of C x H x W = 3 x 4 x 5 whose values cover [-1.23, 1.17] (so clipping is
    /// exercised) and map to at least 0.075 from a rounding tie ((x + 1) * 127.5 has fractional
    /// parts .175, .425, .675, .925), far beyond float rounding.
    func samples(channels: Int = 3) -> Tensor {
        let n = 2 * channels * 4 * 5
        return Tensor(shape: [2, channels, 4, 5], data: (0..<n).map { Float($0 % 25) / 10 - 1.23 })
    }

    /// The byte a value must become: clip to [-1, 1], then (x + 1) * 127.5 rounded half up.
    func expectedByte(_ x: Float) -> UInt8 {
        UInt8((Double(min(max(x, -1), 1)) + 1) * 127.5 + 0.5)   // +0.5 then truncate: round half up
    }

    func testOnePNGPerSampleReadsBackThroughLibpng() throws {
        let x = samples()
        let out = directory + "/samples/"
        let paths = try SampleExport.writePNGs(x, directory: out)
        XCTAssertEqual(paths.map { ($0 as NSString).lastPathComponent }, ["000000.png", "000001.png"])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: out).sorted(), ["000000.png", "000001.png"])
        for n in 0..<2 {
            let image = try PNGCodec.read(paths[n])
            XCTAssertEqual([image.width, image.height, image.channels], [5, 4, 3])
            for y in 0..<4 {
                for xx in 0..<5 {
                    for c in 0..<3 {
                        XCTAssertEqual(image[xx, y, c], expectedByte(x.data[((n * 3 + c) * 4 + y) * 5 + xx]), "sample \(n) (\(xx), \(y), \(c))")
                    }
                }
            }
        }
    }

    /// HDF5's own tools (h5ls, h5dump), not Storage, read the file back.
    func testHDF5FileReadsBackThroughHDF5Tools() throws {
        guard let h5dump = ChildProcess.which("h5dump"), let h5ls = ChildProcess.which("h5ls") else {
            if ProcessInfo.processInfo.environment["CI"] == "true" { XCTFail("h5dump/h5ls missing: .ci/deps.sh installs hdf5-tools") }
            throw XCTSkip("h5dump/h5ls missing: apt-get install hdf5-tools")
        }
        let x = samples()
        let file = directory + "/samples.h5"
        try SampleExport.writeHDF5(x, labels: [7, 3], attributes: ["seed": .int64(5)], to: file)

        let listing = try ChildProcess.run([h5ls, file], timeout: 30)
        XCTAssertTrue(listing.succeeded, listing.summary)
        XCTAssertTrue(listing.stdout.contains("images") && listing.stdout.contains("{2, 3, 4, 5}"), listing.stdout)
        XCTAssertTrue(listing.stdout.contains("labels") && listing.stdout.contains("{2}"), listing.stdout)

        let raw = directory + "/images.bin"
        let dump = try ChildProcess.run([h5dump, "-d", "/images", "-b", "LE", "-o", raw, file], timeout: 30)
        XCTAssertTrue(dump.succeeded, dump.summary)
        XCTAssertEqual([UInt8](try Data(contentsOf: URL(fileURLWithPath: raw))), x.data.map(expectedByte))

        let labels = directory + "/labels.bin"
        let dumpLabels = try ChildProcess.run([h5dump, "-d", "/labels", "-b", "LE", "-o", labels, file], timeout: 30)
        XCTAssertTrue(dumpLabels.succeeded, dumpLabels.summary)
        XCTAssertEqual([UInt8](try Data(contentsOf: URL(fileURLWithPath: labels))), [7, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0])

        let header = try ChildProcess.run([h5dump, "-H", "-A", file], timeout: 30)
        XCTAssertTrue(header.stdout.contains("H5T_STD_U8LE"), header.stdout)
        XCTAssertTrue(header.stdout.contains("progan-mpi-samples"), header.stdout)

        // Without labels there is no labels array.
        let unlabeled = directory + "/unlabeled.h5"
        try SampleExport.writeHDF5(x, to: unlabeled)
        let list2 = try ChildProcess.run([h5ls, unlabeled], timeout: 30)
        XCTAssertFalse(list2.stdout.contains("labels"), list2.stdout)
    }

    /// A walk rendered by a stand-in generator (each latent value becomes a pixel) written as an
    /// APNG: every frame inflated back equals the rendering of that frame's latents.
    func testWalkAnimationFramesReadBack() throws {
        let (frames, count, size) = (12, 2, 4)
        let walk = LatentSampling.walk(frames: frames, size: count * size, smoothingFrames: 2, seed: 1)
        let render: (Tensor) throws -> Tensor = { z in
            Tensor(shape: [z.shape[0], 1, 2, 2], data: z.data.map { tanh($0) })
        }
        let grid = ImageGrid(gap: 1, minimumTileSize: 1)
        let images = try SampleExport.walkFrames(walk, count: count, grid: grid, render: render)
        let path = directory + "/walk.png"
        try AnimatedPNG.write(images, to: path, delay: (1, 30))

        let apng = try APNGReader(path: path)
        XCTAssertEqual(apng.frameCount, frames)
        XCTAssertEqual(apng.frames.count, frames)
        XCTAssertEqual(apng.chunkTypes.filter { $0 == "fdAT" }.count, frames - 1)
        XCTAssertEqual([apng.width, apng.height, apng.channels], [5, 2, 1], "two 2x2 tiles and a 1-pixel gap")
        for f in 0..<frames {
            XCTAssertEqual(apng.frames[f].delay.0, 1); XCTAssertEqual(apng.frames[f].delay.1, 30)
            let z = Array(walk.data[f * count * size ..< (f + 1) * count * size])
            for cell in 0..<count {
                for p in 0..<4 {
                    let (x, y) = (cell * 3 + p % 2, p / 2)
                    XCTAssertEqual(apng.frames[f].pixels[y * 5 + x], expectedByte(tanh(z[cell * 4 + p])), "frame \(f) cell \(cell) pixel \(p)")
                }
            }
            XCTAssertEqual(apng.frames[f].pixels[2], 255, "gap")
        }
        XCTAssertEqual(try PNGCodec.read(path).pixels, apng.frames[0].pixels, "libpng reads the first frame")
    }

    func stubFFmpeg(_ script: String) throws -> String {
        let path = directory + "/ffmpeg"
        try ("#!/bin/sh\n" + script).write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o755)
        return path
    }

    /// The frames reach ffmpeg as raw bytes in order, with a size and pixel format that match.
    func testMP4PipesRawFramesToFFmpeg() throws {
        let args = directory + "/args.txt"
        // The stand-in writes its arguments, then stdin to the output (its last argument).
        let ffmpeg = try stubFFmpeg("printf '%s\\n' \"$@\" > \(args)\nfor last; do :; done\ncat > \"$last\"\n")
        let frames = (0..<3).map { f in Image(width: 3, height: 2, channels: 3, pixels: (0..<18).map { UInt8($0 * 9 + f) }) }
        let out = directory + "/walk.mp4"
        try FFmpegVideo.write(frames, fps: 24, to: out, ffmpeg: ffmpeg)
        XCTAssertEqual([UInt8](try Data(contentsOf: URL(fileURLWithPath: out))), frames.flatMap(\.pixels))
        let lines = try String(contentsOfFile: args, encoding: .utf8).split(separator: "\n").map(String.init)
        for (flag, value) in [("-s", "3x2"), ("-pix_fmt", "rgb24"), ("-r", "24"), ("-c:v", "libx264")] {
            XCTAssertTrue(zip(lines, lines.dropFirst()).contains { $0 == flag && $1 == value }, "\(flag) \(value) in \(lines)")
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasPrefix(".") }, [], "no temporary left")
    }

    func testMP4WithoutOrWithFailingFFmpegIsOneClearErrorAndNoFile() throws {
        let frames = [Image(width: 2, height: 2, channels: 1, value: 9)]
        let out = directory + "/walk.mp4"
        XCTAssertThrowsError(try FFmpegVideo.write(frames, fps: 10, to: out, ffmpeg: nil)) {
            XCTAssertTrue("\($0)".contains("needs ffmpeg on PATH"), "\($0)")
        }
        let failing = try stubFFmpeg("cat > /dev/null\necho 'Unknown encoder libx264' >&2\nexit 1\n")
        XCTAssertThrowsError(try FFmpegVideo.write(frames, fps: 10, to: out, ffmpeg: failing)) {
            XCTAssertTrue("\($0)".contains("Unknown encoder libx264"), "\($0)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasPrefix(".") }, [])
    }

    func testExecutableIsFoundOnThePath() throws {
        _ = try stubFFmpeg("exit 0\n")
        XCTAssertEqual(FFmpegVideo.executable(searchPath: "/nonexistent:\(directory!)"), directory + "/ffmpeg")
        XCTAssertNil(FFmpegVideo.executable(searchPath: "/nonexistent"))
    }
}
