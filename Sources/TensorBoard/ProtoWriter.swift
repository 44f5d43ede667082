/// Builds a protocol-buffer message in the binary wire format, field by field.
///
/// Only the encodings TensorBoard's `Event` and `Summary` messages need: varints (int32, int64),
/// fixed64 (double), fixed32 (float) and length-delimited fields (string, bytes, sub-messages).
/// Hand-encoding these few fields keeps the package free of a protobuf dependency and generated
/// code. Fields are written in the order they are added; parsers accept any order.
public struct ProtoWriter: Sendable {
    /// The encoded message so far.
    public private(set) var bytes: [UInt8] = []

    /// The wire types this writer produces (the low three bits of a field's key).
    public enum WireType: UInt8, Sendable {
        case varint = 0
        case fixed64 = 1
        case lengthDelimited = 2
        case fixed32 = 5
    }

    /// An empty message.
    public init() {}

    /// Appends `value` as a base-128 varint: seven bits a byte, least significant group first,
    /// the high bit set on every byte but the last (1 to 10 bytes).
    public mutating func appendVarint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    /// Appends a field key: `(number << 3) | wireType`.
    ///
    /// - Precondition: 1 <= number < 2^29 (the protobuf limit).
    public mutating func appendKey(_ number: Int, _ wireType: WireType) {
        require(number >= 1 && number < 1 << 29, "ProtoWriter: field number \(number) out of range")
        appendVarint(UInt64(number) << 3 | UInt64(wireType.rawValue))
    }

    /// An `int64` (or `int32`) field. Negative values take ten bytes, as protobuf's two's
    /// complement varint encoding prescribes for both types.
    public mutating func append(_ number: Int, int64 value: Int64) {
        appendKey(number, .varint)
        appendVarint(UInt64(bitPattern: value))
    }

    /// A `double` field: eight little-endian bytes of its IEEE 754 bits.
    public mutating func append(_ number: Int, double value: Double) {
        appendKey(number, .fixed64)
        appendLittleEndian(value.bitPattern)
    }

    /// A `float` field: four little-endian bytes of its IEEE 754 bits.
    public mutating func append(_ number: Int, float value: Float) {
        appendKey(number, .fixed32)
        appendLittleEndian(value.bitPattern)
    }

    /// A `bytes` field (or an already encoded sub-message): its length as a varint, then the bytes.
    public mutating func append(_ number: Int, bytes value: [UInt8]) {
        appendKey(number, .lengthDelimited)
        appendVarint(UInt64(value.count))
        bytes.append(contentsOf: value)
    }

    /// A `string` field, UTF-8 encoded.
    public mutating func append(_ number: Int, string value: String) {
        append(number, bytes: Array(value.utf8))
    }

    /// A sub-message field.
    public mutating func append(_ number: Int, message: ProtoWriter) {
        append(number, bytes: message.bytes)
    }

    private mutating func appendLittleEndian<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }
}
