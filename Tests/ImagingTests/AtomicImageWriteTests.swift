import Foundation
import Imaging
import TestSupport
import XCTest

/// Image files are written under a temporary name and renamed: a full disk leaves neither a
/// partial file nor a temporary one, and an earlier file keeps its bytes.
final class AtomicImageWriteTests: XCTestCase {
    func testFullDiskLeavesNoPartialPNGAndKeepsTheEarlierOne() throws {
        let fs = try SmallFileSystem(kibibytes: 64)
        defer { fs.unmount() }
        let target = fs.path("reals.png")
        try PNGCodec.write(Image(width: 4, height: 4, channels: 1), to: target)
        let before = try Data(contentsOf: URL(fileURLWithPath: target))
        // Random pixels do not compress: about 192 KiB of PNG for 64 KiB of space.
        var generator = SystemRandomNumberGenerator()
        let noise = Image(width: 256, height: 256, channels: 3,
                          pixels: (0..<256 * 256 * 3).map { _ in UInt8.random(in: 0...255, using: &generator) })
        XCTAssertThrowsError(try PNGCodec.write(noise, to: target)) { error in
            XCTAssertEqual("\(error)", "\(target): cannot write: No space left on device")
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: fs.path), ["reals.png"])
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: target)), before)
    }

    func testWriteReplacesAtomicallyAndLeavesNoTemporary() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("atomic-png-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let image = Image(width: 3, height: 2, channels: 3, pixels: [UInt8](0..<18))
        try PNGCodec.write(Image(width: 1, height: 1, channels: 1), to: folder + "/a.png")
        try PNGCodec.write(image, to: folder + "/a.png")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder), ["a.png"])
        XCTAssertEqual(try PNGCodec.read(folder + "/a.png"), image)
    }
}
