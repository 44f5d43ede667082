import XCTest
import TensorKit
import Autograd
@testable import ProGAN
import TestSupport

/// Fade-in of a new resolution in G and D (paper section 3, figure 2).
final class FadeInTests: XCTestCase {
    let config = smallConfig(resolution: 16)

    func testGeneratorAtAlphaZeroIsUpsampledPreviousResolution() throws {
        let G = Generator(config, seed: 11)
        randomizeBiases(G.parameters, seed: 100)
        let z = Var(TestTensors.normal([3, 16], seed: 12))
        for r in [8, 16] {
            let faded = try G(z, resolution: r, alpha: 0).value
            let previous = try G(z, resolution: r / 2, alpha: 1).value.upsampled2x()
            assertClose(faded, previous, rtol: 0, atol: 1e-6, "G at \(r), alpha 0")
        }
    }

    func testGeneratorBlendIsLinearInAlpha() throws {
        let G = Generator(config, seed: 11)
        randomizeBiases(G.parameters, seed: 101)
        let z = Var(TestTensors.normal([2, 16], seed: 13))
        let old = try G(z, resolution: 16, alpha: 0).value
        let new = try G(z, resolution: 16, alpha: 1).value
        XCTAssertGreaterThan(maxRelativeError(old, new), 0.1, "old and new paths should differ")
        let alpha: Float = 0.3
        let mid = try G(z, resolution: 16, alpha: alpha).value
        let expected = Tensor(shape: old.shape, data: zip(old.data, new.data).map { $0 + ($1 - $0) * alpha })
        assertClose(mid, expected, rtol: 1e-5, atol: 1e-6)
    }

    /// G at alpha 1 written out layer by layer from the paper's description (appendix A, Table 2):
    /// pixelnorm(z), dense, reshape, bias, LReLU, pixelnorm, conv3x3, LReLU, pixelnorm; per later block nearest
    /// upsampling and two conv3x3 with LReLU and pixelnorm; toRGB of the last block.
    func testGeneratorAtAlphaOneIsTheNewPath() throws {
        let G = Generator(config, seed: 21)
        randomizeBiases(G.parameters, seed: 102)
        let z = Var(TestTensors.normal([2, 16], seed: 22))
        let nf = config.width(at: 4)
        func act(_ x: Var) throws -> Var { try pixelNorm(x.leakyReLU(0.2)) }
        let dense = G.parameters["G/4x4/dense/weight"]!
        XCTAssertEqual(G.dense.runtimeScale, Float(2).squareRoot() / 4 / Float(16).squareRoot(), accuracy: 1e-7)
        var x = try Var.matmul(pixelNorm(z), dense * G.dense.runtimeScale, transB: true).reshape([2, nf, 4, 4])
        x = try act(x + G.parameters["G/4x4/dense/bias"]!.reshape([1, nf, 1, 1]))
        x = try act(G.convs[4]![0](x))
        for r in [8, 16] {
            x = try x.upsample2x()
            x = try act(G.convs[r]![0](x))
            x = try act(G.convs[r]![1](x))
        }
        let expected = try G.toRGB[16]!(x).value
        assertClose(try G(z, resolution: 16, alpha: 1).value, expected, rtol: 1e-5, atol: 1e-6)
    }

    func testDiscriminatorAtAlphaZeroIsPreviousResolutionOnPooledImage() throws {
        let D = Discriminator(config, seed: 31)
        randomizeBiases(D.parameters, seed: 103)
        let x = TestTensors.normal([4, 3, 16, 16], seed: 32)
        for r in [16, 8] {
            let image = r == 16 ? x : x.avgPooled2x()
            let faded = try D(Var(image), resolution: r, alpha: 0).value
            let previous = try D(Var(image.avgPooled2x()), resolution: r / 2, alpha: 1).value
            assertClose(faded, previous, rtol: 0, atol: 1e-6, "D at \(r), alpha 0")
        }
    }

    func testDiscriminatorBlendsFeaturesNotScores() throws {
        // The lerp is of the features entering block R/2, so D(alpha) is not a lerp of the
        // scores; but alpha 1 is the new path and intermediate alphas differ from both ends.
        let D = Discriminator(config, seed: 31)
        randomizeBiases(D.parameters, seed: 104)
        let x = Var(TestTensors.normal([4, 3, 16, 16], seed: 33))
        let s0 = try D(x, resolution: 16, alpha: 0).value
        let s1 = try D(x, resolution: 16, alpha: 1).value
        let sFull = try D(x, resolution: 16).value
        XCTAssertEqual(s1, sFull)
        XCTAssertGreaterThan(maxRelativeError(s0, s1), 1e-3)
    }
}
