import TensorKit

// Shape letters used throughout the module: N images, C channels, H = W = S pixels (square).

/// A batch of square images, float NCHW in [-1, 1], as the metrics consume them.
///
/// Valid batches have 1 or 3 channels and a power-of-two size from 16 to 1024. Pixel values
/// are not range-checked (that would cost a pass over the data); values outside [-1, 1] are
/// used as they are.
public struct ImageBatch: Sendable {
    /// Smallest accepted image size: the SWD pyramid stops at 16x16.
    public static let minSize = 16
    /// Largest accepted image size (the paper's largest resolution).
    public static let maxSize = 1024

    /// Number of images N.
    public let count: Int
    /// Channels per image C (1 or 3).
    public let channels: Int
    /// Height and width S.
    public let size: Int
    /// N*C*S*S values, NCHW.
    public let pixels: [Float]

    /// Wraps float NCHW pixels in [-1, 1].
    ///
    /// - Parameters:
    ///   - pixels: `count * channels * height * width` values, NCHW.
    ///   - count, channels, height, width: the shape.
    /// - Throws: `MetricsError.invalidImages` if the shape is not square, not a power of two in
    ///   16...1024, has other than 1 or 3 channels, or disagrees with `pixels.count`.
    public init(pixels: [Float], count: Int, channels: Int, height: Int, width: Int) throws {
        try ImageBatch.validate(count: count, channels: channels, height: height, width: width,
                                valueCount: pixels.count)
        self.count = count
        self.channels = channels
        self.size = height
        self.pixels = pixels
    }

    /// Wraps a float NCHW tensor in [-1, 1], e.g. generator output or a batch of real images.
    ///
    /// - Throws: `MetricsError.invalidImages` if the tensor is not rank 4 or its shape is not one
    ///   the metrics accept (see `init(pixels:count:channels:height:width:)`).
    public init(_ images: Tensor) throws {
        guard images.rank == 4 else {
            throw MetricsError.invalidImages("expected an NCHW tensor of rank 4, got shape \(images.shape)")
        }
        let s = images.shape
        try self.init(pixels: images.data, count: s[0], channels: s[1], height: s[2], width: s[3])
    }

    /// Converts uint8 NCHW pixels to floats in [-1, 1] by `x / 127.5 - 1`.
    ///
    /// - Parameters: as `init(pixels:count:channels:height:width:)`.
    /// - Throws: `MetricsError.invalidImages` for a shape the metrics do not accept.
    /// - Complexity: O(N*C*S*S).
    public init(uint8 pixels: [UInt8], count: Int, channels: Int, height: Int, width: Int) throws {
        try ImageBatch.validate(count: count, channels: channels, height: height, width: width,
                                valueCount: pixels.count)
        self.count = count
        self.channels = channels
        self.size = height
        self.pixels = pixels.map { Float($0) / 127.5 - 1 }
    }

    /// Number of values in one image, C*S*S.
    public var imageLength: Int { channels * size * size }

    /// The pixels of image `index` (CHW), without copying the batch.
    func withImage<R>(_ index: Int, _ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        require(index >= 0 && index < count, "ImageBatch: image index out of range")
        return try pixels.withUnsafeBufferPointer { all in
            try body(UnsafeBufferPointer(rebasing: all[(index * imageLength)..<((index + 1) * imageLength)]))
        }
    }

    static func validate(count: Int, channels: Int, height: Int, width: Int, valueCount: Int) throws {
        guard count >= 1 else {
            throw MetricsError.invalidImages("count must be at least 1, got \(count)")
        }
        guard channels == 1 || channels == 3 else {
            throw MetricsError.invalidImages("channels must be 1 or 3, got \(channels)")
        }
        guard height == width else {
            throw MetricsError.invalidImages("images must be square, got \(height)x\(width)")
        }
        guard height >= minSize else {
            throw MetricsError.invalidImages("images must be at least \(minSize)x\(minSize), got \(height)x\(width)")
        }
        guard height <= maxSize, height & (height - 1) == 0 else {
            throw MetricsError.invalidImages(
                "image size must be a power of two from \(minSize) to \(maxSize), got \(height)")
        }
        let expected = count * channels * height * width
        guard valueCount == expected else {
            throw MetricsError.invalidImages(
                "\(count)x\(channels)x\(height)x\(width) needs \(expected) values, got \(valueCount)")
        }
    }
}
