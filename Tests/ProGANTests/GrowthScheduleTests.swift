import XCTest
@testable import ProGAN

/// The progressive growing schedule (paper appendix A.1).
final class GrowthScheduleTests: XCTestCase {
    let paper = GrowthSchedule.paper(finalResolution: 1024)

    private func assertPoint(_ kimg: Double, resolution: Int, alpha: Float, phase: String,
                             file: StaticString = #filePath, line: UInt = #line) {
        let p = paper.point(imagesShown: Int(kimg * 1000))
        XCTAssertEqual(p.resolution, resolution, "at \(kimg) kimg", file: file, line: line)
        XCTAssertEqual(p.alpha, alpha, accuracy: 1e-6, "at \(kimg) kimg", file: file, line: line)
        XCTAssertEqual(p.phase, phase, "at \(kimg) kimg", file: file, line: line)
    }

    func testPaperPreset() {
        XCTAssertEqual(paper.stabilizeKimg, 800)
        XCTAssertEqual(paper.fadeKimg, 800)
        XCTAssertEqual(paper.initialResolution, 4)
        XCTAssertEqual(paper.resolutions, [4, 8, 16, 32, 64, 128, 256, 512, 1024])
        XCTAssertEqual(paper.growthKimg, 8 * 1600)
        XCTAssertEqual(paper.totalKimg, 8 * 1600 + 800)
        for r in [4, 8, 16, 32, 64, 128] { XCTAssertEqual(paper.minibatch(at: r), 16, "minibatch at \(r)") }
        XCTAssertEqual(paper.minibatch(at: 256), 14)
        XCTAssertEqual(paper.minibatch(at: 512), 6)
        XCTAssertEqual(paper.minibatch(at: 1024), 3)
        for r in paper.resolutions { XCTAssertEqual(paper.learningRate(at: r), 0.001) }
    }

    func testPointsAlongThePaperSchedule() {
        assertPoint(0, resolution: 4, alpha: 1, phase: "stable")
        assertPoint(799, resolution: 4, alpha: 1, phase: "stable")
        assertPoint(800, resolution: 4, alpha: 1, phase: "stable")
        assertPoint(800 + 400, resolution: 8, alpha: 0.5, phase: "fade")
        assertPoint(800 + 200, resolution: 8, alpha: 0.25, phase: "fade")
        assertPoint(1600, resolution: 8, alpha: 1, phase: "stable")
        assertPoint(1600 + 800 + 600, resolution: 16, alpha: 0.75, phase: "fade")
        assertPoint(4 * 1600 + 800 + 400, resolution: 128, alpha: 0.5, phase: "fade")
        assertPoint(7 * 1600 + 800 + 400, resolution: 1024, alpha: 0.5, phase: "fade")
        assertPoint(8 * 1600, resolution: 1024, alpha: 1, phase: "stable")
        assertPoint(paper.totalKimg, resolution: 1024, alpha: 1, phase: "stable")
        assertPoint(paper.totalKimg + 5000, resolution: 1024, alpha: 1, phase: "stable")
    }

    func testPointCarriesThatResolutionsMinibatchAndRate() {
        let p128 = paper.point(imagesShown: (4 * 1600 + 1200) * 1000)
        XCTAssertEqual(p128.resolution, 128)
        XCTAssertEqual(p128.minibatch, 16)
        // A fade into 256 uses 256's minibatch.
        let p256 = paper.point(imagesShown: (5 * 1600 + 1200) * 1000)
        XCTAssertEqual(p256.resolution, 256)
        XCTAssertEqual(p256.minibatch, 14)
        XCTAssertEqual(paper.point(imagesShown: (6 * 1600 + 100) * 1000).minibatch, 14)
        XCTAssertEqual(paper.point(imagesShown: (6 * 1600 + 1000) * 1000).minibatch, 6)
        XCTAssertEqual(paper.point(imagesShown: 13_000_000).minibatch, 3)
        XCTAssertEqual(paper.point(imagesShown: 0).learningRate, 0.001)
    }

    func testAlphaRisesMonotonicallyDuringAFade() {
        var last: Float = -1
        for k in stride(from: 801.0, through: 1600, by: 50) {
            let p = paper.point(imagesShown: Int(k * 1000))
            XCTAssertEqual(p.resolution, 8)
            XCTAssertGreaterThan(p.alpha, last)
            last = p.alpha
        }
    }

    /// Any number of ranks trains any schedule (the minibatch is dealt out unevenly where it
    /// must be); what is checked is the schedule itself.
    func testValidateChecksTheScheduleNotTheRanks() {
        XCTAssertNoThrow(try paper.validate())
        var s = GrowthSchedule(finalResolution: 64, stabilizeKimg: 10, fadeKimg: 10, totalKimg: 100, defaultMinibatch: 8)
        XCTAssertNoThrow(try s.validate())
        s.minibatch[32] = 0
        XCTAssertThrowsError(try s.validate()) { XCTAssertTrue("\($0)".contains("minibatch at 32x32 must be positive"), "\($0)") }
        s.minibatch[32] = 3
        s.totalKimg = 0
        XCTAssertThrowsError(try s.validate())
    }
}

/// Adam resets where the authors' code makes them: floor or ceiling of the level of detail changes.
final class OptimizerResetTests: XCTestCase {
    /// Walks a small schedule step by step and lists the images-shown counts where a reset happens.
    func resets(_ s: GrowthSchedule, step: Int) -> [Int] {
        var out: [Int] = []
        var (res, alpha) = (0, Float(0))
        var shown = 0
        while Double(shown) < s.totalKimg * 1000 {
            let p = s.point(imagesShown: shown)
            if s.resetsOptimizer(previousResolution: res, previousAlpha: alpha, next: p) { out.append(shown) }
            (res, alpha) = (p.resolution, p.alpha)
            shown += step
        }
        return out
    }

    func testResetsAtTheStartOfEveryFadeAndEveryStablePhase() {
        // 4 -> 16, 1k stable + 1k fade, 4 images a step: phases start at 1000 (fade 8),
        // 2000 (stable 8), 3000 (fade 16), 4000 (stable 16). The first fade step is the first one
        // past the stable phase's end (alpha > 0), at 1004.
        let s = GrowthSchedule(finalResolution: 16, stabilizeKimg: 1, fadeKimg: 1, totalKimg: 5)
        XCTAssertEqual(resets(s, step: 4), [1004, 2000, 3004, 4000])
    }

    func testWithoutFadesEveryGrowthResetsOnce() {
        let s = GrowthSchedule(finalResolution: 16, stabilizeKimg: 1, fadeKimg: 0, totalKimg: 3)
        XCTAssertEqual(resets(s, step: 4), [1000, 2000])
    }

    func testBoundsOfTheLevelOfDetail() {
        let s = GrowthSchedule.paper(finalResolution: 1024)
        XCTAssertTrue(s.levelOfDetailBounds(resolution: 1024, alpha: 1) == (0, 0))
        XCTAssertTrue(s.levelOfDetailBounds(resolution: 1024, alpha: 0.3) == (0, 1))
        XCTAssertTrue(s.levelOfDetailBounds(resolution: 4, alpha: 1) == (8, 8))
        // A fresh run does not reset; a stable step after a stable step at the same level does not.
        let p = s.point(imagesShown: 0)
        XCTAssertFalse(s.resetsOptimizer(previousResolution: 0, previousAlpha: 0, next: p))
        XCTAssertFalse(s.resetsOptimizer(previousResolution: 4, previousAlpha: 1, next: p))
    }
}
