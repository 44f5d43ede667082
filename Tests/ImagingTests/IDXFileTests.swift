import Foundation
import XCTest
@testable import Imaging

final class IDXFileTests: TemporaryFolderTestCase {
    private let small = IDXFile(shape: [3, 2, 2], data: Array(0..<12).map { UInt8($0 * 20) })

    func testWriteAndReadPlainAndGzip() throws {
        let plain = path("images-idx3-ubyte")
        let gzip = path("images-idx3-ubyte.gz")
        try small.write(to: plain)
        try small.write(to: gzip, compressed: true)
        XCTAssertEqual(try readFile(plain), [0, 0, 8, 3, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 2] + small.data)
        XCTAssertEqual(Array(try readFile(gzip).prefix(2)), [0x1F, 0x8B], "gzip magic")
        XCTAssertEqual(try IDXFile(contentsOf: plain), small)
        XCTAssertEqual(try IDXFile(contentsOf: gzip), small)
    }

    func testImagesAndLabels() throws {
        XCTAssertEqual(small.count, 3)
        XCTAssertEqual(small.image(at: 1), Image(width: 2, height: 2, channels: 1, pixels: [80, 100, 120, 140]))
        let labels = IDXFile(shape: [4], data: [9, 0, 0, 3])
        let file = path("labels.gz")
        try labels.write(to: file, compressed: true)
        XCTAssertEqual(try IDXFile(contentsOf: file).shape, [4])
        XCTAssertEqual(try IDXFile(contentsOf: file).data, [9, 0, 0, 3])
    }

    func testBadMagicAndElementType() throws {
        let png = try writeFile("not.idx", PNGCodec.signature)
        assertImageError(try IDXFile(contentsOf: png), path: png) { $0.contains("not an IDX file") }
        let floats = try writeFile("floats.idx", [0, 0, 0x0D, 1, 0, 0, 0, 1, 0, 0, 0, 0])
        assertImageError(try IDXFile(contentsOf: floats), path: floats) { $0.contains("element type 0x0D") }
        let short = try writeFile("short.idx", [0, 0])
        assertImageError(try IDXFile(contentsOf: short), path: short) { $0.contains("not an IDX file") }
        let noDims = try writeFile("nodims.idx", [0, 0, 8, 3, 0, 0, 0, 3])
        assertImageError(try IDXFile(contentsOf: noDims), path: noDims) { $0.contains("header cut short") }
    }

    func testShortAndOverlongData() throws {
        let plain = path("ok.idx")
        try small.write(to: plain)
        let bytes = try readFile(plain)
        let short = try writeFile("short.idx", Array(bytes.dropLast()))
        assertImageError(try IDXFile(contentsOf: short), path: short) {
            $0.contains("cut short") && $0.contains("12 bytes") && $0.contains("has 11")
        }
        let long = try writeFile("long.idx", bytes + [0])
        assertImageError(try IDXFile(contentsOf: long), path: long) { $0.contains("more data") }
    }

    func testTruncatedGzipStream() throws {
        let big = IDXFile(shape: [50, 28, 28], data: (0..<(50 * 784)).map { UInt8(truncatingIfNeeded: $0 &* 2654435761 >> 7) })
        let gz = path("big.gz")
        try big.write(to: gz, compressed: true)
        let bytes = try readFile(gz)
        let cut = try writeFile("cut.gz", Array(bytes.prefix(bytes.count / 2)))
        assertImageError(try IDXFile(contentsOf: cut), path: cut) { $0 == "zlib: unexpected end of file" }
    }

    func testMissingFile() {
        let missing = path("none.gz")
        assertImageError(try IDXFile(contentsOf: missing), path: missing) { $0.hasPrefix("cannot open: ") }
    }

    /// The installed Fashion-MNIST file called `name` (plain or .gz) under /usr/share/datasets,
    /// or nil.
    private func datasetFile(_ name: String) -> String? {
        let root = "/usr/share/datasets"
        guard let walk = FileManager.default.enumerator(atPath: root) else { return nil }
        for case let relative as String in walk {
            let file = (relative as NSString).lastPathComponent
            if file == name || file == name + ".gz" { return root + "/" + relative }
        }
        return nil
    }

    /// The real files, where installed. Expected values were computed independently (Python's
    /// gzip module): the first labels, and the pixel sum of the first image.
    func testFashionMNISTIfInstalled() throws {
        let sets = [("train", 60000, [9, 0, 0, 3, 0, 2, 7, 2, 5, 5], 76247),
                    ("t10k", 10000, [9, 2, 1, 1, 6, 1, 4, 6, 5, 7], 33456)]
        var found = 0
        for (prefix, count, firstLabels, firstImageSum) in sets {
            guard let imageFile = datasetFile("\(prefix)-images-idx3-ubyte"),
                  let labelFile = datasetFile("\(prefix)-labels-idx1-ubyte") else { continue }
            found += 1
            let images = try IDXFile(contentsOf: imageFile)
            XCTAssertEqual(images.shape, [count, 28, 28])
            XCTAssertEqual(images.count, count)
            let first = images.image(at: 0)
            XCTAssertEqual([first.width, first.height, first.channels], [28, 28, 1])
            XCTAssertEqual(first.pixels.reduce(0) { $0 + Int($1) }, firstImageSum)
            XCTAssertEqual(images.image(at: count - 1).pixels.count, 784)
            let labels = try IDXFile(contentsOf: labelFile)
            XCTAssertEqual(labels.shape, [count])
            XCTAssertEqual(labels.data.prefix(10).map(Int.init), firstLabels)
            XCTAssertLessThanOrEqual(labels.data.max() ?? 255, 9)
        }
        if found == 0 { throw XCTSkip("Fashion-MNIST is not installed under /usr/share/datasets") }
    }
}
