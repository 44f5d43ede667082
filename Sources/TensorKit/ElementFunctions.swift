/// The functions the elementwise kernels apply, as types.
///
/// `Tensor.map` and `zipBroadcast` take these as generic parameters rather than closures. A loop
/// that `Parallel` hands to other threads is compiled as a function of its own; a closure it
/// captures is then called once per element, unvectorized (with 2 threads the elementwise ops
/// took ~4x the CPU time of the inlined 1-thread loop). A generic loop is compiled for each
/// function type, with the function inlined, whichever thread runs it. Each computes exactly
/// the expression of the scalar code, so results are the same bits.
@usableFromInline
protocol UnaryElementFunction {
    func callAsFunction(_ x: Float) -> Float
}

/// A function of two floats; see `UnaryElementFunction`.
@usableFromInline
protocol BinaryElementFunction {
    func callAsFunction(_ a: Float, _ b: Float) -> Float
}

@usableFromInline struct Sum: BinaryElementFunction {
    @inlinable init() {}
    @inlinable @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> Float { a + b }
}

@usableFromInline struct Difference: BinaryElementFunction {
    @inlinable init() {}
    @inlinable @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> Float { a - b }
}

@usableFromInline struct Product: BinaryElementFunction {
    @inlinable init() {}
    @inlinable @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> Float { a * b }
}

@usableFromInline struct Quotient: BinaryElementFunction {
    @inlinable init() {}
    @inlinable @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> Float { a / b }
}

/// `b`, ignoring `a` (broadcasting a tensor into a shape).
@usableFromInline struct SecondOperand: BinaryElementFunction {
    @inlinable init() {}
    @inlinable @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> Float { b }
}

@usableFromInline struct Scaled: UnaryElementFunction {
    @usableFromInline let factor: Float
    @inlinable init(factor: Float) { self.factor = factor }
    @inlinable @inline(__always) func callAsFunction(_ x: Float) -> Float { x * factor }
}

@usableFromInline struct Shifted: UnaryElementFunction {
    @usableFromInline let offset: Float
    @inlinable init(offset: Float) { self.offset = offset }
    @inlinable @inline(__always) func callAsFunction(_ x: Float) -> Float { x + offset }
}

@usableFromInline struct Negated: UnaryElementFunction {
    @inlinable init() {}
    @inlinable @inline(__always) func callAsFunction(_ x: Float) -> Float { -x }
}

@usableFromInline struct Squared: UnaryElementFunction {
    @inlinable init() {}
    @inlinable @inline(__always) func callAsFunction(_ x: Float) -> Float { x * x }
}

@usableFromInline struct SquareRoot: UnaryElementFunction {
    @inlinable init() {}
    @inlinable @inline(__always) func callAsFunction(_ x: Float) -> Float { x.squareRoot() }
}

@usableFromInline struct ReciprocalSquareRoot: UnaryElementFunction {
    @inlinable init() {}
    @inlinable @inline(__always) func callAsFunction(_ x: Float) -> Float { 1 / x.squareRoot() }
}

@usableFromInline struct Exponential: UnaryElementFunction {
    @inlinable init() {}
    @inlinable @inline(__always) func callAsFunction(_ x: Float) -> Float { _expf(x) }
}

@usableFromInline struct Logarithm: UnaryElementFunction {
    @inlinable init() {}
    @inlinable @inline(__always) func callAsFunction(_ x: Float) -> Float { _logf(x) }
}

@usableFromInline struct LeakyReLU: UnaryElementFunction {
    @usableFromInline let slope: Float
    @inlinable init(slope: Float) { self.slope = slope }
    @inlinable @inline(__always) func callAsFunction(_ x: Float) -> Float { x > 0 ? x : x * slope }
}

/// The derivative of `LeakyReLU`: 1 where positive, `slope` elsewhere.
@usableFromInline struct LeakyReLUSlope: UnaryElementFunction {
    @usableFromInline let slope: Float
    @inlinable init(slope: Float) { self.slope = slope }
    @inlinable @inline(__always) func callAsFunction(_ x: Float) -> Float { x > 0 ? 1 : slope }
}
