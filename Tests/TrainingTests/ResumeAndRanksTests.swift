import Foundation
import TestSupport
import XCTest

/// Resume exactness (issue 3) and N ranks == 1 rank (issue 4; docs/ARCHITECTURE.md, "N ranks train like one process"), on the real binary.
final class ResumeAndRanksTests: TrainingCLITestCase {
    /// Train 6 steps, stop, resume for 6 more == 12 steps straight, bit for bit: every random draw is
    /// a pure function of (seed, step, sample) and the checkpoint holds all state (weights, EMA,
    /// both Adams with their step counts, progress).
    func testResumeContinuesBitForBit() throws {
        try assertResumeContinuesBitForBit(ranks: 1)
    }

    /// On two ranks Adam is sharded: each rank's moments are current in its own half only until
    /// they are gathered (at a checkpoint, and where the parameters with gradients change: the
    /// 8x8 fade begins at step 11 here). A run stopped at step 6 and resumed (moments whole on
    /// both ranks) must still end bit for bit where the straight run (stale halves) does,
    /// moments included.
    func testResumeOnTwoRanksContinuesBitForBit() throws {
        try assertResumeContinuesBitForBit(ranks: 2)
    }

    func assertResumeContinuesBitForBit(ranks: Int, file: StaticString = #filePath, line: UInt = #line) throws {
        let data = try makeDataset()
        let straight = path("straight\(ranks)"), split = path("split\(ranks)")
        var r = try progan(tinyArguments(data: data, out: straight) + ["--max-steps", "12"], ranks: ranks)
        XCTAssertTrue(r.succeeded, r.summary, file: file, line: line)
        r = try progan(tinyArguments(data: data, out: split) + ["--max-steps", "6"], ranks: ranks)
        XCTAssertTrue(r.succeeded, r.summary, file: file, line: line)
        // A second start without --resume must refuse to mix into the old run.
        r = try progan(tinyArguments(data: data, out: split) + ["--max-steps", "6"], ranks: ranks)
        XCTAssertEqual(r.exitCode, 1, file: file, line: line)
        XCTAssertTrue(r.stderr.contains("--resume auto"), r.stderr, file: file, line: line)
        r = try progan(tinyArguments(data: data, out: split) + ["--max-steps", "6", "--resume", "auto"], ranks: ranks)
        XCTAssertTrue(r.succeeded, r.summary, file: file, line: line)
        XCTAssertTrue(r.stdout.contains("resuming from"), r.stdout, file: file, line: line)

        let a = try checkpointArrays(straight + "/checkpoint-000000096.h5")
        let b = try checkpointArrays(split + "/checkpoint-000000096.h5")
        XCTAssertEqual(Set(a.keys), Set(b.keys), file: file, line: line)
        XCTAssertGreaterThan(a.count, 20, file: file, line: line)
        XCTAssertTrue(a.keys.contains { $0.hasPrefix("/adam/D/v/") }, "the moments are compared too", file: file, line: line)
        for (name, values) in a {
            XCTAssertEqual(values, b[name], "\(name) differs after resume", file: file, line: line)
        }
        // And the run did train: G's weights moved away from the 6-step state.
        let mid = try checkpointArrays(split + "/checkpoint-000000048.h5")
        XCTAssertNotEqual(mid["/G/G/4x4/conv/weight"], a["/G/G/4x4/conv/weight"], file: file, line: line)
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
        let referenceMetrics = try metrics(runs[1]!)
        XCTAssertTrue(referenceMetrics.contains { ($0["alpha"] as! Double) < 1 }, "the run must cross a fade-in")
        XCTAssertTrue(referenceMetrics.allSatisfy { ($0["loss/gp"] as! Double) > 0 }, "the penalty must be active")
        for ranks in [2, 4] {
            try assertTrainsLikeOneProcess(runs[ranks]!, reference: runs[1]!, checkpoint: "checkpoint-000000192.h5",
                                           what: "\(ranks) ranks")
        }
    }

    /// 3 ranks and a global minibatch of 8, dealt out 3, 3, 2, from 4x4 through the fade-ins of
    /// 8, 16 and 32 to 32x32 stable, WGAN-GP and the stddev over the whole global minibatch
    /// (which gathers unequal counts, also inside the penalty's double backward): the same
    /// training as one process.
    ///
    /// How long a run can be compared at 1e-5 is bounded by the run, not by the sharding: Adam
    /// (beta1 = 0, moments reset at each growth) moves a weight whose gradient is near zero by
    /// about lr whatever the gradient's size, so a rounding-level difference in such a gradient
    /// becomes a difference of lr in the weight, and the tiny networks then amplify it. Measured on
    /// this configuration at 2 steps a phase: 2 and 3 ranks stay within 4e-6 of one rank, while
    /// 4 ranks with even shares already part by 5e-4; at 3 steps a phase 2 ranks part by 4e-5.
    /// On the synthetic sinusoids of `makeDataset` the critic's input gradients collapse at 32x32
    /// and the run parts sooner still, so this uses Fashion-MNIST.
    func testThreeRanksWithAnUnevenMinibatchTrainLikeOneProcess() throws {
        let data = try makeFashionMNISTDataset()
        // 2 steps a phase (fades at alpha 0 and 0.5): 4 stable, 8 fade, 8 stable, 16 fade,
        // 16 stable, 32 fade, 32 stable.
        //
        // Without the Adam resets: right after a reset, Adam with beta1 = 0 moves every weight by
        // lr * g / (|g| + eps), i.e. by +-lr whatever |g| is, so a gradient that is ~0 up to rounding
        // (a different summation order across ranks) flips its weight's step from +lr to -lr. With
        // the authors' six resets on this path the groups differ by up to 1e-3 (Adam's v by 5e-2);
        // without them by 3e-7 (measured, same binary). That amplifier is Adam's, not the
        // sharding's: the 1/2/4-rank test keeps the resets over its shorter path.
        let arguments = ["--minibatch", "8", "--stabilize-kimg", "0.016", "--fade-kimg", "0.016", "--max-steps", "13",
                         "--tick-kimg", "0.008", "--checkpoint-ticks", "1000", "--no-adam-reset"]   // a tick a step
        let one = path("one"), three = path("three")
        var r = try progan(tinyArguments(data: data, out: one) + arguments, timeout: 240)
        XCTAssertTrue(r.succeeded, r.summary)
        r = try progan(tinyArguments(data: data, out: three) + arguments, ranks: 3, timeout: 240)
        XCTAssertTrue(r.succeeded, r.summary)
        let m = try metrics(one)
        XCTAssertTrue(m.contains { ($0["resolution"] as? Int) == 32 && ($0["alpha"] as! Double) < 1 },
                      "the run must fade in 32x32: \(m.map { ($0["resolution"]!, $0["alpha"]!) })")
        XCTAssertTrue(m.allSatisfy { ($0["loss/gp"] as! Double) > 0 }, "the penalty must be active")
        try assertTrainsLikeOneProcess(three, reference: one, checkpoint: "checkpoint-000000104.h5", what: "3 ranks, minibatch 8")
    }

    /// More ranks than samples: 3 ranks and a global minibatch of 2 (1, 1, 0), so rank 2 holds
    /// nothing at every step yet takes part in every collective (the stddev's gathers and
    /// reduce-scatters to second order, the gradient all-reduce), through fade-ins to 32x32. Its
    /// contributions are exact zeros, so the run is bit for bit the 2-rank run with the same
    /// shares (whose equivalence with one process `testRanksTrainLikeOneProcess` covers).
    func testARankWithoutSamplesChangesNothing() throws {
        let data = try makeDataset()
        let arguments = ["--minibatch", "2", "--stabilize-kimg", "0.004", "--fade-kimg", "0.004", "--max-steps", "13",
                         "--tick-kimg", "0.002", "--checkpoint-ticks", "1000"]   // 2 steps a phase, a tick a step
        let two = path("two"), three = path("three")
        var r = try progan(tinyArguments(data: data, out: two) + arguments, ranks: 2, timeout: 240)
        XCTAssertTrue(r.succeeded, r.summary)
        r = try progan(tinyArguments(data: data, out: three) + arguments, ranks: 3, timeout: 240)
        XCTAssertTrue(r.succeeded, r.summary)
        let a = try checkpointArrays(two + "/checkpoint-000000026.h5")
        let b = try checkpointArrays(three + "/checkpoint-000000026.h5")
        XCTAssertEqual(Set(a.keys), Set(b.keys))
        XCTAssertGreaterThan(a.count, 20)
        for (name, values) in a { XCTAssertEqual(values, b[name], "\(name) differs with a rank that holds no samples") }
        let (ma, mb) = (try metrics(two), try metrics(three))
        XCTAssertEqual(ma.count, 13)
        XCTAssertTrue(ma.contains { ($0["resolution"] as? Int) == 32 && ($0["alpha"] as! Double) < 1 }, "the run must fade in 32x32")
        XCTAssertEqual(ma.count, mb.count)
        for (x, y) in zip(ma, mb) {
            for key in ["loss/D", "loss/G", "loss/gp", "D/real", "D/fake"] {
                XCTAssertEqual(x[key] as? Double, y[key] as? Double, "\(key) at kimg \(x["kimg"]!)")
            }
        }
    }

    /// Fashion-MNIST (Debian's dataset-fashion-mnist, which .ci/deps.sh installs) as a 32x32
    /// dataset made by the binary; skips if it is not installed.
    func makeFashionMNISTDataset() throws -> String { try Self.fashionMNIST(in: self) }

    static func fashionMNIST(in test: TrainingCLITestCase) throws -> String {
        let idx = "/usr/share/datasets/fashion-mnist"
        guard FileManager.default.fileExists(atPath: idx) else { throw XCTSkip("Fashion-MNIST is not installed under \(idx)") }
        let file = test.path("fashion-mnist.h5")
        let r = try test.progan(["dataset", "create", "--fashion-mnist", idx, "-o", file])
        XCTAssertTrue(r.succeeded, r.summary)
        return file
    }

    /// The final checkpoints agree per state group (G, D, Gs, each Adam moment) to 1e-5 of that
    /// group's largest magnitude, and the logged losses to 1e-5 relative.
    ///
    /// Per group, not per array: a per-array scale is wrong for a few tiny arrays. D's output
    /// bias gets a gradient that is a difference of cancelling +-1/N terms (fake minus real), so
    /// its rounding error is that of the terms (~6e-8), not of the small result (~3e-4), and
    /// Adam's m of that bias differs by ~1.7e-4 of itself between summation orders, while being
    /// 1e-8 of the group's scale.
    func assertTrainsLikeOneProcess(_ run: String, reference referenceRun: String, checkpoint: String, what: String,
                                    file: StaticString = #filePath, line: UInt = #line) throws {
        try Self.assertTrainsLikeOneProcess(run, reference: referenceRun, checkpoint: checkpoint, what: what, in: self,
                                            file: file, line: line)
    }

    static func assertTrainsLikeOneProcess(_ run: String, reference referenceRun: String, checkpoint: String, what: String,
                                           in test: TrainingCLITestCase,
                                           file: StaticString = #filePath, line: UInt = #line) throws {
        let groups = try test.groupDifferences(run + "/" + checkpoint, reference: referenceRun + "/" + checkpoint)
        XCTAssertEqual(Set(groups.keys), ["G", "D", "Gs", "adam/G/m", "adam/G/v", "adam/D/m", "adam/D/v"], file: file, line: line)
        for (group, g) in groups.sorted(by: { $0.key < $1.key }) {
            print("\(what): \(group) max difference relative \(g.relative) (\(g.worst))")
            XCTAssertLessThan(g.relative, 1e-5, "\(group): \(what) diverges from 1 rank", file: file, line: line)
        }
        let referenceMetrics = try test.metrics(referenceRun), m = try test.metrics(run)
        XCTAssertEqual(m.count, referenceMetrics.count, file: file, line: line)
        for (x, y) in zip(referenceMetrics, m) {
            for key in ["loss/D", "loss/G", "loss/gp", "D/real", "D/fake"] {
                let (u, v) = (x[key] as! Double, y[key] as! Double)
                XCTAssertEqual(u, v, accuracy: 1e-5 * max(abs(u), abs(v)) + 1e-7, "\(key) at kimg \(x["kimg"]!), \(what)",
                               file: file, line: line)
            }
        }
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
        XCTAssertEqual(files, [".lock", "checkpoint-000000032.h5", "config.json", "fakes-000000032.png", "log.txt", "metrics.jsonl",
                               "reals.png", "tensorboard"])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: out + "/tensorboard").count, 1)
        let log = try String(contentsOfFile: out + "/log.txt", encoding: .utf8)
        XCTAssertEqual(log.components(separatedBy: "start: ").count - 1, 1, log)
    }
}
