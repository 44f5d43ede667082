import Foundation
import XCTest
@testable import Imaging

/// Every read, write and listing, failing or not, must close the files and folders it opens.
final class HandleLeakTests: TemporaryFolderTestCase {
    /// The number of open file descriptors of this process (Linux: the entries of /proc/self/fd).
    private func openDescriptors() throws -> Int {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") else {
            throw XCTSkip("/proc/self/fd is not available")
        }
        return names.count
    }

    func testNoDescriptorOutlivesItsOperation() throws {
        // Warm up once so descriptors libraries open lazily are not counted as leaks.
        try exercise()
        let before = try openDescriptors()
        for _ in 0..<5 { try exercise() }
        XCTAssertEqual(try openDescriptors(), before)
    }

    private func exercise() throws {
        let png = try PNGCodec.encode(patternImage(width: 8, height: 8, channels: 3))
        try writeFile("ok/a.png", png)
        try writeFile("ok/b.jpg", try JPEGCodec.encode(patternImage(width: 8, height: 8, channels: 3)))
        try writeFile("ok/cut.png", Array(png.prefix(png.count / 2)))
        let idx = IDXFile(shape: [4, 8, 8], data: (0..<256).map { UInt8($0) })
        try idx.write(to: path("x.idx"))
        try idx.write(to: path("x.idx.gz"), compressed: true)
        let gz = try readFile(path("x.idx.gz"))
        try writeFile("cut.idx.gz", Array(gz.prefix(gz.count / 2)))

        _ = try Image(contentsOfFile: path("ok/a.png"))
        _ = try IDXFile(contentsOf: path("x.idx"))
        _ = try IDXFile(contentsOf: path("x.idx.gz"))
        _ = try ImageFolder(path: path("ok")).loadAll(size: 4, channels: 3)
        try ImageGrid().write([Float](repeating: 0, count: 4 * 16), count: 4, channels: 1, height: 4, width: 4,
                              to: path("grid.png"))
        // Failure paths: each opens something before it fails.
        _ = try? Image(contentsOfFile: path("ok/cut.png"))
        _ = try? Image(contentsOfFile: folder)
        _ = try? IDXFile(contentsOf: path("cut.idx.gz"))
        _ = try? IDXFile(contentsOf: path("ok/a.png"))
        _ = try? ImageFolder(path: path("ok/a.png"))
        _ = try? PNGCodec.write(Image(width: 1, height: 1, channels: 1), to: path("missing/dir/x.png"))
    }
}
