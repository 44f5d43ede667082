import XCTest
import TensorKit
import Autograd
@testable import ProGAN
import TestSupport

/// G and D with fused layers (conv + bias + LReLU as one node, pixelnorm as one node) against the
/// same networks written with the composed ops, to first order and, for D, through the WGAN-GP
/// penalty's double backprop.
final class FusedLayerTests: XCTestCase {
    let config = smallConfig(resolution: 16)

    private func lrelu(_ x: Var) -> Var { x.leakyReLU(config.leakySlope) }

    private func composedPixelNorm(_ x: Var) throws -> Var {
        try x * (x.square().mean(axes: [1], keepDims: true) + 1e-8).rsqrt()
    }

    /// G's forward with every op composed (the pre-fusion graph).
    private func composedG(_ G: Generator, _ z: Var, resolution: Int, alpha: Float) throws -> Var {
        func act(_ x: Var) throws -> Var { try composedPixelNorm(lrelu(x)) }
        let nf = config.width(at: 4)
        var x = try G.dense(composedPixelNorm(z)).reshape([z.shape[0], nf, 4, 4])
        x = try act(x + G.denseBias.reshape([1, nf, 1, 1]))
        x = try act(G.convs[4]![0](x))
        var prev = x
        var r = 8
        while r <= resolution {
            prev = x
            x = try x.upsample2x()
            for conv in G.convs[r]! { x = try act(conv(x)) }
            r *= 2
        }
        return try Var.lerp(G.toRGB[resolution / 2]!(prev).upsample2x(), G.toRGB[resolution]!(x), alpha)
    }

    /// D's forward with every op composed (the pre-fusion graph).
    private func composedD(_ D: Discriminator, _ images: Var, resolution: Int, alpha: Float) throws -> Var {
        var x = lrelu(try D.fromRGB[resolution]!(images))
        var r = resolution
        while r > 4 {
            for conv in D.convs[r]! { x = lrelu(try conv(x)) }
            x = try x.avgPool2x()
            if r == resolution && alpha < 1 {
                x = try Var.lerp(lrelu(D.fromRGB[r / 2]!(images.avgPool2x())), x, alpha)
            }
            r /= 2
        }
        x = try minibatchStddev(x, groupSize: config.mbstdGroupSize, comm: LocalCollective())
        x = lrelu(try D.finalConv(x))
        x = lrelu(try D.finalDense0(x.reshape([x.shape[0], x.shape[1] * 16])))
        return try D.finalDense1(x)
    }

    func testFusedConvLayerEqualsComposedLayer() throws {
        let D = Discriminator(config, seed: 3)
        randomizeBiases(D.parameters, seed: 200)
        let conv = D.convs[16]![1]
        let x = Var(TestTensors.normal([2, conv.weight.shape[1], 6, 6], seed: 4), requiresGrad: true)
        let fused = try conv(x, leakyReLUSlope: 0.2)
        let composed = lrelu(try conv(x))
        assertClose(fused.value, composed.value, rtol: 1e-5, atol: 1e-6)
        let inputs = [x, conv.weight, conv.bias]
        let gf = try gradients(of: randomProjection(fused), wrt: inputs)
        let gc = try gradients(of: randomProjection(composed), wrt: inputs)
        for (i, name) in ["x", "weight", "bias"].enumerated() {
            assertClose(gf[i].value, gc[i].value, rtol: 1e-5, atol: 1e-6, name)
        }
    }

    /// G in a fade-in (both toRGBs used): output and every parameter's gradient.
    func testGeneratorEqualsComposedNetwork() throws {
        let G = Generator(config, seed: 5)
        randomizeBiases(G.parameters, seed: 201)
        let z = Var(TestTensors.normal([3, config.latentSize], seed: 6))
        let params = G.parameters.parameters
        let fused = try G(z, resolution: 16, alpha: 0.4)
        let composed = try composedG(G, z, resolution: 16, alpha: 0.4)
        assertClose(fused.value, composed.value, rtol: 1e-5, atol: 1e-6)
        let gf = try gradients(of: randomProjection(fused), wrt: params)
        let gc = try gradients(of: randomProjection(composed), wrt: params)
        for (p, (f, c)) in zip(params, zip(gf, gc)) {
            assertClose(f.value, c.value, rtol: 1e-5, atol: 1e-5, p.name ?? "?")
        }
    }

    /// D in a fade-in under the WGAN-GP loss: `D(fake) - D(real)` plus the gradient penalty (its
    /// input gradient recorded with createGraph), differentiated w.r.t. every parameter.
    func testDiscriminatorPenaltyGradientsEqualComposedNetwork() throws {
        let D = Discriminator(config, seed: 7)
        randomizeBiases(D.parameters, seed: 202)
        let reals = Var(TestTensors.normal([4, 3, 16, 16], seed: 8))
        let fakes = Var(TestTensors.normal([4, 3, 16, 16], seed: 9, scale: 0.5))
        let mixed = TestTensors.normal([4, 3, 16, 16], seed: 10, scale: 0.7)
        let params = D.parameters.parameters
        func loss(_ score: (Var) throws -> Var) throws -> (Var, [Tensor]) {
            let xhat = Var(mixed, requiresGrad: true)
            let g = try gradients(of: score(xhat).sum(), wrt: [xhat], createGraph: true)[0]
            let norms = try g.square().sum(axes: [1, 2, 3]).sqrt()
            let penalty = try (norms - 1).square().sum() * 10
            let total = try score(fakes).sum() - score(reals).sum() + penalty
            return (total, try gradients(of: total, wrt: params).map(\.value))
        }
        let (lf, gf) = try loss { try D($0, resolution: 16, alpha: 0.6) }
        let (lc, gc) = try loss { try composedD(D, $0, resolution: 16, alpha: 0.6) }
        assertClose(lf.value, lc.value, rtol: 1e-5, atol: 1e-5)
        // Every parameter has a gradient to compare but the unused fromRGB at 4x4 and the last
        // bias (it cancels in D(fake) - D(real) and the penalty does not depend on it).
        let without = zip(params, gc).filter { !$1.data.contains { $0 != 0 } }.map { $0.0.name ?? "?" }
        XCTAssertEqual(Set(without), ["D/fromRGB/4x4/weight", "D/fromRGB/4x4/bias", "D/4x4/dense1/bias"])
        for (p, (f, c)) in zip(params, zip(gf, gc)) {
            assertClose(f, c, rtol: 1e-5, atol: 1e-6, p.name ?? "?")
        }
    }
}
