import TensorKit

/// Real training images by dataset index, at a given resolution, as Float NCHW in [-1, 1].
public protocol RealImageSource: AnyObject {
    /// Number of images.
    var count: Int { get }
    /// Image channels (1 or 3).
    var channels: Int { get }
    /// Largest resolution available.
    var resolution: Int { get }
    /// Images `indices` at `resolution`, [indices.count, channels, resolution, resolution].
    func images(_ indices: [Int], resolution: Int) throws -> Tensor
    /// Number of classes of the images' labels; 0 for unlabelled images.
    var classCount: Int { get }
    /// The class labels (in 0..<classCount) of images `indices`.
    func labels(_ indices: [Int]) throws -> [Int]
}

extension RealImageSource {
    /// Unlabelled by default.
    public var classCount: Int { 0 }

    /// Unlabelled by default: throws.
    public func labels(_ indices: [Int]) throws -> [Int] {
        throw InputError("the images have no labels: conditional training needs a dataset with labels")
    }

    /// Labels that follow the dataset's label distribution: for each key, the label of the image
    /// at index `rng.below(count)` drawn from `stream` at that key, so the labels are a pure
    /// function of (seed, stream, key) and any split of the keys over ranks draws the same ones.
    public func drawnLabels(rng: CounterRNG, stream: UInt64, keys: [UInt64]) throws -> [Int] {
        try labels(keys.map { rng.below(count, stream: stream, index: $0) })
    }
}

extension Tensor {
    /// Mirrors sample `n` left-right in place.
    public mutating func mirrorSample(_ n: Int) {
        let (c, h, w) = (shape[1], shape[2], shape[3])
        data.withUnsafeMutableBufferPointer { p in
            for plane in 0..<c {
                let base = (n * c + plane) * h * w
                for y in 0..<h {
                    var (a, b) = (base + y * w, base + y * w + w - 1)
                    while a < b { p.swapAt(a, b); a += 1; b -= 1 }
                }
            }
        }
    }
}
