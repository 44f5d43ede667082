import TensorKit

// Differentiable collectives (docs/ARCHITECTURE.md, "N ranks train like one process"). An all-gather along the batch axis has as
// adjoint a reduce-scatter (sum) and vice versa; both are linear, so their rules need no saved
// values and double backward is again a collective. Every rank must run the same graph. The
// variable-count forms serve batches dealt out unevenly (`BatchShards`): each rank's block of
// axis 0 may differ in length, zero included, and every rank passes the same list of lengths.

extension Var {
    /// Concatenates every rank's tensor along axis 0, in rank order: [n, ...] -> [size * n, ...].
    /// All ranks must pass the same shape.
    public func allGather(_ comm: Collective) -> Var {
        if comm.size == 1 { return self }
        var outShape = shape
        outShape[0] *= comm.size
        let gathered = Tensor(shape: outShape, data: comm.allGather(value.data))
        return Var.op(gathered, [self]) { _, g, _ in [g.reduceScatter(comm)] }
    }

    /// Sums the ranks' tensors and keeps this rank's block of axis 0: [size * n, ...] -> [n, ...].
    public func reduceScatter(_ comm: Collective) -> Var {
        if comm.size == 1 { return self }
        var outShape = shape
        require(outShape[0] % comm.size == 0, "reduceScatter: axis 0 of \(shape) does not divide by \(comm.size) ranks")
        outShape[0] /= comm.size
        let block = Tensor(shape: outShape, data: comm.reduceScatter(value.data))
        return Var.op(block, [self]) { _, g, _ in [g.allGather(comm)] }
    }

    /// Concatenates every rank's tensor along axis 0, in rank order, where rank r holds
    /// `counts[r]` rows (zero allowed): [counts[rank], ...] -> [sum(counts), ...]. The other
    /// axes must agree on all ranks. Its backward is `reduceScatter(_:counts:)`.
    /// - Throws: `ShapeError` if `counts` does not have one entry a rank or this rank's axis 0
    ///   is not `counts[rank]`.
    public func allGather(_ comm: Collective, counts: [Int]) throws -> Var {
        guard shape.count >= 1, counts.count == comm.size, counts.allSatisfy({ $0 >= 0 }),
              shape[0] == counts[comm.rank] else {
            throw ShapeError("allGather", "rank \(comm.rank) holds \(shape), rows per rank \(counts)")
        }
        if comm.size == 1 { return self }
        let rowCount = Tensor.count(of: Array(shape.dropFirst()))
        var outShape = shape
        outShape[0] = counts.reduce(0, +)
        let gathered = Tensor(shape: outShape, data: comm.allGather(value.data, counts: counts.map { $0 * rowCount }))
        return Var.op(gathered, [self]) { _, g, _ in [try g.reduceScatter(comm, counts: counts)] }
    }

    /// Sums the ranks' tensors (axis 0 of length `sum(counts)`, equal shapes on all ranks) and
    /// keeps this rank's block of axis 0: the `counts[rank]` rows after those of the lower ranks.
    /// Its backward is `allGather(_:counts:)`.
    /// - Throws: `ShapeError` if `counts` does not have one entry a rank or does not sum to axis 0.
    public func reduceScatter(_ comm: Collective, counts: [Int]) throws -> Var {
        guard shape.count >= 1, counts.count == comm.size, counts.allSatisfy({ $0 >= 0 }),
              counts.reduce(0, +) == shape[0] else {
            throw ShapeError("reduceScatter", "axis 0 of \(shape) is not the sum of the rows per rank \(counts)")
        }
        if comm.size == 1 { return self }
        let rowCount = Tensor.count(of: Array(shape.dropFirst()))
        var outShape = shape
        outShape[0] = counts[comm.rank]
        let block = Tensor(shape: outShape, data: comm.reduceScatter(value.data, counts: counts.map { $0 * rowCount }))
        return Var.op(block, [self]) { _, g, _ in [try g.allGather(comm, counts: counts)] }
    }

    /// Sends this tensor to rank `destination` and returns the tensor of `receiveShape` that rank
    /// `source` sends here in the same call (zeros if `source` is nil; nothing is sent if
    /// `destination` is nil). Its adjoint runs the same exchange backwards: the gradient of what
    /// arrived goes back to `source`, and what `destination` sends back is this tensor's
    /// gradient; linear, so double backward is again an exchange. Every rank must run it, and
    /// differentiate through it, together.
    public func sendReceive(_ comm: Collective, to destination: Int?, from source: Int?, receiveShape: [Int]) throws -> Var {
        for peer in [destination, source].compactMap({ $0 }) where !(0..<comm.size).contains(peer) {
            throw ShapeError("sendReceive", "rank \(peer) is not in 0..<\(comm.size)")
        }
        let received = comm.sendReceive(value.data, to: destination, from: source,
                                        receiveCount: Tensor.count(of: receiveShape))
        let sentShape = shape
        return Var.op(Tensor(shape: receiveShape, data: received), [self]) { _, g, _ in
            [try g.sendReceive(comm, to: source, from: destination, receiveShape: sentShape)]
        }
    }
}
