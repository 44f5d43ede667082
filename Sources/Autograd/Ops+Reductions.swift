import TensorKit

// Reductions and broadcasting: `sum(to:)` and `expand(to:)` are each other's adjoints.

extension Var {
    /// Sums over broadcast dimensions down to `shape` (which must broadcast up to this shape).
    public func sum(to shape: [Int]) throws -> Var {
        if shape == self.shape { return self }
        guard Tensor.broadcastShape(shape, self.shape) == self.shape else {
            throw ShapeError("sum(to:)", "\(self.shape) cannot be reduced to \(shape)")
        }
        return summed(to: shape, value: value.sum(to: shape))
    }

    /// The node `sum(to: shape)` makes, for a `value` its caller has computed (a fused kernel that
    /// sums while it writes this tensor): the same rule, so a recorded graph is the same.
    func summed(to shape: [Int], value: Tensor) -> Var {
        if shape == self.shape { return self }
        let from = self.shape
        return Var.op(value, [self]) { _, g, _ in [try g.expand(to: from)] }
    }

    /// Broadcasts up to `shape` (copying).
    public func expand(to shape: [Int]) throws -> Var {
        if shape == self.shape { return self }
        guard Tensor.broadcastShape(self.shape, shape) == shape else {
            throw ShapeError("expand", "\(self.shape) does not broadcast to \(shape)")
        }
        let from = self.shape
        return Var.op(value.expand(to: shape), [self]) { _, g, _ in [try g.sum(to: from)] }
    }

    /// Sum over `axes` (negative axes count from the end), keeping them as size 1 if `keepDims`.
    public func sum(axes: [Int], keepDims: Bool = false) throws -> Var {
        let r = shape.count
        let ax = Set(axes.map { $0 < 0 ? $0 + r : $0 })
        guard ax.allSatisfy({ $0 >= 0 && $0 < r }) else {
            throw ShapeError("sum", "axes \(axes) out of range for shape \(shape)")
        }
        let kept = shape.enumerated().map { ax.contains($0.offset) ? 1 : $0.element }
        let s = try sum(to: kept)
        return keepDims ? s : try s.reshape(shape.enumerated().filter { !ax.contains($0.offset) }.map(\.element))
    }

    /// Mean over `axes`.
    public func mean(axes: [Int], keepDims: Bool = false) throws -> Var {
        let r = shape.count
        let n = Set(axes.map { $0 < 0 ? $0 + r : $0 }).reduce(1) { $0 * ($1 < r && $1 >= 0 ? shape[$1] : 1) }
        return try sum(axes: axes, keepDims: keepDims) * (1 / Float(n))
    }

    /// Sum of all elements, a scalar of shape [].
    public func sum() throws -> Var { try sum(axes: Array(0..<shape.count)) }

    /// Mean of all elements, a scalar of shape [].
    public func mean() throws -> Var { try sum() * (1 / Float(max(1, value.count))) }

    /// The same elements under a new shape with the same count.
    public func reshape(_ newShape: [Int]) throws -> Var {
        guard Tensor.count(of: newShape) == value.count else {
            throw ShapeError("reshape", "cannot view \(shape) (\(value.count) elements) as \(newShape)")
        }
        if newShape == shape { return self }
        let from = shape
        return Var.op(value.reshaped(newShape), [self]) { _, g, _ in [try g.reshape(from)] }
    }
}
