import ProGAN
import Training
import XCTest

/// The trainer resets both Adams where the authors' code does: at the first step of every fade and
/// again at the first step of every stable phase (Adam's step count restarts; with beta1 = 0 the
/// first update after a reset uses moments built from that step's gradient alone).
final class TrainerOptimizerResetTests: XCTestCase {
    func testAdamRestartsAtTheStartOfTheFadeAndOfTheStablePhase() throws {
        var config = Preset.tiny.config(resolution: 8, channels: 1)
        // 8 images a step; 4x4 stable for 16 images, 8x8 fading over 16, then stable.
        config.schedule.stabilizeKimg = 0.016
        config.schedule.fadeKimg = 0.016
        config.schedule.defaultMinibatch = 8
        config.schedule.totalKimg = 0.048
        let trainer = try Trainer(config: config, group: SingleProcess())
        let data = InMemoryImages.synthetic(count: 16, channels: 1, resolution: 8, seed: 3)
        let order = DataOrder(count: 16, seed: 3)
        var phases: [String] = [], countsD: [Int] = [], countsG: [Int] = []
        while !trainer.finished {
            let p = trainer.point
            phases.append("\(p.resolution) \(p.phase)")
            try trainer.step(data: data, order: order)
            countsD.append(trainer.adamD.step)
            countsG.append(trainer.adamG.step)
        }
        XCTAssertEqual(phases, ["4 stable", "4 stable", "4 stable", "8 fade", "8 stable", "8 stable"])
        XCTAssertEqual(countsD, [1, 2, 3, 1, 1, 2])
        XCTAssertEqual(countsG, [1, 2, 3, 1, 1, 2])
    }
}
