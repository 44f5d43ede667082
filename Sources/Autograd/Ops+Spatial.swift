import TensorKit

// Resampling and channel layout. Nearest 2x upsampling and 2x2 pooling with the same scale are
// exact adjoints (average pooling is the scale 1/4); narrowing and embedding (zero padding) are
// exact adjoints; concat's rule narrows.

extension Var {
    /// Nearest-neighbour 2x upsampling [N,C,H,W] -> [N,C,2H,2W], times `scale` (1 by default).
    /// Backward is 2x2 pooling with the same scale: the sum of the four gradients (times 1), in
    /// one pass rather than an average and a second pass that multiplies it by 4.
    public func upsample2x(scale: Float = 1) throws -> Var {
        guard shape.count == 4 else { throw ShapeError("upsample2x", "NCHW input expected, got \(shape)") }
        return Var.op(value.upsampled2x(scale: scale), [self]) { _, g, _ in [try g.avgPool2x(scale: scale)] }
    }

    /// 2x2 pooling [N,C,H,W] -> [N,C,H/2,W/2], each output `scale` times the sum of its four
    /// inputs (0.25 by default: their average). Backward is upsampling with the same scale.
    public func avgPool2x(scale: Float = 0.25) throws -> Var {
        guard shape.count == 4, shape[2] % 2 == 0, shape[3] % 2 == 0 else {
            throw ShapeError("avgPool2x", "NCHW input with even height and width expected, got \(shape)")
        }
        return Var.op(value.avgPooled2x(scale: scale), [self]) { _, g, _ in [try g.upsample2x(scale: scale)] }
    }

    /// Elements `start..<start+length` along `axis`.
    public func narrow(axis: Int, start: Int, length: Int) throws -> Var {
        guard axis >= 0, axis < shape.count, start >= 0, length >= 0, start + length <= shape[axis] else {
            throw ShapeError("narrow", "\(start)..<\(start + length) is outside axis \(axis) of \(shape)")
        }
        let total = shape[axis]
        return Var.op(value.narrowed(axis: axis, start: start, length: length), [self]) { _, g, _ in
            [try g.embed(axis: axis, start: start, total: total)]
        }
    }

    /// This tensor placed at `start` along `axis` within zeros of size `total` (adjoint of narrow).
    public func embed(axis: Int, start: Int, total: Int) throws -> Var {
        guard axis >= 0, axis < shape.count, start >= 0, start + shape[axis] <= total else {
            throw ShapeError("embed", "\(shape) at \(start) does not fit \(total) along axis \(axis)")
        }
        let length = shape[axis]
        return Var.op(value.embedded(axis: axis, start: start, total: total), [self]) { _, g, _ in
            [try g.narrow(axis: axis, start: start, length: length)]
        }
    }

    /// Concatenation along `axis`; other dimensions must agree.
    public static func concat(_ parts: [Var], axis: Int) throws -> Var {
        guard let first = parts.first else { throw ShapeError("concat", "no inputs") }
        guard axis >= 0, axis < first.shape.count,
              parts.allSatisfy({ p in p.shape.count == first.shape.count
                  && (0..<first.shape.count).allSatisfy { $0 == axis || p.shape[$0] == first.shape[$0] } }) else {
            throw ShapeError("concat", "shapes \(parts.map(\.shape)) differ off axis \(axis)")
        }
        let lengths = parts.map { $0.shape[axis] }
        return Var.op(Tensor.concat(parts.map(\.value), axis: axis), parts) { _, g, needs in
            var start = 0
            var out: [Var?] = []
            for (i, len) in lengths.enumerated() {
                out.append(needs[i] ? try g.narrow(axis: axis, start: start, length: len) : nil)
                start += len
            }
            return out
        }
    }
}
