import XCTest
import ProGAN
@testable import Training

/// Each preset's resolved configuration against a table of the authors' values, written out here
/// from their configurations (TF `config.py` presets v1 and v2-8gpus, Theano CIFAR-10), not from
/// our code, so a change to a preset has to change this table too.
final class PresetTests: XCTestCase {
    struct Authors {
        var fmapBase = 8192, fmapMax = 512, latent = 512
        var stabilize: Double, fade: Double, total: Double
        var minibatch: [Int: Int]
        var learningRate: [Int: Float]
        var mbstdGroup: Int
        var mirror: Bool
        var gpTarget: Float = 1
        var gpScale: LossConfig.GradientScale = .fullResolution
    }

    let resolutions = [4, 8, 16, 32, 64, 128, 256, 512, 1024]

    /// v1 (the paper's CelebA-HQ run): minibatch_base 16 with {256: 14, 512: 6, 1024: 3}, 800/800,
    /// total_kimg 19000, mbstd group 16 (clamped to the minibatch: the whole minibatch, our 0),
    /// mirror_augment on for CelebA-HQ, learning rate 0.001 everywhere.
    let v1 = Authors(stabilize: 800, fade: 800, total: 19000,
                     minibatch: [4: 16, 8: 16, 16: 16, 32: 16, 64: 16, 128: 16, 256: 14, 512: 6, 1024: 3],
                     learningRate: [4: 0.001, 8: 0.001, 16: 0.001, 32: 0.001, 64: 0.001, 128: 0.001, 256: 0.001,
                                    512: 0.001, 1024: 0.001],
                     mbstdGroup: 0, mirror: true)
    /// v2, 8 GPUs: minibatch_base 32 with {4: 512, 8: 256, 16: 128, 32: 64, 64: 32}, G/D lrate
    /// {128: 0.0015, 256: 0.002, 512: 0.003, 1024: 0.003} over a base of 0.001, lod_training_kimg =
    /// lod_transition_kimg = 600 (TrainingSchedule defaults), total 12000, D_paper's mbstd group 4.
    let v2 = Authors(stabilize: 600, fade: 600, total: 12000,
                     minibatch: [4: 512, 8: 256, 16: 128, 32: 64, 64: 32, 128: 32, 256: 32, 512: 32, 1024: 32],
                     learningRate: [4: 0.001, 8: 0.001, 16: 0.001, 32: 0.001, 64: 0.001, 128: 0.0015, 256: 0.002,
                                    512: 0.003, 1024: 0.003],
                     mbstdGroup: 4, mirror: true)
    /// Theano CIFAR-10: fmap_base 4096, fmap_max 128, latent 128, WGAN-GP target 750, 400/400,
    /// 20000 kimg, minibatch 16, no mirroring.
    let cifar = Authors(fmapBase: 4096, fmapMax: 128, latent: 128, stabilize: 400, fade: 400, total: 20000,
                        minibatch: [4: 16, 8: 16, 16: 16, 32: 16],
                        learningRate: [4: 0.001, 8: 0.001, 16: 0.001, 32: 0.001],
                        mbstdGroup: 0, mirror: false, gpTarget: 750)

    func check(_ preset: Preset, resolution: Int, against a: Authors, file: StaticString = #filePath, line: UInt = #line) {
        let c = preset.config(resolution: resolution, channels: 3)
        XCTAssertEqual(c.network.fmapBase, a.fmapBase, "\(preset) fmap base", file: file, line: line)
        XCTAssertEqual(c.network.fmapMax, a.fmapMax, "\(preset) fmap max", file: file, line: line)
        XCTAssertEqual(c.network.latentSize, a.latent, "\(preset) latent", file: file, line: line)
        XCTAssertEqual(c.network.mbstdGroupSize, a.mbstdGroup, "\(preset) mbstd group", file: file, line: line)
        XCTAssertEqual(c.schedule.stabilizeKimg, a.stabilize, "\(preset) stabilize", file: file, line: line)
        XCTAssertEqual(c.schedule.fadeKimg, a.fade, "\(preset) fade", file: file, line: line)
        XCTAssertEqual(c.schedule.totalKimg, a.total, "\(preset) total", file: file, line: line)
        XCTAssertEqual(c.schedule.resolutions, resolutions.filter { $0 <= resolution }, file: file, line: line)
        for r in c.schedule.resolutions {
            XCTAssertEqual(c.schedule.minibatch(at: r), a.minibatch[r], "\(preset) minibatch at \(r)", file: file, line: line)
            XCTAssertEqual(c.schedule.learningRate(at: r), a.learningRate[r], "\(preset) lr at \(r)", file: file, line: line)
        }
        XCTAssertEqual(c.mirror, a.mirror, "\(preset) mirror", file: file, line: line)
        XCTAssertEqual(c.loss.kind, .wgangp, file: file, line: line)
        XCTAssertEqual(c.loss.gpLambda, 10, file: file, line: line)
        XCTAssertEqual(c.loss.gpTarget, a.gpTarget, "\(preset) gp target", file: file, line: line)
        XCTAssertEqual(c.loss.gpScale, a.gpScale, "\(preset) gp scale", file: file, line: line)
        XCTAssertEqual(c.loss.drift, 0.001, file: file, line: line)
        XCTAssertEqual([c.adamBeta1, c.adamBeta2, c.adamEpsilon], [0, 0.99, 1e-8], file: file, line: line)
        XCTAssertEqual(c.emaBeta, 0.999, file: file, line: line)
        XCTAssertTrue(c.resetOptimizerOnGrowth, file: file, line: line)
        XCTAssertNoThrow(try c.validate(), file: file, line: line)
    }

    func testPresetsMatchTheAuthorsConfigurations() {
        check(.paper, resolution: 1024, against: v1)
        check(.paper, resolution: 256, against: v1)
        check(.paperV2, resolution: 1024, against: v2)
        check(.cifar10, resolution: 32, against: cifar)
    }
}
