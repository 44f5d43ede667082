import Autograd
import TensorKit

/// Adam (Kingma and Ba) over a parameter set, with the paper's defaults (beta1 0, beta2 0.99,
/// eps 1e-8) and bias correction. State is one moment pair per parameter, in the set's order.
public final class Adam {
    public var beta1: Float
    public var beta2: Float
    public var epsilon: Float
    /// First and second moments, shaped like the parameters' flat data.
    public var m: [[Float]]
    public var v: [[Float]]
    /// Number of updates applied since the last reset.
    public var step: Int = 0

    public init(_ parameters: ParameterSet, beta1: Float = 0, beta2: Float = 0.99, epsilon: Float = 1e-8) {
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        m = parameters.parameters.map { [Float](repeating: 0, count: $0.value.count) }
        v = m
    }

    /// Forgets the moments (the authors reset Adam when new layers are introduced).
    public func reset() {
        for i in m.indices {
            m[i] = [Float](repeating: 0, count: m[i].count)
            v[i] = [Float](repeating: 0, count: v[i].count)
        }
        step = 0
    }

    /// Applies one update with the gradient `flat`, laid out as the parameters in order.
    /// Parameters whose gradient slice is all zeros still update their moments (they are simply
    /// unused at the current resolution), matching a dense optimizer.
    public func update(_ parameters: ParameterSet, flatGradient flat: [Float], learningRate lr: Float) {
        step += 1
        let c1 = 1 - pow(beta1, Float(step)), c2 = 1 - pow(beta2, Float(step))
        let stepSize = lr * c2.squareRoot() / (c1 == 0 ? 1 : c1)
        let epsHat = epsilon * c2.squareRoot()
        var offset = 0
        flat.withUnsafeBufferPointer { g in
            for (i, p) in parameters.parameters.enumerated() {
                let n = p.value.count
                let (b1, b2) = (beta1, beta2)
                m[i].withUnsafeMutableBufferPointer { mi in v[i].withUnsafeMutableBufferPointer { vi in
                    p.updateValue { t in t.data.withUnsafeMutableBufferPointer { w in
                        for j in 0..<n {
                            let gj = g[offset + j]
                            mi[j] = b1 * mi[j] + (1 - b1) * gj
                            vi[j] = b2 * vi[j] + (1 - b2) * gj * gj
                            w[j] -= stepSize * mi[j] / (vi[j].squareRoot() + epsHat)
                        }
                    } }
                } }
                offset += n
            }
        }
    }
}

@inline(__always) func pow(_ x: Float, _ y: Float) -> Float {
    var r: Float = 1
    var k = Int(y)
    var b = x
    while k > 0 { if k & 1 == 1 { r *= b }; b *= b; k >>= 1 }
    return r
}

extension ParameterSet {
    /// Gradients of all parameters concatenated in order (zeros where a parameter has none),
    /// ready for one fused all-reduce.
    public func flatGradient() -> [Float] {
        var out = [Float]()
        out.reserveCapacity(count)
        for p in parameters {
            if let g = p.grad { out.append(contentsOf: g.data) }
            else { out.append(contentsOf: repeatElement(0, count: p.value.count)) }
        }
        return out
    }

    /// Clears every parameter's accumulated gradient.
    public func zeroGradients() { for p in parameters { p.grad = nil } }

    /// All parameter values concatenated in order.
    public func flatValues() -> [Float] { parameters.flatMap { $0.value.data } }

    /// Sets all parameter values from a flat buffer laid out as `flatValues()`.
    public func assign(flatValues flat: [Float]) {
        precondition(flat.count == count, "assign(flatValues:): \(flat.count) values for \(count) parameters")
        var offset = 0
        for p in parameters {
            let n = p.value.count
            p.assign(Tensor(shape: p.shape, data: Array(flat[offset..<offset + n])))
            offset += n
        }
    }

    /// Exponential moving average towards `source`: `self = source + beta * (self - source)`
    /// (the authors' `setup_as_moving_average_of`). Both sets must have the same layout.
    public func moveAverage(towards source: ParameterSet, beta: Float) {
        precondition(parameters.count == source.parameters.count, "moving average of differently shaped networks")
        for (p, s) in zip(parameters, source.parameters) {
            s.value.data.withUnsafeBufferPointer { sv in p.updateValue { t in t.data.withUnsafeMutableBufferPointer { pv in
                for j in 0..<pv.count { pv[j] = sv[j] + beta * (pv[j] - sv[j]) }
            } } }
        }
    }
}
