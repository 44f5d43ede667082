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

    /// A copy of checkpoint `source` at `target` with its arrays passed through `edit` (return
    /// nil to keep one as it is) and `progress` replaced when given.
    func rewriteCheckpoint(_ source: String, to target: String, progress: String? = nil,
                           edit: (String, [Int]) -> (values: [Float], shape: [Int])? = { _, _ in nil }) throws {
        let input = try HDF5File.open(source)
        defer { try? input.close() }
        try HDF5File.writeAtomically(to: target) { output in
            for name in try input.attributeNames() {
                var value = try input.attribute(name)
                if name == "progress", let progress { value = .string(progress) }
                try output.setAttribute(name, value)
            }
            for info in try input.datasetNames() {
                var (values, shape) = (try input.read(info.path, as: Float.self), info.shape)
                if let replaced = edit(info.path, info.shape) { (values, shape) = replaced }
                try output.write(values, shape: shape, to: info.path)
            }
        }
    }

    /// One dense weight replaced by a 1-element array: `generate` wrote a PNG and exited 0 (the
    /// release build's -Ounchecked even drops Tensor's element-count check). Now every array is
    /// checked against the network on load, for `generate` and for `train --resume`.
    func testCheckpointArrayOfWrongShapeIsNamed() throws {
        let data = try makeDataset()
        let out = path("run")
        let r = try progan(tinyArguments(data: data, out: out) + ["--max-steps", "1"])
        XCTAssertTrue(r.succeeded, r.summary)
        let good = try XCTUnwrap(checkpoints(out).last)
        let victimInfo = try XCTUnwrap(try HDF5File.open(good).datasetNames().first { $0.path.hasPrefix("/Gs/") && $0.shape.count == 2 })
        for (name, victim) in [("g.h5", victimInfo.path), ("d.h5", victimInfo.path.replacingOccurrences(of: "/Gs/", with: "/G/"))] {
            let bad = path(name)
            try rewriteCheckpoint(good, to: bad) { name, _ in name == victim ? ([1], [1]) : nil }
            let expected = "\(bad): array \(victim) has shape [1], the network expects \(victimInfo.shape)"
            if victim.hasPrefix("/Gs/") {
                let png = path("out.png")
                assertOneLine(try progan(["generate", "--checkpoint", bad, "--out", png, "--count", "4"]), contains: expected)
                XCTAssertFalse(FileManager.default.fileExists(atPath: png))
            } else {
                let run2 = path("run2")
                try FileManager.default.createDirectory(atPath: run2, withIntermediateDirectories: true)
                try FileManager.default.copyItem(atPath: bad, toPath: run2 + "/" + (good as NSString).lastPathComponent)
                let expected2 = expected.replacingOccurrences(of: bad, with: run2 + "/" + (good as NSString).lastPathComponent)
                assertOneLine(try progan(tinyArguments(data: data, out: run2) + ["--max-steps", "1", "--resume", "auto"]),
                              contains: expected2)
            }
        }
    }

    /// A damaged `progress` attribute: a DecodingError dump without the file's name.
    func testCorruptProgressAttributeNamesTheFile() throws {
        let data = try makeDataset()
        let out = path("run")
        let r = try progan(tinyArguments(data: data, out: out) + ["--max-steps", "1"])
        XCTAssertTrue(r.succeeded, r.summary)
        let good = try XCTUnwrap(checkpoints(out).last)
        let bad = path("bad.h5")
        try rewriteCheckpoint(good, to: bad, progress: "{\"imagesShown\": ")
        assertOneLine(try progan(["generate", "--checkpoint", bad, "--out", path("x.png"), "--count", "4"]),
                      contains: "\(bad): the 'progress' attribute cannot be read (not valid JSON)")
    }
}
