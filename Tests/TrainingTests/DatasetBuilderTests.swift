import Foundation
import Imaging
import Storage
import XCTest
@testable import Training

/// `dataset create --images` at scale: chunks, threads and skipped files change nothing in the
/// file but its speed and memory.
final class DatasetBuilderTests: XCTestCase {
    var directory: String!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("dataset-builder-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory + "/images/sub", withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: directory) }

    /// 11 decodable images of varied sizes and formats, and 2 broken files among them.
    func makeFolder() throws -> String {
        let folder = directory + "/images"
        for i in 0..<11 {
            let (w, h) = (20 + 3 * i, 16 + 2 * (i % 4))
            let image = Image(width: w, height: h, channels: 3,
                              pixels: (0..<w * h * 3).map { UInt8(truncatingIfNeeded: ($0 / 3) * (i + 1) + ($0 % 3) * 70) })
            let name = (i % 3 == 0 ? "sub/" : "") + String(format: "img%02d", i)
            if i % 2 == 0 { try PNGCodec.write(image, to: "\(folder)/\(name).png") } else { try JPEGCodec.write(image, to: "\(folder)/\(name).jpg") }
        }
        try Data("not an image".utf8).write(to: URL(fileURLWithPath: folder + "/img03b.png"))
        try Data([0xFF, 0xD8, 0xFF]).write(to: URL(fileURLWithPath: folder + "/sub/truncated.jpg"))
        return folder
    }

    func levels(_ path: String) throws -> (count: Int, levels: [Int: [UInt8]]) {
        let d = try ImageDatasetFile(path: path)
        defer { try? d.close() }
        var out: [Int: [UInt8]] = [:]
        for r in d.levels { out[r] = try d.images(resolution: r, rows: 0..<d.count) }
        return (d.count, out)
    }

    func testThreadsAndChunksGiveTheSameFileAsOneImageAtATime() throws {
        let folder = try makeFolder()
        let (resolution, channels) = (16, 3)
        let bytes = resolution * resolution * channels
        // The reference: each readable file prepared in file order, CHW, halved by 2x2 means.
        let (prepared, skipped) = try ImageFolder(path: folder).loadAll(size: resolution, channels: channels)
        XCTAssertEqual(prepared.count, 11); XCTAssertEqual(skipped.count, 2)
        var expected: [Int: [UInt8]] = [16: prepared.flatMap { p in
            (0..<channels).flatMap { c in (0..<resolution * resolution).map { p.image.pixels[$0 * channels + c] } }
        }]
        for r in [8, 4] {
            let above = expected[2 * r]!, s = 2 * r
            expected[r] = (0..<11 * channels).flatMap { plane in
                (0..<r * r).map { i -> UInt8 in
                    let (y, x) = (i / r, i % r), a = plane * s * s + 2 * y * s + 2 * x
                    let top: Int = Int(above[a]) + Int(above[a + 1])
                    let bottom: Int = Int(above[a + s]) + Int(above[a + s + 1])
                    return UInt8((top + bottom + 2) / 4)
                }
            }
        }
        var lines: [String] = []
        for (threads, chunkImages) in [(1, 2), (3, 5), (2, 64)] {
            let out = directory + "/t\(threads).h5"
            let summary = try DatasetBuilder.imageFolder(directory: folder, output: out, resolution: resolution, channels: channels,
                                                         threads: threads, chunkBytes: chunkImages * bytes) { lines.append($0) }
            XCTAssertEqual(summary.count, 11)
            XCTAssertEqual(summary.skipped.map { ($0.path as NSString).lastPathComponent }, ["img03b.png", "truncated.jpg"])
            let (count, got) = try levels(out)
            XCTAssertEqual(count, 11)
            for r in [16, 8, 4] { XCTAssertEqual(got[r], expected[r], "level \(r), \(threads) thread(s), chunks of \(chunkImages)") }
        }
        XCTAssertTrue(lines.contains { $0.hasPrefix("13 of 13 images (100%)") && $0.contains("images/s, ETA 0s") }, "\(lines)")
    }

    func testProgressLinesGiveRateAndTimeLeft() {
        let t0 = Date(timeIntervalSince1970: 1000)
        var meter = DatasetBuilder.ProgressMeter(total: 1000, start: t0)
        XCTAssertNil(meter.advance(to: 10, now: t0.addingTimeInterval(1)), "too soon after the start")
        XCTAssertEqual(meter.advance(to: 250, now: t0.addingTimeInterval(10)), "250 of 1000 images (25%), 25.0 images/s, ETA 30s")
        XCTAssertNil(meter.advance(to: 260, now: t0.addingTimeInterval(12)))
        XCTAssertEqual(meter.advance(to: 300, now: t0.addingTimeInterval(200)), "300 of 1000 images (30%), 1.5 images/s, ETA 7m47s")
        XCTAssertEqual(DatasetBuilder.ProgressMeter.duration(3725), "1h02m")
    }

    func testAFolderOfNothingReadableLeavesNoFile() throws {
        let folder = directory + "/images/sub"
        try Data("junk".utf8).write(to: URL(fileURLWithPath: folder + "/a.png"))
        let out = directory + "/none.h5"
        XCTAssertThrowsError(try DatasetBuilder.imageFolder(directory: folder, output: out, resolution: 8, channels: 1, threads: 2)) {
            // One line with the count and each file's reason.
            XCTAssertTrue("\($0)".contains("no readable PNG or JPEG images (1 file(s) skipped: "), "\($0)")
            XCTAssertTrue("\($0)".contains("a.png: not a JPEG or PNG file"), "\($0)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
    }
}
