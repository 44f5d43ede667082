/// CRC-32C (Castagnoli), the checksum of TFRecord framing: reflected, initial value and final
/// XOR 0xFFFFFFFF, as in RFC 3720 (iSCSI) section B.4.
///
/// Byte-at-a-time with a 256-entry table. Event files are small (a few scalars and one PNG a
/// tick), so the slicing-by-8 or SSE4.2 variants would save nothing measurable.
public enum CRC32C {
    /// The Castagnoli polynomial 0x1EDC6F41 with its bits reversed, for the reflected algorithm.
    public static let reversedPolynomial: UInt32 = 0x82F6_3B78

    /// Entry b is the CRC register after shifting byte b through eight rounds of the polynomial.
    /// Computed here from the polynomial rather than written out, so it cannot hold a typo.
    static let table: [UInt32] = (0..<256).map { byte -> UInt32 in
        var r = UInt32(byte)
        for _ in 0..<8 { r = r & 1 != 0 ? (r >> 1) ^ reversedPolynomial : r >> 1 }
        return r
    }

    /// The CRC-32C of `bytes`.
    ///
    /// - Parameter crc: the CRC of the bytes before these (0 for none), so a message can be
    ///   checksummed in pieces: `checksum(b, continuing: checksum(a)) == checksum(a + b)`.
    public static func checksum(_ bytes: UnsafeRawBufferPointer, continuing crc: UInt32 = 0) -> UInt32 {
        var r = ~crc
        table.withUnsafeBufferPointer { t in
            for b in bytes { r = t[Int(UInt8(truncatingIfNeeded: r) ^ b)] ^ (r >> 8) }
        }
        return ~r
    }

    /// The CRC-32C of `bytes` (see `checksum(_:continuing:)`).
    public static func checksum(_ bytes: [UInt8], continuing crc: UInt32 = 0) -> UInt32 {
        bytes.withUnsafeBytes { checksum($0, continuing: crc) }
    }

    /// The CRC-32C of the UTF-8 bytes of `text`.
    public static func checksum(_ text: String) -> UInt32 { checksum(Array(text.utf8)) }

    /// TFRecord's masked CRC: rotated right by 15 bits plus a constant. TensorFlow stores masked
    /// CRCs because a CRC computed over data that itself contains CRCs is weak.
    public static func masked(_ crc: UInt32) -> UInt32 {
        ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8
    }

    /// The inverse of `masked(_:)`.
    public static func unmasked(_ masked: UInt32) -> UInt32 {
        let rotated = masked &- 0xA282_EAD8
        return (rotated >> 17) | (rotated << 15)
    }
}
