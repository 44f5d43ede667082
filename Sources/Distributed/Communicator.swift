import CMPI
import Foundation

/// A group of MPI ranks and the collectives over it. (The Training module makes it the model's
/// `Collective` and the loop's `ProcessGroup`.)
///
/// Every method is collective: every rank of the group must call the same methods in the same
/// order with matching arguments (equal counts where stated, the same root). The throwing
/// methods return MPI's errors; the non-throwing ones end the job instead (see there).
/// Every collective is watched by a `CollectiveWatchdog`.
///
/// Not thread-safe: use one communicator from one thread at a time. A later communication
/// thread (bucketed allreduce overlapping backward) should use its own `duplicate()`, which
/// keeps its messages apart and has its own watchdog.
public final class Communicator {
    /// The MPI library this communicator needs; kept alive (not finalized) while it exists.
    public let environment: MPIEnvironment
    /// This process's index in the group, `0..<size`.
    public let rank: Int
    /// Number of processes in the group.
    public let size: Int
    /// The host this rank runs on, as MPI_Get_processor_name says.
    public let processorName: String
    /// The watchdog of this communicator's collectives (polling only if configured).
    public let watchdog: CollectiveWatchdog

    let handle: MPI_Comm
    private let ownsHandle: Bool
    /// The ring reduce-scatter's receive block, kept between calls (the gradient's size, every step).
    private var ringScratch: [Float] = []

    /// The communicator of all ranks of the job (MPI_COMM_WORLD).
    /// - Parameters:
    ///   - environment: the initialized MPI library.
    ///   - watchdog: limits for the watchdog thread, or nil to start none.
    /// - Throws: `MPIError` if rank, size or processor name cannot be read.
    public convenience init(world environment: MPIEnvironment,
                            watchdog: CollectiveWatchdog.Configuration? = CollectiveWatchdog.Configuration()) throws {
        try self.init(environment: environment, handle: cmpi_comm_world(), ownsHandle: false, watchdog: watchdog)
    }

    private init(environment: MPIEnvironment, handle: MPI_Comm, ownsHandle: Bool,
                 watchdog: CollectiveWatchdog.Configuration?) throws {
        self.environment = environment
        self.handle = handle
        self.ownsHandle = ownsHandle
        var rank: Int32 = 0
        var size: Int32 = 0
        try mpiCheck("MPI_Comm_rank", MPI_Comm_rank(handle, &rank))
        try mpiCheck("MPI_Comm_size", MPI_Comm_size(handle, &size))
        self.rank = Int(rank)
        self.size = Int(size)
        var name = [CChar](repeating: 0, count: Int(cmpi_max_processor_name()) + 1)
        var length: Int32 = 0
        try mpiCheck("MPI_Get_processor_name", MPI_Get_processor_name(&name, &length))
        processorName = String(decoding: name.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        self.watchdog = CollectiveWatchdog(rank: Int(rank), configuration: watchdog ?? CollectiveWatchdog.Configuration())
        if watchdog != nil { self.watchdog.start() }
    }

    deinit {
        watchdog.stop()
        if ownsHandle, !MPIEnvironment.isFinalized {
            var comm: MPI_Comm? = handle
            _ = MPI_Comm_free(&comm)
        }
    }

    /// A new communicator over the same ranks whose messages never mix with this one's
    /// (MPI_Comm_dup), with its own watchdog of the same configuration (or none).
    /// - Throws: `MPIError` if MPI_Comm_dup fails.
    public func duplicate() throws -> Communicator {
        var copy: MPI_Comm? = nil
        try run(.duplicate) { MPI_Comm_dup(handle, &copy) }
        guard let copy else { throw MPIError(call: "MPI_Comm_dup", code: MPI_ERR_OTHER, detail: "no communicator returned") }
        // The copy inherits MPI_ERRORS_RETURN from this communicator.
        return try Communicator(environment: environment, handle: copy, ownsHandle: true,
                                watchdog: watchdog.isStarted ? watchdog.configuration : nil)
    }

    /// The ranks of this group that pass the same `color`, as a new communicator
    /// (MPI_Comm_split): ranked by `key`, ties by their rank here, with its own watchdog of the
    /// same configuration (or none). Collective: every rank of this group calls it together.
    /// Spatial parallelism splits the world into one communicator per data group (the ranks
    /// sharing images) while the gradient all-reduce stays on the world.
    /// - Parameters:
    ///   - color: the subgroup to join, `>= 0` (every rank joins one; MPI_UNDEFINED is not offered).
    ///   - key: the order inside the subgroup.
    /// - Throws: `MPIError` for a negative color or if MPI_Comm_split fails.
    public func split(color: Int, key: Int) throws -> Communicator {
        guard (0...Int(Int32.max)).contains(color), (Int(Int32.min)...Int(Int32.max)).contains(key) else {
            throw MPIError(call: CollectiveKind.split.description, code: MPI_ERR_ARG,
                           detail: "color \(color) and key \(key): the color must be in 0...\(Int32.max), the key a 32-bit integer")
        }
        var part: MPI_Comm? = nil
        try run(.split) { MPI_Comm_split(handle, Int32(color), Int32(key), &part) }
        guard let part else { throw MPIError(call: "MPI_Comm_split", code: MPI_ERR_OTHER, detail: "no communicator returned") }
        // The new communicator inherits MPI_ERRORS_RETURN from this one.
        return try Communicator(environment: environment, handle: part, ownsHandle: true,
                                watchdog: watchdog.isStarted ? watchdog.configuration : nil)
    }

    /// What the caller is doing, named in watchdog and abort messages (e.g. "step 1234, D
    /// gradient allreduce"). Set it per step or phase: it takes a lock, collectives do not.
    public var label: String {
        get { watchdog.label }
        set { watchdog.label = newValue }
    }

    // MARK: - Collectives that throw

    /// Waits until every rank has called it.
    /// - Throws: `MPIError` if MPI_Barrier fails.
    public func barrier() throws {
        try run(.barrier) { MPI_Barrier(handle) }
    }

    /// Sends `root`'s array to every rank; receivers learn its length.
    /// - Parameters:
    ///   - values: the data on `root`; ignored on the other ranks (pass `[]`).
    ///   - root: the sending rank.
    /// - Returns: `root`'s array, on every rank.
    /// - Throws: `MPIError` if an MPI_Bcast fails or the length exceeds MPI's 32-bit count.
    public func broadcast<T: MPIElement>(_ values: [T], root: Int = 0) throws -> [T] {
        try checkRoot(root, .broadcast)
        var length = Int64(rank == root ? values.count : 0)
        try run(.broadcast) { MPI_Bcast(&length, 1, cmpi_int64(), Int32(root), handle) }
        let count = Int(length)
        let mpiCount = try checkedCount(count, .broadcast)
        if rank == root {
            // The root only reads its buffer: no copy of `values` is needed.
            try values.withUnsafeBytes { bytes in
                let pointer = bytes.baseAddress.map { UnsafeMutableRawPointer(mutating: $0) } ?? Communicator.scratch
                try run(.broadcast) { MPI_Bcast(pointer, mpiCount, T.mpiElementType.datatype, Int32(root), handle) }
            }
            return values
        }
        return try [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            let pointer = UnsafeMutableRawPointer(buffer.baseAddress) ?? Communicator.scratch
            try run(.broadcast) { MPI_Bcast(pointer, mpiCount, T.mpiElementType.datatype, Int32(root), handle) }
            initialized = count
        }
    }

    /// Overwrites `values` on every rank with `root`'s; the counts must be equal on all ranks
    /// (as for parameters broadcast from rank 0 at start), which saves the length message.
    /// - Parameters:
    ///   - values: the buffer, equal in count on every rank.
    ///   - root: the sending rank.
    /// - Throws: `MPIError` if MPI_Bcast fails or the count exceeds MPI's 32-bit count.
    public func broadcastInPlace<T: MPIElement>(_ values: inout [T], root: Int = 0) throws {
        try checkRoot(root, .broadcast)
        let count = try checkedCount(values.count, .broadcast)
        try values.withUnsafeMutableBytes { bytes in
            let pointer = bytes.baseAddress ?? Communicator.scratch
            try run(.broadcast) { MPI_Bcast(pointer, count, T.mpiElementType.datatype, Int32(root), handle) }
        }
    }

    /// Sends `root`'s string to every rank (as UTF-8).
    /// - Parameters:
    ///   - string: the text on `root`; ignored elsewhere.
    ///   - root: the sending rank.
    /// - Returns: `root`'s string, on every rank.
    /// - Throws: `MPIError` as `broadcast(_:root:)`.
    public func broadcast(_ string: String, root: Int = 0) throws -> String {
        let bytes = try broadcast(rank == root ? Array(string.utf8) : [UInt8](), root: root)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Sends `root`'s bytes to every rank.
    /// - Parameters:
    ///   - data: the bytes on `root`; ignored elsewhere.
    ///   - root: the sending rank.
    /// - Returns: `root`'s bytes, on every rank.
    /// - Throws: `MPIError` as `broadcast(_:root:)`.
    public func broadcast(_ data: Data, root: Int = 0) throws -> Data {
        Data(try broadcast(rank == root ? [UInt8](data) : [UInt8](), root: root))
    }

    /// Reduces equal-count arrays elementwise across ranks, in place, on every rank.
    /// - Parameters:
    ///   - values: this rank's contribution, replaced by the result; equal counts on all ranks.
    ///   - op: sum, max or min.
    /// - Throws: `MPIError` if MPI_Allreduce fails or the count exceeds MPI's 32-bit count.
    public func allReduce<T: MPIReducible>(_ values: inout [T], op: MPIReduction) throws {
        let count = try checkedCount(values.count, .allReduce)
        try values.withUnsafeMutableBytes { bytes in
            let pointer = bytes.baseAddress ?? Communicator.scratch
            try run(.allReduce) {
                MPI_Allreduce(cmpi_in_place(), pointer, count, T.mpiElementType.datatype, op.op, handle)
            }
        }
    }

    /// Reduces one value across ranks.
    /// - Parameters:
    ///   - value: this rank's value.
    ///   - op: sum, max or min.
    /// - Returns: the reduction, on every rank.
    /// - Throws: `MPIError` if MPI_Allreduce fails.
    public func allReduce<T: MPIReducible>(_ value: T, op: MPIReduction) throws -> T {
        var values = [value]
        try allReduce(&values, op: op)
        return values[0]
    }

    /// Concatenates equal-count arrays of all ranks in rank order.
    /// - Parameter values: this rank's part; equal counts on all ranks.
    /// - Returns: `size * values.count` elements, rank 0's first.
    /// - Throws: `MPIError` if MPI_Allgather fails or the total exceeds MPI's 32-bit count.
    public func allGather<T: MPIElement>(sending values: [T]) throws -> [T] {
        let count = try checkedCount(values.count, .allGather)
        let total = values.count * size
        _ = try checkedCount(total, .allGather)
        let type = T.mpiElementType.datatype
        return try [T](unsafeUninitializedCapacity: total) { out, initialized in
            let receive = UnsafeMutableRawPointer(out.baseAddress) ?? Communicator.scratch
            try values.withUnsafeBytes { bytes in
                let send = bytes.baseAddress ?? UnsafeRawPointer(Communicator.scratch)
                try run(.allGather) { MPI_Allgather(send, count, type, receive, count, type, handle) }
            }
            initialized = total
        }
    }

    /// Concatenates arrays of any count from all ranks in rank order.
    /// - Parameter values: this rank's part, of any count.
    /// - Returns: the concatenation and each rank's count.
    /// - Throws: `MPIError` if MPI_Allgather (of the counts) or MPI_Allgatherv fails, or the
    ///   total exceeds MPI's 32-bit count.
    public func allGatherv<T: MPIElement>(sending values: [T]) throws -> (values: [T], counts: [Int]) {
        let count = try checkedCount(values.count, .allGatherv)
        let counts = try allGather(sending: [Int64(values.count)]).map { Int($0) }
        let (counts32, displacements, total) = try layout(counts, .allGatherv)
        let type = T.mpiElementType.datatype
        let result = try [T](unsafeUninitializedCapacity: total) { out, initialized in
            let receive = UnsafeMutableRawPointer(out.baseAddress) ?? Communicator.scratch
            try values.withUnsafeBytes { bytes in
                let send = bytes.baseAddress ?? UnsafeRawPointer(Communicator.scratch)
                try run(.allGatherv) {
                    MPI_Allgatherv(send, count, type, receive, counts32, displacements, type, handle)
                }
            }
            initialized = total
        }
        return (result, counts)
    }

    /// Concatenates arrays of all ranks in rank order when every rank already knows every
    /// rank's count (as for a batch dealt out by a fixed rule): no message carries the counts.
    /// - Parameters:
    ///   - values: this rank's part, `counts[rank]` elements (zero allowed).
    ///   - counts: each rank's count, the same on all ranks.
    /// - Returns: `counts.reduce(0, +)` elements, rank 0's first.
    /// - Throws: `MPIError` if MPI_Allgatherv fails or the total exceeds MPI's 32-bit count.
    public func allGatherv<T: MPIElement>(sending values: [T], counts: [Int]) throws -> [T] {
        require(counts.count == size && values.count == counts[rank],
                     "allGatherv: \(values.count) elements on rank \(rank), counts \(counts)")
        let count = try checkedCount(values.count, .allGatherv)
        let (counts32, displacements, total) = try layout(counts, .allGatherv)
        let type = T.mpiElementType.datatype
        return try [T](unsafeUninitializedCapacity: total) { out, initialized in
            let receive = UnsafeMutableRawPointer(out.baseAddress) ?? Communicator.scratch
            try values.withUnsafeBytes { bytes in
                let send = bytes.baseAddress ?? UnsafeRawPointer(Communicator.scratch)
                try run(.allGatherv) {
                    MPI_Allgatherv(send, count, type, receive, counts32, displacements, type, handle)
                }
            }
            initialized = total
        }
    }

    /// Reduces equal-count arrays elementwise across ranks and returns this rank's block when
    /// the blocks differ in length: the `counts[rank]` elements after those of the lower ranks.
    /// - Parameters:
    ///   - values: this rank's contribution, `counts.reduce(0, +)` elements on every rank.
    ///   - counts: each rank's block length (zero allowed), the same on all ranks.
    ///   - op: sum, max or min.
    /// - Returns: this rank's `counts[rank]` elements.
    /// - Throws: `MPIError` if MPI_Reduce_scatter fails or a count exceeds MPI's 32-bit count.
    public func reduceScatter<T: MPIReducible>(sending values: [T], counts: [Int], op: MPIReduction = .sum) throws -> [T] {
        require(counts.count == size && values.count == counts.reduce(0, +),
                     "reduceScatter: \(values.count) elements, counts \(counts)")
        let (counts32, _, _) = try layout(counts, .reduceScatterv)
        let block = counts[rank]
        return try [T](unsafeUninitializedCapacity: block) { out, initialized in
            let receive = UnsafeMutableRawPointer(out.baseAddress) ?? Communicator.scratch
            try values.withUnsafeBytes { bytes in
                let send = bytes.baseAddress ?? UnsafeRawPointer(Communicator.scratch)
                try run(.reduceScatterv) {
                    MPI_Reduce_scatter(send, receive, counts32, T.mpiElementType.datatype, op.op, handle)
                }
            }
            initialized = block
        }
    }

    /// Reduces equal-count arrays elementwise across ranks and returns this rank's block:
    /// elements `rank * n / size ..< (rank + 1) * n / size` of the reduction.
    /// - Parameters:
    ///   - values: this rank's contribution; equal counts `n` on all ranks, divisible by `size`.
    ///   - op: sum, max or min.
    /// - Returns: this rank's `n / size` elements.
    /// - Throws: `MPIError` if MPI_Reduce_scatter_block fails or the count exceeds MPI's limit.
    public func reduceScatter<T: MPIReducible>(sending values: [T], op: MPIReduction = .sum) throws -> [T] {
        require(values.count % size == 0,
                     "reduceScatter: count \(values.count) is not divisible by the group size \(size)")
        let block = values.count / size
        let count = try checkedCount(block, .reduceScatter)
        _ = try checkedCount(values.count, .reduceScatter)
        return try [T](unsafeUninitializedCapacity: block) { out, initialized in
            let receive = UnsafeMutableRawPointer(out.baseAddress) ?? Communicator.scratch
            try values.withUnsafeBytes { bytes in
                let send = bytes.baseAddress ?? UnsafeRawPointer(Communicator.scratch)
                try run(.reduceScatter) {
                    MPI_Reduce_scatter_block(send, receive, count, T.mpiElementType.datatype, op.op, handle)
                }
            }
            initialized = block
        }
    }

    /// Sends `values` to rank `destination` and receives `receiveCount` elements from rank
    /// `source` in one paired call (MPI_Sendrecv, so neighbours exchanging both ways cannot
    /// deadlock). Nil peers take part in nothing (MPI_PROC_NULL); nothing received reads as zeros.
    /// Watched like a collective: a peer that never calls it leaves this rank waiting.
    /// - Parameters:
    ///   - values: what to send (ignored without a destination).
    ///   - destination: the receiving rank, or nil.
    ///   - source: the sending rank, or nil.
    ///   - receiveCount: how many elements `source` sends.
    ///   - tag: the message tag both sides use.
    /// - Returns: `receiveCount` elements.
    /// - Throws: `MPIError` if a peer is outside the group, a count exceeds MPI's 32-bit count
    ///   or MPI_Sendrecv fails (e.g. the source sent another count).
    public func sendReceive<T: MPIElement & Numeric>(sending values: [T], to destination: Int?, from source: Int?,
                                                     receiveCount: Int, tag: Int32 = 0) throws -> [T] {
        for peer in [destination, source].compactMap({ $0 }) where !(0..<size).contains(peer) {
            throw MPIError(call: CollectiveKind.sendReceive.description, code: MPI_ERR_RANK, detail: "rank \(peer) is not in 0..<\(size)")
        }
        let sendCount = try checkedCount(destination == nil ? 0 : values.count, .sendReceive)
        let count = try checkedCount(receiveCount, .sendReceive)
        let type = T.mpiElementType.datatype
        var received = [T](repeating: 0, count: receiveCount)
        try received.withUnsafeMutableBytes { out in
            let receive = out.baseAddress ?? Communicator.scratch
            try values.withUnsafeBytes { bytes in
                let send = bytes.baseAddress ?? UnsafeRawPointer(Communicator.scratch)
                try run(.sendReceive) {
                    MPI_Sendrecv(send, sendCount, type, Int32(destination ?? Int(cmpi_proc_null())), tag,
                                 receive, count, type, Int32(source ?? Int(cmpi_proc_null())), tag,
                                 handle, cmpi_status_ignore())
                }
            }
        }
        return received
    }

    /// Sums float buffers across ranks in place by a ring of paired exchanges, leaving in `x`'s
    /// block `rank` (laid out by `counts`) the sum over all ranks; the other blocks hold partial
    /// sums. In step s (of size - 1) each rank sends its partial sum of block (rank - s - 1) to
    /// the next rank, receives block (rank - s - 2) from the previous one and adds it to its own.
    /// Each rank sends and receives (size - 1) / size of the buffer, as MPI_Reduce_scatter's ring
    /// does, but without its copies of the whole buffer: Open MPI 4.1's MPI_Reduce_scatter (every
    /// algorithm) took 0.09-0.13 s for 23M floats on 2 ranks of one 2-vCPU AMD EPYC node, where this takes 0.016 s
    /// and MPI_Allreduce in place 0.05 s. Each element's sum is formed in ring order, the same
    /// for every call on the same ranks.
    /// - Throws: `MPIError` if an MPI_Sendrecv fails or a count exceeds MPI's 32-bit count.
    public func reduceScatterRing(_ x: inout [Float], counts: [Int]) throws {
        require(counts.count == size && x.count == counts.reduce(0, +),
                "reduceScatterRing: \(x.count) elements, counts \(counts)")
        guard size > 1 else { return }
        let offsets = Communicator.offsets(counts)
        let largest = counts.max() ?? 0
        if ringScratch.count < largest { ringScratch = [Float](repeating: 0, count: largest) }
        let (next, previous) = (Int32((rank + 1) % size), Int32((rank + size - 1) % size))
        let type = Float.mpiElementType.datatype
        try x.withUnsafeMutableBufferPointer { x in
            try ringScratch.withUnsafeMutableBufferPointer { received in
                for step in 0..<(size - 1) {
                    let sent = ((rank - step - 1) % size + size) % size
                    let added = ((rank - step - 2) % size + size) % size
                    let (sendCount, receiveCount) = (try checkedCount(counts[sent], .sendReceive),
                                                     try checkedCount(counts[added], .sendReceive))
                    try run(.sendReceive) {
                        MPI_Sendrecv(x.baseAddress! + offsets[sent], sendCount, type, next, 17,
                                     received.baseAddress!, receiveCount, type, previous, 17,
                                     handle, cmpi_status_ignore())
                    }
                    let block = x.baseAddress! + offsets[added]
                    for i in 0..<counts[added] { block[i] += received[i] }
                }
            }
        }
    }

    /// Fills every rank's block of `x` (laid out by `counts`) with that rank's block, in place
    /// (MPI_Allgatherv with MPI_IN_PLACE: no second buffer of the whole length).
    /// - Throws: `MPIError` if MPI_Allgatherv fails or a count exceeds MPI's 32-bit count.
    public func allGathervInPlace(_ x: inout [Float], counts: [Int]) throws {
        require(counts.count == size && x.count == counts.reduce(0, +),
                "allGathervInPlace: \(x.count) elements, counts \(counts)")
        guard size > 1 else { return }
        let (counts32, displacements, _) = try layout(counts, .allGatherv)
        let type = Float.mpiElementType.datatype
        try x.withUnsafeMutableBytes { out in
            try run(.allGatherv) {
                MPI_Allgatherv(cmpi_in_place(), 0, type, out.baseAddress, counts32, displacements, type, handle)
            }
        }
    }

    /// Where each block of a buffer laid out by `counts` starts.
    static func offsets(_ counts: [Int]) -> [Int] {
        var offsets = [Int](repeating: 0, count: counts.count)
        for r in counts.indices.dropFirst() { offsets[r] = offsets[r - 1] + counts[r - 1] }
        return offsets
    }

    /// Collects the arrays of all ranks, of any count, on `root`.
    /// - Parameters:
    ///   - values: this rank's part.
    ///   - root: the receiving rank.
    /// - Returns: on `root`, each rank's array in rank order; nil on the other ranks.
    /// - Throws: `MPIError` if MPI_Gather (of the counts) or MPI_Gatherv fails, or the total
    ///   exceeds MPI's 32-bit count.
    public func gather<T: MPIElement>(sending values: [T], root: Int = 0) throws -> [[T]]? {
        try checkRoot(root, .gather)
        let count = try checkedCount(values.count, .gatherv)
        var mine = Int64(values.count)
        var counts64 = [Int64](repeating: 0, count: rank == root ? size : 1)
        try counts64.withUnsafeMutableBytes { out in
            let receive = out.baseAddress ?? Communicator.scratch
            try run(.gather) { MPI_Gather(&mine, 1, cmpi_int64(), receive, 1, cmpi_int64(), Int32(root), handle) }
        }
        let counts = rank == root ? counts64.map { Int($0) } : [Int](repeating: 0, count: size)
        let (counts32, displacements, total) = try layout(counts, .gatherv)
        let type = T.mpiElementType.datatype
        let flat = try [T](unsafeUninitializedCapacity: total) { out, initialized in
            let receive = UnsafeMutableRawPointer(out.baseAddress) ?? Communicator.scratch
            try values.withUnsafeBytes { bytes in
                let send = bytes.baseAddress ?? UnsafeRawPointer(Communicator.scratch)
                try run(.gatherv) {
                    MPI_Gatherv(send, count, type, receive, counts32, displacements, type, Int32(root), handle)
                }
            }
            initialized = total
        }
        guard rank == root else { return nil }
        return (0..<size).map { r in Array(flat[Int(displacements[r]) ..< Int(displacements[r]) + counts[r]]) }
    }

    /// Ends every rank of the job: prints `message` to stderr, then MPI_Abort with `code`.
    /// - Parameters:
    ///   - message: one line saying why.
    ///   - code: the job's exit code.
    public func abort(_ message: String, code: Int32 = 1) -> Never {
        abortJob(message, code: code)
    }

    // MARK: - Helpers

    /// A valid address for empty buffers: MPI may reject a null buffer even with count 0.
    static let scratch = UnsafeMutableRawPointer.allocate(byteCount: 64, alignment: 64)

    /// Runs one MPI call under the watchdog and throws its error, named after `kind`'s call.
    @inline(__always)
    private func run(_ kind: CollectiveKind, _ body: () -> Int32) throws {
        watchdog.enter(kind)
        let code = body()
        watchdog.leave()
        if code != MPI_SUCCESS { throw MPIError(call: kind.description, code: code) }
    }

    private func checkedCount(_ count: Int, _ kind: CollectiveKind) throws -> Int32 {
        guard count <= Int(Int32.max) else {
            throw MPIError(call: kind.description, code: MPI_ERR_COUNT,
                           detail: "\(count) elements exceed MPI's 32-bit count: split the buffer")
        }
        return Int32(count)
    }

    private func checkRoot(_ root: Int, _ kind: CollectiveKind) throws {
        guard (0..<size).contains(root) else {
            throw MPIError(call: kind.description, code: MPI_ERR_ROOT, detail: "root \(root) is not in 0..<\(size)")
        }
    }

    /// Int32 counts and displacements of a v-collective, and the total.
    private func layout(_ counts: [Int], _ kind: CollectiveKind) throws -> ([Int32], [Int32], Int) {
        var displacements = [Int32]()
        displacements.reserveCapacity(counts.count)
        var total = 0
        for count in counts {
            displacements.append(try checkedCount(total, kind))
            total += count
        }
        _ = try checkedCount(total, kind)
        return (counts.map { Int32($0) }, displacements, total)
    }
}

// MARK: - Collectives that end the job on failure (what a model's graph calls)

extension Communicator {
    /// Concatenates equal-length buffers of all ranks in rank order; on an MPI error, prints
    /// one line and aborts the job (a half-finished collective cannot be recovered).
    public func allGather(_ x: [Float]) -> [Float] {
        orAbort { try allGather(sending: x) }
    }

    /// Sums equal-length buffers across ranks and returns this rank's block; aborts the job on
    /// an MPI error. `x.count` must be divisible by `size`.
    public func reduceScatter(_ x: [Float]) -> [Float] {
        orAbort { try reduceScatter(sending: x, op: .sum) }
    }

    /// Sums equal-length buffers across ranks in place; aborts the job on an MPI error.
    public func allReduceSum(_ x: inout [Float]) {
        orAbort { try allReduce(&x, op: .sum) }
    }

    /// Concatenates buffers of the known `counts` in rank order (MPI_Allgatherv); aborts the
    /// job on an MPI error.
    public func allGather(_ x: [Float], counts: [Int]) -> [Float] {
        orAbort { try allGatherv(sending: x, counts: counts) }
    }

    /// Sums equal-length buffers across ranks and returns this rank's block of `counts[rank]`
    /// elements (MPI_Reduce_scatter); aborts the job on an MPI error.
    public func reduceScatter(_ x: [Float], counts: [Int]) -> [Float] {
        orAbort { try reduceScatter(sending: x, counts: counts, op: .sum) }
    }

    /// The ring reduce-scatter in place (`reduceScatterRing`); aborts the job on an MPI error.
    public func reduceScatterInPlace(_ x: inout [Float], counts: [Int]) {
        orAbort { try reduceScatterRing(&x, counts: counts) }
    }

    /// The all-gather in place (`allGathervInPlace`); aborts the job on an MPI error.
    public func allGatherInPlace(_ x: inout [Float], counts: [Int]) {
        orAbort { try allGathervInPlace(&x, counts: counts) }
    }

    /// Sends to `destination` and receives `receiveCount` elements from `source` (MPI_Sendrecv;
    /// nil: none); aborts the job on an MPI error.
    public func sendReceive(_ x: [Float], to destination: Int?, from source: Int?, receiveCount: Int) -> [Float] {
        orAbort { try sendReceive(sending: x, to: destination, from: source, receiveCount: receiveCount) }
    }

    private func orAbort<R>(_ body: () throws -> R) -> R {
        do {
            return try body()
        } catch {
            let place = label.isEmpty ? "" : " at \"\(label)\""
            abortJob("progan-mpi: rank \(rank): \(error)\(place): aborting the job "
                     + "(a half-finished collective cannot be recovered)", code: 1)
        }
    }
}
