import Autograd
import Foundation
import Imaging
import ProGAN
import Storage
import TestSupport
import Training
import XCTest

/// `train --conditional`, labelled datasets and `generate --class`, on the release binary.
final class ConditionalTrainingTests: TrainingCLITestCase {
    /// 1, 2 and 3 ranks (shares 8; 4, 4; 3, 3, 2), 16 steps of minibatch 8 (4x4 stable, then the
    /// fade into 8x8) with conditioning: the same weights, Adam moments and losses, the classifier
    /// terms included.
    /// The fakes' labels of the G step are drawn per global sample, the D step's are the reals',
    /// so every rank count draws the same labels; only the order of float sums differs. The
    /// tolerance and its argument are those of `ResumeAndRanksTests.testRanksTrainLikeOneProcess`
    /// (per state group, relative to the group's largest magnitude).
    func testConditionalRanksTrainLikeOneProcess() throws {
        let data = try makeDataset(classes: 3)
        var runs: [Int: String] = [:]
        for ranks in [1, 2, 3] {
            let out = path("ranks\(ranks)")
            let r = try progan(tinyArguments(data: data, out: out) + ["--conditional", "--max-steps", "16"], ranks: ranks,
                               timeout: 240)
            XCTAssertTrue(r.succeeded, r.summary)
            runs[ranks] = out
        }
        let checkpoint = "/checkpoint-000000128.h5"
        let reference = try checkpointArrays(runs[1]! + checkpoint)
        // D's last layer has the class rows: 1 + 3 outputs; G's dense layer 3 label columns.
        XCTAssertEqual(reference["/D/D/4x4/dense1/bias"]?.count, 4)
        let config = try String(contentsOfFile: runs[1]! + "/config.json", encoding: .utf8)
        XCTAssertTrue(config.contains("\"classes\" : 3"), config)
        let referenceMetrics = try metrics(runs[1]!)
        XCTAssertTrue(referenceMetrics.contains { ($0["alpha"] as! Double) < 1 }, "the run must cross a fade-in")
        XCTAssertTrue(referenceMetrics.allSatisfy { ($0["loss/class_real"] as! Double) > 0 && ($0["loss/class_G"] as! Double) > 0 },
                      "the classifier terms must be active")
        for ranks in [2, 3] {
            let other = try checkpointArrays(runs[ranks]! + checkpoint)
            var groups: [String: (diff: Double, scale: Double)] = [:]
            for (name, values) in reference {
                let theirs = try XCTUnwrap(other[name], name)
                let parts = name.split(separator: "/")
                let group = parts[0] == "adam" ? parts[0...2].joined(separator: "/") : String(parts[0])
                let scale = Double(values.map { abs($0) }.max() ?? 0)
                let diff = Double(zip(values, theirs).map { abs($0 - $1) }.max() ?? 0)
                let g = groups[group] ?? (0, 0)
                groups[group] = (max(g.diff, diff), max(g.scale, scale))
            }
            XCTAssertEqual(Set(groups.keys), ["G", "D", "Gs", "adam/G/m", "adam/G/v", "adam/D/m", "adam/D/v"])
            for (group, g) in groups.sorted(by: { $0.key < $1.key }) {
                print("conditional, ranks \(ranks): \(group) max difference \(g.diff), relative \(g.diff / g.scale)")
                XCTAssertLessThan(g.diff / g.scale, 1e-5, "\(group): \(ranks) ranks diverge from 1 rank")
            }
            let m = try metrics(runs[ranks]!)
            XCTAssertEqual(m.count, referenceMetrics.count)
            for (x, y) in zip(referenceMetrics, m) {
                for key in ["loss/D", "loss/G", "loss/gp", "loss/class_real", "loss/class_fake", "loss/class_G", "D/acc_real", "D/acc_fake"] {
                    let (u, v) = (x[key] as! Double, y[key] as! Double)
                    XCTAssertEqual(u, v, accuracy: 1e-5 * max(abs(u), abs(v)) + 1e-7, "\(key) at kimg \(x["kimg"]!), \(ranks) ranks")
                }
            }
        }
    }

    /// Refusals, one line each and nothing written: --conditional without labels; a resume whose
    /// class count differs from the checkpoint's; `generate --class` for a class the checkpoint
    /// lacks or on an unconditional checkpoint. And `generate --class` draws one class a row with
    /// the same latents in every row.
    func testRefusalsAndGenerateByClass() throws {
        let plain = try makeDataset("plain.h5")
        var r = try progan(tinyArguments(data: plain, out: path("nolabels")) + ["--conditional", "--max-steps", "1"])
        assertOneLineError(r, contains: "has no labels")
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("nolabels") + "/config.json"))

        let labelled = try makeDataset("labelled.h5", classes: 3)
        let run = path("cond")
        r = try progan(tinyArguments(data: labelled, out: run) + ["--conditional", "--max-steps", "12"])
        XCTAssertTrue(r.succeeded, r.summary)
        XCTAssertTrue(r.stdout.contains("D accuracy real"), r.stdout)
        let before = checkpoints(run)
        r = try progan(tinyArguments(data: labelled, out: run) + ["--max-steps", "1", "--resume", "auto"])
        assertOneLineError(r, contains: "network.classes: checkpoint 3, now 0")
        XCTAssertEqual(checkpoints(run), before)

        let ck = try XCTUnwrap(before.last)
        r = try progan(["generate", "--checkpoint", ck, "--out", path("bad.png"), "--class", "3"])
        assertOneLineError(r, contains: "has 3 classes")
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("bad.png")))
        let plainRun = path("plainrun")
        r = try progan(tinyArguments(data: labelled, out: plainRun) + ["--max-steps", "1"])
        XCTAssertTrue(r.succeeded, r.summary)
        r = try progan(["generate", "--checkpoint", checkpoints(plainRun)[0], "--out", path("bad.png"), "--class", "0"])
        assertOneLineError(r, contains: "unconditional")
        r = try progan(["metrics", "classes", "--checkpoint", checkpoints(plainRun)[0], "--data", labelled])
        assertOneLineError(r, contains: "unconditional")

        // Two classes, 8 a row; then class 2 alone, 8 a row: its row equals the first grid's second.
        r = try progan(["generate", "--checkpoint", ck, "--out", path("two.png"), "--class", "0", "--class", "2", "--count", "16"])
        XCTAssertTrue(r.succeeded, r.summary)
        r = try progan(["generate", "--checkpoint", ck, "--out", path("one.png"), "--class", "2", "--count", "8"])
        XCTAssertTrue(r.succeeded, r.summary)
        let two = try PNGCodec.read(path("two.png")), one = try PNGCodec.read(path("one.png"))
        // Tiles of 8x8 samples enlarged 8x to 64 px, 2 px gaps: 8 columns, 2 rows and 1 row.
        XCTAssertEqual([two.width, two.height, one.width, one.height], [8 * 64 + 14, 2 * 64 + 2, 8 * 64 + 14, 64])
        func row(_ image: Image, top: Int) -> [UInt8] {
            (top..<top + 64).flatMap { y in (0..<image.width).map { image[$0, y, 0] } }
        }
        XCTAssertEqual(row(two, top: 66), row(one, top: 0), "class 2's row with the same latents")
        XCTAssertNotEqual(row(two, top: 0), row(two, top: 66), "classes 0 and 2 draw different images")
        try checkClassAccuracy(checkpoint: ck, data: labelled)
        // Without --class: every class, one a row.
        r = try progan(["generate", "--checkpoint", ck, "--out", path("all.png"), "--count", "24"])
        XCTAssertTrue(r.succeeded, r.summary)
        XCTAssertEqual(try PNGCodec.read(path("all.png")).height, 3 * 64 + 4)
    }

    /// `dataset create --images` on a folder of class subfolders: labels by subfolder (sorted
    /// names), the names stored, a skipped file leaving the labels aligned; `inspect` lists the
    /// classes and their counts.
    func testDatasetFromClassFolders() throws {
        let folder = path("classes")
        for (name, values) in [("zebra", [200, 220]), ("apple", [10, 30, 50])] {
            try FileManager.default.createDirectory(atPath: folder + "/" + name, withIntermediateDirectories: true)
            for (i, v) in values.enumerated() {
                try PNGCodec.write(Image(width: 16, height: 16, channels: 3, value: UInt8(v)), to: folder + "/\(name)/\(i).png")
            }
        }
        try Data([0x89, 0x50, 0x4E, 0x47, 1, 2, 3]).write(to: URL(fileURLWithPath: folder + "/apple/0a-broken.png"))
        let out = path("classes.h5")
        var r = try progan(["dataset", "create", "--images", folder, "--resolution", "16", "-o", out])
        XCTAssertTrue(r.succeeded, r.summary)
        XCTAssertTrue(r.stdout.contains("labels: 2 classes: apple, zebra"), r.stdout)
        let file = try ImageDatasetFile(path: out)
        defer { try? file.close() }
        XCTAssertEqual(file.classNames, ["apple", "zebra"])
        XCTAssertEqual(try file.labels(indices: Array(0..<5)), [0, 0, 0, 1, 1])
        // Each image's pixels say which folder it came from.
        let firstPixels = try (0..<5).map { try file.images(resolution: 16, indices: [$0])[0] }
        XCTAssertEqual(firstPixels, [10, 30, 50, 200, 220])
        r = try progan(["dataset", "inspect", out])
        XCTAssertTrue(r.succeeded, r.summary)
        XCTAssertTrue(r.stdout.contains("yes, 2 classes"), r.stdout)
        let lines = r.stdout.split(separator: "\n")
        XCTAssertTrue(lines.contains { $0.contains("class  0") && $0.contains("apple") && $0.hasSuffix(" 3 images") }, r.stdout)
        XCTAssertTrue(lines.contains { $0.contains("class  1") && $0.contains("zebra") && $0.hasSuffix(" 2 images") }, r.stdout)

        // Loose files at the top: not a class folder, no labels.
        try FileManager.default.copyItem(atPath: folder + "/apple/1.png", toPath: folder + "/loose.png")
        r = try progan(["dataset", "create", "--images", folder, "--resolution", "16", "-o", path("loose.h5")])
        XCTAssertTrue(r.succeeded, r.summary)
        XCTAssertFalse(try ImageDatasetFile(path: path("loose.h5")).hasLabels)
    }

    /// `metrics classes` against D's class logits counted here: on the first minibatch of reals
    /// (minibatch 8 of the tiny preset) and on 8 fakes a class from the same latents
    /// (`LatentSampling.normal`, the command's), D at the checkpoint's stage.
    func checkClassAccuracy(checkpoint: String, data: String) throws {
        let r = try progan(["metrics", "classes", "--checkpoint", checkpoint, "--data", data, "--images", "8",
                            "--fakes-per-class", "8", "--seed", "5", "--json"])
        XCTAssertTrue(r.succeeded, r.summary)
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], r.stdout)
        let (gs, config, progress) = try Checkpoint.loadGenerator(checkpoint)
        let d = try Checkpoint.loadDiscriminator(checkpoint)
        let images = try DatasetImages(path: data)
        let (res, alpha) = (progress.resolution, progress.alpha)
        func argmax(_ out: Var) -> [Int] {
            let k = out.shape[1]
            return (0..<out.shape[0]).map { i in (1..<k).max { out.value.data[i * k + $0] < out.value.data[i * k + $1] }! - 1 }
        }
        let labels = try images.labels(Array(0..<8))
        let realPredicted = argmax(try d(Var(try images.images(Array(0..<8), resolution: res).fadedReals(alpha: alpha)),
                                         resolution: res, alpha: alpha))
        let realHits = zip(realPredicted, labels).filter { $0 == $1 }.count
        XCTAssertEqual(json["reals"] as? Int, 8)
        XCTAssertEqual(try XCTUnwrap(json["realAccuracy"] as? Double), Double(realHits) / 8, accuracy: 1e-12)
        let z = LatentSampling.normal(count: 8, size: config.network.latentSize, seed: 5)
        var fakeAccuracy = [Double]()
        for k in 0..<3 {
            let fakes = try gs(Var(z), labels: [Int](repeating: k, count: 8), resolution: res, alpha: alpha)
            fakeAccuracy.append(Double(argmax(try d(fakes, resolution: res, alpha: alpha)).filter { $0 == k }.count) / 8)
        }
        XCTAssertEqual(try XCTUnwrap(json["fakeAccuracyByClass"] as? [Double]), fakeAccuracy)
        XCTAssertEqual(TickRecord.tensorBoardTag(forKey: "D/acc_real"), "D/acc_real")
        XCTAssertEqual(TickRecord.tensorBoardTag(forKey: "loss/class_G"), "Loss/class_G")
    }

    func assertOneLineError(_ r: ChildResult, contains text: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertNotEqual(r.exitCode, 0, r.summary, file: file, line: line)
        let lines = r.stderr.split(separator: "\n").filter { !$0.isEmpty }
        XCTAssertEqual(lines.count, 1, r.stderr, file: file, line: line)
        XCTAssertTrue(r.stderr.contains(text), r.stderr, file: file, line: line)
    }
}
