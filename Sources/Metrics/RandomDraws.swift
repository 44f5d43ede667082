import TensorKit

/// Where every random draw of the metrics comes from: `CounterRNG` streams and index layouts.
///
/// Each draw is a pure function of (seed, stream, index), with the *global* image index in the
/// index, so results do not depend on how images are split into batches or MPI ranks. The layout
/// is part of the contract: `Benchmarks/metrics_reference.py` reproduces it to check the math
/// with identical draws.
///
/// - Patch corners (SWD): stream `patchStream + level` (level 0 = full resolution), index
///   `(image * 128 + patch) * 2 + axis` (axis 0 = row, 1 = column), value
///   `below(levelSize - 6)` (the top-left corner of a 7x7 patch lying inside the level).
/// - Projection directions (SWD): stream `directionStream + level`, index
///   `(repeat * 128 + direction) * D + d` for `normal(...)`, each direction then scaled to unit norm.
/// - MS-SSIM pairs: stream `pairStream`; pair k draws `i = below(N, 2k)`, `j = below(N - 1, 2k + 1)`,
///   and `j += 1` when `j >= i`, so the two images always differ.
enum RandomDraws {
    static let patchStream: UInt64 = 0x5357_4450_0000_0000      // "SWDP"
    static let directionStream: UInt64 = 0x5357_4444_0000_0000  // "SWDD"
    static let pairStream: UInt64 = 0x4D53_5353_0000_0000       // "MSSS"

    /// Top-left corner (row, column) of patch `patch` of global image `image` at `level`.
    @inline(__always)
    static func patchCorner(_ rng: CounterRNG, level: Int, image: Int, patch: Int,
                            patchesPerImage: Int, range: Int) -> (Int, Int) {
        let stream = patchStream &+ UInt64(level)
        let base = (UInt64(image) &* UInt64(patchesPerImage) &+ UInt64(patch)) &* 2
        return (rng.below(range, stream: stream, index: base),
                rng.below(range, stream: stream, index: base &+ 1))
    }

    /// `count` unit-norm directions of dimension `dimension`, row-major `count x dimension`,
    /// for one repeat of one level.
    static func directions(_ rng: CounterRNG, level: Int, repeat r: Int, count: Int, dimension: Int) -> [Float] {
        let stream = directionStream &+ UInt64(level)
        var dirs = [Float](repeating: 0, count: count * dimension)
        for k in 0..<count {
            let base = UInt64(r * count + k) &* UInt64(dimension)
            var norm2 = 0.0
            for d in 0..<dimension {
                let v = rng.normal(stream: stream, index: base &+ UInt64(d))
                dirs[k * dimension + d] = v
                norm2 += Double(v) * Double(v)
            }
            // A zero vector has probability ~0; keep it zero rather than divide by zero.
            let scale = norm2 > 0 ? Float(1 / norm2.squareRoot()) : 0
            for d in 0..<dimension { dirs[k * dimension + d] *= scale }
        }
        return dirs
    }

    /// The two distinct image indices of MS-SSIM pair `k` among `imageCount` (>= 2) images.
    static func pair(_ rng: CounterRNG, k: Int, imageCount: Int) -> (Int, Int) {
        let i = rng.below(imageCount, stream: pairStream, index: UInt64(2 * k))
        var j = rng.below(imageCount - 1, stream: pairStream, index: UInt64(2 * k + 1))
        if j >= i { j += 1 }
        return (i, j)
    }
}
