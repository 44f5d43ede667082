import ProGAN

/// An error the person running the program can fix: bad input or a configuration that cannot
/// work. Its description is one line saying what is wrong and how to fix it. Such an error is
/// the same on every rank (all ranks read the same input), so one rank may report it for all.
public protocol UserError: Error, CustomStringConvertible {}

/// A network or schedule setting that cannot work (thrown by ProGAN).
extension ConfigError: UserError {}

/// Bad input to a run or a command: a dataset, a checkpoint, a run directory, an option.
public struct InputError: UserError {
    public let description: String
    public init(_ message: String) { description = message }
}

/// A broken invariant that no input can cause: a bug to report, not something to fix by hand.
/// It may be specific to one rank, so every rank reports its own.
public struct InternalError: Error, CustomStringConvertible {
    public let description: String
    public init(_ message: String) { description = message + "; this is a bug, please report it" }
}
