import Foundation
import Imaging
import TestSupport
import XCTest

/// `generate`, `video` and `metrics --run` on a tiny real run, every file they write read back by
/// a reader that is not its writer (libpng, HDF5's tools, the APNG chunk walker).
final class GenerationToolsTests: TrainingCLITestCase {
    /// A tiny run with a tick and a checkpoint every step, all kept.
    func makeRun(steps: Int = 6) throws -> String {
        let data = try makeDataset()
        let out = path("run")
        let r = try progan(tinyArguments(data: data, out: out) + ["--max-steps", "\(steps)", "--tick-kimg", "0.01", "--keep-checkpoints", "20"])
        XCTAssertTrue(r.succeeded, r.summary)
        return out
    }

    func testGenerateWritesGridFolderHDF5AndWalk() throws {
        let run = try makeRun(steps: 2)
        let ck = try XCTUnwrap(checkpoints(run).last)

        // Grid (the default), with truncated latents.
        var r = try progan(["generate", "--checkpoint", ck, "--out", path("grid.png"), "--count", "9", "--truncation", "0.5"])
        XCTAssertTrue(r.succeeded, r.summary)
        let grid = try PNGCodec.read(path("grid.png"))
        XCTAssertEqual(grid.channels, 1)
        XCTAssertGreaterThan(grid.width, 3 * 32)

        // One PNG per sample, named by index.
        r = try progan(["generate", "--checkpoint", ck, "--out", path("samples") + "/", "--count", "5"])
        XCTAssertTrue(r.succeeded, r.summary)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: path("samples")).sorted(),
                       (0..<5).map { String(format: "%06d.png", $0) })
        let firstSample = try PNGCodec.read(path("samples/000000.png"))
        XCTAssertEqual(firstSample.channels, 1)
        let side = firstSample.width

        // The same samples (same seed) as one HDF5 array: h5dump's bytes equal the PNGs' pixels.
        r = try progan(["generate", "--checkpoint", ck, "--out", path("samples.h5"), "--count", "5"])
        XCTAssertTrue(r.succeeded, r.summary)
        if let h5dump = ChildProcess.which("h5dump") {
            let raw = path("images.bin")
            let d = try ChildProcess.run([h5dump, "-d", "/images", "-b", "LE", "-o", raw, path("samples.h5")], timeout: 30)
            XCTAssertTrue(d.succeeded, d.summary)
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: raw)))
            var expected: [UInt8] = []
            for n in 0..<5 { expected += try PNGCodec.read(path(String(format: "samples/%06d.png", n))).pixels }
            XCTAssertEqual(bytes.count, 5 * side * side)
            XCTAssertEqual(bytes, expected)
            let h = try ChildProcess.run([h5dump, "-H", path("samples.h5")], timeout: 30)
            XCTAssertTrue(h.stdout.contains("( 5, 1, \(side), \(side) )"), h.stdout)
        } else if ProcessInfo.processInfo.environment["CI"] == "true" {
            XCTFail("h5dump missing: .ci/deps.sh installs hdf5-tools")
        }

        // A latent walk as an animated PNG: 0.5 s at 8 fps is 4 frames, each a moving sample.
        r = try progan(["generate", "--checkpoint", ck, "--out", path("walk.png"), "--interpolate", "0.5", "--fps", "8"])
        XCTAssertTrue(r.succeeded, r.summary)
        let walk = try APNGReader(path: path("walk.png"))
        XCTAssertEqual(walk.frameCount, 4)
        XCTAssertEqual(walk.frames.count, 4)
        XCTAssertEqual(walk.frames[0].delay.0, 1); XCTAssertEqual(walk.frames[0].delay.1, 8)
        XCTAssertNotEqual(walk.frames[0].pixels, walk.frames[2].pixels, "the walk moves")
        XCTAssertEqual(try PNGCodec.read(path("walk.png")).pixels, walk.frames[0].pixels)
    }

    func testGenerateRefusesBadOptionsWithOneLine() throws {
        let ck = path("none.h5")
        for (args, message) in [
            (["--out", path("x.txt")], "--out must name a .png file"),
            (["--out", path("x.png"), "--truncation", "0"], "--truncation must be positive"),
            (["--out", path("x.mp4")], "add --interpolate SECONDS"),
            (["--out", path("x.h5"), "--interpolate", "2"], "--out must name a .png (animated PNG) or .mp4 file"),
            (["--out", path("x.png"), "--interpolate", "2", "--truncation", "0.7"], "cannot take it"),
        ] {
            let r = try progan(["generate", "--checkpoint", ck] + args)
            XCTAssertNotEqual(r.exitCode, 0, r.summary)
            XCTAssertTrue(r.stderr.contains(message), "\(args): \(r.stderr)")
            XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
        }
    }

    func testVideoHoldsEveryTickGridOfTheRun() throws {
        let run = try makeRun()
        let grids = ((try? FileManager.default.contentsOfDirectory(atPath: run)) ?? []).filter { $0.hasPrefix("fakes-") }.sorted()
        XCTAssertGreaterThanOrEqual(grids.count, 3, "ticks of 10 images over 6 steps")
        let r = try progan(["video", run, "--fps", "4"])
        XCTAssertTrue(r.succeeded, r.summary)
        let apng = try APNGReader(path: run + "/training-video.png")
        XCTAssertEqual(apng.frameCount, grids.count)
        // The tiny run's grids all have the same size (tiles enlarged to 64 pixels): frames are the grids.
        XCTAssertEqual(apng.frames.map(\.pixels), try grids.map { try PNGCodec.read(run + "/" + $0).pixels })
        let none = try progan(["video", path("empty-nonexistent")])
        XCTAssertNotEqual(none.exitCode, 0)
        XCTAssertEqual(none.stderr.split(separator: "\n").count, 1, none.stderr)
    }

    func testMetricsOverARunWriteATableAndAPlot() throws {
        let run = try makeRun()
        let cks = checkpoints(run)
        XCTAssertGreaterThan(cks.count, 3, "--keep-checkpoints 20 keeps more than the default 3")
        var r = try progan(["metrics", "swd", "--run", run, "--data", path("data.h5"), "--images", "16"], timeout: 300)
        XCTAssertTrue(r.succeeded, r.summary)
        let rows = try String(contentsOfFile: run + "/metrics-swd.jsonl", encoding: .utf8).split(separator: "\n").map {
            try XCTUnwrap(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        XCTAssertEqual(rows.map { $0["checkpoint"] as? String }, cks.map { ($0 as NSString).lastPathComponent })
        let kimg = rows.compactMap { $0["kimg"] as? Double }
        XCTAssertEqual(kimg, kimg.sorted()); XCTAssertEqual(kimg.count, cks.count)
        for row in rows {
            let levels = try XCTUnwrap(row["swd_levels"] as? [Double]), res = try XCTUnwrap(row["swd_resolutions"] as? [Int])
            XCTAssertEqual(res, [32, 16], "levels of a 32x32 run")
            XCTAssertEqual(levels.count, 2)
            XCTAssertTrue(levels.allSatisfy { $0.isFinite && $0 > 0 })
        }
        // The stage each checkpoint was at: a power of two up to 32, never shrinking.
        let stages = rows.compactMap { $0["resolution"] as? Int }
        XCTAssertEqual(stages.count, cks.count)
        XCTAssertTrue(stages.allSatisfy { [4, 8, 16, 32].contains($0) } && stages == stages.sorted(), "\(stages)")
        // The plot, read by libpng: a line a level, so both of the first two palette colors appear.
        let plot = try PNGCodec.read(run + "/metrics-swd.png")
        XCTAssertEqual([plot.width, plot.height, plot.channels], [640, 400, 3])
        for level in 0..<2 {
            let c = LinePlot.color(level)
            var n = 0
            for y in 0..<plot.height { for x in 0..<plot.width where plot[x, y, 0] == c[0] && plot[x, y, 1] == c[1] && plot[x, y, 2] == c[2] { n += 1 } }
            XCTAssertGreaterThan(n, 25 * cks.count, "markers (5x5) and swatch of level \(level)")
        }

        r = try progan(["metrics", "msssim", "--run", run, "--images", "8", "--pairs", "6"], timeout: 300)
        XCTAssertTrue(r.succeeded, r.summary)
        let ms = try String(contentsOfFile: run + "/metrics-msssim.jsonl", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(ms.count, cks.count)
        let value = try XCTUnwrap((try JSONSerialization.jsonObject(with: Data(ms[0].utf8)) as? [String: Any])?["msssim"] as? Double)
        XCTAssertTrue((-1...1).contains(value))
        XCTAssertEqual(try PNGCodec.read(run + "/metrics-msssim.png").width, 640)

        let empty = path("empty")
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        r = try progan(["metrics", "msssim", "--run", empty])
        XCTAssertNotEqual(r.exitCode, 0)
        XCTAssertTrue(r.stderr.contains("no checkpoints"), r.stderr)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: empty), [])
    }
}
