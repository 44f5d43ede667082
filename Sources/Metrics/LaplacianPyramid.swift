// Shape letters: C channels, S = height = width of a level. Levels are CHW, finest first.

/// The Laplacian pyramid of one image, from full resolution down to a coarsest size (16x16 for SWD).
///
/// Construction follows Burt & Adelson as the ProGAN paper uses it for SWD:
/// - Gaussian level k+1 = every second pixel (rows and columns 0, 2, 4, ...) of Gaussian level k
///   filtered with the separable 5x5 binomial filter `[1, 4, 6, 4, 1] / 16`.
/// - upsample(x) = x with zeros inserted after every pixel (x at even positions), filtered with
///   the same binomial filter times 4.
/// - Laplacian level k = Gaussian level k - upsample(Gaussian level k+1); the coarsest level is the
///   Gaussian level itself, so `collapse()` reconstructs the image exactly (up to rounding).
///
/// Padding is **mirror** (reflection about the edge pixel, which is not repeated:
/// `x[-1] = x[1]`, `x[n] = x[n-2]`; scipy.ndimage's `mode="mirror"`). For the upsampling it is
/// applied to the zero-inserted image. With this padding a constant image has all-zero Laplacian
/// levels, so a brightness change shows only in the coarsest level.
public struct LaplacianPyramid: Sendable {
    /// Channels C of every level.
    public let channels: Int
    /// Level sizes, finest first: S, S/2, ..., coarsest.
    public let sizes: [Int]
    /// Level data, CHW each, finest first; the last entry is the coarsest Gaussian level.
    public let levels: [[Float]]

    /// Builds the pyramid of one image.
    ///
    /// - Parameters:
    ///   - image: C*S*S values, CHW.
    ///   - channels: C.
    ///   - size: S, a power of two at least `coarsestSize`.
    ///   - coarsestSize: size of the last level (16 for SWD); a power of two at least 8.
    /// - Throws: `MetricsError.invalidImages` if the sizes do not fit.
    /// - Complexity: O(C*S*S).
    public init(image: [Float], channels: Int, size: Int, coarsestSize: Int = 16) throws {
        guard channels >= 1, image.count == channels * size * size else {
            throw MetricsError.invalidImages(
                "image of \(channels)x\(size)x\(size) needs \(channels * size * size) values, got \(image.count)")
        }
        guard coarsestSize >= 8, coarsestSize & (coarsestSize - 1) == 0 else {
            throw MetricsError.invalidArgument("coarsest pyramid size must be a power of two >= 8, got \(coarsestSize)")
        }
        guard size >= coarsestSize, size & (size - 1) == 0 else {
            throw MetricsError.invalidImages(
                "pyramid needs a power-of-two size >= \(coarsestSize), got \(size)")
        }
        self = image.withUnsafeBufferPointer {
            LaplacianPyramid(unchecked: $0, channels: channels, size: size, coarsestSize: coarsestSize)
        }
    }

    /// Builds the pyramid without validation (callers have checked the shape).
    init(unchecked image: UnsafeBufferPointer<Float>, channels: Int, size: Int, coarsestSize: Int) {
        var sizes = [size]
        var levels: [[Float]] = []
        var gaussian = Array(image)
        var s = size
        while s > coarsestSize {
            let next = Binomial.downsample(gaussian, channels: channels, size: s)
            let up = Binomial.upsample(next, channels: channels, size: s / 2)
            for i in 0..<gaussian.count { gaussian[i] -= up[i] }
            levels.append(gaussian)
            gaussian = next
            s /= 2
            sizes.append(s)
        }
        levels.append(gaussian)
        self.channels = channels
        self.sizes = sizes
        self.levels = levels
    }

    /// Reconstructs the image: G_last = L_last, G_k = L_k + upsample(G_{k+1}).
    ///
    /// - Returns: C*S*S values, CHW, equal to the input image up to float rounding.
    /// - Complexity: O(C*S*S).
    public func collapse() -> [Float] {
        var image = levels[levels.count - 1]
        for k in stride(from: levels.count - 2, through: 0, by: -1) {
            var up = Binomial.upsample(image, channels: channels, size: sizes[k + 1])
            let band = levels[k]
            for i in 0..<up.count { up[i] += band[i] }
            image = up
        }
        return image
    }
}

/// The 5-tap binomial filter with mirror padding, applied separably to CHW planes.
enum Binomial {
    /// `[1, 4, 6, 4, 1] / 16`: a 1D pass; the 2D filter is the outer product.
    static let taps: [Float] = [1 / 16, 4 / 16, 6 / 16, 4 / 16, 1 / 16]

    /// Mirror index for reflection about the edge sample (edge not repeated); valid for
    /// overhangs shorter than n.
    @inline(__always)
    static func mirror(_ i: Int, _ n: Int) -> Int {
        if i < 0 { return -i }
        if i >= n { return 2 * (n - 1) - i }
        return i
    }

    /// Filters each CHW plane (S x S) with the 2D binomial filter times `gain`, keeping every
    /// `step`-th row and column (step 1: full size, step 2: downsampling).
    static func filter(_ src: UnsafeBufferPointer<Float>, channels: Int, size n: Int,
                       step: Int, gain: Float) -> [Float] {
        let m = n / step
        let plane = n * n
        let t0 = taps[0], t1 = taps[1], t2 = taps[2], t3 = taps[3], t4 = taps[4]
        var rows = [Float](repeating: 0, count: n * m)   // horizontally filtered: n rows x m columns
        var out = [Float](repeating: 0, count: channels * m * m)
        rows.withUnsafeMutableBufferPointer { h in
            out.withUnsafeMutableBufferPointer { o in
                for c in 0..<channels {
                    let p = c * plane
                    // Horizontal pass: n rows, m output columns (only the kept ones are computed).
                    for y in 0..<n {
                        let row = p + y * n
                        let hrow = y * m
                        for j in 0..<m {
                            let x = j * step
                            if x >= 2 && x + 2 < n {
                                h[hrow + j] = t0 * src[row + x - 2] + t1 * src[row + x - 1] + t2 * src[row + x]
                                    + t3 * src[row + x + 1] + t4 * src[row + x + 2]
                            } else {
                                h[hrow + j] = t0 * src[row + mirror(x - 2, n)] + t1 * src[row + mirror(x - 1, n)]
                                    + t2 * src[row + x] + t3 * src[row + mirror(x + 1, n)]
                                    + t4 * src[row + mirror(x + 2, n)]
                            }
                        }
                    }
                    // Vertical pass: each kept row is a weighted sum of 5 filtered rows; the gain
                    // (4 for upsampling) is applied once here.
                    let op = c * m * m
                    for i in 0..<m {
                        let y = i * step
                        let r0 = mirror(y - 2, n) * m, r1 = mirror(y - 1, n) * m, r2 = y * m
                        let r3 = mirror(y + 1, n) * m, r4 = mirror(y + 2, n) * m
                        let orow = op + i * m
                        for j in 0..<m {
                            o[orow + j] = gain * (t0 * h[r0 + j] + t1 * h[r1 + j] + t2 * h[r2 + j]
                                                  + t3 * h[r3 + j] + t4 * h[r4 + j])
                        }
                    }
                }
            }
        }
        return out
    }

    /// Gaussian pyramid step: binomial filter, then keep even rows and columns. S -> S/2.
    static func downsample(_ x: [Float], channels: Int, size: Int) -> [Float] {
        x.withUnsafeBufferPointer { filter($0, channels: channels, size: size, step: 2, gain: 1) }
    }

    /// Zero-insertion upsampling filtered with 4x the binomial filter. S -> 2S.
    static func upsample(_ x: [Float], channels: Int, size: Int) -> [Float] {
        let n = 2 * size
        var z = [Float](repeating: 0, count: channels * n * n)
        x.withUnsafeBufferPointer { src in
            z.withUnsafeMutableBufferPointer { dst in
                for c in 0..<channels {
                    for i in 0..<size {
                        for j in 0..<size {
                            dst[c * n * n + (2 * i) * n + 2 * j] = src[c * size * size + i * size + j]
                        }
                    }
                }
            }
        }
        return z.withUnsafeBufferPointer { filter($0, channels: channels, size: n, step: 1, gain: 4) }
    }
}
