/// An event file that could not be created or written: its path and one line saying why.
///
/// `description` reads like `runs/x/tensorboard: cannot create folder: Permission denied`.
public struct TensorBoardError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file or folder the error is about.
    public let path: String
    /// What went wrong, one line, with the system's message where there is one.
    public let message: String

    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }

    /// "path: message", ready to show to a user.
    public var description: String { "\(path): \(message)" }
}
