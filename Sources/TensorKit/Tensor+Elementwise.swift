/// Elementwise kernels with numpy-style broadcasting (shapes aligned at the right; a dimension of
/// size 1 stretches). Adjacent dimensions that broadcast alike are merged first, so the common
/// cases (same shape, scalar, per-channel bias `[1, C, 1, 1]`) run as one or two flat loops.

/// Strides of `shape` viewed inside a broadcast result of rank `rank`: 0 where it stretches.
@usableFromInline
func broadcastStrides(_ shape: [Int], to out: [Int]) -> [Int] {
    let padded = [Int](repeating: 1, count: out.count - shape.count) + shape
    let st = Tensor.strides(of: padded)
    return (0..<out.count).map { padded[$0] == 1 && out[$0] != 1 ? 0 : st[$0] }
}

/// Merges adjacent dimensions where every operand's strides are contiguous across them.
@usableFromInline
func coalesce(_ shape: [Int], _ strides: [[Int]]) -> ([Int], [[Int]]) {
    var dims: [Int] = []
    var sts: [[Int]] = strides.map { _ in [] }
    for i in 0..<shape.count where shape[i] != 1 {
        if let last = dims.last,
           strides.indices.allSatisfy({ k in sts[k][sts[k].count - 1] == strides[k][i] * shape[i] }) {
            dims[dims.count - 1] = last * shape[i]
            for k in strides.indices { sts[k][sts[k].count - 1] = strides[k][i] }
        } else {
            dims.append(shape[i])
            for k in strides.indices { sts[k].append(strides[k][i]) }
        }
    }
    if dims.isEmpty { return ([1], strides.map { _ in [0] }) }
    return (dims, sts)
}

/// Visits every element of a (coalesced) iteration space, calling `body(offsets, innerCount,
/// innerStrides)` once per run of the innermost dimension.
@inline(__always)
@usableFromInline
func forEachRun(_ shape: [Int], _ strides: [[Int]], _ body: ([Int], Int, [Int]) -> Void) {
    let r = shape.count
    let inner = shape[r - 1]
    let innerStrides = strides.map { $0[r - 1] }
    var idx = [Int](repeating: 0, count: r)
    var offs = [Int](repeating: 0, count: strides.count)
    let outer = shape.dropLast().reduce(1, *)
    for _ in 0..<outer {
        body(offs, inner, innerStrides)
        var d = r - 2
        while d >= 0 {
            idx[d] += 1
            for k in strides.indices { offs[k] += strides[k][d] }
            if idx[d] < shape[d] { break }
            for k in strides.indices { offs[k] -= strides[k][d] * shape[d] }
            idx[d] = 0
            d -= 1
        }
    }
}

extension Tensor {
    /// The broadcast shape of two shapes, or nil if they are incompatible.
    public static func broadcastShape(_ a: [Int], _ b: [Int]) -> [Int]? {
        let r = max(a.count, b.count)
        let pa = [Int](repeating: 1, count: r - a.count) + a
        let pb = [Int](repeating: 1, count: r - b.count) + b
        var out = [Int](repeating: 0, count: r)
        for i in 0..<r {
            if pa[i] == pb[i] || pb[i] == 1 { out[i] = pa[i] }
            else if pa[i] == 1 { out[i] = pb[i] }
            else { return nil }
        }
        return out
    }

    @inline(__always)
    @usableFromInline
    func zipBroadcast<F: BinaryElementFunction>(_ other: Tensor, _ f: F) -> Tensor {
        guard let out = Tensor.broadcastShape(shape, other.shape) else {
            fatalError("broadcast: incompatible shapes \(shape) and \(other.shape)")
        }
        let n = Tensor.count(of: out)
        // An empty batch (a rank without samples) has nothing to compute; the splits below divide by
        // the outermost extent.
        if n == 0 { return Tensor(shape: out, data: []) }
        // Every element is written below (each by one thread: `Parallel`).
        var result = [Float](unsafeUninitializedCapacity: n) { _, count in count = n }
        if shape == other.shape {
            data.withUnsafeBufferPointer { a in other.data.withUnsafeBufferPointer { b in
                result.withUnsafeMutableBufferPointer { c in
                    let (pa, pb, pc) = (a.baseAddress!, b.baseAddress!, c.baseAddress!)
                    Parallel.forRanges(n, grain: 1 << 15) { range in for i in range { pc[i] = f(pa[i], pb[i]) } }
                } } }
            return Tensor(shape: out, data: result)
        }
        if other.count == 1 {
            let s = other.data[0]
            data.withUnsafeBufferPointer { a in result.withUnsafeMutableBufferPointer { c in
                let (pa, pc) = (a.baseAddress!, c.baseAddress!)
                Parallel.forRanges(n, grain: 1 << 15) { range in for i in range { pc[i] = f(pa[i], s) } }
            } }
            return Tensor(shape: out, data: result)
        }
        // An empty result (a rank holding no samples) has nothing to compute; the split below
        // divides by the outermost extent.
        if n == 0 { return Tensor(shape: out, data: result) }
        let (dims, st) = coalesce(out, [broadcastStrides(shape, to: out), broadcastStrides(other.shape, to: out),
                                        Tensor.strides(of: out)])
        data.withUnsafeBufferPointer { a in other.data.withUnsafeBufferPointer { b in
            result.withUnsafeMutableBufferPointer { c in
                let (pa, pb, pc) = (a.baseAddress!, b.baseAddress!, c.baseAddress!)
                // The outermost dimension in parallel, each index with the rest of the space under it.
                let inner = Array(dims.dropFirst()), innerStrides = st.map { Array($0.dropFirst()) }
                Parallel.forRanges(dims[0], floatsEach: n / dims[0]) { range in
                    for i0 in range {
                        let base = st.map { $0[0] * i0 }
                        func run(_ offs: [Int], _ len: Int, _ s: [Int]) {
                            var ia = base[0] + offs[0], ib = base[1] + offs[1], ic = base[2] + offs[2]
                            for _ in 0..<len { pc[ic] = f(pa[ia], pb[ib]); ia += s[0]; ib += s[1]; ic += s[2] }
                        }
                        if inner.isEmpty { run([0, 0, 0], 1, [0, 0, 0]) } else { forEachRun(inner, innerStrides, run) }
                    }
                }
            } } }
        return Tensor(shape: out, data: result)
    }

    @inline(__always)
    @usableFromInline
    func map<F: UnaryElementFunction>(_ f: F) -> Tensor {
        let n = count
        var result = [Float](unsafeUninitializedCapacity: n) { _, count in count = n }
        data.withUnsafeBufferPointer { a in result.withUnsafeMutableBufferPointer { c in
            let (pa, pc) = (a.baseAddress!, c.baseAddress!)
            Parallel.forRanges(n, grain: 1 << 15) { range in for i in range { pc[i] = f(pa[i]) } }
        } }
        return Tensor(shape: shape, data: result)
    }

    /// Elementwise sum with broadcasting.
    public static func + (a: Tensor, b: Tensor) -> Tensor { a.zipBroadcast(b, Sum()) }
    /// Elementwise difference with broadcasting.
    public static func - (a: Tensor, b: Tensor) -> Tensor { a.zipBroadcast(b, Difference()) }
    /// Elementwise product with broadcasting.
    public static func * (a: Tensor, b: Tensor) -> Tensor { a.zipBroadcast(b, Product()) }
    /// Elementwise quotient with broadcasting.
    public static func / (a: Tensor, b: Tensor) -> Tensor { a.zipBroadcast(b, Quotient()) }
    /// Every element times a scalar.
    public static func * (a: Tensor, s: Float) -> Tensor { a.map(Scaled(factor: s)) }
    /// Every element plus a scalar.
    public static func + (a: Tensor, s: Float) -> Tensor { a.map(Shifted(offset: s)) }
    /// Elementwise negation.
    public static prefix func - (a: Tensor) -> Tensor { a.map(Negated()) }

    /// In-place `self += other` for equal shapes (gradient accumulation).
    public mutating func add(_ other: Tensor) {
        require(shape == other.shape, "add: shapes \(shape) and \(other.shape) differ")
        data.withUnsafeMutableBufferPointer { a in other.data.withUnsafeBufferPointer { b in
            let (pa, pb) = (a.baseAddress!, b.baseAddress!)
            Parallel.forRanges(a.count, grain: 1 << 15) { range in for i in range { pa[i] += pb[i] } }
        } }
    }

    /// Elementwise square.
    public func squared() -> Tensor { map(Squared()) }
    /// Elementwise square root.
    public func sqrt() -> Tensor { map(SquareRoot()) }
    /// Elementwise reciprocal square root.
    public func rsqrt() -> Tensor { map(ReciprocalSquareRoot()) }
    /// Elementwise natural exponential.
    public func exp() -> Tensor { map(Exponential()) }
    /// Elementwise natural logarithm.
    public func log() -> Tensor { map(Logarithm()) }
    /// Leaky ReLU: `x` where positive, `slope * x` elsewhere.
    public func leakyReLU(_ slope: Float) -> Tensor { map(LeakyReLU(slope: slope)) }
    /// The derivative of leaky ReLU at each element: 1 where positive, `slope` elsewhere.
    public func leakyReLUSlope(_ slope: Float) -> Tensor { map(LeakyReLUSlope(slope: slope)) }

    /// Sums over broadcast dimensions so the result has `target`'s shape (the adjoint of
    /// broadcasting `target` up to this shape). Accumulates in Double.
    public func sum(to target: [Int]) -> Tensor {
        if target == shape { return self }
        guard Tensor.broadcastShape(target, shape) == shape else {
            fatalError("sum(to:): \(shape) does not broadcast from \(target)")
        }
        let tcount = Tensor.count(of: target)
        var acc = [Double](repeating: 0, count: tcount)
        // Nothing to add up (a rank holding no samples): zeros; the split below divides by an extent.
        if count == 0 { return Tensor(shape: target, data: [Float](repeating: 0, count: tcount)) }
        if tcount == 1 {
            var s = 0.0
            data.withUnsafeBufferPointer { a in for v in a { s += Double(v) } }
            acc[0] = s
        } else {
            let (dims, st) = coalesce(shape, [Tensor.strides(of: shape), broadcastStrides(target, to: shape)])
            // Split the outermost dimension the target keeps: each thread owns the outputs of its
            // indices and visits their terms in the serial order, so every sum is the serial one.
            let d = (0..<dims.count).first { st[1][$0] != 0 } ?? 0
            let total = count
            data.withUnsafeBufferPointer { pa in acc.withUnsafeMutableBufferPointer { po in
                // Pointers bound here: the closure would otherwise reread an inout buffer per element.
                let (a, o) = (pa.baseAddress!, po.baseAddress!)
                Parallel.forRanges(dims[d], floatsEach: total / dims[d]) { range in
                    var sub = dims
                    sub[d] = range.count
                    let (a0, o0) = (range.lowerBound * st[0][d], range.lowerBound * st[1][d])
                    forEachRun(sub, st) { offs, len, s in
                        var ia = a0 + offs[0], io = o0 + offs[1]
                        if s[1] == 0 {
                            var t = 0.0
                            for _ in 0..<len { t += Double(a[ia]); ia += s[0] }
                            o[io] += t
                        } else {
                            for _ in 0..<len { o[io] += Double(a[ia]); ia += s[0]; io += s[1] }
                        }
                    }
                }
            } }
        }
        return Tensor(shape: target, data: acc.map { Float($0) })
    }

    /// Broadcasts this tensor up to `target` (copying).
    public func expand(to target: [Int]) -> Tensor {
        if target == shape { return self }
        guard Tensor.broadcastShape(shape, target) == target else {
            fatalError("expand: \(shape) does not broadcast to \(target)")
        }
        return Tensor.zeros(target).zipBroadcast(self, SecondOperand())
    }

    /// Sum of all elements, accumulated in Double.
    public func sumAll() -> Double {
        var s = 0.0
        data.withUnsafeBufferPointer { a in for v in a { s += Double(v) } }
        return s
    }
}
