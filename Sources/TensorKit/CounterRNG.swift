#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// Counter-based random numbers: every draw is a pure function of `(seed, stream, index)`, so a
/// sample's latent, its data-order slot or its gradient-penalty mixing factor can be recomputed on
/// any rank, after any resume, without replaying a sequential generator (docs/ARCHITECTURE.md, "N ranks train like one
/// process").
///
/// The mixing function is SplitMix64's finalizer applied to a combination of the three inputs;
/// streams are separated by multiplying with distinct odd constants before mixing.
public struct CounterRNG: Sendable, Hashable {
    public var seed: UInt64
    public init(seed: UInt64) { self.seed = seed }

    @inlinable
    static func mix(_ z0: UInt64) -> UInt64 {
        var z = z0 &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// 64 random bits for `(stream, index)`.
    @inlinable
    public func bits(stream: UInt64, index: UInt64) -> UInt64 {
        let a = CounterRNG.mix(seed &* 0xD1B5_4A32_D192_ED03 ^ stream)
        return CounterRNG.mix(a ^ (index &* 0x9E37_79B9_7F4A_7C15))
    }

    /// Uniform in `[0, 1)` with 24 random bits (exactly representable in Float).
    @inlinable
    public func uniform(stream: UInt64, index: UInt64) -> Float {
        Float(bits(stream: stream, index: index) >> 40) * (1.0 / 16_777_216.0)
    }

    /// Uniform in `[0, 1)` with 53 random bits.
    @inlinable
    public func uniformDouble(stream: UInt64, index: UInt64) -> Double {
        Double(bits(stream: stream, index: index) >> 11) * (1.0 / 9_007_199_254_740_992.0)
    }

    /// Standard normal draw (Box-Muller on two 53-bit uniforms), a pure function of `(stream, index)`.
    @inlinable
    public func normal(stream: UInt64, index: UInt64) -> Float {
        let u1 = uniformDouble(stream: stream, index: 2 &* index)
        let u2 = uniformDouble(stream: stream, index: 2 &* index &+ 1)
        let r = (-2.0 * _log(1.0 - u1)).squareRoot()
        return Float(r * _cos(2.0 * Double.pi * u2))
    }

    /// Integer uniform in `0..<bound` (bound > 0), by 128-bit multiply (negligible bias for the
    /// bounds used here: dataset sizes and patch coordinates).
    @inlinable
    public func below(_ bound: Int, stream: UInt64, index: UInt64) -> Int {
        require(bound > 0, "CounterRNG.below: bound must be positive")
        let r = bits(stream: stream, index: index)
        return Int(r.multipliedFullWidth(by: UInt64(bound)).high)
    }

    /// Fills `count` standard normal draws for indices `start..<start+count`.
    public func normals(stream: UInt64, start: UInt64, count: Int) -> [Float] {
        (0..<count).map { normal(stream: stream, index: start &+ UInt64($0)) }
    }
}

@usableFromInline func _log(_ x: Double) -> Double { log(x) }
@usableFromInline func _expf(_ x: Float) -> Float { expf(x) }
@usableFromInline func _logf(_ x: Float) -> Float { logf(x) }
@usableFromInline func _cos(_ x: Double) -> Double { cos(x) }
