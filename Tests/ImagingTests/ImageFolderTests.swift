import XCTest
@testable import Imaging

final class ImageFolderTests: TemporaryFolderTestCase {
    /// b.png (gray), sub/a.jpg (RGB), sub/deeper/c.png (RGBA), plus a corrupt PNG, a text file,
    /// a hidden file and an empty subfolder.
    private func makeFolder() throws {
        try writeFile("b.png", try PNGCodec.encode(Image(width: 6, height: 4, channels: 1, value: 200)))
        try writeFile("sub/a.jpg", try JPEGCodec.encode(Image(width: 10, height: 10, channels: 3, value: 90)))
        try writeFile("sub/deeper/c.png", try PNGCodec.encode(patternImage(width: 5, height: 5, channels: 4)))
        let good = try PNGCodec.encode(patternImage(width: 9, height: 9, channels: 3))
        try writeFile("sub/broken.png", Array(good.prefix(good.count - 20)))
        try writeFile("notes.txt", Array("not an image".utf8))
        try writeFile(".DS_Store", [0, 1, 2])
        try FileManager.default.createDirectory(atPath: path("empty"), withIntermediateDirectories: true)
    }

    func testListingIsRecursiveSortedAndSkipsHiddenFiles() throws {
        try makeFolder()
        let listing = try ImageFolder(path: folder)
        XCTAssertEqual(listing.files, ["b.png", "notes.txt", "sub/a.jpg", "sub/broken.png", "sub/deeper/c.png"].map(path))
        XCTAssertEqual(listing.unlistable, [])
    }

    func testLoadAllPreparesImagesAndNamesSkippedFiles() throws {
        try makeFolder()
        let (images, skipped) = try ImageFolder(path: folder).loadAll(size: 8, channels: 3)
        XCTAssertEqual(images.map(\.path), ["b.png", "sub/a.jpg", "sub/deeper/c.png"].map(path))
        for (_, image) in images {
            XCTAssertEqual([image.width, image.height, image.channels], [8, 8, 3])
        }
        XCTAssertEqual(images[0].image.pixels, Array(repeating: 200, count: 8 * 8 * 3), "gray replicated")
        XCTAssertEqual(skipped.map(\.path), ["notes.txt", "sub/broken.png"].map(path))
        XCTAssertEqual(skipped.first?.reason, "not a JPEG or PNG file")
        XCTAssertTrue(skipped.last?.reason.hasPrefix("libpng: ") ?? false, "\(skipped)")
        XCTAssertTrue(skipped.last?.description.hasPrefix(path("sub/broken.png") + ": libpng: ") ?? false)
    }

    func testStreamingVisitsInOrderAndStopsOnAThrownError() throws {
        try makeFolder()
        let listing = try ImageFolder(path: folder)
        var seen: [String] = []
        let skipped = listing.forEachImage(size: 4, channels: 1) { path, image in
            XCTAssertEqual(image.channels, 1)
            XCTAssertEqual(image.width, 4)
            seen.append(path)
        }
        XCTAssertEqual(seen, ["b.png", "sub/a.jpg", "sub/deeper/c.png"].map(path))
        XCTAssertEqual(skipped.count, 2)

        struct Stop: Error {}
        var calls = 0
        XCTAssertThrowsError(try listing.forEachImage(size: 4, channels: 1) { _, _ in
            calls += 1
            throw Stop()
        }) { XCTAssertTrue($0 is Stop) }
        XCTAssertEqual(calls, 1)
    }

    func testMissingRootThrows() throws {
        let missing = path("nope")
        assertImageError(try ImageFolder(path: missing), path: missing) { $0.hasPrefix("cannot open folder: ") }
        let file = try writeFile("file.png", [1])
        assertImageError(try ImageFolder(path: file), path: file) { $0.hasPrefix("cannot open folder: ") }
    }

    func testUnreadableSubfolderIsSkippedAndNamed() throws {
        try writeFile("x/ok.png", try PNGCodec.encode(Image(width: 2, height: 2, channels: 3)))
        try writeFile("locked/hidden.png", [])
        chmod(path("locked"), 0)
        defer { chmod(path("locked"), 0o755) }
        if access(path("locked/hidden.png"), F_OK) == 0 {
            throw XCTSkip("running as root: permissions do not stop reading")
        }
        let listing = try ImageFolder(path: folder)
        XCTAssertEqual(listing.files, [path("x/ok.png")])
        XCTAssertEqual(listing.unlistable.map(\.path), [path("locked")])
        XCTAssertEqual(listing.loadAll(size: 2, channels: 3).skipped.map(\.path), [path("locked")])
    }

    func testLinksToFilesAreFollowedLinksToFoldersAreNotAndBrokenLinksAreNamed() throws {
        try writeFile("outside/pic.png", try PNGCodec.encode(Image(width: 3, height: 3, channels: 1)))
        try writeFile("data/real.png", try PNGCodec.encode(Image(width: 3, height: 3, channels: 1)))
        XCTAssertEqual(symlink(path("outside/pic.png"), path("data/link.png")), 0)
        XCTAssertEqual(symlink(path("data"), path("data/loop")), 0)
        XCTAssertEqual(symlink(path("gone.png"), path("data/dangling.png")), 0)
        let listing = try ImageFolder(path: path("data"))
        XCTAssertEqual(listing.files, [path("data/link.png"), path("data/real.png")])
        XCTAssertEqual(listing.unlistable.map(\.path), [path("data/dangling.png")])
        XCTAssertTrue(listing.unlistable.first?.reason.hasPrefix("broken link: ") ?? false)
        // Loading reports the dangling link among the skipped files instead of failing.
        let (images, skipped) = listing.loadAll(size: 3, channels: 1)
        XCTAssertEqual(images.map(\.path), [path("data/link.png"), path("data/real.png")])
        XCTAssertEqual(skipped.map(\.path), [path("data/dangling.png")])
    }
}
