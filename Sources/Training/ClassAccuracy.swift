import Autograd
import Foundation
import ProGAN
import TensorKit

/// A check that a conditional run honours its classes, with the run's own discriminator as the
/// judge: how often D's auxiliary classifier gives labelled real images their label (on images
/// it was not trained on, whether it learned the classes rather than the training set), and how
/// often it gives each class's fakes from the averaged generator Gs the class they were generated
/// with. D sees both as in training: at the checkpoint's resolution and fade, the reals faded
/// alike, in minibatches of the schedule's size there (the minibatch stddev depends on the batch).
public enum ClassAccuracy {
    /// The measured fractions.
    public struct Result: Codable, Sendable {
        /// Real images classified, and the fraction classified correctly.
        public var reals: Int
        public var realAccuracy: Double
        /// Per class: the fraction of that class's real images classified correctly (nil for a class with none).
        public var realAccuracyByClass: [Double?]
        /// Fakes drawn per class, and per class the fraction classified as that class.
        public var fakesPerClass: Int
        public var fakeAccuracyByClass: [Double]
        /// Mean of `fakeAccuracyByClass`.
        public var fakeAccuracy: Double
        /// Where D and Gs were taken from.
        public var resolution: Int
        public var alpha: Double
        public var kimg: Double
    }

    /// - Parameters:
    ///   - D, Gs: the checkpoint's conditional networks.
    ///   - config, progress: the checkpoint's configuration and progress (resolution, fade).
    ///   - data: labelled images with the same class count (e.g. a held-out split).
    ///   - realCount: images taken from the start of `data` (all of them if fewer).
    ///   - fakesPerClass: fakes per class, latents drawn from `seed`.
    /// - Throws: `InputError` when the networks are unconditional or the class counts differ.
    public static func measure(D: Discriminator, Gs: Generator, config: TrainingConfig, progress: TrainingProgress,
                               data: RealImageSource, realCount: Int, fakesPerClass: Int, seed: UInt64) throws -> Result {
        let classes = config.network.classes
        guard classes > 0 else { throw InputError("the checkpoint is unconditional: it has no classifier to measure") }
        guard data.classCount == classes else {
            throw InputError("the checkpoint has \(classes) classes but the dataset has \(data.classCount == 0 ? "no labels" : "\(data.classCount) classes")")
        }
        let res = max(4, progress.resolution), alpha = progress.alpha
        let batch = config.schedule.minibatch(at: res)
        func predictions(_ images: Tensor) throws -> Tensor {
            let out = try GradMode.with(false) { try D(Var(images), resolution: res, alpha: alpha) }
            return try D.splitOutput(out).logits!.value
        }
        // Reals, in whole batches.
        let n = min(realCount, data.count) / batch * batch
        guard n > 0 else { throw InputError("need at least one minibatch (\(batch)) of real images, the dataset has \(data.count)") }
        var hits = [Int](repeating: 0, count: classes), totals = [Int](repeating: 0, count: classes)
        for start in stride(from: 0, to: n, by: batch) {
            let indices = Array(start..<start + batch)
            let labels = try data.labels(indices)
            let logits = try predictions(try data.images(indices, resolution: res).fadedReals(alpha: alpha))
            for (i, label) in labels.enumerated() {
                totals[label] += 1
                if correctPredictions(logits.narrowed(axis: 0, start: i, length: 1), labels: [label]) == 1 { hits[label] += 1 }
            }
        }
        // Fakes: each class in turn, the same latents for every class.
        let perClass = max(batch, fakesPerClass / batch * batch)
        let latents = LatentSampling.normal(count: perClass, size: config.network.latentSize, seed: seed)
        var fakeAccuracy = [Double]()
        for k in 0..<classes {
            var correct = 0
            for start in stride(from: 0, to: perClass, by: batch) {
                let z = latents.narrowed(axis: 0, start: start, length: batch)
                let labels = [Int](repeating: k, count: batch)
                let fakes = try GradMode.with(false) { try Gs(Var(z), labels: labels, resolution: res, alpha: alpha).value }
                correct += correctPredictions(try predictions(fakes), labels: labels)
            }
            fakeAccuracy.append(Double(correct) / Double(perClass))
        }
        return Result(reals: n, realAccuracy: Double(hits.reduce(0, +)) / Double(n),
                      realAccuracyByClass: zip(hits, totals).map { $1 > 0 ? Double($0) / Double($1) : nil },
                      fakesPerClass: perClass, fakeAccuracyByClass: fakeAccuracy,
                      fakeAccuracy: fakeAccuracy.reduce(0, +) / Double(classes), resolution: res, alpha: Double(alpha),
                      kimg: Double(progress.imagesShown) / 1000)
    }
}
