/// An error from an HDF5 file operation, with a one-line description meant for users.
///
/// Library failures carry the C call that failed, the file (and object) path, and HDF5's own
/// error-stack messages; the errors this module detects itself (missing file, missing dataset,
/// wrong type, bad schema...) carry a sentence that already names the path and the fix.
public struct HDF5Error: Error, CustomStringConvertible, Equatable, Sendable {
    /// What went wrong, so that callers can react without parsing the message.
    public enum Kind: Equatable, Sendable {
        /// The file does not exist.
        case noSuchFile
        /// The file exists but is not an HDF5 file.
        case notHDF5
        /// A dataset or group is missing at the given path.
        case missingObject
        /// An attribute is missing.
        case missingAttribute
        /// The stored element type differs from the one asked for.
        case typeMismatch
        /// Shapes or element counts disagree.
        case shapeMismatch
        /// A row range or index lies outside a dataset.
        case outOfRange
        /// The file is HDF5 but does not follow an expected schema (see `ImageDatasetFile`).
        case invalidSchema
        /// An operating-system call (rename, fsync, unlink...) failed.
        case system
        /// An HDF5 C call failed; `message` holds HDF5's error stack.
        case library
        /// The file was used after `close()`.
        case closed
        /// A write was attempted on a file opened read-only.
        case readOnly
    }

    /// The kind of failure.
    public let kind: Kind
    /// The C function or operation that failed (e.g. "H5Dread", "rename").
    public let call: String
    /// The file path, followed by ":/object/path" when an object inside the file is concerned.
    public let path: String
    /// HDF5's error-stack messages for library failures, otherwise the full sentence.
    public let message: String

    /// Creates an error; `message` is the complete sentence for every kind except `.library`.
    public init(_ kind: Kind, call: String, path: String, message: String) {
        self.kind = kind
        self.call = call
        self.path = path
        self.message = message
    }

    /// The same error with every mention of the file `old` (in `path` and `message`) replaced
    /// by `new`, e.g. a temporary file's name by the name the user asked for.
    func naming(_ old: String, as new: String) -> HDF5Error {
        func replaced(_ text: String) -> String {
            guard !old.isEmpty else { return text }
            var out = "", rest = Substring(text)
            while let range = rest.firstRange(of: old) {
                out += rest[..<range.lowerBound] + new
                rest = rest[range.upperBound...]
            }
            return out + rest
        }
        return HDF5Error(kind, call: call, path: replaced(path), message: replaced(message))
    }

    public var description: String {
        switch kind {
        case .library:
            return message.isEmpty ? "\(path): \(call) failed" : "\(path): \(call) failed: \(message)"
        default:
            return message
        }
    }
}
