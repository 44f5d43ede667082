import Foundation

/// How this process was launched, read from the variables Slurm and Open MPI's launcher set.
///
/// The mistake it catches: `srun` without an MPI plugin (or a plain loop of processes) starts
/// N processes that each become a one-rank "singleton" MPI world, and so N independent
/// trainings run silently side by side.
public struct LaunchEnvironment: Equatable, Sendable {
    /// SLURM_NTASKS: how many tasks Slurm started (nil outside Slurm, or if not set).
    public let slurmTasks: Int?
    /// SLURM_PROCID: this task's index among them.
    public let slurmProcessID: Int?
    /// SLURM_JOB_ID (or SLURM_JOBID): the job, if any.
    public let slurmJobID: String?
    /// OMPI_COMM_WORLD_SIZE: the world size Open MPI's launcher (mpirun) started.
    public let launcherWorldSize: Int?
    /// OMPI_COMM_WORLD_RANK: the rank Open MPI's launcher gave this process.
    public let launcherRank: Int?
    /// OMPI_COMM_WORLD_LOCAL_RANK: the rank among the processes on this host.
    public let launcherLocalRank: Int?
    /// PMIX_RANK (or PMI_RANK): the rank a PMI server (e.g. `srun --mpi=pmix`) gave this process.
    public let pmiRank: Int?

    /// Reads the launch variables.
    /// - Parameter environment: the variables (default: this process's).
    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        func int(_ names: String...) -> Int? {
            for name in names {
                if let text = environment[name], let value = Int(text.trimmingCharacters(in: .whitespaces)) {
                    return value
                }
            }
            return nil
        }
        slurmTasks = int("SLURM_NTASKS", "SLURM_NPROCS")
        slurmProcessID = int("SLURM_PROCID")
        slurmJobID = environment["SLURM_JOB_ID"] ?? environment["SLURM_JOBID"]
        launcherWorldSize = int("OMPI_COMM_WORLD_SIZE")
        launcherRank = int("OMPI_COMM_WORLD_RANK")
        launcherLocalRank = int("OMPI_COMM_WORLD_LOCAL_RANK")
        pmiRank = int("PMIX_RANK", "PMI_RANK")
    }

    /// Whether Slurm says how many tasks it started.
    public var isUnderSlurm: Bool { slurmTasks != nil }

    /// Throws if Slurm started a different number of tasks than the MPI world holds.
    ///
    /// One exception: when Open MPI's own launcher started a world of more than one rank
    /// (mpirun inside an allocation), that launcher chose the size, and the SLURM_* variables
    /// describe the allocation or the step that started mpirun's daemons on other nodes, not
    /// this world; comparing them would fail good multi-node jobs. A singleton world is always
    /// checked: that is the mistake this check exists for.
    /// - Parameter worldSize: MPI_COMM_WORLD's size.
    /// - Throws: `LaunchError.worldSizeMismatch` with a one-line explanation and the fix.
    public func checkWorldSize(_ worldSize: Int) throws {
        guard let tasks = slurmTasks, tasks != worldSize else { return }
        if worldSize > 1, launcherWorldSize == worldSize { return }
        throw LaunchError.worldSizeMismatch(slurmTasks: tasks, worldSize: worldSize)
    }
}

/// A process started in a way that cannot work.
public enum LaunchError: Error, CustomStringConvertible, Equatable {
    /// Slurm started `slurmTasks` tasks but MPI_COMM_WORLD holds `worldSize` ranks.
    case worldSizeMismatch(slurmTasks: Int, worldSize: Int)

    public var description: String {
        switch self {
        case let .worldSizeMismatch(tasks, world):
            return "Slurm started \(tasks) tasks but MPI sees a world of \(world): "
                + "launch with srun --mpi=pmix or mpirun inside the allocation"
        }
    }
}
