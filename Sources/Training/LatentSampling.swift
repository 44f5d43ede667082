#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif
import TensorKit

/// Latent draws for sampling tools (`generate`): plain or truncated normals and smooth latent
/// walks, each a pure function of its seed, so the same command gives the same images.
public enum LatentSampling {
    /// Stream of the counter RNG used by `generate` (distinct from training's streams).
    static let stream: UInt64 = 7

    /// `count` latents of `size` standard-normal values.
    public static func normal(count: Int, size: Int, seed: UInt64) -> Tensor {
        let rng = CounterRNG(seed: seed)
        return Tensor(shape: [count, size], data: (0..<count * size).map { rng.normal(stream: stream, index: UInt64($0)) })
    }

    /// The truncation trick: standard-normal values, each redrawn until it lies within
    /// `[-threshold, threshold]`, which trades variety for typical, cleaner samples. Element `i`'s
    /// k-th draw is the counter RNG's value at (i, k), so the result depends only on the seed.
    ///
    /// - Precondition: `threshold > 0` (a draw lands inside with probability erf(threshold / sqrt 2),
    ///   about 0.08 at 0.1, so the expected number of draws stays small for any sensible value).
    public static func truncatedNormal(count: Int, size: Int, threshold: Float, seed: UInt64) -> Tensor {
        require(threshold > 0, "truncation threshold must be positive")
        let rng = CounterRNG(seed: seed)
        var data = [Float](repeating: 0, count: count * size)
        for i in 0..<data.count {
            var attempt: UInt64 = 0
            var v = rng.normal(stream: stream, index: UInt64(i))
            while abs(v) > threshold {
                attempt += 1
                v = rng.normal(stream: stream &+ attempt << 32, index: UInt64(i))
            }
            data[i] = v
        }
        return Tensor(shape: [count, size], data: data)
    }

    /// A smooth, looping random walk in latent space, as the authors' interpolation video makes
    /// it: independent normal latents per frame, smoothed along time by a Gaussian of
    /// `smoothingFrames` standard deviation with wrap-around (so the last frame leads back to the
    /// first), then scaled so the values' root mean square is 1 again (smoothing shrinks it).
    ///
    /// - Returns: [frames, size].
    public static func walk(frames: Int, size: Int, smoothingFrames: Double, seed: UInt64) -> Tensor {
        require(frames >= 1 && smoothingFrames > 0, "a walk needs frames >= 1 and smoothing > 0")
        let raw = normal(count: frames, size: size, seed: seed)
        let radius = min(frames / 2, Int((4 * smoothingFrames).rounded(.up)))
        let kernel = (-radius...radius).map { exp(-Double($0 * $0) / (2 * smoothingFrames * smoothingFrames)) }
        var out = [Float](repeating: 0, count: frames * size)
        for f in 0..<frames {
            for j in 0..<size {
                var s = 0.0
                for (t, w) in zip(-radius...radius, kernel) {
                    let g = ((f + t) % frames + frames) % frames
                    s += w * Double(raw.data[g * size + j])
                }
                out[f * size + j] = Float(s)
            }
        }
        let rms = (out.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(out.count)).squareRoot()
        if rms > 0 { for i in out.indices { out[i] = Float(Double(out[i]) / rms) } }
        return Tensor(shape: [frames, size], data: out)
    }
}
