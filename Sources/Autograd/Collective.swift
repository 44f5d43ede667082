import TensorKit

/// The group of processes a model's collective ops talk to. The math never calls MPI: it calls
/// these methods, implemented by `LocalCollective` for one process and by the MPI communicator
/// of the Distributed module for many. Every rank must call the same methods in the same order.
///
/// Failures inside a collective are not recoverable mid-graph: implementations end the whole job
/// (printing the library's message) rather than return a partial result.
public protocol Collective: AnyObject {
    /// This process's index in the group, `0..<size`.
    var rank: Int { get }
    /// Number of processes in the group.
    var size: Int { get }
    /// Concatenates the equal-length buffers of all ranks in rank order (length `size * x.count`).
    func allGather(_ x: [Float]) -> [Float]
    /// Sums equal-length buffers elementwise across ranks and returns this rank's block of the
    /// sum: elements `rank * x.count / size ..< (rank + 1) * x.count / size`.
    /// `x.count` must be divisible by `size`.
    func reduceScatter(_ x: [Float]) -> [Float]
    /// Sums equal-length buffers elementwise across ranks, in place, on every rank.
    func allReduceSum(_ x: inout [Float])
    /// Concatenates the buffers of all ranks in rank order, where rank r sends `counts[r]`
    /// elements (zero allowed). Every rank passes the same `counts`, so no lengths travel;
    /// `x.count` must equal `counts[rank]`.
    func allGather(_ x: [Float], counts: [Int]) -> [Float]
    /// Sums equal-length buffers (length `counts.reduce(0, +)`) elementwise across ranks and
    /// returns this rank's block of the sum: the `counts[rank]` elements after the blocks of the
    /// lower ranks. Every rank passes the same `counts` (zero allowed). The adjoint of
    /// `allGather(_:counts:)`.
    func reduceScatter(_ x: [Float], counts: [Int]) -> [Float]
    /// `reduceScatter(_:counts:)` in place: afterwards this rank's block of `x` holds the sum
    /// (the other blocks hold anything). For big buffers (a sharded optimizer's gradient), where
    /// a second buffer of the whole length costs time.
    func reduceScatterInPlace(_ x: inout [Float], counts: [Int])
    /// `allGather(_:counts:)` in place: every rank's block of `x` (laid out by `counts`) is
    /// filled with what that rank holds there.
    func allGatherInPlace(_ x: inout [Float], counts: [Int])
    /// Point to point, paired: sends `x` to rank `destination` and returns the `receiveCount`
    /// elements that rank `source` sends to this rank in the same call. Nil means no send or no
    /// receive (a slab at the image's edge); nothing received reads as zeros. Every rank of the
    /// group calls it together, like a collective, with sends and receives that pair up.
    func sendReceive(_ x: [Float], to destination: Int?, from source: Int?, receiveCount: Int) -> [Float]
    /// The ranks r of this group with `colors[r] == colors[rank]`, as a group of their own, in
    /// their order here: spatial parallelism's data groups, whose collectives (gathering a map's
    /// slabs, summing partial norms) span one group while the gradient all-reduce spans this
    /// one. `colors` (one entry >= 0 a rank) is the same on every rank, which computes it from
    /// the layout (`SpatialLayout`); every rank of this group calls it together.
    func subgroup(colors: [Int]) -> Collective
}

extension Collective {
    /// Fallback on `reduceScatter(_:counts:)` (the MPI communicator overrides it with a ring).
    public func reduceScatterInPlace(_ x: inout [Float], counts: [Int]) {
        let start = counts[..<rank].reduce(0, +)
        let block = reduceScatter(x, counts: counts)
        x.replaceSubrange(start ..< start + counts[rank], with: block)
    }

    /// Fallback on `allGather(_:counts:)`.
    public func allGatherInPlace(_ x: inout [Float], counts: [Int]) {
        let start = counts[..<rank].reduce(0, +)
        x = allGather(Array(x[start ..< start + counts[rank]]), counts: counts)
    }

    /// Fallback on the equal-count collectives: every block padded to the largest count. The MPI
    /// communicator overrides both with the v-collectives, which move no padding.
    public func allGather(_ x: [Float], counts: [Int]) -> [Float] {
        require(counts.count == size && x.count == counts[rank],
                     "allGather: \(x.count) elements on rank \(rank), counts \(counts)")
        let width = counts.max() ?? 0
        if counts.allSatisfy({ $0 == width }) { return allGather(x) }
        let padded = allGather(x + [Float](repeating: 0, count: width - x.count))
        return (0..<size).flatMap { r in padded[r * width ..< r * width + counts[r]] }
    }

    /// Fallback on the equal-count collective (see `allGather(_:counts:)`).
    public func reduceScatter(_ x: [Float], counts: [Int]) -> [Float] {
        require(counts.count == size && x.count == counts.reduce(0, +),
                     "reduceScatter: \(x.count) elements, counts \(counts)")
        let width = counts.max() ?? 0
        if counts.allSatisfy({ $0 == width }) { return reduceScatter(x) }
        var padded = [Float](repeating: 0, count: width * size)
        var offset = 0
        for r in 0..<size {
            padded.replaceSubrange(r * width ..< r * width + counts[r], with: x[offset ..< offset + counts[r]])
            offset += counts[r]
        }
        return Array(reduceScatter(padded).prefix(counts[rank]))
    }
}

extension Collective {
    /// The one-process case (a rank may send to itself); groups of several ranks implement it.
    public func sendReceive(_ x: [Float], to destination: Int?, from source: Int?, receiveCount: Int) -> [Float] {
        require(size == 1 && (destination ?? 0) == 0 && (source ?? 0) == 0,
                     "sendReceive: \(type(of: self)) has no point-to-point for \(size) ranks")
        guard source != nil else { return [Float](repeating: 0, count: receiveCount) }
        require(destination != nil && x.count == receiveCount, "sendReceive: rank 0 receives from itself what it does not send")
        return x
    }
}

/// The one-process group: every collective is the identity.
public final class LocalCollective: Collective {
    public init() {}
    public var rank: Int { 0 }
    public var size: Int { 1 }
    public func allGather(_ x: [Float]) -> [Float] { x }
    public func reduceScatter(_ x: [Float]) -> [Float] { x }
    public func allReduceSum(_ x: inout [Float]) {}
    public func allGather(_ x: [Float], counts: [Int]) -> [Float] { x }
    public func reduceScatter(_ x: [Float], counts: [Int]) -> [Float] { x }
}

/// How a global batch of `total` samples is dealt out over `parts` ranks: contiguous blocks in
/// rank order, as even as possible, the first `total % parts` ranks holding one sample more
/// (14 on 8 ranks: 2, 2, 2, 2, 2, 2, 1, 1). With more ranks than samples the last ranks hold
/// none; they still take part in every collective, with empty tensors. A pure function of its
/// arguments, so every rank knows every rank's share without a message.
public struct BatchShards: Equatable, Sendable {
    /// Samples in the global batch.
    public let total: Int
    /// Ranks sharing it.
    public let parts: Int

    /// - Precondition: `total >= 0`, `parts >= 1`.
    public init(total: Int, parts: Int) {
        require(total >= 0 && parts >= 1, "BatchShards: \(total) samples on \(parts) ranks")
        (self.total, self.parts) = (total, parts)
    }

    /// The global sample indices rank `rank` holds.
    public func range(of rank: Int) -> Range<Int> {
        let (base, extra) = total.quotientAndRemainder(dividingBy: parts)
        let first = rank * base + min(rank, extra)
        return first ..< first + base + (rank < extra ? 1 : 0)
    }

    /// Every rank's sample count, in rank order.
    public var counts: [Int] { (0..<parts).map { range(of: $0).count } }
}

extension Collective {
    /// The fallback: a `ParentSubgroup` that runs each of its collectives as one over this whole
    /// group (MPI's communicator overrides it with a real one, MPI_Comm_split).
    public func subgroup(colors: [Int]) -> Collective { ParentSubgroup(self, colors: colors) }
}

/// A subgroup implemented on its parent's collectives: every call is a collective of the
/// parent (an all-gather of every rank's buffer, of which each rank keeps its members'), and
/// point-to-point translates ranks. Correct for any `Collective`, simulated ranks included, but
/// it moves the whole parent's data, and all subgroups must make the same sequence of calls
/// together (as SPMD code that runs the same graph in every group does). Counts travel as
/// floats: exact below 2^24 elements a buffer.
public final class ParentSubgroup: Collective {
    /// The group this one is carved from.
    public let parent: Collective
    /// The parent ranks of this subgroup, in subgroup rank order.
    public let members: [Int]
    public let rank: Int
    public var size: Int { members.count }

    /// Needs no message: every rank knows every rank's color.
    /// - Precondition: one color >= 0 a rank of `parent`.
    public init(_ parent: Collective, colors: [Int]) {
        require(colors.count == parent.size && colors.allSatisfy { $0 >= 0 },
                     "subgroup: colors \(colors) for \(parent.size) ranks")
        self.parent = parent
        members = colors.indices.filter { colors[$0] == colors[parent.rank] }
        rank = members.firstIndex(of: parent.rank)!
    }

    /// Every member's buffer, in subgroup rank order (buffers of any length).
    private func gatherMembers(_ x: [Float]) -> [[Float]] {
        require(x.count < 1 << 24, "subgroup: \(x.count) elements exceed the fallback's float-coded counts")
        var counts = parent.allGather([Float(x.count)]).map { Int($0) }
        // This rank's own count is known; simulated ranks (`replayRanks`) read zeros from
        // the others in their first, unsettled pass.
        counts[parent.rank] = x.count
        let flat = parent.allGather(x, counts: counts)
        var starts = [0]
        for c in counts { starts.append(starts.last! + c) }
        return members.map { Array(flat[starts[$0] ..< starts[$0 + 1]]) }
    }

    /// `buffer` cut or zero-padded to `count`: a member sent another length only in an
    /// unsettled simulated pass (on real ranks the callers' counts agree).
    private func fitted(_ buffer: [Float], _ count: Int) -> [Float] {
        buffer.count == count ? buffer : Array((buffer + [Float](repeating: 0, count: max(0, count - buffer.count))).prefix(count))
    }

    private func sumMembers(_ x: [Float]) -> [Float] {
        let all = gatherMembers(x).map { fitted($0, x.count) }
        // In rank order, as an all-reduce of equal buffers would add them.
        return x.indices.map { i in all.reduce(Float(0)) { $0 + $1[i] } }
    }

    public func allGather(_ x: [Float]) -> [Float] {
        gatherMembers(x).flatMap { fitted($0, x.count) }
    }

    public func reduceScatter(_ x: [Float]) -> [Float] {
        require(x.count % size == 0, "reduceScatter: \(x.count) elements on \(size) ranks")
        let block = x.count / size
        return Array(sumMembers(x)[rank * block ..< (rank + 1) * block])
    }

    public func allReduceSum(_ x: inout [Float]) { x = sumMembers(x) }

    public func allGather(_ x: [Float], counts: [Int]) -> [Float] {
        require(counts.count == size && x.count == counts[rank], "allGather: \(x.count) elements on rank \(rank), counts \(counts)")
        return zip(gatherMembers(x), counts).flatMap { fitted($0, $1) }
    }

    public func reduceScatter(_ x: [Float], counts: [Int]) -> [Float] {
        require(counts.count == size && x.count == counts.reduce(0, +), "reduceScatter: \(x.count) elements, counts \(counts)")
        let first = counts[..<rank].reduce(0, +)
        return Array(sumMembers(x)[first ..< first + counts[rank]])
    }

    public func sendReceive(_ x: [Float], to destination: Int?, from source: Int?, receiveCount: Int) -> [Float] {
        require([destination, source].allSatisfy { $0.map { (0..<size).contains($0) } ?? true },
                     "sendReceive: a peer outside the subgroup of \(size)")
        return parent.sendReceive(x, to: destination.map { members[$0] }, from: source.map { members[$0] },
                                  receiveCount: receiveCount)
    }
}
