#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif
import Autograd
import TensorKit

/// The trainable tensors of a network, in a fixed order, each named by its path
/// (e.g. "G/8x8/conv0/weight"). The order is the layout of fused gradient buffers and checkpoints.
public final class ParameterSet {
    /// Parameters in registration order.
    public private(set) var parameters: [Var] = []

    public init() {}

    /// Registers a new parameter with `value`, returning its node.
    func add(_ name: String, _ value: Tensor) -> Var {
        require(!parameters.contains { $0.name == name }, "duplicate parameter \(name)")
        let v = Var(value, requiresGrad: true, name: name)
        parameters.append(v)
        return v
    }

    /// Total number of scalars.
    public var count: Int { parameters.reduce(0) { $0 + $1.value.count } }

    /// Names in order.
    public var names: [String] { parameters.map { $0.name ?? "" } }

    /// The parameter with this name, if any.
    public subscript(name: String) -> Var? { parameters.first { $0.name == name } }
}

/// Flat views for fused buffers (all-reduce, broadcast) and the moving average of G.
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

    /// Which parameters have a gradient: those in the step's graph (at 4x4 of a network built for
    /// 1024, about a quarter of the weights). Every rank builds the same graph, so every rank
    /// gets the same flags.
    public var gradientPresence: [Bool] { parameters.map { $0.grad != nil } }

    /// The gradients of the parameters marked `present`, concatenated in order: the part of
    /// `flatGradient()` that can be nonzero, for a smaller all-reduce.
    public func flatGradient(present: [Bool]) -> [Float] {
        require(present.count == parameters.count, "flatGradient(present:): \(present.count) flags for \(parameters.count) parameters")
        var out = [Float]()
        out.reserveCapacity(zip(parameters, present).reduce(0) { $1.1 ? $0 + $1.0.value.count : $0 })
        for (p, on) in zip(parameters, present) where on {
            if let g = p.grad { out.append(contentsOf: g.data) }
            else { out.append(contentsOf: repeatElement(0, count: p.value.count)) }
        }
        return out
    }

    /// The number of values of the parameters marked `present` (the length of `flatGradient(present:)`).
    public func presentCount(_ present: [Bool]) -> Int {
        require(present.count == parameters.count, "presentCount: \(present.count) flags for \(parameters.count) parameters")
        return zip(parameters, present).reduce(0) { $1.1 ? $0 + $1.0.value.count : $0 }
    }

    /// Calls `body(i, elements, position)` for each present parameter i's elements that fall in
    /// `range` of the present layout (the layout of `flatGradient(present:)`), in order;
    /// `position` is the layout position of the first of them.
    func forEachPresentPart(_ present: [Bool], in range: Range<Int>, _ body: (Int, Range<Int>, Int) -> Void) {
        var offset = 0
        for (i, p) in parameters.enumerated() where present[i] {
            let start = offset, n = p.value.count
            offset += n
            let lo = max(start, range.lowerBound), hi = min(start + n, range.upperBound)
            if lo < hi { body(i, (lo - start)..<(hi - start), lo) }
            if offset >= range.upperBound { break }
        }
    }

    /// The values at positions `range` of the present layout.
    public func flatValues(present: [Bool], range: Range<Int>) -> [Float] {
        var out = [Float](repeating: 0, count: range.count)
        out.withUnsafeMutableBufferPointer { copyValues(present: present, range: range, into: $0) }
        return out
    }

    /// Copies the values at positions `range` of the present layout into `out` (`range.count` long).
    public func copyValues(present: [Bool], range: Range<Int>, into out: UnsafeMutableBufferPointer<Float>) {
        require(out.count == range.count, "copyValues: \(out.count) places for positions \(range)")
        forEachPresentPart(present, in: range) { i, elements, position in
            parameters[i].value.data.withUnsafeBufferPointer { v in
                (out.baseAddress! + (position - range.lowerBound))
                    .update(from: v.baseAddress! + elements.lowerBound, count: elements.count)
            }
        }
    }

    /// Sets the present parameters' values from `flat`, laid out as `flatGradient(present:)`,
    /// in place, leaving positions `kept` as they are (a rank's own block, already current).
    public func assign(flatValues flat: [Float], present: [Bool], keeping kept: Range<Int> = 0..<0) {
        let total = presentCount(present)
        require(flat.count == total, "assign(flatValues:present:): \(flat.count) values for \(total)")
        flat.withUnsafeBufferPointer { f in
            for part in [0..<min(kept.lowerBound, total), min(kept.upperBound, total)..<total] where !part.isEmpty {
                forEachPresentPart(present, in: part) { i, elements, position in
                    parameters[i].updateValue { t in t.data.withUnsafeMutableBufferPointer { w in
                        (w.baseAddress! + elements.lowerBound).update(from: f.baseAddress! + position, count: elements.count)
                    } }
                }
            }
        }
    }

    /// Clears every parameter's accumulated gradient.
    public func zeroGradients() { for p in parameters { p.grad = nil } }

    /// All parameter values concatenated in order.
    public func flatValues() -> [Float] { parameters.flatMap { $0.value.data } }

    /// Sets all parameter values from a flat buffer laid out as `flatValues()`.
    public func assign(flatValues flat: [Float]) {
        require(flat.count == count, "assign(flatValues:): \(flat.count) values for \(count) parameters")
        var offset = 0
        for p in parameters {
            let n = p.value.count
            p.assign(Tensor(shape: p.shape, data: Array(flat[offset..<offset + n])))
            offset += n
        }
    }

    /// Exponential moving average towards `source`: `self = source + beta * (self - source)`
    /// (the authors' `setup_as_moving_average_of`). Both sets must have the same layout.
    ///
    /// A parameter already equal to its source is left alone: the average would give the source
    /// again. Those are the layers not trained yet (G and its average start equal), most of a
    /// network built for 1024 while it trains at 4x4; the comparison stops at the first
    /// difference, so trained layers cost nothing extra.
    public func moveAverage(towards source: ParameterSet, beta: Float) {
        require(parameters.count == source.parameters.count, "moving average of differently shaped networks")
        for (p, s) in zip(parameters, source.parameters) {
            let equal = s.value.data.withUnsafeBytes { sb in p.value.data.withUnsafeBytes { pb in
                sb.count == pb.count && (sb.count == 0 || memcmp(sb.baseAddress!, pb.baseAddress!, sb.count) == 0)
            } }
            if equal { continue }
            s.value.data.withUnsafeBufferPointer { sv in p.updateValue { t in t.data.withUnsafeMutableBufferPointer { pv in
                Parallel.forRanges(pv.count, grain: 1 << 15) { r in
                    for j in r { pv[j] = sv[j] + beta * (pv[j] - sv[j]) }
                }
            } } }
        }
    }
}
