#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif
import Autograd
import TensorKit

/// Adam (Kingma and Ba) over a parameter set, with the paper's defaults (beta1 0, beta2 0.99,
/// eps 1e-8) and bias correction. State is one moment pair per parameter, in the set's order.
public final class Adam {
    public var beta1: Float
    public var beta2: Float
    public var epsilon: Float
    /// First and second moments, shaped like the parameters' flat data. Set them with
    /// `setMoments(_:m:v:)`, which keeps track of which are zero.
    public internal(set) var m: [[Float]]
    public internal(set) var v: [[Float]]
    /// Number of updates applied since the last reset.
    public var step: Int = 0
    /// Whether parameter i's moments are known to be all zero: then an update with a zero
    /// gradient leaves it, and them, exactly as they are, and can be skipped.
    var momentsZero: [Bool]
    /// Zeros to stand in for the gradient of a parameter that has none (grown on demand).
    var zeros: [Float] = []
    /// The layout of the last sharded update (`update(_:flatGradient:present:learningRate:over:)`),
    /// nil when every moment is current on this rank: after a sharded update a rank's moments of
    /// the present parameters are current in its own block only.
    public internal(set) var shardedAs: OptimizerShards?

    public init(_ parameters: ParameterSet, beta1: Float = 0, beta2: Float = 0.99, epsilon: Float = 1e-8) {
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        m = parameters.parameters.map { [Float](repeating: 0, count: $0.value.count) }
        v = m
        momentsZero = [Bool](repeating: true, count: m.count)
    }

    /// Forgets the moments (the authors reset Adam when new layers are introduced).
    public func reset() {
        for i in m.indices {
            m[i] = [Float](repeating: 0, count: m[i].count)
            v[i] = [Float](repeating: 0, count: v[i].count)
        }
        momentsZero = [Bool](repeating: true, count: m.count)
        step = 0
        shardedAs = nil
    }

    /// Sets parameter i's moments (a checkpoint being loaded).
    /// - Throws: `ConfigError` if their sizes are not the parameter's.
    public func setMoments(_ i: Int, m mi: [Float], v vi: [Float]) throws {
        guard mi.count == m[i].count && vi.count == v[i].count else {
            throw ConfigError("Adam moments of \(mi.count) and \(vi.count) values for a parameter of \(m[i].count)")
        }
        m[i] = mi
        v[i] = vi
        momentsZero[i] = !mi.contains { $0 != 0 } && !vi.contains { $0 != 0 }
        shardedAs = nil
    }

    /// Applies one update with the gradient `flat`, laid out as the parameters in order.
    /// Parameters whose gradient slice is all zeros still update their moments (they are simply
    /// unused at the current resolution), matching a dense optimizer.
    public func update(_ parameters: ParameterSet, flatGradient flat: [Float], learningRate lr: Float) {
        update(parameters, flatGradient: flat, present: [Bool](repeating: true, count: parameters.parameters.count),
               learningRate: lr)
    }

    /// Applies one update where only the parameters marked `present` have a gradient, laid out in
    /// `flat` one after another in order (`ParameterSet.flatGradient(present:)`); the others are
    /// updated with a zero gradient. That is the dense update exactly, but a parameter that never
    /// had a gradient since the last reset (a layer not yet grown into) costs nothing: its moments
    /// are zero, so neither they nor its weights move.
    public func update(_ parameters: ParameterSet, flatGradient flat: [Float], present: [Bool], learningRate lr: Float) {
        require(present.count == parameters.parameters.count, "update: \(present.count) flags for \(parameters.parameters.count) parameters")
        let total = parameters.presentCount(present)
        require(flat.count == total, "update: the gradient has \(flat.count) values, the parameters marked present \(total)")
        flat.withUnsafeBufferPointer { apply(parameters, block: $0, at: 0..<total, present: present, learningRate: lr) }
    }

    /// The update where this rank holds the gradient of positions `range` of the present layout
    /// only (`block`): those elements are updated; the parameters not present but with nonzero
    /// moments are updated whole (with a zero gradient), as every rank does alike.
    func apply(_ parameters: ParameterSet, block g: UnsafeBufferPointer<Float>, at range: Range<Int>, present: [Bool],
               learningRate lr: Float) {
        require(g.count == range.count, "update: a block of \(g.count) values for positions \(range)")
        step += 1
        let c1 = 1 - pow(beta1, Float(step)), c2 = 1 - pow(beta2, Float(step))
        let stepSize = lr * c2.squareRoot() / (c1 == 0 ? 1 : c1)
        let epsHat = epsilon * c2.squareRoot()
        var largestAbsent = 0
        for (i, p) in parameters.parameters.enumerated() where !present[i] && !momentsZero[i] {
            largestAbsent = max(largestAbsent, p.value.count)
        }
        if zeros.count < largestAbsent { zeros = [Float](repeating: 0, count: largestAbsent) }
        var offset = 0
        let (b1, b2) = (beta1, beta2)
        zeros.withUnsafeBufferPointer { z in
            for (i, p) in parameters.parameters.enumerated() {
                let n = p.value.count
                // The elements of this parameter to update, and where their gradient starts.
                let elements: Range<Int>
                let gradient: UnsafePointer<Float>
                if present[i] {
                    let start = offset
                    offset += n
                    momentsZero[i] = false
                    let lo = max(start, range.lowerBound), hi = min(start + n, range.upperBound)
                    guard lo < hi else { continue }
                    elements = (lo - start)..<(hi - start)
                    gradient = g.baseAddress! + (lo - range.lowerBound)
                } else if momentsZero[i] {
                    continue
                } else {
                    elements = 0..<n
                    gradient = z.baseAddress!
                }
                m[i].withUnsafeMutableBufferPointer { mi in v[i].withUnsafeMutableBufferPointer { vi in
                    p.updateValue { t in t.data.withUnsafeMutableBufferPointer { w in
                        let (m0, v0, w0) = (mi.baseAddress! + elements.lowerBound, vi.baseAddress! + elements.lowerBound,
                                            w.baseAddress! + elements.lowerBound)
                        // Ranges of whole lanes in parallel: every element gets the same arithmetic.
                        Parallel.forRanges(elements.count, grain: 1 << 14, align: 8) { r in
                            Adam.step(g: gradient + r.lowerBound, m: m0 + r.lowerBound, v: v0 + r.lowerBound,
                                      w: w0 + r.lowerBound, count: r.count, beta1: b1, beta2: b2,
                                      stepSize: stepSize, epsHat: epsHat)
                        }
                    } }
                } }
            }
        }
    }
}

extension Adam {
    /// The update of `count` elements: 8 lanes at a time (the scalar loop does not vectorize,
    /// its square root and division each wait on the last), then the tail. Lanes compute exactly
    /// what the scalar expression does, so results do not depend on where the tail starts.
    static func step(g: UnsafePointer<Float>, m: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>,
                     w: UnsafeMutablePointer<Float>, count n: Int, beta1 b1: Float, beta2 b2: Float,
                     stepSize: Float, epsHat: Float) {
        typealias V8 = SIMD8<Float>
        var j = 0
        while j + 8 <= n {
            let gj = UnsafeRawPointer(g + j).loadUnaligned(as: V8.self)
            let mj = b1 * UnsafeRawPointer(m + j).loadUnaligned(as: V8.self) + (1 - b1) * gj
            let vj = b2 * UnsafeRawPointer(v + j).loadUnaligned(as: V8.self) + (1 - b2) * gj * gj
            let wj = UnsafeRawPointer(w + j).loadUnaligned(as: V8.self) - stepSize * mj / (vj.squareRoot() + epsHat)
            UnsafeMutableRawPointer(m + j).storeBytes(of: mj, as: V8.self)
            UnsafeMutableRawPointer(v + j).storeBytes(of: vj, as: V8.self)
            UnsafeMutableRawPointer(w + j).storeBytes(of: wj, as: V8.self)
            j += 8
        }
        while j < n {
            let gj = g[j]
            m[j] = b1 * m[j] + (1 - b1) * gj
            v[j] = b2 * v[j] + (1 - b2) * gj * gj
            w[j] -= stepSize * m[j] / (v[j].squareRoot() + epsHat)
            j += 1
        }
    }
}

/// Whether every element is finite. `x * 0` is 0 for finite x and NaN for infinities and NaN,
/// so one vectorized sum answers it (a per-element `allSatisfy` is several times slower).
public func allFinite(_ values: [Float]) -> Bool {
    values.withUnsafeBufferPointer { allFinite($0) }
}

/// Whether every element of the buffer is finite (see `allFinite(_:)` on arrays).
public func allFinite(_ p: UnsafeBufferPointer<Float>) -> Bool {
    let n = p.count
    var acc = SIMD8<Float>(repeating: 0)
    var j = 0
    if let base = UnsafeRawPointer(p.baseAddress) {
        while j + 8 <= n {
            acc += base.loadUnaligned(fromByteOffset: j * 4, as: SIMD8<Float>.self) * 0
            j += 8
        }
    }
    var tail: Float = acc.sum()
    while j < n { tail += p[j] * 0; j += 1 }
    return !tail.isNaN
}

@inline(__always) func pow(_ x: Float, _ y: Float) -> Float {
    var r: Float = 1
    var k = Int(y)
    var b = x
    while k > 0 { if k & 1 == 1 { r *= b }; b *= b; k >>= 1 }
    return r
}
