import XCTest
import TensorKit
import Autograd
@testable import ProGAN
import TestSupport

/// Equalized learning rate (paper section 4.1) and pixelwise feature normalization (section 4.2).
final class EqualizedLRTests: XCTestCase {
    private let sqrt2 = Float(2).squareRoot()

    func testWeightsAreStandardNormalAtInit() {
        // G/8x8/conv1 at fmapMax 64: 64 * 64 * 9 = 36864 draws; the standard error of the mean
        // and of the std is ~0.005, so 0.03 is 6 sigma.
        var c = NetworkConfig()
        c.resolution = 8
        c.fmapBase = 512
        c.fmapMax = 64
        c.latentSize = 64
        let G = Generator(c, seed: 5)
        let w = G.parameters["G/8x8/conv1/weight"]!.value
        XCTAssertEqual(w.count, 36864)
        let (mean, std) = meanAndStd(w.data)
        XCTAssertEqual(mean, 0, accuracy: 0.03)
        XCTAssertEqual(std, 1, accuracy: 0.03)
        let dense = G.parameters["G/4x4/dense/weight"]!.value
        let (dm, ds) = meanAndStd(dense.data)
        XCTAssertEqual(dm, 0, accuracy: 0.03)
        XCTAssertEqual(ds, 1, accuracy: 0.03)
        // Different layers draw from different streams.
        let w0 = G.parameters["G/8x8/conv0/weight"]!.value
        XCTAssertNotEqual(Array(w0.data.prefix(16)), Array(w.data.prefix(16)))
    }

    func testBiasesStartAtZero() {
        let config = smallConfig()
        for params in [Generator(config, seed: 1).parameters, Discriminator(config, seed: 1).parameters] {
            let biases = params.parameters.filter { $0.name!.hasSuffix("/bias") }
            XCTAssertFalse(biases.isEmpty)
            for b in biases { XCTAssertTrue(b.value.data.allSatisfy { $0 == 0 }, "\(b.name!) is not zero") }
        }
    }

    func testSameSeedSameWeightsDifferentSeedDifferentWeights() {
        let config = smallConfig()
        XCTAssertEqual(Generator(config, seed: 9).parameters.flatValues(), Generator(config, seed: 9).parameters.flatValues())
        XCTAssertNotEqual(Generator(config, seed: 9).parameters.flatValues(), Generator(config, seed: 10).parameters.flatValues())
    }

    func testGeneratorRuntimeScales() {
        let config = smallConfig()          // widths 16 (4, 8), 8 (16), 4 (32); latent 16
        let G = Generator(config, seed: 1)
        XCTAssertEqual(G.dense.runtimeScale, sqrt2 / 4 / Float(16).squareRoot(), accuracy: 1e-7)
        XCTAssertEqual(G.convs[4]![0].runtimeScale, sqrt2 / Float(16 * 9).squareRoot(), accuracy: 1e-7)
        XCTAssertEqual(G.convs[16]![0].runtimeScale, sqrt2 / Float(16 * 9).squareRoot(), accuracy: 1e-7)
        XCTAssertEqual(G.convs[16]![1].runtimeScale, sqrt2 / Float(8 * 9).squareRoot(), accuracy: 1e-7)
        XCTAssertEqual(G.convs[32]![0].runtimeScale, sqrt2 / Float(8 * 9).squareRoot(), accuracy: 1e-7)
        XCTAssertEqual(G.convs[32]![1].runtimeScale, sqrt2 / Float(4 * 9).squareRoot(), accuracy: 1e-7)
        // toRGB: gain 1.
        XCTAssertEqual(G.toRGB[4]!.runtimeScale, 1 / Float(16).squareRoot(), accuracy: 1e-7)
        XCTAssertEqual(G.toRGB[32]!.runtimeScale, 1 / Float(4).squareRoot(), accuracy: 1e-7)
    }

    func testDiscriminatorRuntimeScales() {
        let config = smallConfig()
        let D = Discriminator(config, seed: 1)
        XCTAssertEqual(D.fromRGB[32]!.runtimeScale, sqrt2 / Float(3).squareRoot(), accuracy: 1e-7)
        XCTAssertEqual(D.fromRGB[4]!.runtimeScale, sqrt2 / Float(3).squareRoot(), accuracy: 1e-7)
        XCTAssertEqual(D.convs[32]![0].runtimeScale, sqrt2 / Float(4 * 9).squareRoot(), accuracy: 1e-7)
        XCTAssertEqual(D.convs[32]![1].runtimeScale, sqrt2 / Float(4 * 9).squareRoot(), accuracy: 1e-7)
        XCTAssertEqual(D.convs[16]![1].runtimeScale, sqrt2 / Float(8 * 9).squareRoot(), accuracy: 1e-7)
        // The minibatch-stddev map is one more input channel of the 4x4 conv.
        XCTAssertEqual(D.finalConv.runtimeScale, sqrt2 / Float(17 * 9).squareRoot(), accuracy: 1e-7)
        XCTAssertEqual(D.finalDense0.runtimeScale, sqrt2 / Float(16 * 16).squareRoot(), accuracy: 1e-7)
        // The output layer: gain 1.
        XCTAssertEqual(D.finalDense1.runtimeScale, 1 / Float(16).squareRoot(), accuracy: 1e-7)
    }

    func testEqualizedAndPlainInitGiveTheSameFunction() throws {
        // Without equalized LR the same draws are scaled at init instead of at run time.
        var plain = smallConfig(resolution: 8)
        plain.equalizedLR = false
        let Ge = Generator(smallConfig(resolution: 8), seed: 4), Gp = Generator(plain, seed: 4)
        XCTAssertEqual(Gp.convs[8]![0].runtimeScale, 1)
        let we = Ge.parameters["G/8x8/conv0/weight"]!.value, wp = Gp.parameters["G/8x8/conv0/weight"]!.value
        assertClose(wp, we * Ge.convs[8]![0].runtimeScale, rtol: 1e-6, atol: 0)
        let z = Var(TestTensors.normal([2, 16], seed: 1))
        assertClose(try Gp(z, resolution: 8, alpha: 0.5).value, try Ge(z, resolution: 8, alpha: 0.5).value,
                    rtol: 1e-4, atol: 1e-5)
        let De = Discriminator(smallConfig(resolution: 8), seed: 4), Dp = Discriminator(plain, seed: 4)
        let x = Var(TestTensors.normal([2, 3, 8, 8], seed: 2))
        assertClose(try Dp(x, resolution: 8, alpha: 0.5).value, try De(x, resolution: 8, alpha: 0.5).value,
                    rtol: 1e-4, atol: 1e-5)
    }

    func testEqualizedConvComputesScaledConvPlusBias() throws {
        let G = Generator(smallConfig(resolution: 8), seed: 6)
        let layer = G.convs[8]![1]
        layer.bias.assign(TestTensors.normal(layer.bias.shape, seed: 3))
        let x = TestTensors.normal([1, 16, 8, 8], seed: 7)
        let y = try layer(Var(x)).value
        // Direct 3x3 same-padded convolution at a few output positions.
        let w = layer.weight.value, b = layer.bias.value
        for (o, i, j) in [(0, 0, 0), (5, 3, 7), (15, 7, 7), (9, 4, 2)] {
            var s = 0.0
            for c in 0..<16 {
                for di in -1...1 {
                    for dj in -1...1 {
                        let (ii, jj) = (i + di, j + dj)
                        guard (0..<8).contains(ii), (0..<8).contains(jj) else { continue }
                        s += Double(w.data[((o * 16 + c) * 3 + di + 1) * 3 + dj + 1]) * Double(x.data[(c * 8 + ii) * 8 + jj])
                    }
                }
            }
            let expected = s * Double(layer.runtimeScale) + Double(b.data[o])
            XCTAssertEqual(Double(y.data[(o * 8 + i) * 8 + j]), expected, accuracy: 1e-4, "output \(o), \(i), \(j)")
        }
    }

    func testPixelNormGivesUnitMeanSquareOverChannels() throws {
        let x = TestTensors.normal([2, 8, 3, 3], seed: 8, scale: 5)
        let y = try pixelNorm(Var(x)).value
        for n in 0..<2 {
            for p in 0..<9 {
                var ms = 0.0, ratio: Float? = nil
                for c in 0..<8 {
                    let idx = (n * 8 + c) * 9 + p
                    ms += Double(y.data[idx] * y.data[idx]) / 8
                    // Every channel is scaled by the same factor.
                    let r = y.data[idx] / x.data[idx]
                    if let ratio { XCTAssertEqual(r, ratio, accuracy: 1e-5 * ratio) } else { ratio = r }
                }
                XCTAssertEqual(ms, 1, accuracy: 1e-5, "sample \(n), pixel \(p)")
            }
        }
        // The epsilon keeps zero features finite.
        XCTAssertEqual(try pixelNorm(Var(Tensor.zeros([1, 4, 2, 2]))).value, Tensor.zeros([1, 4, 2, 2]))
    }

    func testGeneratorFeaturesArePixelNormalized() throws {
        let G = Generator(smallConfig(resolution: 8), seed: 2)
        let (h, _) = try G.features(Var(TestTensors.normal([2, 16], seed: 3)), upTo: 8)
        let (n, c, hw) = (h.shape[0], h.shape[1], h.shape[2] * h.shape[3])
        for s in 0..<n {
            for p in 0..<hw {
                let ms = (0..<c).reduce(0.0) { $0 + Double(h.value.data[(s * c + $1) * hw + p] * h.value.data[(s * c + $1) * hw + p]) } / Double(c)
                XCTAssertEqual(ms, 1, accuracy: 1e-4)
            }
        }
    }
}
