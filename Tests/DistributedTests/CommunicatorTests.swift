import Autograd
import CMPI
@testable import Distributed
import Foundation
import XCTest

/// MPI can be initialized once per process: every test shares this singleton world
/// (Open MPI starts a one-rank world without mpirun). It is never finalized: finalizing would
/// forbid any later initialization in this process.
enum SingletonMPI {
    static let environment = Result { try MPIEnvironment(requested: .funneled) }
    static let communicator = Result { try Communicator(world: environment.get(), watchdog: nil) }
}

final class CommunicatorTests: XCTestCase {
    private func world() throws -> Communicator { try SingletonMPI.communicator.get() }

    func testSingletonEnvironmentInitializesOnceAndAdoptsAfterwards() throws {
        let environment = try SingletonMPI.environment.get()
        XCTAssertTrue(environment.ownsInitialization)
        XCTAssertEqual(environment.requestedThreadLevel, .funneled)
        XCTAssertGreaterThanOrEqual(environment.providedThreadLevel, .single)
        XCTAssertFalse(MPIEnvironment.isFinalized)
        // A second environment finds MPI initialized, adopts it, and will not finalize it.
        let second = try MPIEnvironment(requested: .single)
        XCTAssertFalse(second.ownsInitialization)
        XCTAssertEqual(second.providedThreadLevel, environment.providedThreadLevel)
        try second.finalize()
        XCTAssertFalse(MPIEnvironment.isFinalized)
    }

    func testMinimumThreadLevelAboveProvidedThrows() throws {
        let environment = try SingletonMPI.environment.get()
        guard environment.providedThreadLevel < .multiple else {
            throw XCTSkip("this MPI provides MPI_THREAD_MULTIPLE")
        }
        XCTAssertThrowsError(try MPIEnvironment(requested: .multiple, minimum: .multiple)) { error in
            XCTAssertTrue("\(error)".contains("needs at least multiple"), "\(error)")
        }
    }

    func testSingletonWorldHasOneRank() throws {
        let comm = try world()
        XCTAssertEqual(comm.rank, 0)
        XCTAssertEqual(comm.size, 1)
        XCTAssertFalse(comm.processorName.isEmpty)
    }

    func testCollectivesAreIdentitiesOnOneRank() throws {
        let comm = try world()
        let x: [Float] = [1.5, -2, 3e7, 0]
        try comm.barrier()
        XCTAssertEqual(try comm.broadcast(x), x)
        XCTAssertEqual(try comm.broadcast([UInt8]()), [])
        XCTAssertEqual(try comm.broadcast([Int64.max, Int64.min]), [Int64.max, Int64.min])
        XCTAssertEqual(try comm.broadcast("π ≈ 3.14159"), "π ≈ 3.14159")
        XCTAssertEqual(try comm.broadcast(Data([1, 2, 3])), Data([1, 2, 3]))
        var inPlace = x
        try comm.broadcastInPlace(&inPlace)
        XCTAssertEqual(inPlace, x)
        for op in [MPIReduction.sum, .max, .min] {
            var y = x
            try comm.allReduce(&y, op: op)
            XCTAssertEqual(y, x, "\(op)")
            var d: [Double] = [0.1, -1e300]
            try comm.allReduce(&d, op: op)
            XCTAssertEqual(d, [0.1, -1e300], "\(op)")
            XCTAssertEqual(try comm.allReduce(Int64(1) << 40, op: op), Int64(1) << 40, "\(op)")
        }
        XCTAssertEqual(try comm.allGather(sending: x), x)
        let (values, counts) = try comm.allGatherv(sending: x)
        XCTAssertEqual(values, x)
        XCTAssertEqual(counts, [4])
        XCTAssertEqual(try comm.reduceScatter(sending: x), x)
        XCTAssertEqual(try comm.gather(sending: x), [x])
    }

    func testCollectiveProtocolMatchesLocalCollective() throws {
        let comm = try world()
        let local = LocalCollective()
        let x: [Float] = [3, 1, 4, 1, 5]
        XCTAssertEqual(comm.rank, local.rank)
        XCTAssertEqual(comm.size, local.size)
        XCTAssertEqual(comm.allGather(x), local.allGather(x))
        XCTAssertEqual(comm.reduceScatter(x), local.reduceScatter(x))
        var a = x, b = x
        comm.allReduceSum(&a)
        local.allReduceSum(&b)
        XCTAssertEqual(a, b)
    }

    func testSelfTestPassesOnOneRank() throws {
        let summary = try runCollectiveSelfTest(try world())
        XCTAssertTrue(summary.hasPrefix("mpi-selftest passed: "), summary)
        XCTAssertTrue(summary.contains("on 1 rank(s)"), summary)
    }

    func testRootOutsideTheGroupThrowsMPIError() throws {
        let comm = try world()
        XCTAssertThrowsError(try comm.broadcast([Float(1)], root: 1)) { error in
            let mpiError = error as? MPIError
            XCTAssertEqual(mpiError?.call, "MPI_Bcast")
            XCTAssertEqual(mpiError?.code, MPI_ERR_ROOT)
            XCTAssertTrue("\(error)".contains("root 1 is not in 0..<1"), "\(error)")
        }
    }

    func testMPIErrorCarriesCallAndLibraryText() {
        let error = MPIError(call: "MPI_Allreduce", code: MPI_ERR_COUNT)
        XCTAssertEqual(error.call, "MPI_Allreduce")
        XCTAssertFalse(error.message.isEmpty)
        XCTAssertNotEqual(error.message, "MPI error code \(MPI_ERR_COUNT)", "MPI_Error_string gave no text")
        XCTAssertTrue(error.description.hasPrefix("MPI_Allreduce failed: \(error.message)"), error.description)
    }

    func testDuplicateIsASeparateWorkingCommunicator() throws {
        let comm = try world()
        let copy = try comm.duplicate()
        XCTAssertEqual(copy.size, comm.size)
        XCTAssertFalse(copy.watchdog === comm.watchdog)
        XCTAssertEqual(try copy.allReduce(Float(2), op: .sum), 2)
    }

    func testLabelIsSharedWithTheWatchdog() throws {
        let comm = try world()
        comm.label = "step 7, G gradient allreduce"
        defer { comm.label = "" }
        XCTAssertEqual(comm.watchdog.label, "step 7, G gradient allreduce")
    }
}
