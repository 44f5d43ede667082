import Foundation
import TestSupport
import XCTest

/// Spatial parallelism on the real binary under mpirun: more ranks than a phase's images, so
/// the ranks of a group each hold a slab of rows of the group's images (docs/ARCHITECTURE.md,
/// "Spatial parallelism"), from 4x4 through the fade-ins of 8, 16 and 32 to 32x32 with WGAN-GP
/// and the global minibatch stddev.
///
/// Step by step: one process trains along the path with a checkpoint a step; from each of its
/// states the slab decomposition takes one step, and so does plain data parallelism with the
/// same images a rank group (one rank a group, whole images), and so does one process with the
/// unfused convolution kernels (`--conv unfused`). Each state group (G, D, Gs, both Adam moments
/// of each) of the slab run must agree with the one-process step to 1e-5 of the group's largest
/// magnitude, or, where one of the two other runs itself parts from one process by more, to 4
/// times the larger of their differences in that step.
///
/// Why the second clause, and why not whole runs: at minibatch 2 and 3 any other summation
/// order, one process against several ranks included, parts from one process by more than
/// 1e-5 at some steps (measured over seeds 1-6 on these settings: plain data parallelism on 2
/// ranks by up to 6e-5 in a single step from the same state, in Adam's m, which is that step's
/// gradient since beta1 = 0; and by up to 6e-2 after 12 steps). The step's gradient is a
/// difference of real and fake terms plus the penalty's, which cancel, so its rounding is that
/// of the terms, not of the result; the two-sample minibatch stddev |a - b| / 2 flips its
/// gradient's sign where two samples' features are within rounding, and LReLU its slope at 0;
/// over several steps Adam (+-lr at a weight's first nonzero gradient) and the GAN amplify the
/// difference. The two other runs' differences in the same step measure how far the step is
/// conditioned; two reorderings of the same sums err alike, so 4 times it leaves room for
/// their spread while a decomposition error (a halo row, a missed 1/S, a slab's fade) moves
/// every group by 1e-3 or more. Data parallelism alone misses part of it: its forward pass is
/// one process's bit for bit (each rank runs whole images through the same kernels), so it
/// reorders only the gradients' sums, while the slabs also reorder forward sums (the
/// minibatch stddev's over a slab's rows, then over the slabs). One process with other
/// convolution kernels reorders forward sums too: at one step of the 8-rank test below (step
/// 10, once the fused Winograd kernels came in) it parted from one process by 2% in Adam's m,
/// as the slabs did, while data parallelism stayed at 4e-7.
final class SpatialRanksTests: TrainingCLITestCase {
    /// 2 steps a phase, a tick and a checkpoint a step: 4 stable, 8 fade, 8 stable, 16 fade,
    /// 16 stable, 32 fade (alpha 0 and 0.5) in 12 steps; the minibatch is the test's.
    func arguments(minibatch: Int) -> [String] {
        ["--minibatch", "\(minibatch)", "--stabilize-kimg", String(format: "%g", Double(2 * minibatch) / 1000),
         "--fade-kimg", String(format: "%g", Double(2 * minibatch) / 1000),
         "--tick-kimg", String(format: "%g", Double(minibatch) / 1000), "--checkpoint-ticks", "1", "--keep-checkpoints", "100",
         "--no-adam-reset"]
    }

    /// One process along the path, then from each of its states one step on `ranks` ranks
    /// (slabs) and on `dataRanks` ranks (whole images), compared as the type says; returns the
    /// slab runs' stdout.
    func compareStepByStep(ranks: Int, dataRanks: Int, minibatch: Int, what: String) throws -> String {
        let data = try makeDataset(noise: 50)
        let one = path("one"), steps = 12
        let r = try progan(tinyArguments(data: data, out: one) + arguments(minibatch: minibatch) + ["--max-steps", "\(steps)"],
                           timeout: 240)
        XCTAssertTrue(r.succeeded, r.summary)
        let m = try metrics(one)
        XCTAssertTrue(m.contains { ($0["resolution"] as? Int) == 32 && ($0["alpha"] as! Double) > 0 && ($0["alpha"] as! Double) < 1 },
                      "the path must fade in 32x32")
        XCTAssertTrue(m.allSatisfy { ($0["loss/gp"] as! Double) > 0 }, "the penalty must be active")
        func checkpoint(_ step: Int) -> String { String(format: "checkpoint-%09d.h5", step * minibatch) }
        var out = ""
        var strict = 0
        for k in 0..<steps {
            let resume = k == 0 ? [] : ["--resume", one + "/" + checkpoint(k)]
            var runs: [String] = []
            for (n, name, extra) in [(ranks, "slabs", [String]()), (dataRanks, "whole", []), (1, "unfused", ["--conv", "unfused"])] {
                let dir = path("\(name)-\(k)")
                let step = try progan(tinyArguments(data: data, out: dir) + arguments(minibatch: minibatch) + resume
                                      + ["--max-steps", "1"] + extra, ranks: n, timeout: 240)
                XCTAssertTrue(step.succeeded, step.summary)
                if n == ranks { out += step.stdout }
                runs.append(dir + "/" + checkpoint(k + 1))
            }
            let reference = one + "/" + checkpoint(k + 1)
            let slabs = try groupDifferences(runs[0], reference: reference)
            let whole = try groupDifferences(runs[1], reference: reference)
            let unfused = try groupDifferences(runs[2], reference: reference)
            XCTAssertEqual(Set(slabs.keys), ["G", "D", "Gs", "adam/G/m", "adam/G/v", "adam/D/m", "adam/D/v"])
            for (group, d) in slabs.sorted(by: { $0.key < $1.key }) {
                let (dp, kernels) = (whole[group]!.relative, unfused[group]!.relative)
                let bound = max(1e-5, 4 * max(dp, kernels))
                if bound == 1e-5 { strict += 1 }
                print("\(what), step \(k + 1): \(group) \(d.relative) (\(d.worst)); data parallelism \(dp), unfused kernels \(kernels)")
                XCTAssertLessThanOrEqual(d.relative, bound, "\(what), step \(k + 1): \(group) parts from one process by \(d.relative) (\(d.worst)), data parallelism by \(dp), unfused kernels by \(kernels)")
            }
        }
        // Most comparisons must be the strict one, or the test would measure little.
        XCTAssertGreaterThan(strict, 7 * steps * 3 / 4, "\(what): data parallelism or the unfused kernels parted from one process by more than 1e-5 in \(7 * steps - strict) of \(7 * steps) comparisons")
        return out
    }

    /// 4 ranks, minibatch 2: from 8x8 on, 2 images x 2 slabs, against 2 ranks with an image each
    /// (4x4: 2 ranks with an image, 2 idle).
    func testFourRanksWithTwoImagesStepLikeDataParallelism() throws {
        let out = try compareStepByStep(ranks: 4, dataRanks: 2, minibatch: 2, what: "4 ranks, minibatch 2")
        XCTAssertTrue(out.contains("ranks: 8x8: 2 images in 2 group(s) of 1 x 2 slab(s) on 4 ranks"), out)
        XCTAssertTrue(out.contains("ranks: 32x32: 2 images in 2 group(s) of 1 x 2 slab(s) on 4 ranks"), out)
    }

    /// 8 ranks on 2 cores, minibatch 3: from 8x8 on 3 images x 2 slabs, 2 ranks idle (with the
    /// tiny networks' level costs, 8 slabs would compute too much whole: see `SpatialLayout`);
    /// 4x4: 3 ranks with an image, 5 with none. Idle ranks join the stddev's collectives of
    /// slab 0 with no samples and the gradient all-reduce with zeros. Against 3 ranks.
    func testEightRanksWithThreeImagesStepLikeDataParallelism() throws {
        let out = try compareStepByStep(ranks: 8, dataRanks: 3, minibatch: 3, what: "8 ranks, minibatch 3")
        for r in [8, 16, 32] {
            XCTAssertTrue(out.contains("ranks: \(r)x\(r): 3 images in 3 group(s) of 1 x 2 slab(s) on 8 ranks (2 idle)"), out)
        }
    }

    /// The paper preset on 8 ranks (oversubscribed) and a small 256x256 dataset, with the phases
    /// shortened to nothing (so every step is at 256x256, where the paper's minibatch is 14) and
    /// two steps: 2 groups of 7 images x 4 slabs. The paper widths make this the costly test
    /// (a few minutes; about 2 GB a rank): the 8 ranks each hold the 23M-parameter G and D.
    func testPaperPresetOnEightRanksStepsAt256() throws {
        let data = try makeDataset(count: 16, noise: 20, resolution: 256)
        let out = path("paper")
        // One tick and one checkpoint (7 copies of 23M parameters, 0.6 GB), at the end.
        let r = try progan(["train", "--data", data, "--out", out, "--preset", "paper", "--stabilize-kimg", "0",
                            "--fade-kimg", "0", "--kimg", "0.028", "--tick-kimg", "1", "--checkpoint-ticks", "1000",
                            "--swd-ticks", "0", "--no-tensorboard"], ranks: 8, timeout: 1800)
        XCTAssertTrue(r.succeeded, r.summary)
        XCTAssertTrue(r.stdout.contains("ranks: 256x256: 14 images in 2 group(s) of 7 x 4 slab(s) on 8 ranks"), r.stdout)
        XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/checkpoint-000000028.h5"))
        let last = try XCTUnwrap(try metrics(out).last)
        XCTAssertEqual(last["resolution"] as? Int, 256)
        XCTAssertEqual(last["minibatch"] as? Int, 14)
        for key in ["loss/D", "loss/G", "loss/gp"] {
            XCTAssertTrue((last[key] as? Double)?.isFinite == true, "\(key) at 256x256: \(last)")
        }
    }
}
