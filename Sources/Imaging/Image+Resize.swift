// Geometry: crops, resizing and the 2x box downsample used for the per-resolution datasets.

extension Image {
    /// The `width` x `height` region whose top-left pixel is `(x, y)`.
    ///
    /// - Precondition: the region lies inside the image.
    public func cropped(x: Int, y: Int, width: Int, height: Int) -> Image {
        require(x >= 0 && y >= 0 && width >= 0 && height >= 0
                     && x + width <= self.width && y + height <= self.height,
                     "Image.cropped: region (\(x), \(y)) \(width) x \(height) outside \(self.width) x \(self.height)")
        var out = [UInt8]()
        out.reserveCapacity(width * height * channels)
        for row in y..<(y + height) {
            let start = (row * self.width + x) * channels
            out.append(contentsOf: pixels[start..<(start + width * channels)])
        }
        return Image(width: width, height: height, channels: channels, pixels: out)
    }

    /// The largest centred square: side `min(width, height)`; when the excess is odd the extra
    /// pixel is dropped from the right or bottom.
    public func centerCropped() -> Image {
        let side = min(width, height)
        return cropped(x: (width - side) / 2, y: (height - side) / 2, width: side, height: side)
    }

    /// This image scaled to `width` x `height`, each axis on its own: area averaging along an axis
    /// that shrinks (every source pixel counts by the fraction of it an output pixel covers), and
    /// bilinear interpolation with pixel centres at `i + 0.5` (edges clamped) along an axis that
    /// grows. Results are rounded to the nearest integer.
    ///
    /// - Precondition: `width, height > 0` and the image is not empty.
    public func resized(width: Int, height: Int) -> Image {
        require(width > 0 && height > 0, "Image.resized: target \(width) x \(height)")
        require(self.width > 0 && self.height > 0, "Image.resized: empty image")
        if width == self.width && height == self.height { return self }
        let columns = ResampleTaps(from: self.width, to: width)
        let rows = ResampleTaps(from: self.height, to: height)
        let c = channels

        // Horizontal pass into floats (no rounding in between), then the vertical pass.
        var wide = [Float](repeating: 0, count: self.height * width * c)
        for y in 0..<self.height {
            for ox in 0..<width {
                for t in columns.range(ox) {
                    let src = (y * self.width + columns.index[t]) * c
                    let w = columns.weight[t]
                    for k in 0..<c { wide[(y * width + ox) * c + k] += w * Float(pixels[src + k]) }
                }
            }
        }
        var out = [UInt8](repeating: 0, count: height * width * c)
        var acc = [Float](repeating: 0, count: width * c)
        for oy in 0..<height {
            for i in 0..<acc.count { acc[i] = 0 }
            for t in rows.range(oy) {
                let src = rows.index[t] * width * c
                let w = rows.weight[t]
                for i in 0..<acc.count { acc[i] += w * wide[src + i] }
            }
            for i in 0..<acc.count {
                out[oy * width * c + i] = UInt8(min(max(acc[i].rounded(), 0), 255))
            }
        }
        return Image(width: width, height: height, channels: channels, pixels: out)
    }

    /// This image scaled to `size` x `size` (see `resized(width:height:)`).
    public func resized(to size: Int) -> Image {
        resized(width: size, height: size)
    }

    /// Half the width and height; each output pixel is the mean of a 2x2 block, rounded half up.
    /// This is the average pooling that D applies to real images between resolutions.
    ///
    /// - Precondition: width and height are even.
    public func downsampled2x() -> Image {
        require(width % 2 == 0 && height % 2 == 0,
                     "Image.downsampled2x: size \(width) x \(height) is not even")
        let w = width / 2, h = height / 2, c = channels
        var out = [UInt8](repeating: 0, count: w * h * c)
        for y in 0..<h {
            for x in 0..<w {
                for k in 0..<c {
                    let sum = Int(self[2 * x, 2 * y, k]) + Int(self[2 * x + 1, 2 * y, k])
                        + Int(self[2 * x, 2 * y + 1, k]) + Int(self[2 * x + 1, 2 * y + 1, k])
                    out[(y * w + x) * c + k] = UInt8((sum + 2) / 4)
                }
            }
        }
        return Image(width: w, height: h, channels: c, pixels: out)
    }

    /// The image prepared for a dataset: centre square crop, `channels` channels (1 or 3, via
    /// `converted(toChannels:)`), then `size` x `size` (see `resized(width:height:)`).
    ///
    /// Channels are converted before resizing so that alpha is composited per source pixel (the
    /// correct order for averaging) and after cropping so that discarded pixels cost nothing.
    ///
    /// - Precondition: `size > 0`, `channels` is 1 or 3, the image is not empty.
    public func prepared(size: Int, channels: Int) -> Image {
        require(channels == 1 || channels == 3, "Image.prepared: channels must be 1 or 3")
        return centerCropped().converted(toChannels: channels).resized(to: size)
    }
}

/// For each output index along one axis, the source indices and weights that make it up
/// (flattened: output `i` uses taps `start[i] ..< start[i + 1]`).
struct ResampleTaps {
    var start: [Int] = [0]
    var index: [Int] = []
    var weight: [Float] = []

    init(from n: Int, to m: Int) {
        let scale = Double(n) / Double(m)
        for i in 0..<m {
            if m == n {
                add(i, 1)
            } else if m < n {
                // Area: output i covers source interval [i * scale, (i + 1) * scale).
                let lo = Double(i) * scale, hi = Double(i + 1) * scale
                var j = Int(lo.rounded(.down))
                while Double(j) < hi && j < n {
                    let overlap = min(hi, Double(j + 1)) - max(lo, Double(j))
                    if overlap > 0 { add(j, overlap / scale) }
                    j += 1
                }
            } else {
                // Bilinear, half-pixel centres: output centre i + 0.5 sits at source (i + 0.5) * scale.
                let s = min(max((Double(i) + 0.5) * scale - 0.5, 0), Double(n - 1))
                let j0 = Int(s.rounded(.down))
                let t = s - Double(j0)
                add(j0, 1 - t)
                if t > 0 { add(j0 + 1, t) }
            }
            start.append(index.count)
        }
    }

    private mutating func add(_ j: Int, _ w: Double) {
        index.append(j)
        weight.append(Float(w))
    }

    func range(_ i: Int) -> Range<Int> { start[i]..<start[i + 1] }
}
