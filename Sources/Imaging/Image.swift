/// An 8-bit image held in memory: `height` rows of `width` pixels of `channels` interleaved
/// samples (HWC order), top row first.
///
/// Channels: 1 = gray, 3 = RGB, 4 = RGBA (straight, not premultiplied, alpha). Pixel `(x, y)`,
/// channel `c` is `pixels[(y * width + x) * channels + c]`.
public struct Image: Equatable, Sendable {
    /// Pixels per row.
    public let width: Int
    /// Number of rows.
    public let height: Int
    /// Samples per pixel: 1, 3 or 4.
    public let channels: Int
    /// `height * width * channels` samples, interleaved.
    public private(set) var pixels: [UInt8]

    /// Wraps `pixels` (HWC, interleaved) as an image.
    ///
    /// - Precondition: `width, height >= 0`, `channels` is 1, 3 or 4, and
    ///   `pixels.count == width * height * channels`.
    public init(width: Int, height: Int, channels: Int, pixels: [UInt8]) {
        require(width >= 0 && height >= 0, "Image: negative size \(width) x \(height)")
        require([1, 3, 4].contains(channels), "Image: channels must be 1, 3 or 4, not \(channels)")
        require(pixels.count == width * height * channels,
                     "Image: \(pixels.count) samples for \(width) x \(height) x \(channels)")
        self.width = width
        self.height = height
        self.channels = channels
        self.pixels = pixels
    }

    /// An image of the given size with every sample set to `value`.
    public init(width: Int, height: Int, channels: Int, value: UInt8 = 0) {
        self.init(width: width, height: height, channels: channels,
                  pixels: [UInt8](repeating: value, count: width * height * channels))
    }

    /// Sample `c` of the pixel in column `x`, row `y`.
    public subscript(x: Int, y: Int, c: Int) -> UInt8 {
        get { pixels[(y * width + x) * channels + c] }
        set { pixels[(y * width + x) * channels + c] = newValue }
    }
}

// MARK: - Channel conversions

extension Image {
    /// This image as one gray channel: ITU-R BT.601 luma, Y = 0.299 R + 0.587 G + 0.114 B,
    /// rounded; RGBA is first composited over black (see `toRGB()`). Gray images are returned as
    /// they are.
    public func toGrayscale() -> Image {
        switch channels {
        case 1:
            return self
        case 3:
            var out = [UInt8](repeating: 0, count: width * height)
            for i in 0..<out.count {
                out[i] = Image.luma(pixels[3 * i], pixels[3 * i + 1], pixels[3 * i + 2])
            }
            return Image(width: width, height: height, channels: 1, pixels: out)
        default:
            return toRGB().toGrayscale()
        }
    }

    /// This image as three RGB channels. Gray is copied to R, G and B.
    ///
    /// Alpha is removed by compositing over black (`c * a / 255`, rounded): training data has no
    /// notion of transparency, and a fixed black background (-1 in the networks' range) turns
    /// every transparent area into the same value, whatever colour its hidden pixels held.
    public func toRGB() -> Image {
        switch channels {
        case 3:
            return self
        case 1:
            var out = [UInt8](repeating: 0, count: width * height * 3)
            for i in 0..<width * height {
                let v = pixels[i]
                out[3 * i] = v
                out[3 * i + 1] = v
                out[3 * i + 2] = v
            }
            return Image(width: width, height: height, channels: 3, pixels: out)
        default:
            var out = [UInt8](repeating: 0, count: width * height * 3)
            for i in 0..<width * height {
                let a = Int(pixels[4 * i + 3])
                for c in 0..<3 {
                    // round(v * a / 255) without floating point: floor((2 v a + 255) / 510).
                    out[3 * i + c] = UInt8((2 * Int(pixels[4 * i + c]) * a + 255) / 510)
                }
            }
            return Image(width: width, height: height, channels: 3, pixels: out)
        }
    }

    /// This image with `channels` channels (1 or 3; 4 adds an opaque alpha channel), using
    /// `toGrayscale()` and `toRGB()`.
    ///
    /// - Precondition: `channels` is 1, 3 or 4.
    public func converted(toChannels channels: Int) -> Image {
        switch channels {
        case 1: return toGrayscale()
        case 3: return toRGB()
        case 4:
            if self.channels == 4 { return self }
            let rgb = toRGB()
            var out = [UInt8](repeating: 255, count: width * height * 4)
            for i in 0..<width * height {
                out[4 * i] = rgb.pixels[3 * i]
                out[4 * i + 1] = rgb.pixels[3 * i + 1]
                out[4 * i + 2] = rgb.pixels[3 * i + 2]
            }
            return Image(width: width, height: height, channels: 4, pixels: out)
        default:
            fatalError("Image.converted: channels must be 1, 3 or 4, not \(channels)")
        }
    }

    /// BT.601 luma in integer arithmetic, rounded half up; gray (r = g = b) maps to itself.
    static func luma(_ r: UInt8, _ g: UInt8, _ b: UInt8) -> UInt8 {
        let weighted: Int = 299 * Int(r) + 587 * Int(g) + 114 * Int(b)
        return UInt8((weighted + 500) / 1000)
    }
}
