import TensorKit
import Autograd

/// Deterministic test tensors. Every helper is a pure function of its `seed`, so a failing test
/// reproduces exactly.
public enum TestTensors {
    /// Standard normal entries.
    public static func normal(_ shape: [Int], seed: UInt64, scale: Float = 1) -> Tensor {
        Tensor.randomNormal(shape, rng: CounterRNG(seed: seed), stream: 7) * scale
    }

    /// Uniform entries in `[lo, hi)`.
    public static func uniform(_ shape: [Int], seed: UInt64, in range: ClosedRange<Float>) -> Tensor {
        let rng = CounterRNG(seed: seed)
        let d = (0..<Tensor.count(of: shape)).map {
            range.lowerBound + (range.upperBound - range.lowerBound) * rng.uniform(stream: 11, index: UInt64($0))
        }
        return Tensor(shape: shape, data: d)
    }

    /// Normal entries pushed away from zero: `x + sign(x) * margin`, so `|x| >= margin`. Use a
    /// margin larger than twice the finite-difference step (the stencil reaches `x +- 2 eps`) to
    /// keep leaky ReLU's kink out of every difference.
    public static func awayFromZero(_ shape: [Int], seed: UInt64, margin: Float = 0.1) -> Tensor {
        let t = normal(shape, seed: seed)
        return Tensor(shape: shape, data: t.data.map { $0 + ($0 < 0 ? -margin : margin) })
    }

    /// Entries in `[0.5, 2)`: positive and away from 0, for sqrt, rsqrt and divisors.
    public static func positive(_ shape: [Int], seed: UInt64) -> Tensor {
        uniform(shape, seed: seed, in: 0.5...2)
    }
}

/// `y * R` for a fixed standard normal `R` of `y`'s shape (a pure function of `seed`).
///
/// Weights an op's output so that every output element reaches the gradient with a different
/// weight: a rule that mixes up elements (a transposed index, a wrong broadcast axis) changes the
/// result, which a plain sum (all weights 1) would not reveal. The gradient checkers sum it in
/// Double; `randomProjection` is its float32 sum, for a scalar `Var`.
public func randomlyWeighted(_ y: Var, seed: UInt64 = 99) throws -> Var {
    try y * Var(TestTensors.normal(y.shape, seed: seed))
}

/// `R * y^2` for a fixed standard normal `R`: quadratic in `y`, so that the gradient of its sum
/// depends on the op's input even when the op is linear. Second-order checks use it: for a linear
/// op the gradient of a linear weighting would be a constant, and the double backward would be
/// checked only trivially.
public func quadraticallyWeighted(_ y: Var, seed: UInt64 = 98) throws -> Var {
    try y.square() * Var(TestTensors.normal(y.shape, seed: seed))
}

/// `sum(y * R)` (see `randomlyWeighted`) as a scalar `Var`.
public func randomProjection(_ y: Var, seed: UInt64 = 99) throws -> Var {
    try randomlyWeighted(y, seed: seed).sum()
}

/// `sum(R * y^2)` (see `quadraticallyWeighted`) as a scalar `Var`.
public func quadraticProjection(_ y: Var, seed: UInt64 = 98) throws -> Var {
    try quadraticallyWeighted(y, seed: seed).sum()
}
