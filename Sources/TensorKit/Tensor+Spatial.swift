/// Resampling and layout kernels for NCHW tensors and channel concatenation.

extension Tensor {
    /// Nearest-neighbour 2x upsampling times `scale`: [N,C,H,W] -> [N,C,2H,2W], each output
    /// `scale * x` of its source pixel x. The adjoint of `avgPooled2x(scale:)` with the same
    /// scale; a gradient rule that scales pays no second pass over the output for it.
    /// - Parameter scale: 1 (the default) copies.
    public func upsampled2x(scale: Float = 1) -> Tensor {
        require(rank == 4, "upsampled2x: NCHW tensor expected, got \(shape)")
        let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
        var out = [Float](repeating: 0, count: count * 4)
        data.withUnsafeBufferPointer { pa in out.withUnsafeMutableBufferPointer { pr in
            // Pointers bound here: the closure would otherwise reread an inout buffer per element.
            let (a, r) = (pa.baseAddress!, pr.baseAddress!)
            Parallel.forRanges(n * c, floatsEach: 5 * h * w) { planes in
                for plane in planes {
                    let src = plane * h * w, dst = plane * 4 * h * w
                    for y in 0..<h {
                        let row0 = dst + (2 * y) * 2 * w
                        for x in 0..<w {
                            let v = scale * a[src + y * w + x]
                            r[row0 + 2 * x] = v; r[row0 + 2 * x + 1] = v
                        }
                        for x in 0..<(2 * w) { r[row0 + 2 * w + x] = r[row0 + x] }
                    }
                }
            }
        } }
        return Tensor(shape: [n, c, 2 * h, 2 * w], data: out)
    }

    /// 2x2 pooling: [N,C,H,W] -> [N,C,H/2,W/2] (H and W even), each output `scale` times the sum
    /// of its four inputs. The adjoint of `upsampled2x(scale:)` with the same scale.
    /// - Parameter scale: 0.25 (the default) averages.
    public func avgPooled2x(scale: Float = 0.25) -> Tensor {
        require(rank == 4 && shape[2] % 2 == 0 && shape[3] % 2 == 0, "avgPooled2x: NCHW with even H, W expected, got \(shape)")
        let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
        let (ho, wo) = (h / 2, w / 2)
        var out = [Float](repeating: 0, count: n * c * ho * wo)
        data.withUnsafeBufferPointer { pa in out.withUnsafeMutableBufferPointer { pr in
            // Pointers bound here: the closure would otherwise reread an inout buffer per element.
            let (a, r) = (pa.baseAddress!, pr.baseAddress!)
            Parallel.forRanges(n * c, floatsEach: h * w + ho * wo) { planes in
                for plane in planes {
                    let src = plane * h * w, dst = plane * ho * wo
                    for y in 0..<ho {
                        let s0 = src + 2 * y * w, s1 = s0 + w
                        for x in 0..<wo {
                            r[dst + y * wo + x] = scale * (a[s0 + 2 * x] + a[s0 + 2 * x + 1] + a[s1 + 2 * x] + a[s1 + 2 * x + 1])
                        }
                    }
                }
            }
        } }
        return Tensor(shape: [n, c, ho, wo], data: out)
    }

    /// Concatenation along `axis`; all other dimensions must agree.
    public static func concat(_ parts: [Tensor], axis: Int) -> Tensor {
        require(!parts.isEmpty, "concat: no tensors")
        let first = parts[0].shape
        let outer = first[..<axis].reduce(1, *), inner = first[(axis + 1)...].reduce(1, *)
        var shape = first
        shape[axis] = parts.reduce(0) { $0 + $1.shape[axis] }
        var out = [Float](repeating: 0, count: Tensor.count(of: shape))
        let rowOut = shape[axis] * inner
        var offset = 0
        out.withUnsafeMutableBufferPointer { r in
            for t in parts {
                require(t.rank == first.count && (0..<first.count).allSatisfy { $0 == axis || t.shape[$0] == first[$0] },
                             "concat: shapes \(parts.map { $0.shape }) differ off axis \(axis)")
                let len = t.shape[axis] * inner
                t.data.withUnsafeBufferPointer { a in
                    for o in 0..<outer { (r.baseAddress! + o * rowOut + offset).update(from: a.baseAddress! + o * len, count: len) }
                }
                offset += len
            }
        }
        return Tensor(shape: shape, data: out)
    }

    /// Elements `start..<start+length` along `axis`.
    public func narrowed(axis: Int, start: Int, length: Int) -> Tensor {
        require(axis < rank && start >= 0 && start + length <= shape[axis], "narrow: \(start)..<\(start + length) outside axis \(axis) of \(shape)")
        let outer = shape[..<axis].reduce(1, *), inner = shape[(axis + 1)...].reduce(1, *)
        var s = shape; s[axis] = length
        var out = [Float](repeating: 0, count: outer * length * inner)
        data.withUnsafeBufferPointer { a in out.withUnsafeMutableBufferPointer { r in
            for o in 0..<outer {
                (r.baseAddress! + o * length * inner).update(from: a.baseAddress! + (o * shape[axis] + start) * inner, count: length * inner)
            }
        } }
        return Tensor(shape: s, data: out)
    }

    /// The adjoint of `narrowed`: this tensor placed at `start` along `axis` of zeros of size `total`.
    public func embedded(axis: Int, start: Int, total: Int) -> Tensor {
        require(axis < rank && start >= 0 && start + shape[axis] <= total, "embed: \(shape) at \(start) does not fit \(total) on axis \(axis)")
        let outer = shape[..<axis].reduce(1, *), inner = shape[(axis + 1)...].reduce(1, *)
        let length = shape[axis]
        var s = shape; s[axis] = total
        var out = [Float](repeating: 0, count: outer * total * inner)
        data.withUnsafeBufferPointer { a in out.withUnsafeMutableBufferPointer { r in
            for o in 0..<outer {
                (r.baseAddress! + (o * total + start) * inner).update(from: a.baseAddress! + o * length * inner, count: length * inner)
            }
        } }
        return Tensor(shape: s, data: out)
    }
}
