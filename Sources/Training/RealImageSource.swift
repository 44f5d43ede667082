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
