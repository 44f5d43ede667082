import XCTest
@testable import Imaging

/// The chart read back through libpng (PNGCodec.decode), checked where its marks must be.
final class LinePlotTests: XCTestCase {
    let series = [
        LinePlot.Series(label: "16", points: [(0, 10), (40, 6), (80, 3)]),
        LinePlot.Series(label: "32", points: [(80, 12), (0, 14), (40, 11)]),   // unsorted: joined by x
    ]

    func color(_ image: Image, _ p: (x: Int, y: Int)) -> [UInt8] { (0..<3).map { image[p.x, p.y, $0] } }

    func testMarksLinesAxesAndLegendLandWhereTheFrameSays() throws {
        let plot = LinePlot(width: 400, height: 240)
        let f = plot.frame(for: series)
        XCTAssertEqual(f.xTicks.first, 0); XCTAssertEqual(f.xTicks.last, 80)
        XCTAssertLessThanOrEqual(f.yRange.lowerBound, 3); XCTAssertGreaterThanOrEqual(f.yRange.upperBound, 14)
        let steps = zip(f.yTicks, f.yTicks.dropFirst()).map { $1 - $0 }
        XCTAssertTrue(steps.allSatisfy { abs($0 - steps[0]) < 1e-9 } && [1, 2, 5].contains(steps[0]), "\(f.yTicks)")

        let png = try PNGCodec.encode(plot.render(series))
        let image = try PNGCodec.decode(png, path: "plot.png")
        XCTAssertEqual([image.width, image.height, image.channels], [400, 240, 3])
        for (index, s) in series.enumerated() {
            for p in s.points {
                XCTAssertEqual(color(image, f.pixel(x: p.x, y: p.y)), LinePlot.color(index), "series \(index) at \(p)")
            }
            // Halfway along the first segment (points sorted by x) the line has the series' color.
            let sorted = s.points.sorted { $0.x < $1.x }
            let a = f.pixel(x: sorted[0].x, y: sorted[0].y), b = f.pixel(x: sorted[1].x, y: sorted[1].y)
            let mid = (x: (a.x + b.x) / 2, y: (a.y + b.y) / 2)
            let near = (-1...1).flatMap { dy in (-1...1).map { dx in self.color(image, (mid.x + dx, mid.y + dy)) } }
            XCTAssertTrue(near.contains(LinePlot.color(index)), "series \(index) line near \(mid)")
            // The legend swatch, right of the plot area.
            XCTAssertEqual(color(image, (f.left + f.width + 22, f.top + 9 + index * 16)), LinePlot.color(index))
        }
        // The axes are black, the margin above the plot area is white, tick labels are drawn left of the y axis.
        XCTAssertEqual(color(image, (f.left, f.top + f.height / 2)), [0, 0, 0])
        XCTAssertEqual(color(image, (f.left + f.width / 2, f.top + f.height - 1)), [0, 0, 0])
        XCTAssertEqual(color(image, (f.left + f.width / 2, 3)), [255, 255, 255])
        var labelPixels = 0
        for y in f.top..<(f.top + f.height) { for x in 0..<(f.left - 6) where image[x, y, 0] == 0 { labelPixels += 1 } }
        XCTAssertGreaterThan(labelPixels, 20)
    }

    func testTicksAreNiceAndFormatted() {
        let (ticks, range) = LinePlot.ticks([0.013, 0.087])
        XCTAssertEqual(range.lowerBound, 0.01, accuracy: 1e-12); XCTAssertEqual(range.upperBound, 0.09, accuracy: 1e-12)
        XCTAssertEqual(ticks.count, 9)
        XCTAssertEqual(LinePlot.format(0.02, step: 0.01), "0.02")
        XCTAssertEqual(LinePlot.format(1200, step: 200), "1200")
        XCTAssertEqual(LinePlot.format(-0.0001, step: 0.5), "0.0")
        // A single value still gets a range around it.
        let (_, single) = LinePlot.ticks([5, 5])
        XCTAssertTrue(single.contains(5) && single.upperBound > single.lowerBound)
    }

    /// Titles make room for themselves: the plot area shrinks and their bands hold black glyph
    /// pixels, which are white without titles.
    func testAxisTitlesAreDrawnInTheirOwnBands() throws {
        func blackPixels(_ image: Image, rows: Range<Int>) -> Int {
            rows.reduce(0) { n, y in n + (0..<image.width).filter { image[$0, y, 0] == 0 && image[$0, y, 1] == 0 && image[$0, y, 2] == 0 }.count }
        }
        let plain = LinePlot(width: 400, height: 240)
        let titled = LinePlot(width: 400, height: 240, xTitle: "kimg", yTitle: "swd x1e3")
        let (f0, f1) = (plain.frame(for: series), titled.frame(for: series))
        XCTAssertGreaterThan(f1.top, f0.top); XCTAssertLessThan(f1.height, f0.height)
        let a = try PNGCodec.decode(try PNGCodec.encode(plain.render(series)), path: "a.png")
        let b = try PNGCodec.decode(try PNGCodec.encode(titled.render(series)), path: "b.png")
        // The top y tick label reaches 5 rows above the plot area; above that only a title is drawn.
        XCTAssertEqual(blackPixels(a, rows: 0..<(f0.top - 5)), 0)
        XCTAssertGreaterThan(blackPixels(b, rows: 0..<(f1.top - 5)), 30, "the y title above the plot")
        let below = f1.top + f1.height + 8 + 10 + 2
        XCTAssertGreaterThan(blackPixels(b, rows: below..<240), 20, "the x title under the tick labels")
        XCTAssertEqual(blackPixels(a, rows: (f0.top + f0.height + 8 + 10 + 2)..<240), 0)
    }
}
