import Autograd

/// What the training loop needs from the group of ranks beyond the model's `Collective`:
/// broadcasting rank 0's state and agreeing on flags and counters. `SingleProcess` serves one
/// process; the MPI communicator conforms in `Communicator+ProcessGroup.swift`.
public protocol ProcessGroup: Collective {
    /// Replaces `x` on every rank with rank 0's `x` (same length on all ranks).
    func broadcastFromRoot(_ x: inout [Float]) throws
    /// Rank 0's bytes on every rank (other ranks' input is ignored).
    func broadcastBytesFromRoot(_ x: [UInt8]) throws -> [UInt8]
    /// The maximum of `x` over ranks.
    func allReduceMax(_ x: Int) throws -> Int
    /// Elementwise sums of `x` over ranks.
    func allReduceSum(_ x: [Double]) throws -> [Double]
    /// Waits for every rank.
    func barrier() throws
}

/// The one-process group: Autograd's `LocalCollective` (every collective the identity) with the
/// loop's extra operations, which are identities too.
public typealias SingleProcess = LocalCollective

extension LocalCollective: ProcessGroup {
    public func broadcastFromRoot(_ x: inout [Float]) throws {}
    public func broadcastBytesFromRoot(_ x: [UInt8]) throws -> [UInt8] { x }
    public func allReduceMax(_ x: Int) throws -> Int { x }
    public func allReduceSum(_ x: [Double]) throws -> [Double] { x }
    public func barrier() throws {}
}
