import Foundation
import Storage
import TestSupport
import XCTest

/// Input a hostile user would try (issue 15): each gets one clear line and a nonzero exit, or
/// the right behaviour, never a crash, a raw error dump or a silent wrong answer.
final class HostileInputTests: TrainingCLITestCase {
    func assertOneLine(_ r: ChildResult, contains: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertNotEqual(r.exitCode, 0, r.summary, file: file, line: line)
        XCTAssertNil(r.signal, r.summary, file: file, line: line)
        let lines = r.stderr.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, r.stderr, file: file, line: line)
        XCTAssertTrue(r.stderr.contains(contains), "expected '\(contains)' in: \(r.stderr)", file: file, line: line)
        XCTAssertLessThan(r.stderr.count, 400, "not a short line: \(r.stderr)", file: file, line: line)
    }

    /// A dataset in the schema with no images: `inspect` printed "pixel mean -nan" and exited 0,
    /// `train` died of SIGFPE.
    func testDatasetWithoutImages() throws {
        let data = path("empty.h5")
        try HDF5File.writeAtomically(to: data) { file in
            try file.setAttribute("format", .string(ImageDatasetFile.formatName))
            try file.setAttribute("version", .int64(ImageDatasetFile.formatVersion))
            try file.setAttribute("resolution", .int64(32))
            try file.setAttribute("channels", .int64(1))
            try file.setAttribute("count", .int64(0))
            try file.setAttribute("source", .string("nothing"))
            for level in [4, 8, 16, 32] {
                try file.write([UInt8](), shape: [0, 1, level, level], to: ImageDatasetFile.levelName(level))
            }
        }
        assertOneLine(try progan(["dataset", "inspect", data]), contains: "\(data): the dataset holds no images")
        let out = path("run")
        assertOneLine(try progan(tinyArguments(data: data, out: out) + ["--max-steps", "1"]),
                      contains: "\(data): the dataset holds no images")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
    }
}
