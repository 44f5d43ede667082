import XCTest
import TensorKit
import Autograd
@testable import ProGAN
import TestSupport

/// Conditioning as the authors do it: G takes the one-hot label next to the latent, D has 1 +
/// classes outputs (score, then class logits) and its logits are trained with softmax
/// cross-entropy in both losses.
///
/// The weight initializer draws each element by its parameter's name and flat index, so a
/// conditional network and an unconditional one of the same widths share every weight except
/// the extra label columns of G's dense layer and the extra class rows of D's last layer; the
/// tests use that to compare them exactly.
final class ConditionalNetworkTests: XCTestCase {
    let classes = 3

    func conditional(_ c: NetworkConfig) -> NetworkConfig {
        var c = c
        c.classes = classes
        return c
    }

    /// G(z, label k) is the unconditional G of latent size L + K applied to [z, onehot(k)]: the
    /// label is concatenated to the latent, the pixel norm covers the concatenation, and the dense
    /// layer's fan-in (its equalized-LR scale) is L + K. The label changes the image.
    func testGeneratorTakesTheOneHotLabelNextToTheLatent() throws {
        let base = smallConfig(resolution: 8)
        let G = Generator(conditional(base), seed: 11)
        var wide = base
        wide.latentSize = base.latentSize + classes
        let reference = Generator(wide, seed: 11)
        randomizeBiases(G.parameters, seed: 3)
        randomizeBiases(reference.parameters, seed: 3)
        XCTAssertEqual(G.dense.weight.shape, [base.width(at: 4) * 16, base.latentSize + classes])
        XCTAssertEqual(G.dense.runtimeScale, Float(2).squareRoot() / 4 / Float(base.latentSize + classes).squareRoot(),
                       accuracy: 1e-9)
        // The same weights by construction (same names, shapes and draws).
        for (a, b) in zip(G.parameters.parameters, reference.parameters.parameters) {
            XCTAssertEqual(a.value.data, b.value.data, a.name ?? "?")
        }
        let z = TestTensors.normal([classes, base.latentSize], seed: 12)
        let labels = [2, 0, 1]
        let onehot = try oneHot(labels, classes: classes)
        var joined = [Float]()
        let L = base.latentSize
        for i in 0..<classes {
            let latent: [Float] = Array(z.data[i * L ..< (i + 1) * L])
            let label: [Float] = Array(onehot.data[i * classes ..< (i + 1) * classes])
            joined.append(contentsOf: latent)
            joined.append(contentsOf: label)
        }
        for alpha: Float in [1, 0.4] {
            let got = try G(Var(z), labels: labels, resolution: 8, alpha: alpha).value
            let want = try reference(Var(Tensor(shape: [classes, wide.latentSize], data: joined)), resolution: 8, alpha: alpha).value
            assertClose(got.data, want.data, rtol: 1e-6, atol: 1e-6, "alpha \(alpha)")
        }
        // One latent, three labels: three different images (by far more than rounding).
        let first: [Float] = Array(z.data[0..<L])
        let same = Tensor(shape: [classes, L], data: Array([[Float]](repeating: first, count: classes).joined()))
        let x = try G(Var(same), labels: [0, 1, 2], resolution: 8).value
        let per = x.count / classes
        for (a, b) in [(0, 1), (1, 2), (0, 2)] {
            let diff = (0..<per).map { abs(x.data[a * per + $0] - x.data[b * per + $0]) }.max()!
            XCTAssertGreaterThan(diff, 1e-2, "labels \(a) and \(b) give the same image")
        }
    }

    func testGeneratorRefusesMissingOrBadLabels() {
        let G = Generator(conditional(smallConfig(resolution: 4)), seed: 1)
        let U = Generator(smallConfig(resolution: 4), seed: 1)
        let z = Var(TestTensors.normal([2, 16], seed: 2))
        XCTAssertThrowsError(try G(z, resolution: 4))
        XCTAssertThrowsError(try G(z, labels: [0], resolution: 4))
        XCTAssertThrowsError(try G(z, labels: [0, 3], resolution: 4))
        XCTAssertThrowsError(try U(z, labels: [0, 1], resolution: 4))
        XCTAssertNoThrow(try G(z, labels: [0, 2], resolution: 4))
    }

    /// D's last dense layer has 1 + classes outputs; column 0 is the unconditional D's score
    /// (the same weights), the rest come from the extra class rows.
    func testDiscriminatorOutputsScoreThenClassLogits() throws {
        let base = smallConfig(resolution: 8)
        let D = Discriminator(conditional(base), seed: 21)
        let U = Discriminator(base, seed: 21)
        XCTAssertEqual(D.finalDense1.weight.shape, [1 + classes, base.nf(0)])
        let images = Var(TestTensors.normal([4, 3, 8, 8], seed: 22))
        let out = try D(images, resolution: 8, alpha: 0.7)
        XCTAssertEqual(out.shape, [4, 1 + classes])
        let score = try U(images, resolution: 8, alpha: 0.7).value
        let (scores, logits) = try D.splitOutput(out)
        XCTAssertEqual(scores.shape, [4, 1])
        XCTAssertEqual(try XCTUnwrap(logits).shape, [4, classes])
        assertClose(scores.value.data, score.data, rtol: 1e-6, atol: 1e-6, "column 0 is the score")
        XCTAssertNil(try U.splitOutput(U(images, resolution: 8)).logits)
    }

    /// Configurations written before `classes` existed decode as unconditional.
    func testOldConfigurationsDecodeAsUnconditional() throws {
        var json = try JSONSerialization.jsonObject(with: try JSONEncoder().encode(smallConfig())) as! [String: Any]
        XCTAssertEqual(json["classes"] as? Int, 0)
        json["classes"] = nil
        let decoded = try JSONDecoder().decode(NetworkConfig.self, from: try JSONSerialization.data(withJSONObject: json))
        XCTAssertEqual(decoded, smallConfig())
        var c = smallConfig()
        c.classes = 1
        XCTAssertThrowsError(try c.validate())
        c.classes = 10
        XCTAssertNoThrow(try c.validate())
    }
}

/// The auxiliary classifier's loss terms: values by hand, gradients by finite differences.
final class ConditionalLossTests: XCTestCase {
    let classes = 3
    let resolution = 8
    let alpha: Float = 0.6
    let mix: [Float] = [0.1, 0.5, 0.9, 0.3]
    let labels = [2, 0, 1, 2]
    var reals: Tensor { TestTensors.normal([4, 3, 8, 8], seed: 42) }
    var fakes: Tensor { TestTensors.normal([4, 3, 8, 8], seed: 43, scale: 0.5) }

    /// A conditional D and the unconditional D it extends, with equal random biases (the extra
    /// class outputs' biases random too).
    func pair(seed: UInt64 = 41) -> (conditional: Discriminator, plain: Discriminator) {
        var c = smallConfig(resolution: 8)
        let U = Discriminator(c, seed: seed)
        c.classes = classes
        let D = Discriminator(c, seed: seed)
        for (i, (p, q)) in zip(D.parameters.parameters, U.parameters.parameters).enumerated() where p.name!.hasSuffix("/bias") {
            let b = TestTensors.normal(p.shape, seed: 500 &+ UInt64(i), scale: 0.3)
            p.assign(b)
            q.assign(Tensor(shape: q.shape, data: Array(b.data[0..<q.value.count])))
        }
        // Larger class weights than the init: logits of order 1, so the cross-entropy is not flat.
        let w = D.parameters["D/4x4/dense1/weight"]!
        w.assign(w.value * 3)
        U.parameters["D/4x4/dense1/weight"]!.assign(Tensor(shape: [1, w.shape[1]], data: Array(w.value.data[0..<w.shape[1]])))
        return (D, U)
    }

    func crossEntropy(_ logits: [Float], _ label: Int) -> Double {
        let x = logits.map(Double.init)
        let m = x.max()!
        return log(x.map { exp($0 - m) }.reduce(0, +)) + m - x[label]
    }

    func rows(_ t: Tensor) -> [[Float]] {
        let k = t.shape[1]
        return (0..<t.shape[0]).map { Array(t.data[$0 * k ..< ($0 + 1) * k]) }
    }

    func testSoftmaxCrossEntropyValuesAndStability() throws {
        let logits = Tensor(shape: [3, 4], data: [0.5, -1, 2, 0.1, 1000, 999, -1000, 998, -3, -3, -3, -3])
        let ce = try softmaxCrossEntropy(Var(logits), labels: [2, 1, 3]).value
        XCTAssertEqual(ce.shape, [3])
        for (i, (row, label)) in zip(rows(logits), [2, 1, 3]).enumerated() {
            // float32 logits of 1000 carry rounding 6e-5; the shifted sums are of order 1.
            XCTAssertEqual(Double(ce.data[i]), crossEntropy(row, label), accuracy: 2e-6 * max(1, abs(Double(row.max()!))))
        }
        XCTAssertEqual(Double(ce.data[2]), log(4), accuracy: 1e-6)
        XCTAssertThrowsError(try softmaxCrossEntropy(Var(logits), labels: [0, 1]))
        XCTAssertThrowsError(try softmaxCrossEntropy(Var(logits), labels: [0, 1, 4]))
        XCTAssertEqual(correctPredictions(logits, labels: [2, 0, 0]), 3)
        XCTAssertEqual(correctPredictions(logits, labels: [0, 1, 1]), 0)
    }

    /// First and second order: the maximum held constant leaves the rule exact.
    func testSoftmaxCrossEntropyGradientMatchesFiniteDifferences() {
        let logits = TestTensors.normal([5, 4], seed: 7, scale: 2)
        assertOpGradients([logits], "softmax cross-entropy") { try softmaxCrossEntropy($0[0], labels: [0, 3, 1, 1, 2]) }
    }

    /// D's loss = the unconditional loss of the scores (penalty on the scores only, so equal to
    /// the plain D's) + (sum CE(real logits) + sum CE(fake logits)) / N; statistics by hand.
    func testDiscriminatorLossAddsBothCrossEntropies() throws {
        let (D, U) = pair()
        for kind in [LossConfig.Kind.wgangp, .lsgan] {
            var config = LossConfig()
            config.kind = kind
            let (loss, stats) = try discriminatorLoss(D, reals: Var(reals), fakes: Var(fakes), mix: mix, labels: labels,
                                                      resolution: resolution, alpha: alpha, globalBatch: 8,
                                                      comm: LocalCollective(), config: config)
            let (plain, plainStats) = try discriminatorLoss(U, reals: Var(reals), fakes: Var(fakes), mix: mix,
                                                            resolution: resolution, alpha: alpha, globalBatch: 8,
                                                            comm: LocalCollective(), config: config)
            let (_, realLogits) = try D.splitOutput(D(Var(reals), resolution: resolution, alpha: alpha))
            let (_, fakeLogits) = try D.splitOutput(D(Var(fakes), resolution: resolution, alpha: alpha))
            let ceReal = zip(rows(realLogits!.value), labels).map { crossEntropy($0, $1) }.reduce(0, +) / 8
            let ceFake = zip(rows(fakeLogits!.value), labels).map { crossEntropy($0, $1) }.reduce(0, +) / 8
            XCTAssertGreaterThan(ceReal, 0.05)
            XCTAssertEqual(stats.classLossReal!, ceReal, accuracy: 1e-5)
            XCTAssertEqual(stats.classLossFake!, ceFake, accuracy: 1e-5)
            XCTAssertEqual(loss.value.sumAll(), plain.value.sumAll() + ceReal + ceFake, accuracy: 1e-5 * max(1, abs(loss.value.sumAll())), "\(kind)")
            XCTAssertEqual(stats.lossD!, loss.value.sumAll(), accuracy: 1e-6)
            for key in [StepStats.CodingKeys.realScores, .fakeScores, .gradientPenalty, .gradientNorms, .drift] {
                if let want = plainStats[key] {
                    XCTAssertEqual(try XCTUnwrap(stats[key]), want, accuracy: 1e-5 * max(1, abs(want)), "\(kind) \(key)")
                } else {
                    XCTAssertNil(stats[key], "\(kind) \(key)")
                }
            }
            let hitsReal = zip(rows(realLogits!.value), labels).filter { $0.0.firstIndex(of: $0.0.max()!) == $0.1 }.count
            let hitsFake = zip(rows(fakeLogits!.value), labels).filter { $0.0.firstIndex(of: $0.0.max()!) == $0.1 }.count
            XCTAssertEqual(stats.realAccuracy, Double(hitsReal))
            XCTAssertEqual(stats.fakeAccuracy, Double(hitsFake))
            XCTAssertNil(plainStats.classLossReal)
            XCTAssertThrowsError(try discriminatorLoss(D, reals: Var(reals), fakes: Var(fakes), mix: mix, labels: [0],
                                                       resolution: resolution, alpha: alpha, globalBatch: 8,
                                                       comm: LocalCollective(), config: config))
        }
    }

    /// The two-pass D step gives the one-graph gradient with the classifier terms too.
    func testTwoPassGradientsIncludeTheClassifier() throws {
        let (D, _) = pair()
        let params = D.parameters.parameters
        let (loss, stats) = try discriminatorLoss(D, reals: Var(reals), fakes: Var(fakes), mix: mix, labels: labels,
                                                  resolution: resolution, alpha: alpha, globalBatch: 4,
                                                  comm: LocalCollective(), config: LossConfig())
        let whole = try gradients(of: loss, wrt: params).map(\.value)
        D.parameters.zeroGradients()
        let twoPass = try accumulateDiscriminatorGradients(D, reals: Var(reals), fakes: Var(fakes), mix: mix, labels: labels,
                                                           resolution: resolution, alpha: alpha, globalBatch: 4,
                                                           comm: LocalCollective(), config: LossConfig(), into: params)
        for (p, g) in zip(params, whole) {
            assertClose(try XCTUnwrap(p.grad).data, g.data, rtol: 1e-5, atol: 1e-6, p.name ?? "?")
        }
        XCTAssertEqual(twoPass.presentKeys, stats.presentKeys)
        for k in stats.presentKeys { XCTAssertEqual(twoPass[k]!, stats[k]!, accuracy: 1e-5 * max(1, abs(stats[k]!)), "\(k)") }
    }

    /// Central differences (five-point) of D's and G's conditional losses with respect to D's last
    /// layer, whose class rows reach the losses only through the cross-entropy (no leaky-ReLU kink
    /// after the layer). D's loss includes the penalty, so its score row is the double-backprop
    /// path as well. Tolerance as the unconditional check in LossTests: the losses are float32
    /// sums of a few dozen terms of order 1 (rounding ~1e-6) over steps of 0.05.
    func testAuxiliaryLossGradientsMatchFiniteDifferences() throws {
        let (D, _) = pair()
        let config = LossConfig()
        let losses: [(String, () throws -> Var)] = [
            ("D", { try discriminatorLoss(D, reals: Var(self.reals), fakes: Var(self.fakes), mix: self.mix, labels: self.labels,
                                          resolution: self.resolution, alpha: self.alpha, globalBatch: 4,
                                          comm: LocalCollective(), config: config).loss }),
            ("G", { try generatorLoss(D, fakes: Var(self.fakes), labels: self.labels, resolution: self.resolution,
                                      alpha: self.alpha, globalBatch: 4, comm: LocalCollective(), config: config).loss }),
        ]
        for (which, loss) in losses {
            for name in ["D/4x4/dense1/weight", "D/4x4/dense1/bias"] {
                let p = D.parameters[name]!
                let analytic = try gradients(of: loss(), wrt: [p])[0].value
                let w0 = p.value
                let eps: Float = 0.05
                // Every bias and the first and last columns of each weight row.
                let k = p.shape.count == 2 ? p.shape[1] : 1
                let elements = p.shape.count == 2 ? (0..<p.shape[0]).flatMap { [$0 * k, $0 * k + k - 1] } : Array(0..<w0.count)
                for j in elements {
                    func at(_ m: Float) throws -> (Double, Double) {
                        var w = w0
                        w.data[j] += m * eps
                        p.assign(w)
                        return (try loss().value.sumAll(), Double(w.data[j]) - Double(w0.data[j]))
                    }
                    let (p1, m1, p2, m2) = (try at(1), try at(-1), try at(2), try at(-2))
                    p.assign(w0)
                    let d1 = (p1.0 - m1.0) / (p1.1 - m1.1), d2 = (p2.0 - m2.0) / (p2.1 - m2.1)
                    let numeric = (4 * d1 - d2) / 3
                    XCTAssertEqual(Double(analytic.data[j]), numeric, accuracy: 1e-3 + 1e-3 * abs(numeric), "\(which): \(name)[\(j)]")
                    // The class rows must matter: their gradient is the cross-entropy's alone.
                    if j >= k && which == "G" && name.hasSuffix("weight") { XCTAssertNotEqual(analytic.data[j], 0) }
                }
            }
        }
    }

    /// G's loss = the unconditional G loss + sum CE(fake logits, labels) / N, and its gradient
    /// reaches every parameter of a conditional G (the label columns of the dense layer included).
    func testGeneratorLossAddsTheFakesCrossEntropy() throws {
        let (D, U) = pair()
        let (loss, stats) = try generatorLoss(D, fakes: Var(fakes), labels: labels, resolution: resolution, alpha: alpha,
                                              globalBatch: 8, comm: LocalCollective(), config: LossConfig())
        let (plain, _) = try generatorLoss(U, fakes: Var(fakes), resolution: resolution, alpha: alpha, globalBatch: 8,
                                           comm: LocalCollective(), config: LossConfig())
        let (_, logits) = try D.splitOutput(D(Var(fakes), resolution: resolution, alpha: alpha))
        let ce = zip(rows(logits!.value), labels).map { crossEntropy($0, $1) }.reduce(0, +) / 8
        XCTAssertEqual(stats.classLossG!, ce, accuracy: 1e-5)
        XCTAssertEqual(loss.value.sumAll(), plain.value.sumAll() + ce, accuracy: 1e-5)
        XCTAssertEqual(stats.lossG!, loss.value.sumAll(), accuracy: 1e-6)

        var c = smallConfig(resolution: 8)
        c.classes = classes
        let G = Generator(c, seed: 45)
        let z = Var(TestTensors.normal([4, 16], seed: 46))
        let (gl, _) = try generatorLoss(D, fakes: G(z, labels: labels, resolution: 8, alpha: alpha), labels: labels,
                                        resolution: 8, alpha: alpha, globalBatch: 4, comm: LocalCollective(), config: LossConfig())
        let dense = G.parameters["G/4x4/dense/weight"]!
        let g = try gradients(of: gl, wrt: [dense])[0].value
        // Columns L..<L+K of the dense weight see only the label: those of used labels move.
        let width = 16 + classes
        for label in Set(labels) {
            XCTAssertTrue((0..<g.shape[0]).contains { g.data[$0 * width + 16 + label] != 0 }, "label \(label)'s column")
        }
    }
}
