import ArgumentParser
import Distributed
import Foundation
import Training

/// `progan-mpi mpi-selftest`: checks every collective of the MPI build under mpirun or srun, then
/// the differentiable collectives of the autograd graph on the same ranks.
///
/// Hidden from help; the Distributed tests run it as `mpirun -np N progan-mpi mpi-selftest`.
/// The fault options make one rank die or hang on purpose, to test that the job then ends
/// instead of hanging.
struct MPISelfTestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mpi-selftest",
        abstract: "Check every MPI collective with known results; rank 0 prints a summary.",
        shouldDisplay: false)

    @Option(help: "Seconds a rank may wait inside one collective before it says so.")
    var watchdogWarn: Double = 60

    @Option(help: "Seconds a rank may wait inside one collective before it aborts the job.")
    var watchdogAbort: Double?

    @Option(help: "Fault injection: this rank exits with --exit-code before the first collective.")
    var exitRank: Int?

    @Option(help: "Exit code for --exit-rank.")
    var exitCode: Int32 = 3

    @Option(help: "Fault injection: this rank kills itself with SIGKILL before the first collective.")
    var killRank: Int?

    @Option(help: "Fault injection: this rank sleeps --hang-seconds before the first collective.")
    var hangRank: Int?

    @Option(help: "Seconds --hang-rank sleeps.")
    var hangSeconds: Double = 600

    func validate() throws {
        guard watchdogWarn > 0 else { throw ValidationError("--watchdog-warn must be positive, got \(watchdogWarn)") }
        if let watchdogAbort, watchdogAbort <= 0 {
            throw ValidationError("--watchdog-abort must be positive, got \(watchdogAbort)")
        }
    }

    func run() throws {
        let launch = LaunchEnvironment()
        let environment = try MPIEnvironment(requested: .funneled)
        let comm = try Communicator(world: environment, watchdog: .init(warnAfter: watchdogWarn, abortAfter: watchdogAbort))
        do {
            try launch.checkWorldSize(comm.size)
            comm.label = "mpi-selftest, first collective"
            if comm.rank == exitRank { Foundation.exit(exitCode) }
            if comm.rank == killRank { raise(SIGKILL) }
            if comm.rank == hangRank { Thread.sleep(forTimeInterval: hangSeconds) }
            try comm.barrier()
            comm.label = "mpi-selftest"
            let summary = try runCollectiveSelfTest(comm)
            if comm.rank == 0 { print(summary) }
            // The autograd graph's collectives on the same ranks, to second order.
            let gradients = try runCollectiveGradientSelfTest(comm)
            if comm.rank == 0 { print(gradients) }
            try environment.finalize()
        } catch {
            // No MPI_Finalize: other ranks may sit in a collective, and finalize would wait for
            // them forever. So exit here, before unwinding reaches the environment's deinit;
            // a nonzero exit makes mpirun end the whole job.
            FileHandle.standardError.write(Data("progan-mpi mpi-selftest: rank \(comm.rank): \(error)\n".utf8))
            Foundation.exit(1)
        }
    }
}
