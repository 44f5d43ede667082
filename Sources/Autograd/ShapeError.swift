/// A shape mismatch found at an op's boundary, naming the op and the shapes involved.
public struct ShapeError: Error, CustomStringConvertible, Equatable {
    /// The op that refused its inputs, e.g. "conv2d".
    public let op: String
    /// What is wrong, with the shapes.
    public let message: String

    public init(_ op: String, _ message: String) {
        self.op = op
        self.message = message
    }

    public var description: String { "\(op): \(message)" }
}
