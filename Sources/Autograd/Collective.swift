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
}

/// The one-process group: every collective is the identity.
public final class LocalCollective: Collective {
    public init() {}
    public var rank: Int { 0 }
    public var size: Int { 1 }
    public func allGather(_ x: [Float]) -> [Float] { x }
    public func reduceScatter(_ x: [Float]) -> [Float] { x }
    public func allReduceSum(_ x: inout [Float]) {}
}
