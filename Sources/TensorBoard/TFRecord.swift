/// TFRecord framing, the container of TensorBoard event files: each record is
///
///     uint64 length, uint32 masked CRC-32C of those 8 bytes, length bytes of data,
///     uint32 masked CRC-32C of the data
///
/// all little-endian. The CRC of the length lets a reader reject a torn or corrupt length before
/// it trusts it to size a read.
public enum TFRecord {
    /// Bytes a record adds around its data.
    public static let overhead = 16

    /// `payload` framed as one record.
    public static func frame(_ payload: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(payload.count + overhead)
        let length = littleEndianBytes(UInt64(payload.count))
        out += length
        out += littleEndianBytes(CRC32C.masked(CRC32C.checksum(length)))
        out += payload
        out += littleEndianBytes(CRC32C.masked(CRC32C.checksum(payload)))
        return out
    }

    static func littleEndianBytes<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
        withUnsafeBytes(of: value.littleEndian) { Array($0) }
    }
}
