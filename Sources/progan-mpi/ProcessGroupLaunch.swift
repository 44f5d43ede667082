import Distributed
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
