import TensorKit

// Differentiable collectives (docs/ARCHITECTURE.md, "N ranks train like one process"). An all-gather along the batch axis has as
// adjoint a reduce-scatter (sum) and vice versa; both are linear, so their rules need no saved
// values and double backward is again a collective. Every rank must run the same graph.

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
        precondition(outShape[0] % comm.size == 0, "reduceScatter: axis 0 of \(shape) does not divide by \(comm.size) ranks")
        outShape[0] /= comm.size
        let block = Tensor(shape: outShape, data: comm.reduceScatter(value.data))
        return Var.op(block, [self]) { _, g, _ in [g.allGather(comm)] }
    }
}
