import XCTest
import TensorKit
import Autograd

/// Whether `actual` is within `atol + rtol * |expected|` of `expected`, elementwise, and the index
/// and size of the worst violation (the largest excess over the allowed error), if any.
public func closeness(_ actual: [Float], _ expected: [Float], rtol: Float, atol: Float)
    -> (index: Int, actual: Float, expected: Float)? {
    var worst: (index: Int, actual: Float, expected: Float)?
    var worstExcess: Float = 0
    for i in 0..<min(actual.count, expected.count) {
        let err = abs(actual[i] - expected[i])
        let excess = err - (atol + rtol * abs(expected[i]))
        // `!(excess <= 0)` also catches NaN in either operand.
        if !(excess <= 0) && (worst == nil || excess > worstExcess || excess.isNaN) {
            worst = (i, actual[i], expected[i])
            worstExcess = excess.isNaN ? .infinity : excess
        }
    }
    return worst
}

/// Asserts that two float arrays have the same length and agree elementwise:
/// `|actual[i] - expected[i]| <= atol + rtol * |expected[i]|` (NaN never agrees).
///
/// - Parameters:
///   - rtol, atol: relative and absolute tolerance. The defaults suit results of a few float32
///     operations on O(1) values (a float32 ulp is 1.2e-7 relative).
///   - file, line: forwarded, so a failure points at the caller.
public func assertClose(_ actual: [Float], _ expected: [Float], rtol: Float = 1e-5, atol: Float = 1e-6,
                        _ message: @autoclosure () -> String = "",
                        file: StaticString = #filePath, line: UInt = #line) {
    guard actual.count == expected.count else {
        XCTFail("assertClose: \(actual.count) elements, expected \(expected.count). \(message())", file: file, line: line)
        return
    }
    if let w = closeness(actual, expected, rtol: rtol, atol: atol) {
        XCTFail("assertClose: element \(w.index) is \(w.actual), expected \(w.expected) "
                + "(rtol \(rtol), atol \(atol)). \(message())", file: file, line: line)
    }
}

/// Asserts that two tensors have the same shape and agree elementwise within
/// `atol + rtol * |expected|` (see the array overload).
public func assertClose(_ actual: Tensor, _ expected: Tensor, rtol: Float = 1e-5, atol: Float = 1e-6,
                        _ message: @autoclosure () -> String = "",
                        file: StaticString = #filePath, line: UInt = #line) {
    guard actual.shape == expected.shape else {
        XCTFail("assertClose: shape \(actual.shape), expected \(expected.shape). \(message())", file: file, line: line)
        return
    }
    assertClose(actual.data, expected.data, rtol: rtol, atol: atol, message(), file: file, line: line)
}

/// Asserts that a tensor has the given shape and elements (within tolerance).
public func assertClose(_ actual: Tensor, shape: [Int], _ expected: [Float], rtol: Float = 1e-5, atol: Float = 1e-6,
                        _ message: @autoclosure () -> String = "",
                        file: StaticString = #filePath, line: UInt = #line) {
    assertClose(actual, Tensor(shape: shape, data: expected), rtol: rtol, atol: atol, message(), file: file, line: line)
}

/// Asserts that `body` throws a `ShapeError` from op `op` whose message contains every string in
/// `mentions` (typically the offending shapes, e.g. "[2, 3]").
public func assertShapeError<T>(_ op: String, mentions: [String], _ body: () throws -> T,
                                file: StaticString = #filePath, line: UInt = #line) {
    do {
        _ = try body()
        XCTFail("expected ShapeError from \(op), nothing was thrown", file: file, line: line)
    } catch let e as ShapeError {
        XCTAssertEqual(e.op, op, "ShapeError from the wrong op: \(e)", file: file, line: line)
        for m in mentions {
            XCTAssertTrue(e.message.contains(m), "ShapeError message \"\(e.message)\" does not mention \(m)",
                          file: file, line: line)
        }
    } catch {
        XCTFail("expected ShapeError from \(op), got \(error)", file: file, line: line)
    }
}
