import Foundation
import TestSupport
import XCTest

/// Resume exactness (issue 3) and N ranks == 1 rank (issue 4; docs/ARCHITECTURE.md, "N ranks train like one process"), on the real binary.
final class ResumeAndRanksTests: TrainingCLITestCase {
    /// Train 6 steps, stop, resume for 6 more == 12 steps straight, bit for bit: every random draw is
    /// a pure function of (seed, step, sample) and the checkpoint holds all state (weights, EMA,
    /// both Adams with their step counts, progress).
    func testResumeContinuesBitForBit() throws {
        let data = try makeDataset()
        let straight = path("straight"), split = path("split")
        var r = try progan(tinyArguments(data: data, out: straight) + ["--max-steps", "12"])
        XCTAssertTrue(r.succeeded, r.summary)
        r = try progan(tinyArguments(data: data, out: split) + ["--max-steps", "6"])
        XCTAssertTrue(r.succeeded, r.summary)
        // A second start without --resume must refuse to mix into the old run.
        r = try progan(tinyArguments(data: data, out: split) + ["--max-steps", "6"])
        XCTAssertEqual(r.exitCode, 1)
        XCTAssertTrue(r.stderr.contains("--resume auto"), r.stderr)
        r = try progan(tinyArguments(data: data, out: split) + ["--max-steps", "6", "--resume", "auto"])
        XCTAssertTrue(r.succeeded, r.summary)
        XCTAssertTrue(r.stdout.contains("resuming from"), r.stdout)

        let a = try checkpointArrays(straight + "/checkpoint-000000096.h5")
        let b = try checkpointArrays(split + "/checkpoint-000000096.h5")
        XCTAssertEqual(Set(a.keys), Set(b.keys))
        XCTAssertGreaterThan(a.count, 20)
        for (name, values) in a {
            XCTAssertEqual(values, b[name], "\(name) differs after resume")
        }
        // And the run did train: G's weights moved away from the 6-step state.
        let mid = try checkpointArrays(split + "/checkpoint-000000048.h5")
        XCTAssertNotEqual(mid["/G/G/4x4/conv/weight"], a["/G/G/4x4/conv/weight"])
    }

    /// 1, 2 and 4 ranks, 24 steps through a fade-in (4x4 stable, 8x8 fade, 8x8 stable) with the
    /// gradient penalty and the global minibatch stddev: same losses and final weights.
    func testRanksTrainLikeOneProcess() throws {
        let data = try makeDataset()
        var runs: [Int: String] = [:]
        for ranks in [1, 2, 4] {
            let out = path("ranks\(ranks)")
            let r = try progan(tinyArguments(data: data, out: out) + ["--max-steps", "24"], ranks: ranks, timeout: 240)
            XCTAssertTrue(r.succeeded, r.summary)
            runs[ranks] = out
        }
        let reference = try checkpointArrays(runs[1]! + "/checkpoint-000000192.h5")
        let referenceMetrics = try metrics(runs[1]!)
        XCTAssertTrue(referenceMetrics.contains { ($0["alpha"] as! Double) < 1 }, "the run must cross a fade-in")
        XCTAssertTrue(referenceMetrics.allSatisfy { ($0["loss/gp"] as! Double) > 0 }, "the penalty must be active")
        for ranks in [2, 4] {
            let other = try checkpointArrays(runs[ranks]! + "/checkpoint-000000192.h5")
            // Differences are measured per state group (G, D, Gs, each Adam moment) against that
            // group's largest magnitude. Per array would be the wrong scale for a few tiny arrays:
            // D's output bias gets a gradient that is a difference of cancelling +-1/N terms
            // (fake minus real), so its rounding error is that of the terms (~6e-8), not of the
            // small result (~3e-4), and Adam's m of that bias differs by ~1.7e-4 of itself
            // between summation orders, while being 1e-8 of the group's scale.
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
                let relative = g.diff / g.scale
                print("ranks \(ranks): \(group) max difference \(g.diff), relative \(relative)")
                XCTAssertLessThan(relative, 1e-5, "\(group): \(ranks) ranks diverge from 1 rank")
            }
            let m = try metrics(runs[ranks]!)
            XCTAssertEqual(m.count, referenceMetrics.count)
            for (x, y) in zip(referenceMetrics, m) {
                for key in ["loss/D", "loss/G", "loss/gp", "D/real", "D/fake"] {
                    let (u, v) = (x[key] as! Double, y[key] as! Double)
                    XCTAssertEqual(u, v, accuracy: 1e-5 * max(abs(u), abs(v)) + 1e-7, "\(key) at kimg \(x["kimg"]!), \(ranks) ranks")
                }
            }
        }
    }

    /// A global minibatch that does not divide by the ranks is refused at start, naming both numbers.
    func testIndivisibleMinibatchIsRefused() throws {
        let data = try makeDataset()
        let out = path("run")
        let r = try progan(tinyArguments(data: data, out: out) + ["--minibatch", "8"], ranks: 3)
        XCTAssertNotEqual(r.exitCode, 0)
        XCTAssertTrue(r.stderr.contains("global minibatch 8") && r.stderr.contains("3 ranks"), r.stderr)
        XCTAssertEqual(r.stderr.split(separator: "\n").filter { $0.contains("progan-mpi: error") }.count, 1, r.stderr)
        XCTAssertTrue(checkpoints(out).isEmpty)
    }

    /// Eight ranks on two cores with the fashion-mnist preset: runs, and only rank 0 writes
    /// (one log, one set of files, one start line on stdout).
    func testEightRanksOversubscribedWriteFromRankZeroOnly() throws {
        let data = try makeDataset()
        let out = path("run8")
        let r = try progan(["train", "--data", data, "--out", out, "--preset", "fashion-mnist", "--max-steps", "2",
                            "--tick-kimg", "1"], ranks: 8, timeout: 240)
        XCTAssertTrue(r.succeeded, r.summary)
        XCTAssertEqual(r.stdout.components(separatedBy: "start: ").count - 1, 1, r.stdout)
        XCTAssertTrue(r.stdout.contains("8 rank(s)"), r.stdout)
        let files = try FileManager.default.contentsOfDirectory(atPath: out).sorted()
        XCTAssertEqual(files, ["checkpoint-000000032.h5", "config.json", "fakes-000000032.png", "log.txt", "metrics.jsonl",
                               "reals.png", "tensorboard"])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: out + "/tensorboard").count, 1)
        let log = try String(contentsOfFile: out + "/log.txt", encoding: .utf8)
        XCTAssertEqual(log.components(separatedBy: "start: ").count - 1, 1, log)
    }
}
