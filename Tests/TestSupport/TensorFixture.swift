import Foundation
import TensorKit
import XCTest

/// Named tensors read from a JSON fixture written by a reference script (e.g. PyTorch):
/// `{"description": "...", "tensors": {"name": {"shape": [Int], "data": [Float]}}}`, data row-major.
public struct TensorFixture {
    /// What the fixture holds and how it was made, as its script wrote it.
    public let description: String
    /// The tensors by name.
    public let tensors: [String: Tensor]

    /// Reads a fixture file.
    /// - Throws: the decoder's error for malformed JSON; `FixtureError` for a shape that does not
    ///   fit its data.
    public init(contentsOf url: URL) throws {
        struct Entry: Decodable { let shape: [Int]; let data: [Double] }
        struct File: Decodable { let description: String; let tensors: [String: Entry] }
        let file = try JSONDecoder().decode(File.self, from: Data(contentsOf: url))
        var tensors: [String: Tensor] = [:]
        for (name, e) in file.tensors {
            guard e.shape.allSatisfy({ $0 >= 0 }), Tensor.count(of: e.shape) == e.data.count else {
                throw FixtureError("\(url.lastPathComponent): tensor \(name) has shape \(e.shape) but \(e.data.count) values")
            }
            tensors[name] = Tensor(shape: e.shape, data: e.data.map { Float($0) })
        }
        self.description = file.description
        self.tensors = tensors
    }

    /// The tensor called `name`.
    /// - Throws: `FixtureError` if the fixture has no such tensor.
    public func tensor(_ name: String) throws -> Tensor {
        guard let t = tensors[name] else { throw FixtureError("fixture has no tensor named \(name)") }
        return t
    }
}

/// A fixture file that is missing a tensor or is inconsistent.
public struct FixtureError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The error of `actual` against a reference, relative to the reference's scale:
/// `max|actual - expected| / max|expected|` over all elements (computed in Double). Where the
/// reference is all zeros the ratio is undefined, and `max|actual|` (an absolute error) is returned.
/// A non-finite element in `actual` gives infinity (`max` would otherwise skip a NaN).
///
/// One scale for the whole tensor, rather than per element, so elements that are near zero by
/// cancellation do not dominate. Shapes must be equal.
///
/// - Parameter scale: divide by this instead of max|expected|, for a tensor that is itself the
///   small remainder of a cancellation (say why where you pass it).
public func maxRelativeError(_ actual: Tensor, _ expected: Tensor, scale: Double? = nil) -> Double {
    precondition(actual.shape == expected.shape,
                 "maxRelativeError: shapes \(actual.shape) and \(expected.shape) differ")
    var diff = 0.0, refScale = 0.0
    for (a, e) in zip(actual.data, expected.data) {
        guard a.isFinite else { return .infinity }
        diff = max(diff, abs(Double(a) - Double(e)))
        refScale = max(refScale, abs(Double(e)))
    }
    let s = scale ?? refScale
    return s > 0 ? diff / s : diff
}

/// Compares every tensor of `computed` whose name starts with `prefix` with the fixture's tensor of
/// the same name: shapes equal and `maxRelativeError` (against max|ref|, or `scales[name]`) at most
/// `tolerance`. `PROGAN_PARITY_REPORT=1` prints each error.
public func assertParity(_ computed: [String: Tensor], fixture: TensorFixture, prefix: String,
                         scales: [String: Double] = [:], tolerance: Double,
                         file: StaticString = #filePath, line: UInt = #line) throws {
    let ours = computed.filter { $0.key.hasPrefix(prefix) }
    XCTAssertFalse(ours.isEmpty, "nothing computed under \(prefix)", file: file, line: line)
    let report = ProcessInfo.processInfo.environment["PROGAN_PARITY_REPORT"] == "1"
    for (name, t) in ours.sorted(by: { $0.key < $1.key }) {
        let ref = try fixture.tensor(name)
        guard t.shape == ref.shape else {
            XCTFail("\(name): shape \(t.shape), PyTorch \(ref.shape)", file: file, line: line)
            continue
        }
        let err = maxRelativeError(t, ref, scale: scales[name])
        if report { print("parity", name.padding(toLength: 36, withPad: " ", startingAt: 0), String(format: "%.3e", err)) }
        XCTAssertLessThanOrEqual(err, tolerance, "\(name): max|ours - ref| / max|ref| = \(err)", file: file, line: line)
    }
}

/// A fixture and the tensors the code under test computed from it. A test class computes it once
/// (a `static let`) and its tests compare it part by part.
public struct ParityComparison {
    public let fixture: TensorFixture
    public let computed: [String: Tensor]
    /// The largest `maxRelativeError` allowed.
    public let tolerance: Double

    public init(fixture: TensorFixture, computed: [String: Tensor], tolerance: Double) {
        self.fixture = fixture
        self.computed = computed
        self.tolerance = tolerance
    }

    /// `assertParity(_:fixture:prefix:scales:tolerance:)` for the tensors named `prefix...`.
    public func assertParity(_ prefix: String, scales: [String: Double] = [:],
                             file: StaticString = #filePath, line: UInt = #line) throws {
        try TestSupport.assertParity(computed, fixture: fixture, prefix: prefix, scales: scales, tolerance: tolerance,
                                     file: file, line: line)
    }

    /// The fixture's names that hold expected results (neither `input/` nor `param/`).
    public var expectedNames: Set<String> {
        Set(fixture.tensors.keys.filter { !$0.hasPrefix("input/") && !$0.hasPrefix("param/") })
    }
}
