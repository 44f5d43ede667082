/// Errors for bad input to the metrics: wrong shapes, mismatched sets, too few images.
///
/// Each case carries a message that names the offending value and what was expected, so the
/// executable can print it as is.
public enum MetricsError: Error, Equatable, CustomStringConvertible {
    /// The image data does not describe a batch the metrics accept (shape, size, channels).
    case invalidImages(String)
    /// Two descriptor sets or image batches that must match do not (size, resolution, channels).
    case mismatchedSets(String)
    /// An argument outside its allowed range (pair count, image indices).
    case invalidArgument(String)

    public var description: String {
        switch self {
        case .invalidImages(let m): return "invalid images: \(m)"
        case .mismatchedSets(let m): return "mismatched sets: \(m)"
        case .invalidArgument(let m): return "invalid argument: \(m)"
        }
    }
}
