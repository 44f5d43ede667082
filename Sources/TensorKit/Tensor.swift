/// A dense float32 tensor: a shape and row-major contiguous storage (NCHW for images).
///
/// A value type over a copy-on-write array, so passing tensors around copies nothing until one is
/// written. Kernels (in `Tensor+*.swift`) check shapes with `require` (kept by -Ounchecked): shape errors a user can
/// cause are caught earlier, by the throwing autograd ops.
public struct Tensor: Sendable, Equatable {
    /// Dimensions, outermost first. `[]` is a scalar (one element).
    public private(set) var shape: [Int]
    /// Elements in row-major order; `data.count == shape.reduce(1, *)`.
    public var data: [Float]

    /// A tensor with the given shape and elements.
    public init(shape: [Int], data: [Float]) {
        require(shape.allSatisfy { $0 >= 0 }, "Tensor: negative dimension in \(shape)")
        require(Tensor.count(of: shape) == data.count,
                     "Tensor: shape \(shape) needs \(Tensor.count(of: shape)) elements, got \(data.count)")
        self.shape = shape
        self.data = data
    }

    /// A tensor filled with one value.
    public init(shape: [Int], repeating value: Float = 0) {
        self.init(shape: shape, data: [Float](repeating: value, count: Tensor.count(of: shape)))
    }

    /// A tensor of zeros.
    public static func zeros(_ shape: [Int]) -> Tensor { Tensor(shape: shape, repeating: 0) }
    /// A tensor of ones.
    public static func ones(_ shape: [Int]) -> Tensor { Tensor(shape: shape, repeating: 1) }
    /// A rank-0 tensor.
    public static func scalar(_ value: Float) -> Tensor { Tensor(shape: [], data: [value]) }

    /// Number of elements.
    @inlinable public var count: Int { data.count }
    /// Number of dimensions.
    @inlinable public var rank: Int { shape.count }

    /// Number of elements a shape holds.
    @inlinable
    public static func count(of shape: [Int]) -> Int { shape.reduce(1, *) }

    /// Row-major strides of a shape.
    @inlinable
    public static func strides(of shape: [Int]) -> [Int] {
        var s = [Int](repeating: 1, count: shape.count)
        var acc = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) { s[i] = acc; acc *= shape[i] }
        return s
    }

    /// The same elements under another shape with the same element count.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        require(Tensor.count(of: newShape) == count, "reshape: \(shape) -> \(newShape) changes the element count")
        var t = self
        t.shape = newShape
        return t
    }

    /// The only element of a one-element tensor.
    public var scalarValue: Float {
        require(count == 1, "scalarValue of a tensor of shape \(shape)")
        return data[0]
    }

    /// Standard normal entries drawn from `rng`'s `stream`, element `i` at index `start + i`.
    public static func randomNormal(_ shape: [Int], rng: CounterRNG, stream: UInt64, start: UInt64 = 0) -> Tensor {
        Tensor(shape: shape, data: rng.normals(stream: stream, start: start, count: count(of: shape)))
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let head = data.prefix(8).map { String(format3($0)) }.joined(separator: ", ")
        return "Tensor(\(shape), [\(head)\(count > 8 ? ", ..." : "")])"
    }
}

@usableFromInline func format3(_ x: Float) -> String {
    let r = (Double(x) * 1000).rounded() / 1000
    return "\(r)"
}
