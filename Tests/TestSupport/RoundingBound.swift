import XCTest

/// Tolerances from the float32 rounding-error bound, for results checked against a reference
/// computed in Double.
///
/// The model (Higham, "Accuracy and Stability of Numerical Algorithms", 2nd ed., ch. 2-3): each
/// float operation returns `(a op b)(1 + δ)` with `|δ| <= u`, `u = 2^-24` for float32 (no underflow
/// or overflow: the tests use values of order 1). A result that is a sum of products of inputs
/// and exact coefficients (every convolution, GEMM, Winograd transform and reduction here: the
/// transforms only add, subtract and halve) is then computed as `sum_i term_i (1 + θ_i)`, where
/// `θ_i` collects the roundings on the path of term i, at most `L` of them, so `|θ_i| <= γ_L =
/// L u / (1 - L u)`. Hence
///
///     |computed - exact| <= γ_L * sum_i |term_i|
///
/// for every output element. `L` counts the roundings on the longest path: a dot product of n
/// terms has n (one product, n - 1 additions), in whatever order they are summed.
///
/// Why the worst-case `γ_L` and not the probabilistic `sqrt(L) u` (Higham & Mary, 2019): the
/// worst case holds for every summation order, blocking, FMA use and thread split a BLAS kernel
/// may choose, so no CPU and no `OPENBLAS_CORETYPE` can fail a correct kernel; the probabilistic
/// form assumes independent, mean-zero roundings and holds only with high probability, and a test
/// must not fail by chance. The worst case is still small against the bugs these tests exist to
/// catch: for 144 terms, 9e-6 of `sum |term|`, where a wrong tap, index or transform coefficient
/// moves an output by the size of a whole term.
public enum RoundingBound {
    /// Unit roundoff of float32.
    public static let float32: Double = 0x1p-24
    /// Unit roundoff of Double (the reference's own rounding).
    public static let float64: Double = 0x1p-53

    /// `γ_n = n u / (1 - n u)`, the bound on `|prod (1 + δ_i)^±1 - 1|` over n roundings of size u.
    public static func gamma(_ n: Int, unitRoundoff u: Double = float32) -> Double {
        precondition(n >= 0 && Double(n) * u < 1, "gamma: n u must be below 1 (n = \(n))")
        return Double(n) * u / (1 - Double(n) * u)
    }

    /// The allowed error of one element: the float32 result's `γ_L` plus the Double reference's
    /// own `γ_R` (R its roundings, L unless given), both times `sum |term|` (the reference's terms
    /// are the exact result's, and their |sum| is at most `magnitude`).
    public static func allowed(magnitude: Double, roundings: Int, referenceRoundings: Int? = nil) -> Double {
        (gamma(roundings) + gamma(referenceRoundings ?? roundings, unitRoundoff: float64)) * magnitude
    }
}

/// A reference result in Double with, for each element, the sum of the absolute values of the
/// terms that make it (`magnitude`), the scale of its rounding error.
public struct BoundedReference {
    public var value: [Double]
    public var magnitude: [Double]

    public init(value: [Double], magnitude: [Double]) {
        precondition(value.count == magnitude.count)
        self.value = value
        self.magnitude = magnitude
    }

    public init(count: Int) {
        self.init(value: [Double](repeating: 0, count: count), magnitude: [Double](repeating: 0, count: count))
    }

    /// Adds `term` to element `i`.
    @inline(__always)
    public mutating func add(_ term: Double, at i: Int) {
        value[i] += term
        magnitude[i] += abs(term)
    }
}

/// The element of `actual` whose error exceeds its rounding bound by the largest ratio (NaN
/// counts as infinitely over), or nil if all are within: `|actual - value| <= allowed(magnitude,
/// roundings)`.
public func roundingBoundViolation(_ actual: [Float], _ reference: BoundedReference, roundings: Int,
                                   referenceRoundings: Int? = nil)
    -> (index: Int, actual: Float, expected: Double, error: Double, allowed: Double)? {
    var worst: (index: Int, actual: Float, expected: Double, error: Double, allowed: Double)?
    var worstRatio = 0.0
    for i in 0..<min(actual.count, reference.value.count) {
        let error = abs(Double(actual[i]) - reference.value[i])
        let allowed = RoundingBound.allowed(magnitude: reference.magnitude[i], roundings: roundings,
                                            referenceRoundings: referenceRoundings)
        guard !(error <= allowed) else { continue }
        let ratio = error.isNaN ? .infinity : error / allowed
        if worst == nil || ratio > worstRatio {
            worst = (i, actual[i], reference.value[i], error, allowed)
            worstRatio = ratio
        }
    }
    return worst
}

/// Asserts that every element of `actual` is within its float32 rounding bound of `reference`:
/// `|actual - value| <= (γ_L(float32) + γ_L(float64)) * magnitude`, L = `roundings` (see
/// `RoundingBound` for the model and for how to count L; `referenceRoundings`, those of the Double
/// reference, when they differ).
public func assertWithinRoundingBound(_ actual: [Float], _ reference: BoundedReference, roundings: Int,
                                      referenceRoundings: Int? = nil, _ message: @autoclosure () -> String = "",
                                      file: StaticString = #filePath, line: UInt = #line) {
    guard actual.count == reference.value.count else {
        XCTFail("assertWithinRoundingBound: \(actual.count) elements, expected \(reference.value.count). \(message())",
                file: file, line: line)
        return
    }
    if let w = roundingBoundViolation(actual, reference, roundings: roundings, referenceRoundings: referenceRoundings) {
        XCTFail("assertWithinRoundingBound: element \(w.index) is \(w.actual), expected \(w.expected): error "
                + "\(w.error) over its bound \(w.allowed) (\(roundings) roundings). \(message())", file: file, line: line)
    }
}

/// Asserts that a single computed value is within `(γ_L(float32) + γ_R(float64)) * magnitude` of
/// the `expected` value computed in Double with R roundings (L unless given).
public func assertWithinRoundingBound(_ actual: Double, _ expected: Double, magnitude: Double, roundings: Int,
                                      referenceRoundings: Int? = nil, _ message: @autoclosure () -> String = "",
                                      file: StaticString = #filePath, line: UInt = #line) {
    let allowed = RoundingBound.allowed(magnitude: magnitude, roundings: roundings, referenceRoundings: referenceRoundings)
    let error = abs(actual - expected)
    XCTAssertTrue(error <= allowed, "assertWithinRoundingBound: \(actual), expected \(expected): error \(error) "
                  + "over its bound \(allowed) (\(roundings) roundings). \(message())", file: file, line: line)
}
