import ProGAN
import Training
import XCTest

/// The benchmark's options: the paper's minibatches, the configuration it trains, bad values.
final class BenchmarkOptionsTests: XCTestCase {
    func testPaperMinibatch() {
        let expected = [4: 16, 8: 16, 16: 16, 32: 16, 64: 16, 128: 16, 256: 14, 512: 6, 1024: 3]
        for (r, b) in expected {
            XCTAssertEqual(BenchmarkOptions.paperMinibatch(at: r), b, "at \(r)")
            XCTAssertEqual(BenchmarkOptions(resolution: r).batch, b)
        }
        XCTAssertEqual(BenchmarkOptions(resolution: 256, batch: 4).batch, 4)
    }

    func testConfigurationIsThePapersStableAtR() throws {
        let c = BenchmarkOptions(resolution: 64, batch: 8).trainingConfig
        XCTAssertNoThrow(try c.validate())
        XCTAssertEqual(c.network.resolution, 64)
        XCTAssertEqual(c.network.channels, 3)
        XCTAssertEqual(c.network.latentSize, 512)
        XCTAssertEqual(c.network.width(at: 64), 256)
        XCTAssertEqual(c.network.mbstdGroupSize, 0)
        XCTAssertEqual(c.loss.kind, .wgangp)
        for images in [0, 8, 1_000_000] {
            let p = c.schedule.point(imagesShown: images)
            XCTAssertEqual(p.resolution, 64)
            XCTAssertEqual(p.alpha, 1)
            XCTAssertEqual(p.minibatch, 8)
        }
    }

    /// --max-res: the networks of a run growing to 256, held at 16x16 and alpha 1 for good.
    func testNetworkBuiltBeyondTheBenchmarkedResolution() throws {
        let c = BenchmarkOptions(resolution: 16, batch: 4, networkResolution: 256).trainingConfig
        XCTAssertNoThrow(try c.validate())
        XCTAssertEqual(c.network.resolution, 256)
        for images in [0, 4, 10_000_000] {
            let p = c.schedule.point(imagesShown: images)
            XCTAssertEqual(p.resolution, 16)
            XCTAssertEqual(p.alpha, 1)
            XCTAssertEqual(p.minibatch, 4)
        }
    }

    func testBadValuesAreRefusedWithTheFlag() {
        func message(_ o: BenchmarkOptions) -> String {
            do { try o.validate(); return "" } catch { return "\(error)" }
        }
        XCTAssertEqual(message(BenchmarkOptions(resolution: 48)), "--res 48 is not a power of two between 4 and 1024")
        XCTAssertEqual(message(BenchmarkOptions(resolution: 2048)), "--res 2048 is not a power of two between 4 and 1024")
        XCTAssertEqual(message(BenchmarkOptions(resolution: 8, batch: 0)), "--batch must be at least 1, got 0")
        XCTAssertEqual(message(BenchmarkOptions(resolution: 8, iterations: 0)), "--iters must be at least 1, got 0")
        XCTAssertEqual(message(BenchmarkOptions(resolution: 8, batch: 4)), "")
        XCTAssertEqual(message(BenchmarkOptions(resolution: 16, networkResolution: 8)),
                       "--max-res 8 is not a power of two between --res 16 and 1024")
        XCTAssertEqual(message(BenchmarkOptions(resolution: 16, networkResolution: 96)),
                       "--max-res 96 is not a power of two between --res 16 and 1024")
    }
}
