/// One tagged value of a TensorBoard summary: what a chart point or an image panel shows.
public enum SummaryValue: Sendable, Equatable {
    /// A point of the scalar chart `tag` (`Summary.Value.simple_value`, a 32-bit float, which is
    /// what TensorBoard's scalar plugin reads from events).
    case scalar(tag: String, value: Float)
    /// An image in the image panel `tag` (`Summary.Value.image`).
    case image(tag: String, SummaryImage)

    /// The value's tag: the name of its chart or panel; "/" groups tags into sections.
    public var tag: String {
        switch self {
        case .scalar(let tag, _), .image(let tag, _): return tag
        }
    }
}

/// An encoded image for a summary (`Summary.Image`): TensorBoard shows the bytes as they are,
/// so any format a browser decodes works; PNG keeps sample grids exact.
public struct SummaryImage: Sendable, Equatable {
    public var height: Int
    public var width: Int
    /// 1 gray, 2 gray + alpha, 3 RGB, 4 RGBA: `Summary.Image.colorspace` uses exactly these
    /// numbers, so the channel count is stored as it is.
    public var channels: Int
    /// The encoded file (e.g. a whole PNG file).
    public var encoded: [UInt8]

    /// An image of `height` x `width` pixels with `channels` channels, already encoded.
    ///
    /// - Precondition: positive sides, 1 to 4 channels.
    public init(height: Int, width: Int, channels: Int, encoded: [UInt8]) {
        require(height > 0 && width > 0, "SummaryImage: sides must be positive, got \(height) x \(width)")
        require((1...4).contains(channels), "SummaryImage: channels must be 1...4, got \(channels)")
        self.height = height
        self.width = width
        self.channels = channels
        self.encoded = encoded
    }
}

/// The `Event` messages of an event file (tensorboard/compat/proto/event.proto and summary.proto
/// define the field numbers used here).
enum EventMessage {
    /// The version string of the first event, which TensorBoard checks ("brain.Event:2": events
    /// may carry summaries of any kind).
    static let fileVersion = "brain.Event:2"

    /// `Event { wall_time = 1; step = 2; file_version = 3 }`.
    static func fileVersion(wallTime: Double) -> [UInt8] {
        var event = ProtoWriter()
        event.append(1, double: wallTime)
        event.append(2, int64: 0)
        event.append(3, string: fileVersion)
        return event.bytes
    }

    /// `Event { wall_time = 1; step = 2; session_log = 7 }` with `SessionLog { status = 1 }`,
    /// status START (1).
    static func sessionStart(wallTime: Double, step: Int64) -> [UInt8] {
        var log = ProtoWriter()
        log.append(1, int64: 1)
        var event = ProtoWriter()
        event.append(1, double: wallTime)
        event.append(2, int64: step)
        event.append(7, message: log)
        return event.bytes
    }

    /// `Event { wall_time = 1; step = 2; summary = 5 }` with `Summary { repeated Value value = 1 }`.
    static func summary(wallTime: Double, step: Int64, values: [SummaryValue]) -> [UInt8] {
        var summary = ProtoWriter()
        for value in values { summary.append(1, message: encode(value)) }
        var event = ProtoWriter()
        event.append(1, double: wallTime)
        event.append(2, int64: step)
        event.append(5, message: summary)
        return event.bytes
    }

    /// `Summary.Value { tag = 1; simple_value = 2 | image = 4 }`, with
    /// `Summary.Image { height = 1; width = 2; colorspace = 3; encoded_image_string = 4 }`.
    static func encode(_ value: SummaryValue) -> ProtoWriter {
        var v = ProtoWriter()
        switch value {
        case .scalar(let tag, let x):
            v.append(1, string: tag)
            v.append(2, float: x)
        case .image(let tag, let image):
            var m = ProtoWriter()
            m.append(1, int64: Int64(image.height))
            m.append(2, int64: Int64(image.width))
            m.append(3, int64: Int64(image.channels))
            m.append(4, bytes: image.encoded)
            v.append(1, string: tag)
            v.append(4, message: m)
        }
        return v
    }
}
