import XCTest
import TensorKit
import Autograd
@testable import ProGAN
import TestSupport

/// Parameter counts against the paper's Table 2, and output shapes of G and D.
final class NetworkShapeTests: XCTestCase {
    /// Weights plus biases of a k x k conv.
    private func conv(_ cin: Int, _ cout: Int, _ k: Int) -> Int { cin * cout * k * k + cout }

    /// Paper widths, written out independently of `NetworkConfig.nf`: 512 for 4..32 px, then
    /// 256, 128, 64, 32, 16.
    private let paperWidth: [Int: Int] = [4: 512, 8: 512, 16: 512, 32: 512, 64: 256, 128: 128,
                                          256: 64, 512: 32, 1024: 16]

    /// G of Table 2: dense 512 -> 512*16 (one bias per channel, added after the reshape),
    /// conv3x3 512 -> 512, then two conv3x3 per later resolution, and a 1x1 toRGB (3 channels)
    /// at every resolution.
    private func expectedGeneratorCount(latent: Int = 512, channels: Int = 3) -> Int {
        var n = latent * 512 * 16 + 512 + conv(512, 512, 3) + conv(512, channels, 1)
        for r in [8, 16, 32, 64, 128, 256, 512, 1024] {
            let (cin, cout) = (paperWidth[r / 2]!, paperWidth[r]!)
            n += conv(cin, cout, 3) + conv(cout, cout, 3) + conv(cout, channels, 1)
        }
        return n
    }

    /// D of Table 2: fromRGB 1x1 at every resolution; per resolution above 4, conv3x3 nf(R) -> nf(R)
    /// and conv3x3 nf(R) -> nf(R/2); at 4x4 conv3x3 (512 + 1 minibatch-stddev map) -> 512,
    /// dense 512*16 -> 512, dense 512 -> 1.
    private func expectedDiscriminatorCount(channels: Int = 3) -> Int {
        var n = 0
        for r in [4, 8, 16, 32, 64, 128, 256, 512, 1024] {
            n += conv(channels, paperWidth[r]!, 1)
            if r > 4 { n += conv(paperWidth[r]!, paperWidth[r]!, 3) + conv(paperWidth[r]!, paperWidth[r / 2]!, 3) }
        }
        n += conv(513, 512, 3) + (512 * 16 * 512 + 512) + (512 + 1)
        return n
    }

    func testExpectedCountsMatchTable2() {
        // Table 2 of the paper: 23.1M parameters in each network.
        XCTAssertEqual(expectedGeneratorCount(), 23_079_115)
        XCTAssertEqual(expectedDiscriminatorCount(), 23_087_249)
        XCTAssertEqual(Double(expectedGeneratorCount()) / 1e6, 23.1, accuracy: 0.05)
        XCTAssertEqual(Double(expectedDiscriminatorCount()) / 1e6, 23.1, accuracy: 0.05)
    }

    func testPaperDefaultsAre1024RGB() throws {
        let c = NetworkConfig()
        XCTAssertEqual(c.resolution, 1024)
        XCTAssertEqual(c.channels, 3)
        XCTAssertEqual(c.latentSize, 512)
        XCTAssertEqual(c.fmapBase, 8192)
        XCTAssertEqual(c.fmapMax, 512)
        for (r, w) in paperWidth { XCTAssertEqual(c.width(at: r), w, "width at \(r)") }
        XCTAssertNoThrow(try c.validate())
    }

    func testParameterCountsAt1024MatchPaper() {
        let config = NetworkConfig()
        let G = Generator(config, seed: 1)
        XCTAssertEqual(G.parameters.count, expectedGeneratorCount())
        XCTAssertEqual(G.parameters["G/4x4/dense/weight"]?.shape, [512 * 16, 512])
        XCTAssertEqual(G.parameters["G/4x4/dense/bias"]?.shape, [512])
        XCTAssertEqual(G.parameters["G/1024x1024/conv0/weight"]?.shape, [16, 32, 3, 3])
        XCTAssertEqual(G.parameters["G/toRGB/1024x1024/weight"]?.shape, [3, 16, 1, 1])
        XCTAssertEqual(Set(G.parameters.names).count, G.parameters.parameters.count, "names must be unique")
        let D = Discriminator(config, seed: 1)
        XCTAssertEqual(D.parameters.count, expectedDiscriminatorCount())
        XCTAssertEqual(D.parameters["D/4x4/conv/weight"]?.shape, [512, 513, 3, 3])
        XCTAssertEqual(D.parameters["D/1024x1024/conv1/weight"]?.shape, [32, 16, 3, 3])
        XCTAssertEqual(D.parameters["D/fromRGB/1024x1024/weight"]?.shape, [16, 3, 1, 1])
        XCTAssertEqual(D.parameters["D/4x4/dense1/weight"]?.shape, [1, 512])
    }

    func testGeneratorOutputShapes() throws {
        let G = Generator(smallConfig(), seed: 3)
        let z = Var(TestTensors.normal([2, 16], seed: 5))
        for r in [4, 8, 32] {
            XCTAssertEqual(try G(z, resolution: r).shape, [2, 3, r, r], "resolution \(r)")
            XCTAssertEqual(try G(z, resolution: r, alpha: 0.5).shape, [2, 3, r, r], "resolution \(r), fading")
        }
        let gray = Generator(smallConfig(resolution: 8, channels: 1), seed: 3)
        XCTAssertEqual(try gray(z, resolution: 8).shape, [2, 1, 8, 8])
    }

    func testDiscriminatorOutputShape() throws {
        let D = Discriminator(smallConfig(), seed: 4)
        for r in [4, 8, 32] {
            let x = Var(TestTensors.normal([3, 3, r, r], seed: UInt64(r)))
            XCTAssertEqual(try D(x, resolution: r).shape, [3, 1], "resolution \(r)")
            XCTAssertEqual(try D(x, resolution: r, alpha: 0.5).shape, [3, 1], "resolution \(r), fading")
        }
    }

    func testWrongResolutionOrLatentThrows() {
        let G = Generator(smallConfig(), seed: 3)
        let D = Discriminator(smallConfig(), seed: 3)
        XCTAssertThrowsError(try G(Var(Tensor.zeros([1, 16])), resolution: 64))
        XCTAssertThrowsError(try G(Var(Tensor.zeros([1, 16])), resolution: 12))
        XCTAssertThrowsError(try G(Var(Tensor.zeros([1, 15])), resolution: 8))
        XCTAssertThrowsError(try D(Var(Tensor.zeros([1, 3, 8, 8])), resolution: 16))
        XCTAssertThrowsError(try D(Var(Tensor.zeros([1, 1, 8, 8])), resolution: 8))
    }
}
