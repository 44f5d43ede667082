import Foundation
import Storage
import XCTest

/// A fresh directory under the system temporary directory, removed by `remove()`.
final class TemporaryDirectory {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory
            .appendingPathComponent("storage-tests-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    /// The path of `name` inside the directory.
    func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    /// Names of the files in the directory, sorted (hidden files included).
    func contents() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: url.path).sorted()
    }

    func remove() {
        try? FileManager.default.removeItem(at: url)
    }
}

/// Asserts that `body` throws an `HDF5Error` of `kind` whose description contains `fragment`.
func assertHDF5Error<T>(_ kind: HDF5Error.Kind, containing fragment: String,
                        file: StaticString = #filePath, line: UInt = #line,
                        _ body: () throws -> T) {
    do {
        _ = try body()
        XCTFail("expected an HDF5Error \(kind) containing \"\(fragment)\", but nothing was thrown",
                file: file, line: line)
    } catch let error as HDF5Error {
        XCTAssertEqual(error.kind, kind, "\(error)", file: file, line: line)
        XCTAssertTrue(error.description.contains(fragment),
                      "\"\(error)\" does not contain \"\(fragment)\"", file: file, line: line)
        XCTAssertFalse(error.description.contains("\n"), "not one line: \(error)", file: file, line: line)
    } catch {
        XCTFail("expected an HDF5Error, got \(error)", file: file, line: line)
    }
}

/// Base class giving each test a temporary directory that is removed afterwards.
class StorageTestCase: XCTestCase {
    var directory: TemporaryDirectory!

    override func setUpWithError() throws {
        directory = try TemporaryDirectory()
    }

    override func tearDown() {
        directory?.remove()
        directory = nil
    }
}
