import Distributed
import Foundation

/// The MPI communicator as the model's `Collective` (its non-throwing allGather, reduceScatter
/// and allReduceSum, which end the job on an MPI error) and the training loop's process group.
extension Communicator: ProcessGroup {
    public func broadcastFromRoot(_ x: inout [Float]) throws { try broadcastInPlace(&x, root: 0) }
    public func broadcastBytesFromRoot(_ x: [UInt8]) throws -> [UInt8] {
        [UInt8](try broadcast(Data(x), root: 0))
    }
    public func allReduceMax(_ x: Int) throws -> Int { Int(try allReduce(Int64(x), op: .max)) }
    public func allReduceSum(_ x: [Double]) throws -> [Double] {
        var y = x
        try allReduce(&y, op: .sum)
        return y
    }
}
