import TensorKit

/// Real images held in memory at full resolution (uint8 NCHW), downscaled per request by 2x2
/// average pooling (as the dataset file's lower levels are made). For tests, synthetic benchmark
/// data, and small datasets.
public final class InMemoryImages: RealImageSource {
    public let count: Int
    public let channels: Int
    public let resolution: Int
    let pixels: [UInt8]
    /// Class labels, one an image, or empty.
    public let imageLabels: [Int]
    public let classCount: Int

    /// - Parameters:
    ///   - pixels: `count * channels * resolution^2` bytes, NCHW.
    ///   - labels: empty, or one label in 0..<classes an image.
    public init(pixels: [UInt8], count: Int, channels: Int, resolution: Int, labels: [Int] = [], classes: Int = 0) {
        require(pixels.count == count * channels * resolution * resolution, "InMemoryImages: size mismatch")
        require(labels.isEmpty ? classes == 0 : labels.count == count && labels.allSatisfy { (0..<classes).contains($0) },
                     "InMemoryImages: labels must be one in 0..<classes an image")
        self.pixels = pixels
        imageLabels = labels
        classCount = classes
        self.count = count
        self.channels = channels
        self.resolution = resolution
    }

    /// Smooth random images (sums of a few random sinusoids), deterministic in `seed`.
    public static func synthetic(count: Int, channels: Int, resolution: Int, seed: UInt64) -> InMemoryImages {
        let rng = CounterRNG(seed: seed)
        var px = [UInt8](repeating: 0, count: count * channels * resolution * resolution)
        for n in 0..<count {
            let fx = 1 + 3 * rng.uniform(stream: 90, index: UInt64(n)), fy = 1 + 3 * rng.uniform(stream: 91, index: UInt64(n))
            let ph = 6.28 * rng.uniform(stream: 92, index: UInt64(n))
            for c in 0..<channels {
                for y in 0..<resolution {
                    for x in 0..<resolution {
                        let u = Float(x) / Float(resolution), v = Float(y) / Float(resolution)
                        let s = _sin(6.28 * fx * u + ph + Float(c)) * _cos(6.28 * fy * v)
                        px[((n * channels + c) * resolution + y) * resolution + x] = UInt8(max(0, min(255, 127.5 + 120 * s)))
                    }
                }
            }
        }
        return InMemoryImages(pixels: px, count: count, channels: channels, resolution: resolution)
    }

    public func labels(_ indices: [Int]) throws -> [Int] {
        guard classCount > 0 else { throw InputError("the images have no labels: conditional training needs labelled images") }
        return indices.map { imageLabels[$0] }
    }

    public func images(_ indices: [Int], resolution r: Int) throws -> Tensor {
        let plane = resolution * resolution * channels
        var data = [Float](repeating: 0, count: indices.count * plane)
        for (i, idx) in indices.enumerated() {
            for j in 0..<plane { data[i * plane + j] = Float(pixels[idx * plane + j]) / 127.5 - 1 }
        }
        var t = Tensor(shape: [indices.count, channels, resolution, resolution], data: data)
        var s = resolution
        while s > r { t = t.avgPooled2x(); s /= 2 }
        return t
    }
}

#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif
@inline(__always) func _sin(_ x: Float) -> Float { sinf(x) }
@inline(__always) func _cos(_ x: Float) -> Float { cosf(x) }
