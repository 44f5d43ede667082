#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif
import TensorKit

/// Multi-scale structural similarity (Wang, Simoncelli & Bovik 2003), as the ProGAN paper uses it
/// to measure the variation of generated images (average over random pairs; lower = more varied).
///
/// Definition used here. Pixels in [-1, 1] are first mapped to [0, 1] by `(x + 1) / 2` (for uint8
/// data converted by `x / 127.5 - 1` that is exactly `byte / 255`) and the dynamic range is L = 1.
/// Why not use [-1, 1] with L = 2: the luminance term `(2 μx μy + C1) / (μx² + μy² + C1)` is not
/// shift invariant, so only the [0, L] convention gives the standard values (Wang's code and
/// ProGAN's `ms_ssim.py` work on [0, 255] with L = 255, which is the same as [0, 1] with L = 1).
///
/// - window: 11x11 Gaussian, sigma 1.5 (smaller at coarse scales, below), normalized to sum 1, applied without padding
///   ("valid", as in Wang's reference code); local means, variances and covariance from it;
/// - `C1 = (0.01 L)^2`, `C2 = (0.03 L)^2`;
/// - at scale j the contrast-structure term `cs_j` is the mean of
///   `(2 σxy + C2) / (σx² + σy² + C2)` over all valid pixels and all channels; at the coarsest
///   scale the full SSIM (luminance times cs) is averaged instead;
/// - between scales both images are 2x2 average-pooled;
/// - `MS-SSIM = prod_j max(cs_j, 0)^w_j * max(ssim_5, 0)^w_5`. Negative terms are clipped to 0
///   (a non-integer power of a negative number is undefined; this happens only for unrelated,
///   anti-correlated images).
///
/// Scales as in the ProGAN authors' `ms_ssim.py`, so that numbers are comparable with the paper's
/// Table 1: always 5 scales; at a scale of side n the window is min(11, n) pixels with its sigma
/// shrunk in proportion (1.5 * k / 11; an even-sized window is centred between pixels), so 128 px
/// images use windows 11, 11, 11, 11 and 8 at 128, 64, 32, 16 and 8 px. The weights are used as
/// published (they sum to 1.0001; the authors do not renormalize), terms are clipped at 0, and the
/// scores of the pairs are averaged after the product (one MS-SSIM per pair, then the mean).
/// Five 2x2 poolings need sides divisible by 16: `ImageBatch` holds powers of two from 16 up.
public enum MSSSIM {
    /// Per-scale exponents, finest first (Wang et al. 2003).
    public static let weights: [Double] = [0.0448, 0.2856, 0.3001, 0.2363, 0.1333]
    /// Side of the Gaussian window.
    public static let windowSize = 11
    /// Standard deviation of the Gaussian window, in pixels.
    public static let windowSigma = 1.5
    /// Stabilizing constants' factors.
    public static let k1 = 0.01, k2 = 0.03
    /// Dynamic range L of the data after mapping [-1, 1] to [0, 1].
    public static let dynamicRange = 1.0

    /// Number of scales (always the published five; see the type's documentation).
    public static var scaleCount: Int { weights.count }

    /// Side of the window at each scale, finest first, for `size` x `size` images.
    public static func windowSizes(forSize size: Int) -> [Int] {
        (0..<scaleCount).map { min(windowSize, size >> $0) }
    }

    /// Whether `size` x `size` images can be measured: five exact 2x2 poolings.
    public static func supports(size: Int) -> Bool {
        size >= 1 << (scaleCount - 1) && size % (1 << (scaleCount - 1)) == 0
    }

    /// The image indices (i, j), i != j, of random pair `k` among `imageCount` images. Pair k is a
    /// pure function of (seed, k), so ranks can each evaluate a range of pairs.
    ///
    /// - Precondition: `imageCount >= 2`, `k >= 0`.
    public static func pair(_ k: Int, imageCount: Int, seed: UInt64) -> (Int, Int) {
        require(imageCount >= 2 && k >= 0, "MSSSIM.pair needs k >= 0 and at least 2 images")
        return RandomDraws.pair(CounterRNG(seed: seed), k: k, imageCount: imageCount)
    }

    /// The normalized 1D Gaussian window of `size` taps, sigma `1.5 * size / 11`, centred between
    /// the two middle taps when `size` is even (the 2D window is its outer product, already
    /// normalized since the 2D Gaussian factorizes).
    static func window(size k: Int) -> [Double] {
        let sigma = windowSigma * Double(k) / Double(windowSize)
        let centre = Double(k - 1) / 2
        let g = (0..<k).map { i -> Double in
            let d = Double(i) - centre
            return exp(-d * d / (2 * sigma * sigma))
        }
        let s = g.reduce(0, +)
        return g.map { $0 / s }
    }

    /// MS-SSIM of two CHW images of the same shape.
    static func score(_ x: UnsafeBufferPointer<Float>, _ y: UnsafeBufferPointer<Float>,
                      channels: Int, size: Int) -> Double {
        require(supports(size: size), "MSSSIM.score: size \(size) is not a multiple of 16")
        // To [0, 1] (see the type's documentation for why not [-1, 1]).
        var xs = x.map { (Double($0) + 1) / 2 }, ys = y.map { (Double($0) + 1) / 2 }
        var n = size
        var result = 1.0
        for j in 0..<scaleCount {
            let (lcs, cs) = terms(xs, ys, channels: channels, size: n, window: window(size: min(windowSize, n)))
            let last = j == scaleCount - 1
            result *= pow(max(last ? lcs : cs, 0), weights[j])
            if !last {
                xs = pool(xs, channels: channels, size: n)
                ys = pool(ys, channels: channels, size: n)
                n /= 2
            }
        }
        return result
    }

    /// Mean over channels and valid pixels of (SSIM map, cs map) at one scale.
    static func terms(_ x: [Double], _ y: [Double], channels: Int, size n: Int, window: [Double]) -> (Double, Double) {
        let c1 = (k1 * dynamicRange) * (k1 * dynamicRange)
        let c2 = (k2 * dynamicRange) * (k2 * dynamicRange)
        let v = n - window.count + 1
        var ssimSum = 0.0, csSum = 0.0
        for c in 0..<channels {
            let px = Array(x[(c * n * n)..<((c + 1) * n * n)])
            let py = Array(y[(c * n * n)..<((c + 1) * n * n)])
            let mx = validFilter(px, size: n, window: window)
            let my = validFilter(py, size: n, window: window)
            let exx = validFilter(zip(px, px).map { $0 * $1 }, size: n, window: window)
            let eyy = validFilter(zip(py, py).map { $0 * $1 }, size: n, window: window)
            let exy = validFilter(zip(px, py).map { $0 * $1 }, size: n, window: window)
            for i in 0..<(v * v) {
                let vx = exx[i] - mx[i] * mx[i]
                let vy = eyy[i] - my[i] * my[i]
                let cov = exy[i] - mx[i] * my[i]
                let cs = (2 * cov + c2) / (vx + vy + c2)
                let l = (2 * mx[i] * my[i] + c1) / (mx[i] * mx[i] + my[i] * my[i] + c1)
                csSum += cs
                ssimSum += l * cs
            }
        }
        let count = Double(channels * v * v)
        return (ssimSum / count, csSum / count)
    }

    /// Separable filtering of one n x n plane by `window` without padding: (n-k+1)^2 out.
    static func validFilter(_ p: [Double], size n: Int, window w: [Double]) -> [Double] {
        let k = w.count, v = n - k + 1
        var h = [Double](repeating: 0, count: n * v)
        for r in 0..<n {
            for j in 0..<v {
                var s = 0.0
                for t in 0..<k { s += w[t] * p[r * n + j + t] }
                h[r * v + j] = s
            }
        }
        var out = [Double](repeating: 0, count: v * v)
        for i in 0..<v {
            for t in 0..<k {
                let wt = w[t]
                let row = (i + t) * v
                for j in 0..<v { out[i * v + j] += wt * h[row + j] }
            }
        }
        return out
    }

    /// 2x2 average pooling of CHW planes: n -> n/2.
    static func pool(_ x: [Double], channels: Int, size n: Int) -> [Double] {
        let m = n / 2
        var out = [Double](repeating: 0, count: channels * m * m)
        for c in 0..<channels {
            for i in 0..<m {
                for j in 0..<m {
                    let b = c * n * n + 2 * i * n + 2 * j
                    out[c * m * m + i * m + j] = 0.25 * (x[b] + x[b + 1] + x[b + n] + x[b + n + 1])
                }
            }
        }
        return out
    }
}

/// MS-SSIM of corresponding images of two batches (image k of `x` with image k of `y`).
///
/// - Parameters:
///   - x, y: batches of the same count, channels and size.
/// - Returns: one score per pair, 1 for identical images.
/// - Throws: `MetricsError.mismatchedSets` if the batches differ in shape.
/// - Complexity: O(N * C * S * S * 11) per scale.
public func multiScaleSSIM(_ x: ImageBatch, _ y: ImageBatch) throws -> [Double] {
    guard x.count == y.count, x.channels == y.channels, x.size == y.size else {
        throw MetricsError.mismatchedSets(
            "MS-SSIM needs batches of the same shape, got \(x.count)x\(x.channels)x\(x.size)^2 and "
            + "\(y.count)x\(y.channels)x\(y.size)^2")
    }
    return (0..<x.count).map { k in
        x.withImage(k) { a in y.withImage(k) { b in MSSSIM.score(a, b, channels: x.channels, size: x.size) } }
    }
}

/// Average MS-SSIM over random pairs of distinct images of one batch: the paper's measure of
/// variation (the lower, the more varied the images).
///
/// - Parameters:
///   - images: at least 2 images.
///   - pairs: number of random pairs (at least 1); pair k is `MSSSIM.pair(k, imageCount:seed:)`.
///   - seed: seed of the pair draws.
/// - Throws: `MetricsError.invalidArgument` for fewer than 2 images or fewer than 1 pair.
/// - Complexity: O(pairs * C * S * S * 11) per scale.
public func averageMSSSIM(images: ImageBatch, pairs: Int, seed: UInt64) throws -> Double {
    guard images.count >= 2 else {
        throw MetricsError.invalidArgument("MS-SSIM pairs need at least 2 images, got \(images.count)")
    }
    guard pairs >= 1 else {
        throw MetricsError.invalidArgument("MS-SSIM needs at least 1 pair, got \(pairs)")
    }
    var sum = 0.0
    for k in 0..<pairs {
        let (i, j) = MSSSIM.pair(k, imageCount: images.count, seed: seed)
        sum += images.withImage(i) { a in
            images.withImage(j) { b in MSSSIM.score(a, b, channels: images.channels, size: images.size) }
        }
    }
    return sum / Double(pairs)
}

