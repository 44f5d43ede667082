import XCTest
import TensorKit
import Autograd

/// Settings of a finite-difference gradient check.
///
/// The check compares each analytic derivative `a` of `F = sum(f(x))` with the fourth-order
/// central difference (Richardson extrapolation of the steps e and 2e, the five-point stencil)
/// `d = [8 (F(x+e) - F(x-e)) - (F(x+2e) - F(x-2e))] / (12 e)`, where `F` sums the float32 output
/// elements of `f` in Double, and accepts `|a - d| <= atol + rtol * |d|`.
///
/// Why the defaults suffice and still bite, for inputs and outputs of order 1 (the tests weight a
/// few dozen output elements by standard normals):
/// - truncation: the stencil is off by `F^(5) e^4 / 30`, about 3e-10 for `e = 1e-2` and fifth
///   derivatives of order 1, and exactly 0 for polynomials of degree 4 or less (all linear and
///   bilinear ops: conv, matmul, sums, resampling). The plain two-point difference is off by
///   `F''' e^2 / 6`, which for the second-order checks of `/` (derivatives growing like `x^-k`
///   with factorial constants) reached 2e-3 relative at x = 0.5: more than a tolerance that must
///   catch a 1% error allows, hence the five-point stencil.
/// - rounding: `f` is float32, but its elements are summed in Double, so elements the
///   perturbation does not reach are identical in all evaluations and cancel exactly (a float32
///   total would add its own rounding, `2^-24 |F|`, to every difference). What is left is the
///   rounding of the elements in the perturbed cone, about `6e-8 sqrt(cone) |element| / e`: below
///   1e-4 for the first-order checks here. The perturbed inputs are rounded to float32 before
///   use, and the stencil divides by the steps actually taken.
/// - So `atol = 1e-3`, `rtol = 1e-3`: every check in AutogradTests stays below 0.2 of it (run
///   with GRADCHECK_VERBOSE=1 to see each check's worst ratio), yet a wrong factor of 2 (an error
///   of 100% of `|a|`) or a dropped term of 0.5% of a derivative of size 2 is rejected. The
///   checker's own tests (GradientCheckerTests) prove that, for first and second order.
/// - Second order is where float32 bites: the cone of one input element can be the whole
///   gradient (one element of `x` moves every element of a conv's weight gradient, each a float32
///   sum of products of size ~10), and the noise of `<v, grad f>` reaches ~1e-3 at `e = 1e-2`,
///   the tolerance itself (measured: 1.6x over it for conv2d N2 C2 O3 3x4 k3). Functions that
///   are polynomials of degree <= 4 in each input element (linear and bilinear ops under a linear
///   or quadratic weighting, and their second-order `h`) have no truncation error at any step, so
///   their checks use `.polynomial` (`e = 0.25`): 25x less rounding noise, the same tolerance
///   (measured worst: 0.04 of it).
/// - Inputs must stay `2 e` away from kinks (leaky ReLU at 0): see `TestTensors.awayFromZero`.
public struct GradientCheckOptions: Sendable {
    /// Finite-difference step.
    public var eps: Double = 1e-2
    /// Relative tolerance on each element, relative to the finite difference.
    public var rtol: Double = 1e-3
    /// Absolute tolerance on each element.
    public var atol: Double = 1e-3
    /// Inputs with more elements are checked on this many elements drawn at random (always
    /// including the first and the last); smaller inputs are checked on every element.
    public var maxElementsPerInput: Int = 64

    public init(eps: Double = 1e-2, rtol: Double = 1e-3, atol: Double = 1e-3, maxElementsPerInput: Int = 64) {
        self.eps = eps
        self.rtol = rtol
        self.atol = atol
        self.maxElementsPerInput = maxElementsPerInput
    }

    /// For functions that are polynomials of degree <= 4 in each input element: the four-point
    /// stencil is then exact at any step, and a large step (0.25) divides the rounding noise.
    /// Same tolerances as the default.
    public static func polynomial(maxElementsPerInput: Int = 64) -> GradientCheckOptions {
        GradientCheckOptions(eps: 0.25, maxElementsPerInput: maxElementsPerInput)
    }
}

/// One input element whose analytic and finite-difference derivatives disagree.
public struct GradientMismatch: CustomStringConvertible, Sendable {
    /// Which input (position in the `inputs` array).
    public var input: Int
    /// Flat element index within that input.
    public var index: Int
    /// Derivative from `gradients(of:wrt:)`.
    public var analytic: Double
    /// Central difference.
    public var numeric: Double

    public var description: String {
        "input \(input) element \(index): analytic \(analytic), finite difference \(numeric)"
    }
}

/// The outcome of a gradient check.
public struct GradientCheckResult: Sendable {
    /// Elements outside tolerance.
    public var mismatches: [GradientMismatch] = []
    /// Number of elements compared.
    public var checked = 0
    /// Largest `|a - d| / (atol + rtol |d|)` seen: at most 1 when the check passes; how close to
    /// the limit a passing check came.
    public var worstRatio = 0.0
    /// Whether every compared element is within tolerance.
    public var passed: Bool { mismatches.isEmpty && checked > 0 }
}

/// The flat indices of a tensor with `count` elements that a check compares.
func sampledIndices(count: Int, max: Int, seed: UInt64) -> [Int] {
    if count <= max { return Array(0..<count) }
    var chosen: Set<Int> = [0, count - 1]
    let rng = CounterRNG(seed: seed)
    var i: UInt64 = 0
    while chosen.count < max {
        chosen.insert(rng.below(count, stream: 3, index: i))
        i += 1
    }
    return chosen.sorted()
}

/// Compares the gradient of a function with fourth-order central finite differences.
///
/// The function checked is the sum of the elements of `f`'s output, accumulated in Double: `f`
/// may return a tensor of any shape (`randomlyWeighted(op(x))` rather than its float32 sum), so that
/// output elements the perturbation does not reach are identical in every evaluation and cancel
/// exactly, instead of reaching the difference as the rounding of a large float32 total.
///
/// - Parameters:
///   - f: builds the output from the inputs (wrapped as `Var`s that require gradients). It must
///     be deterministic; it is evaluated once with the graph recorded, then four times per
///     checked element.
///   - inputs: the point at which to differentiate.
///   - options: step and tolerances, see `GradientCheckOptions`.
/// - Returns: the mismatches (empty when the rule is right) and statistics.
/// - Throws: whatever `f` or `gradients` throw.
public func checkGradients(of f: ([Var]) throws -> Var, at inputs: [Tensor],
                           options: GradientCheckOptions = .init()) throws -> GradientCheckResult {
    let vars = inputs.map { Var($0, requiresGrad: true) }
    let out = try f(vars)
    // The gradient of sum(out): seeded with ones.
    let analytic = try gradients(of: out, wrt: vars, seed: Var(Tensor.ones(out.shape)))
    var result = GradientCheckResult()
    func evaluate(_ xs: [Tensor]) throws -> Double {
        try f(xs.map { Var($0, requiresGrad: true) }).value.sumAll()
    }
    for (i, x) in inputs.enumerated() {
        precondition(analytic[i].shape == x.shape, "gradient \(i) has shape \(analytic[i].shape), input \(x.shape)")
        for j in sampledIndices(count: x.count, max: options.maxElementsPerInput, seed: UInt64(i)) {
            // f at x0 + m * eps, with the step actually taken after rounding to float32.
            func probe(_ m: Double) throws -> (value: Double, step: Double) {
                var xs = inputs
                xs[i].data[j] = Float(Double(x.data[j]) + m * options.eps)
                return (try evaluate(xs), Double(xs[i].data[j]) - Double(x.data[j]))
            }
            let (p1, m1, p2, m2) = (try probe(1), try probe(-1), try probe(2), try probe(-2))
            // Richardson extrapolation of two central differences: the five-point stencil
            // [8 (f(x+e) - f(x-e)) - (f(x+2e) - f(x-2e))] / 12e, error O(e^4).
            let d1 = (p1.value - m1.value) / (p1.step - m1.step)
            let d2 = (p2.value - m2.value) / (p2.step - m2.step)
            let numeric = (4 * d1 - d2) / 3
            let a = Double(analytic[i].value.data[j])
            let ratio = abs(a - numeric) / (options.atol + options.rtol * abs(numeric))
            result.checked += 1
            result.worstRatio = max(result.worstRatio, ratio.isNaN ? .infinity : ratio)
            if !(ratio <= 1) { result.mismatches.append(GradientMismatch(input: i, index: j, analytic: a, numeric: numeric)) }
        }
    }
    return result
}

/// The function whose gradient a second-order check compares: for `f` and fixed directions `v_i`
/// (one per input), `h(x) = sum_i <v_i, grad_i f(x)>` with `grad f` the gradient of the sum of
/// `f`'s output, computed with `createGraph: true`. Returned as the vector of the products
/// `v_i * grad_i f`, flattened and concatenated, whose sum `checkGradients` takes in Double. Its
/// gradient is the Hessian of `f` applied to `v`, so checking it checks every backward rule's
/// own backward.
public func directionalGradient(of f: @escaping ([Var]) throws -> Var, directions: [Tensor]) -> ([Var]) throws -> Var {
    { xs in
        let y = try f(xs)
        let gs = try gradients(of: y, wrt: xs, seed: Var(Tensor.ones(y.shape)), createGraph: true)
        let terms = try zip(gs, directions).map { g, v in try (g * Var(v)).reshape([v.count]) }
        return terms.isEmpty ? Var.scalar(0) : try Var.concat(terms, axis: 0)
    }
}

/// Second-order check: compares the gradient of `h = sum_i <v_i, grad_i f>` (see
/// `directionalGradient`) with central differences of `h`, for standard normal directions drawn
/// from `seed`. `f` should be nonlinear in every input (e.g. end in `quadraticallyWeighted`), or
/// `grad f` is constant and the check is trivial.
public func checkSecondOrderGradients(of f: @escaping ([Var]) throws -> Var, at inputs: [Tensor], seed: UInt64 = 1234,
                                      options: GradientCheckOptions = .init()) throws -> GradientCheckResult {
    let directions = inputs.enumerated().map { TestTensors.normal($0.element.shape, seed: seed &+ UInt64($0.offset)) }
    return try checkGradients(of: directionalGradient(of: f, directions: directions), at: inputs, options: options)
}

func report(_ what: String, _ r: GradientCheckResult, _ options: GradientCheckOptions, _ message: String,
            file: StaticString, line: UInt) {
    if r.checked == 0 { XCTFail("\(what): no element checked. \(message)", file: file, line: line); return }
    if ProcessInfo.processInfo.environment["GRADCHECK_VERBOSE"] != nil {
        print("\(file):\(line): \(what): \(r.checked) elements, worst error \(r.worstRatio) of tolerance")
    }
    guard !r.passed else { return }
    let shown = r.mismatches.prefix(5).map(\.description).joined(separator: "; ")
    XCTFail("\(what): \(r.mismatches.count) of \(r.checked) elements outside atol \(options.atol) + rtol \(options.rtol) "
            + "(eps \(options.eps)): \(shown). \(message)", file: file, line: line)
}

/// Asserts that the gradients of `f` at `inputs` match central finite differences
/// (`checkGradients`), failing at the caller's file and line with the first mismatches.
public func assertGradientsMatch(_ inputs: [Tensor], options: GradientCheckOptions = .init(),
                                 _ message: @autoclosure () -> String = "",
                                 file: StaticString = #filePath, line: UInt = #line,
                                 _ f: @escaping ([Var]) throws -> Var) {
    do {
        report("first-order gradient check", try checkGradients(of: f, at: inputs, options: options), options,
               message(), file: file, line: line)
    } catch {
        XCTFail("first-order gradient check threw \(error). \(message())", file: file, line: line)
    }
}

/// Asserts that the gradient of `h = sum_i <v_i, grad_i f>` (built with `createGraph: true`)
/// matches central finite differences of `h` (`checkSecondOrderGradients`).
public func assertSecondOrderGradientsMatch(_ inputs: [Tensor], options: GradientCheckOptions = .init(),
                                            _ message: @autoclosure () -> String = "",
                                            file: StaticString = #filePath, line: UInt = #line,
                                            _ f: @escaping ([Var]) throws -> Var) {
    do {
        report("second-order gradient check", try checkSecondOrderGradients(of: f, at: inputs, options: options),
               options, message(), file: file, line: line)
    } catch {
        XCTFail("second-order gradient check threw \(error). \(message())", file: file, line: line)
    }
}

/// Both checks for an op: first order on `randomlyWeighted(op(x))` and second order on
/// `quadraticallyWeighted(op(x))` (each summed in Double by the checker).
public func assertOpGradients(_ inputs: [Tensor], options: GradientCheckOptions = .init(),
                              _ message: @autoclosure () -> String = "",
                              file: StaticString = #filePath, line: UInt = #line,
                              _ op: @escaping ([Var]) throws -> Var) {
    let m = message()
    assertGradientsMatch(inputs, options: options, m, file: file, line: line) { try randomlyWeighted(op($0)) }
    assertSecondOrderGradientsMatch(inputs, options: options, m, file: file, line: line) { try quadraticallyWeighted(op($0)) }
}
