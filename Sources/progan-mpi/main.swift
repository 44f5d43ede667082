import ArgumentParser
import Foundation

/// The `progan-mpi` command: Progressive GAN training on CPU clusters with MPI.
struct ProganMPI: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "progan-mpi",
        abstract: "Progressive Growing of GANs (Karras et al., ICLR 2018) on CPU clusters with MPI.",
        version: "0.1.0",
        subcommands: ProganMPI.allSubcommands)

    /// Every subcommand; each lives in a file of its own named after it.
    static var allSubcommands: [ParsableCommand.Type] { [DatasetCommand.self, TrainCommand.self, GenerateCommand.self, VideoCommand.self, MetricsCommand.self, MPISelfTestCommand.self, BenchCommand.self, BenchKernelsCommand.self, BenchHaloCommand.self] }
}

// First of all: OpenBLAS picked its kernel when it loaded; if that is below what this CPU can
// run, this re-executes the process with a better one (before MPI_Init, which must not have run).
BLASKernelSelection.ensureBestKernel()
tuneAllocator()

// ArgumentParser's own error output adds usage text; a user sees one line instead, with the
// same exit codes (help and --version still print normally).
do {
    var command = try ProganMPI.parseAsRoot(joiningNegativeValues(Array(CommandLine.arguments.dropFirst())))
    try command.run()
} catch {
    if ProganMPI.exitCode(for: error) == .success { ProganMPI.exit(withError: error) }
    fail(ProganMPI.message(for: error).replacingOccurrences(of: "\n", with: " "),
         code: ProganMPI.exitCode(for: error).rawValue)
}
