import Distributed
import Foundation
import Training

/// The ranks this process runs with: an MPI communicator when started by mpirun/srun (or inside a
/// Slurm job, where a plain start must still pass the world-size check), else one process.
/// Keep the returned environment alive and finalize it after the last collective.
func launchProcessGroup() throws -> (group: ProcessGroup, mpi: MPIEnvironment?) {
    let launch = LaunchEnvironment()
    guard launch.launcherWorldSize != nil || launch.isUnderSlurm else { return (SingleProcess(), nil) }
    let environment = try MPIEnvironment(requested: .funneled)
    let comm = try Communicator(world: environment)
    do { try launch.checkWorldSize(comm.size) } catch { fail("\(error)") }
    return (comm, environment)
}

/// Reports an error of a run on `group` and exits 1. A `UserError` is the same on every rank, so
/// rank 0 says it once; other errors may be rank-specific, so every rank reports its own. No
/// MPI_Finalize: other ranks may wait in a collective; the nonzero exit makes the launcher end
/// the job.
func exitReporting(_ error: Error, on group: ProcessGroup) -> Never {
    let isRoot = group.rank == 0
    if isRoot || !(error is UserError) {
        fail(group.size > 1 && !isRoot ? "rank \(group.rank): \(error)" : "\(error)")
    }
    Foundation.exit(1)
}
