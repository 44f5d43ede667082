import Foundation
import Metrics
import TensorKit

/// Deterministic test images and the degradations the tests apply to them (NCHW, floats).
enum Synthetic {
    /// Natural-looking images in [-1, 1]: a sum of bilinearly upsampled random grids with an
    /// amplitude falling with frequency (roughly 1/f, so every pyramid level has content), a
    /// random sharp-edged rectangle, squashed by tanh. Channels share the structure with some
    /// per-channel variation, like colour images.
    static func images(count: Int, channels: Int, size: Int, seed: UInt64) -> [Float] {
        let rng = CounterRNG(seed: seed)
        var out = [Float](repeating: 0, count: count * channels * size * size)
        var g = 2
        var octave: UInt64 = 0
        while g <= size {
            let amp = Float(pow(Double(size / g), 0.6)) / 6
            for n in 0..<count {
                for c in 0..<(channels + 1) {   // grid `channels` is the shared one
                    let stream = 100 + octave * 8 + UInt64(c)
                    let base = UInt64(n) * UInt64(g * g)
                    let grid = (0..<(g * g)).map { rng.normal(stream: stream, index: base + UInt64($0)) }
                    let w: Float = c == channels ? 1 : 0.35
                    for ch in 0..<channels where c == channels || ch == c {
                        let o = (n * channels + ch) * size * size
                        for y in 0..<size {
                            let fy = (Float(y) + 0.5) * Float(g) / Float(size) - 0.5
                            let y0 = max(0, min(g - 1, Int(fy.rounded(.down))))
                            let y1 = min(g - 1, y0 + 1), ty = max(0, min(1, fy - Float(y0)))
                            for x in 0..<size {
                                let fx = (Float(x) + 0.5) * Float(g) / Float(size) - 0.5
                                let x0 = max(0, min(g - 1, Int(fx.rounded(.down))))
                                let x1 = min(g - 1, x0 + 1), tx = max(0, min(1, fx - Float(x0)))
                                let v = (1 - ty) * ((1 - tx) * grid[y0 * g + x0] + tx * grid[y0 * g + x1])
                                    + ty * ((1 - tx) * grid[y1 * g + x0] + tx * grid[y1 * g + x1])
                                out[o + y * size + x] += w * amp * v
                            }
                        }
                    }
                }
            }
            g *= 2
            octave += 1
        }
        for n in 0..<count {
            let r = { (k: UInt64) in rng.below(size, stream: 7, index: UInt64(n) * 8 + k) }
            let (ya, yb, xa, xb) = (r(0), r(1), r(2), r(3))
            let step = rng.normal(stream: 8, index: UInt64(n))
            for ch in 0..<channels {
                let o = (n * channels + ch) * size * size
                for y in min(ya, yb)...max(ya, yb) {
                    for x in min(xa, xb)...max(xa, xb) { out[o + y * size + x] += step }
                }
            }
        }
        return out.map { tanh($0) }
    }

    /// Gaussian blur of every plane (radius ceil(3 sigma), mirror padding).
    static func blur(_ x: [Float], planes: Int, size: Int, sigma: Double) -> [Float] {
        let r = Int((3 * sigma).rounded(.up))
        var k = (-r...r).map { Float(exp(-Double($0 * $0) / (2 * sigma * sigma))) }
        let s = k.reduce(0, +)
        k = k.map { $0 / s }
        func m(_ i: Int) -> Int { i < 0 ? -i : (i >= size ? 2 * (size - 1) - i : i) }
        var tmp = x, out = x
        for p in 0..<planes {
            let o = p * size * size
            for y in 0..<size {
                for xx in 0..<size {
                    var acc: Float = 0
                    for t in -r...r { acc += k[t + r] * x[o + y * size + m(xx + t)] }
                    tmp[o + y * size + xx] = acc
                }
            }
            for y in 0..<size {
                for xx in 0..<size {
                    var acc: Float = 0
                    for t in -r...r { acc += k[t + r] * tmp[o + m(y + t) * size + xx] }
                    out[o + y * size + xx] = acc
                }
            }
        }
        return out
    }

    /// x plus Gaussian noise of standard deviation `sigma`.
    static func noisy(_ x: [Float], sigma: Float, seed: UInt64) -> [Float] {
        let rng = CounterRNG(seed: seed)
        return x.enumerated().map { i, v in v + sigma * rng.normal(stream: 9, index: UInt64(i)) }
    }

    /// Adds `+delta` to even-numbered images and `-delta` to odd ones: a purely low-frequency
    /// change (a uniform shift of every image would be removed by SWD's normalization).
    static func brightnessShifted(_ x: [Float], imageLength: Int, delta: Float) -> [Float] {
        x.enumerated().map { i, v in v + ((i / imageLength) % 2 == 0 ? delta : -delta) }
    }

    static func batch(_ pixels: [Float], count: Int, channels: Int, size: Int) throws -> ImageBatch {
        try ImageBatch(pixels: pixels, count: count, channels: channels, height: size, width: size)
    }
}
