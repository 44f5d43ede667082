import Foundation
import TestSupport
import XCTest

/// Spatial parallelism on the real binary under mpirun: more ranks than a phase's images, so
/// the ranks of a group each hold a slab of rows of the group's images (docs/ARCHITECTURE.md,
/// "Spatial parallelism"). From 4x4 through the fade-ins of 8, 16 and 32 to 32x32 with WGAN-GP
/// and the global minibatch stddev, the run must train like one process (weights, Adam
/// moments and logged losses; `assertTrainsLikeOneProcess`).
///
/// As in the 3-rank uneven test, Adam's resets are off: right after a reset Adam turns a
/// rounding-level gradient into a step of +-lr, which measures Adam, not the decomposition.
///
/// What bounds such a comparison is the run, not the decomposition: LReLU's slope jumps at 0,
/// so a pre-activation within rounding of 0 takes the other slope under another summation order
/// and its pixel's whole gradient term changes (measured: one bias gradient in Adam's m, i.e.
/// the last step's gradient since beta1 = 0, parting by 1e-5 to 8e-4 of its group while every
/// other value agrees to 1e-6, with plain data parallelism on 2 ranks as much as with slabs).
/// Flat image regions repeat pre-activation values over many pixels and multiply that; so the
/// data are sinusoids with per-pixel noise, and the runs end after the last fade-in step into
/// 32x32 (the last 32x32 phase only repeats what its fade's second step already computes).
final class SpatialRanksTests: TrainingCLITestCase {
    /// 2 steps a phase, a tick a step, 12 steps: 4 stable, 8 fade, 8 stable, 16 fade, 16 stable,
    /// 32 fade (alpha 0 and 0.5); the minibatch is the test's.
    func arguments(minibatch: Int) -> [String] {
        ["--minibatch", "\(minibatch)", "--stabilize-kimg", String(format: "%g", Double(2 * minibatch) / 1000),
         "--fade-kimg", String(format: "%g", Double(2 * minibatch) / 1000), "--max-steps", "12",
         "--tick-kimg", String(format: "%g", Double(minibatch) / 1000), "--checkpoint-ticks", "1000", "--no-adam-reset"]
    }

    /// Trains one process and `ranks` ranks alike and compares them; returns the ranks' stdout.
    func compare(ranks: Int, minibatch: Int, what: String) throws -> String {
        let data = try makeDataset(noise: 50)
        let one = path("one"), many = path("ranks\(ranks)")
        var r = try progan(tinyArguments(data: data, out: one) + arguments(minibatch: minibatch), timeout: 240)
        XCTAssertTrue(r.succeeded, r.summary)
        r = try progan(tinyArguments(data: data, out: many) + arguments(minibatch: minibatch), ranks: ranks, timeout: 400)
        XCTAssertTrue(r.succeeded, r.summary)
        let m = try metrics(one)
        XCTAssertTrue(m.contains { ($0["resolution"] as? Int) == 32 && ($0["alpha"] as! Double) < 1 }, "the run must fade in 32x32")
        XCTAssertTrue(m.allSatisfy { ($0["loss/gp"] as! Double) > 0 }, "the penalty must be active")
        let checkpoint = String(format: "checkpoint-%09d.h5", 12 * minibatch)
        try ResumeAndRanksTests.assertTrainsLikeOneProcess(many, reference: one, checkpoint: checkpoint, what: what, in: self)
        return r.stdout
    }

    /// 4 ranks, minibatch 2: from 8x8 on, 2 images x 2 slabs (4x4: 2 ranks with an image, 2 idle).
    func testFourRanksWithTwoImagesTrainLikeOneProcess() throws {
        let out = try compare(ranks: 4, minibatch: 2, what: "4 ranks, minibatch 2")
        XCTAssertTrue(out.contains("ranks: 8x8: 2 images in 2 group(s) of 1 x 2 slab(s) on 4 ranks"), out)
        XCTAssertTrue(out.contains("ranks: 32x32: 2 images in 2 group(s) of 1 x 2 slab(s) on 4 ranks"), out)
    }

    /// 8 ranks on 2 cores, minibatch 3: from 8x8 on 3 images x 2 slabs, 2 ranks idle (with the
    /// tiny networks' level costs, 8 slabs would compute too much whole: see `SpatialLayout`);
    /// 4x4: 3 ranks with an image, 5 with none. Idle ranks join the stddev's collectives of
    /// slab 0 with no samples and the gradient all-reduce with zeros.
    func testEightRanksWithThreeImagesTrainLikeOneProcess() throws {
        let out = try compare(ranks: 8, minibatch: 3, what: "8 ranks, minibatch 3")
        for r in [8, 16, 32] {
            XCTAssertTrue(out.contains("ranks: \(r)x\(r): 3 images in 3 group(s) of 1 x 2 slab(s) on 8 ranks (2 idle)"), out)
        }
    }

    /// The paper preset on 8 ranks (oversubscribed) and a small 256x256 dataset, phases shortened
    /// to a step or two and the paper's minibatch kept (16, then 14 at 256x256): the run reaches
    /// 256x256 and takes a step there as 2 groups of 7 images x 4 slabs.
    func testPaperPresetOnEightRanksStepsAt256() throws {
        let data = try makeDataset(count: 16, resolution: 256)
        let out = path("paper")
        // 4x4 stable, then a fade and a stable step at each of 8 ... 128, then 256's first step;
        // one tick and one checkpoint (7 copies of 23M parameters, 0.6 GB), at the end.
        let r = try progan(["train", "--data", data, "--out", out, "--preset", "paper", "--stabilize-kimg", "0.016",
                            "--fade-kimg", "0.016", "--max-steps", "12", "--tick-kimg", "1", "--checkpoint-ticks", "1000",
                            "--swd-ticks", "0", "--no-tensorboard"], ranks: 8, timeout: 1800)
        XCTAssertTrue(r.succeeded, r.summary)
        XCTAssertTrue(r.stdout.contains("ranks: 128x128: 16 images, 2 a rank, on 8 ranks"), r.stdout)
        XCTAssertTrue(r.stdout.contains("ranks: 256x256: 14 images in 2 group(s) of 7 x 4 slab(s) on 8 ranks"), r.stdout)
        let last = try XCTUnwrap(try metrics(out).last)
        XCTAssertEqual(last["resolution"] as? Int, 256)
        XCTAssertEqual(last["minibatch"] as? Int, 14)
        for key in ["loss/D", "loss/G", "loss/gp"] {
            XCTAssertTrue((last[key] as? Double)?.isFinite == true, "\(key) at 256x256: \(last)")
        }
    }
}
