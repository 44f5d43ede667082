import TensorKit

// Spatial parallelism splits each image of a batch into horizontal slabs of rows, one slab a
// rank. A 3x3 convolution of a slab needs one row beyond each of its edges: the halo, owned by
// the neighbouring slabs. The exchange is written with differentiable point-to-point ops, so its
// backward (the halo rows' gradients sent back to their owners and added there) and that
// backward's own backward (inside the recorded gradient of the gradient penalty) are exchanges
// again.

extension Var {
    /// This rank's slab of rows [N, C, h, W] with one row from each neighbouring slab around it:
    /// [N, C, h + 2, W], row 0 the last row of the slab of rank `above` and row h + 1 the first
    /// row of the slab of rank `below`; zeros where there is none (nil: the image's top or
    /// bottom edge), as a convolution's zero padding reads it.
    ///
    /// All ranks of the exchange must call it together with the same N, C and W (h may differ,
    /// at least 1), their `above` and `below` naming each other in pairs.
    /// - Throws: `ShapeError` for a tensor that is not NCHW with at least one row, or a
    ///   neighbour outside the group.
    public func haloExchange(_ comm: Collective, above: Int?, below: Int?) throws -> Var {
        let (top, bottom) = try haloRows(comm, above: above, below: below)
        return try Var.concat([top, self, bottom], axis: 2)
    }

    /// The halo rows of this rank's slab [N, C, h, W], as two tensors [N, C, 1, W]: `top` the
    /// last row of the slab of rank `above`, `bottom` the first row of the slab of rank `below`,
    /// zeros where there is none (nil). `haloExchange` without the widened copy, for kernels that
    /// read the halo rows where they are (`Var.conv2d(_:_:top:bottom:)`).
    ///
    /// A rank's exchanges pair up with its neighbours', backwards too: what reaches one rank's
    /// halo rows in a backward pass must reach every rank's, those at the image's edges included
    /// (a missing neighbour's zero row sends nothing back but still receives).
    /// - Throws: as `haloExchange`.
    public func haloRows(_ comm: Collective, above: Int?, below: Int?) throws -> (top: Var, bottom: Var) {
        guard shape.count == 4, shape[2] >= 1 else {
            throw ShapeError("haloExchange", "a slab [N, C, rows >= 1, W] expected, got \(shape)")
        }
        let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
        let row = [n, c, 1, w]
        // Upwards: this slab's first row to the rank above; the first row of the slab below
        // arrives as the bottom halo. Then downwards, the other way round.
        let bottom = try narrow(axis: 2, start: 0, length: 1).sendReceive(comm, to: above, from: below, receiveShape: row)
        let top = try narrow(axis: 2, start: h - 1, length: 1).sendReceive(comm, to: below, from: above, receiveShape: row)
        return (top, bottom)
    }
}
