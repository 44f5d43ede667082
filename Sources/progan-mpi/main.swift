import ArgumentParser

/// The `progan-mpi` command: Progressive GAN training on CPU clusters with MPI.
struct ProganMPI: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "progan-mpi",
        abstract: "Progressive Growing of GANs (Karras et al., ICLR 2018) on CPU clusters with MPI.",
        version: "0.1.0",
        subcommands: ProganMPI.allSubcommands)

    /// Every subcommand; each lives in a file of its own named after it.
    static var allSubcommands: [ParsableCommand.Type] { [DevStepCommand.self, MPISelfTestCommand.self] }
}

ProganMPI.main()
