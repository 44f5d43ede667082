import TensorKit
import Distributed
import Autograd
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

extension Communicator {
    /// The model's subgroup as a real MPI communicator (`split(color:key:)`, ranked as here);
    /// like the other non-throwing collectives it ends the job on an MPI error.
    public func subgroup(colors: [Int]) -> Collective {
        require(colors.count == size, "subgroup: \(colors.count) colors for \(size) ranks")
        do {
            return try split(color: colors[rank], key: rank)
        } catch {
            abort("progan-mpi: rank \(rank): \(error): aborting the job")
        }
    }
}
