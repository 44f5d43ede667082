import Distributed
import XCTest

final class LaunchEnvironmentTests: XCTestCase {
    func testReadsSlurmAndOpenMPIVariables() {
        let launch = LaunchEnvironment(environment: [
            "SLURM_NTASKS": "8", "SLURM_PROCID": "3", "SLURM_JOB_ID": "42",
            "OMPI_COMM_WORLD_SIZE": "8", "OMPI_COMM_WORLD_RANK": "3", "OMPI_COMM_WORLD_LOCAL_RANK": "1",
            "PMIX_RANK": "3",
        ])
        XCTAssertEqual(launch.slurmTasks, 8)
        XCTAssertEqual(launch.slurmProcessID, 3)
        XCTAssertEqual(launch.slurmJobID, "42")
        XCTAssertEqual(launch.launcherWorldSize, 8)
        XCTAssertEqual(launch.launcherRank, 3)
        XCTAssertEqual(launch.launcherLocalRank, 1)
        XCTAssertEqual(launch.pmiRank, 3)
        XCTAssertTrue(launch.isUnderSlurm)
    }

    func testOutsideSlurmAnyWorldSizePasses() throws {
        let launch = LaunchEnvironment(environment: ["OMPI_COMM_WORLD_SIZE": "4"])
        XCTAssertFalse(launch.isUnderSlurm)
        XCTAssertNil(launch.slurmTasks)
        try launch.checkWorldSize(4)
        try launch.checkWorldSize(1)
    }

    func testMatchingSlurmTaskCountPasses() throws {
        try LaunchEnvironment(environment: ["SLURM_NTASKS": "4"]).checkWorldSize(4)
    }

    func testSingletonWorldUnderSlurmFailsWithTheFix() {
        let launch = LaunchEnvironment(environment: ["SLURM_NTASKS": "4", "SLURM_PROCID": "2"])
        XCTAssertThrowsError(try launch.checkWorldSize(1)) { error in
            XCTAssertEqual(error as? LaunchError, .worldSizeMismatch(slurmTasks: 4, worldSize: 1))
            XCTAssertEqual("\(error)", "Slurm started 4 tasks but MPI sees a world of 1: "
                           + "launch with srun --mpi=pmix or mpirun inside the allocation")
        }
    }

    func testDirectLaunchWithWrongSizeFails() {
        // srun --mpi=pmix -n 4 of a world that somehow holds 2: no mpirun chose that size.
        XCTAssertThrowsError(try LaunchEnvironment(environment: ["SLURM_NTASKS": "4"]).checkWorldSize(2))
    }

    func testMpirunInsideAnAllocationChoosesTheSize() throws {
        // mpirun -np 2 inside a 4-task allocation (or on a node whose daemon srun step has
        // other SLURM_* values): the launcher's size rules.
        try LaunchEnvironment(environment: ["SLURM_NTASKS": "4", "OMPI_COMM_WORLD_SIZE": "2"]).checkWorldSize(2)
        // A launcher size that disagrees with MPI proves nothing: still checked.
        XCTAssertThrowsError(
            try LaunchEnvironment(environment: ["SLURM_NTASKS": "4", "OMPI_COMM_WORLD_SIZE": "3"]).checkWorldSize(2))
        // A singleton is always checked, even if a variable claims a launcher.
        XCTAssertThrowsError(
            try LaunchEnvironment(environment: ["SLURM_NTASKS": "4", "OMPI_COMM_WORLD_SIZE": "1"]).checkWorldSize(1))
    }

    func testUnparsableValuesAreIgnored() throws {
        let launch = LaunchEnvironment(environment: ["SLURM_NTASKS": "four", "SLURM_NPROCS": " 2 "])
        XCTAssertEqual(launch.slurmTasks, 2)
        XCTAssertThrowsError(try launch.checkWorldSize(1))
    }
}
