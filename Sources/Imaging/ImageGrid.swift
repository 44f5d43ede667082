/// Lays out a batch of generated images as one picture: tiles in rows and columns, separated by
/// a gap, small images enlarged by an integer nearest-neighbour factor.
///
/// Samples are float NCHW in [-1, 1] (the generator's range), C = 1 (gray) or 3 (RGB). Each is
/// clipped to [-1, 1] and mapped to `round(x * 127.5 + 127.5)`; NaN becomes 0, so that a
/// diverged run still writes a (black) grid instead of trapping.
public struct ImageGrid: Sendable {
    /// Fixed number of columns, or nil to derive it (see `layout(count:)`).
    public var columns: Int?
    /// Fixed number of rows, or nil to derive it.
    public var rows: Int?
    /// Pixels between neighbouring tiles (not around the border).
    public var gap: Int
    /// Tiles are enlarged by the smallest integer factor that makes both sides at least this.
    public var minimumTileSize: Int
    /// The value of gap pixels and of empty cells, in every channel. White by default so that
    /// tiles stay apart on the dark backgrounds of most datasets.
    public var background: UInt8

    /// A grid layout.
    ///
    /// - Parameters:
    ///   - columns: columns, or nil for ceil(sqrt(N)) (or ceil(N / rows) when `rows` is given).
    ///   - rows: rows, or nil for as many as the images need.
    ///   - gap: pixels between tiles, 0 or more.
    ///   - minimumTileSize: enlarge tiles by an integer factor to at least this many pixels a side;
    ///     1 keeps them as they are.
    ///   - background: the gap and empty-cell value.
    public init(columns: Int? = nil, rows: Int? = nil, gap: Int = 2, minimumTileSize: Int = 64,
                background: UInt8 = 255) {
        require(columns.map { $0 > 0 } ?? true, "ImageGrid: columns must be positive")
        require(rows.map { $0 > 0 } ?? true, "ImageGrid: rows must be positive")
        require(gap >= 0, "ImageGrid: gap must not be negative")
        self.columns = columns
        self.rows = rows
        self.gap = gap
        self.minimumTileSize = minimumTileSize
        self.background = background
    }

    /// Rows and columns for `count` images: the configured ones, else a near-square grid with
    /// ceil(sqrt(count)) columns and as many rows as needed.
    ///
    /// - Precondition: when both are fixed, `rows * columns >= count`.
    public func layout(count: Int) -> (rows: Int, columns: Int) {
        let n = max(count, 1)
        let cols: Int
        switch (rows, columns) {
        case (_, let c?): cols = c
        case (let r?, nil): cols = (n + r - 1) / r
        case (nil, nil):
            var c = Int(Double(n).squareRoot())
            while c * c < n { c += 1 }
            cols = c
        }
        let r = rows ?? (n + cols - 1) / cols
        require(r * cols >= count, "ImageGrid: \(count) images do not fit in \(r) x \(cols)")
        return (r, cols)
    }

    /// The integer enlargement for tiles of `height` x `width` (at least 1).
    public func scale(height: Int, width: Int) -> Int {
        let side = max(min(height, width), 1)
        return max(1, (minimumTileSize + side - 1) / side)
    }

    /// Renders a batch as one image (1 channel for gray batches, 3 for RGB).
    ///
    /// - Parameters:
    ///   - batch: N * C * H * W floats, NCHW order, nominally in [-1, 1].
    ///   - count: N, the number of images.
    ///   - channels: C, 1 or 3.
    ///   - height: H.
    ///   - width: W.
    /// - Precondition: `batch.count == count * channels * height * width`, C is 1 or 3, and the
    ///   images fit the configured rows and columns.
    public func render<Floats: RandomAccessCollection>(_ batch: Floats, count: Int, channels: Int,
                                                       height: Int, width: Int) -> Image
    where Floats.Element == Float {
        require(channels == 1 || channels == 3, "ImageGrid: channels must be 1 or 3, not \(channels)")
        require(count >= 0 && height > 0 && width > 0, "ImageGrid: bad shape \(count) x \(height) x \(width)")
        require(batch.count == count * channels * height * width,
                     "ImageGrid: \(batch.count) values for shape [\(count), \(channels), \(height), \(width)]")
        let (rows, cols) = layout(count: count)
        let k = scale(height: height, width: width)
        let tileH = height * k, tileW = width * k
        let outW = cols * tileW + (cols - 1) * gap
        let outH = rows * tileH + (rows - 1) * gap
        var grid = Image(width: outW, height: outH, channels: channels, value: background)

        let values = Array(batch)
        let plane = height * width
        for n in 0..<count {
            let left = (n % cols) * (tileW + gap)
            let top = (n / cols) * (tileH + gap)
            for y in 0..<tileH {
                for x in 0..<tileW {
                    let src = (y / k) * width + x / k
                    for c in 0..<channels {
                        grid[left + x, top + y, c] = ImageGrid.byte(values[(n * channels + c) * plane + src])
                    }
                }
            }
        }
        return grid
    }

    /// Renders a batch (see `render(_:count:channels:height:width:)`) and writes it as a PNG.
    ///
    /// - Throws: `ImageError` if the PNG cannot be encoded or written.
    public func write<Floats: RandomAccessCollection>(_ batch: Floats, count: Int, channels: Int,
                                                      height: Int, width: Int, to path: String) throws
    where Floats.Element == Float {
        try PNGCodec.write(render(batch, count: count, channels: channels, height: height, width: width),
                           to: path)
    }

    /// One sample in [-1, 1] as a byte: clip, then round(x * 127.5 + 127.5).
    public static func byte(_ x: Float) -> UInt8 {
        if x.isNaN { return 0 }
        let clipped = min(max(x, -1), 1)
        return UInt8((clipped * 127.5 + 127.5).rounded())
    }
}
