import Foundation

/// A line chart drawn into an RGB image without fonts: axes with "nice" ticks (1, 2 or 5 times a
/// power of ten) labelled by a built-in 3x5 bitmap of digits and a few letters, light grid lines,
/// one colored line with square markers a series, a legend of color swatches with numeric labels
/// (e.g. a resolution), and short axis titles. Enough to see a metric against training progress
/// at a glance.
public struct LinePlot: Sendable {
    /// One line of the chart.
    public struct Series: Sendable {
        /// Shown next to the series' swatch, in the characters of `LinePlot.glyphs` (others are
        /// left blank).
        public var label: String
        /// The points, joined in order of x.
        public var points: [(x: Double, y: Double)]

        public init(label: String, points: [(x: Double, y: Double)]) {
            self.label = label
            self.points = points
        }
    }

    /// Where data coordinates land in the image.
    public struct Frame: Sendable {
        /// The plot area, in pixels: left and top edges, width and height.
        public let left: Int, top: Int, width: Int, height: Int
        /// The data ranges at the plot area's edges.
        public let xRange: ClosedRange<Double>, yRange: ClosedRange<Double>
        /// Tick values on each axis.
        public let xTicks: [Double], yTicks: [Double]

        /// The pixel (column, row) of a data point.
        public func pixel(x: Double, y: Double) -> (x: Int, y: Int) {
            let u = (x - xRange.lowerBound) / (xRange.upperBound - xRange.lowerBound)
            let v = (y - yRange.lowerBound) / (yRange.upperBound - yRange.lowerBound)
            return (left + Int((u * Double(width - 1)).rounded()), top + height - 1 - Int((v * Double(height - 1)).rounded()))
        }
    }

    /// Series colors, in order (repeating after the last).
    public static let palette: [[UInt8]] = [
        [31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40], [148, 103, 189],
        [140, 86, 75], [227, 119, 194], [127, 127, 127], [188, 189, 34], [23, 190, 207],
    ]
    static let gridGray: UInt8 = 225
    static let glyphScale = 2
    static let advance = 4 * glyphScale

    /// Image size in pixels.
    public var width: Int, height: Int
    /// Axis titles (in the characters of `glyphs`): x below its tick labels, y above the y axis.
    public var xTitle: String, yTitle: String

    public init(width: Int = 640, height: Int = 400, xTitle: String = "", yTitle: String = "") {
        require(width >= 200 && height >= 120, "LinePlot: at least 200 x 120 pixels")
        self.width = width
        self.height = height
        self.xTitle = xTitle
        self.yTitle = yTitle
    }

    /// The color of series `index`.
    public static func color(_ index: Int) -> [UInt8] { palette[index % palette.count] }

    /// The plot area, ranges and ticks for `series`.
    public func frame(for series: [Series]) -> Frame {
        let points = series.flatMap(\.points).filter { $0.x.isFinite && $0.y.isFinite }
        let (xTicks, xRange) = LinePlot.ticks(points.map(\.x))
        let (yTicks, yRange) = LinePlot.ticks(points.map(\.y))
        let yLabelChars = yTicks.map { LinePlot.format($0, step: LinePlot.step(yTicks)).count }.max() ?? 1
        let left = 8 + yLabelChars * LinePlot.advance + 6
        let legendChars = series.map(\.label.count).max() ?? 0
        let legend = series.count > 1 || legendChars > 0 ? 16 + 14 + legendChars * LinePlot.advance : 0
        let lineHeight = 5 * LinePlot.glyphScale
        let top = yTitle.isEmpty ? 12 : 12 + lineHeight + 4
        let bottom = 6 + lineHeight + 12 + (xTitle.isEmpty ? 0 : lineHeight + 6)
        return Frame(left: left, top: top, width: width - left - 14 - legend, height: height - top - bottom,
                     xRange: xRange, yRange: yRange, xTicks: xTicks, yTicks: yTicks)
    }

    /// Draws the chart.
    public func render(_ series: [Series]) -> Image {
        var image = Image(width: width, height: height, channels: 3, value: 255)
        let f = frame(for: series)
        let black: [UInt8] = [0, 0, 0], gray = [UInt8](repeating: LinePlot.gridGray, count: 3)
        let (xStep, yStep) = (LinePlot.step(f.xTicks), LinePlot.step(f.yTicks))
        for t in f.yTicks {
            let y = f.pixel(x: f.xRange.lowerBound, y: t).y
            for x in f.left..<(f.left + f.width) { LinePlot.set(&image, x, y, gray) }
            for x in (f.left - 5)..<f.left { LinePlot.set(&image, x, y, black) }
            let text = LinePlot.format(t, step: yStep)
            LinePlot.draw(text, into: &image, x: f.left - 8 - text.count * LinePlot.advance, y: y - 5, color: black)
        }
        for t in f.xTicks {
            let x = f.pixel(x: t, y: f.yRange.lowerBound).x
            for y in f.top..<(f.top + f.height) { LinePlot.set(&image, x, y, gray) }
            for y in (f.top + f.height)..<(f.top + f.height + 5) { LinePlot.set(&image, x, y, black) }
            let text = LinePlot.format(t, step: xStep)
            LinePlot.draw(text, into: &image, x: x - text.count * LinePlot.advance / 2, y: f.top + f.height + 8, color: black)
        }
        LinePlot.draw(yTitle, into: &image, x: max(2, f.left - yTitle.count * LinePlot.advance / 2), y: 6, color: black)
        LinePlot.draw(xTitle, into: &image, x: f.left + (f.width - xTitle.count * LinePlot.advance) / 2,
                      y: f.top + f.height + 8 + 5 * LinePlot.glyphScale + 6, color: black)
        // Axes on top of the grid.
        for x in f.left..<(f.left + f.width) { LinePlot.set(&image, x, f.top + f.height - 1, black) }
        for y in f.top..<(f.top + f.height) { LinePlot.set(&image, f.left, y, black) }

        for (index, s) in series.enumerated() {
            let color = LinePlot.color(index)
            let points = s.points.filter { $0.x.isFinite && $0.y.isFinite }.sorted { $0.x < $1.x }
            let pixels = points.map { f.pixel(x: $0.x, y: $0.y) }
            for (a, b) in zip(pixels, pixels.dropFirst()) { LinePlot.line(&image, a, b, color) }
            for p in pixels {
                for dy in -2...2 { for dx in -2...2 { LinePlot.set(&image, p.x + dx, p.y + dy, color) } }
            }
            // Legend: a swatch and the label, one row a series, right of the plot area.
            let lx = f.left + f.width + 16, ly = f.top + 4 + index * 16
            for y in ly..<(ly + 10) { for x in lx..<(lx + 12) { LinePlot.set(&image, x, y, color) } }
            LinePlot.draw(s.label, into: &image, x: lx + 16, y: ly, color: black)
        }
        return image
    }

    /// Renders and writes the chart as a PNG.
    ///
    /// - Throws: `ImageError` if the file cannot be written.
    public func write(_ series: [Series], to path: String) throws {
        try PNGCodec.write(render(series), to: path)
    }

    // MARK: - Ticks

    /// Nice ticks covering `values`, and the range they span.
    static func ticks(_ values: [Double]) -> ([Double], ClosedRange<Double>) {
        var lo = values.min() ?? 0, hi = values.max() ?? 1
        if hi - lo < 1e-12 * max(1, abs(hi)) {
            let pad = max(abs(hi) * 0.1, 1e-3)
            lo -= pad; hi += pad
        }
        let raw = (hi - lo) / 5
        let magnitude = pow(10, floor(log10(raw)))
        let n = raw / magnitude
        let step = (n < 1.5 ? 1 : n < 3 ? 2 : n < 7 ? 5 : 10) * magnitude
        let first = (lo / step).rounded(.down), last = (hi / step).rounded(.up)
        let ticks = stride(from: first, through: last + 0.5, by: 1).map { $0 * step }
        return (ticks, (first * step)...(last * step))
    }

    static func step(_ ticks: [Double]) -> Double { ticks.count > 1 ? ticks[1] - ticks[0] : 1 }

    /// A tick value with as many decimals as the step needs.
    static func format(_ value: Double, step: Double) -> String {
        let decimals = max(0, Int(-floor(log10(step) + 1e-9)))
        let text = String(format: "%.\(decimals)f", value)
        return text.hasPrefix("-") && Double(text) == 0 ? String(text.dropFirst()) : text
    }

    // MARK: - Drawing

    static func set(_ image: inout Image, _ x: Int, _ y: Int, _ color: [UInt8]) {
        guard x >= 0, y >= 0, x < image.width, y < image.height else { return }
        for c in 0..<3 { image[x, y, c] = color[c] }
    }

    /// A line two pixels thick, by stepping along the longer axis.
    static func line(_ image: inout Image, _ a: (x: Int, y: Int), _ b: (x: Int, y: Int), _ color: [UInt8]) {
        let steps = max(abs(b.x - a.x), abs(b.y - a.y), 1)
        for i in 0...steps {
            let t = Double(i) / Double(steps)
            let x = Int((Double(a.x) + t * Double(b.x - a.x)).rounded())
            let y = Int((Double(a.y) + t * Double(b.y - a.y)).rounded())
            set(&image, x, y, color); set(&image, x + 1, y, color); set(&image, x, y + 1, color)
        }
    }

    /// 3x5 glyphs, one row a string of bits, top row first: digits, signs, and the letters that
    /// tick labels and the metrics' axis titles need.
    static let glyphs: [Character: [String]] = [
        "0": ["111", "101", "101", "101", "111"], "1": ["010", "110", "010", "010", "111"],
        "2": ["111", "001", "111", "100", "111"], "3": ["111", "001", "111", "001", "111"],
        "4": ["101", "101", "111", "001", "001"], "5": ["111", "100", "111", "001", "111"],
        "6": ["111", "100", "111", "101", "111"], "7": ["111", "001", "001", "001", "001"],
        "8": ["111", "101", "111", "101", "111"], "9": ["111", "101", "111", "001", "111"],
        ".": ["000", "000", "000", "000", "010"], "-": ["000", "000", "111", "000", "000"],
        "+": ["000", "010", "111", "010", "000"], "e": ["111", "100", "111", "100", "111"],
        "x": ["000", "101", "010", "101", "000"],
        "k": ["100", "101", "110", "101", "101"], "i": ["010", "000", "010", "010", "010"],
        "m": ["000", "110", "111", "101", "101"], "g": ["011", "100", "101", "101", "011"],
        "s": ["011", "100", "010", "001", "110"], "w": ["000", "101", "101", "111", "111"],
        "d": ["001", "001", "011", "101", "011"], "(": ["001", "010", "010", "010", "001"],
        ")": ["100", "010", "010", "010", "100"],
    ]

    /// Draws `text` with its top-left corner at (x, y), each glyph enlarged by `glyphScale`.
    static func draw(_ text: String, into image: inout Image, x: Int, y: Int, color: [UInt8]) {
        for (i, ch) in text.enumerated() {
            guard let rows = glyphs[ch] else { continue }
            for (r, bits) in rows.enumerated() {
                for (c, bit) in bits.enumerated() where bit == "1" {
                    for dy in 0..<glyphScale {
                        for dx in 0..<glyphScale {
                            set(&image, x + i * advance + c * glyphScale + dx, y + r * glyphScale + dy, color)
                        }
                    }
                }
            }
        }
    }
}
