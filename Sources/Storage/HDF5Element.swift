import CHDF5

/// The element types this module reads and writes in datasets.
public enum HDF5ElementType: String, CaseIterable, Sendable {
    case float32, float64, uint8, int64

    /// The in-memory type handed to H5Dread/H5Dwrite (a library constant: never closed).
    var memoryType: hid_t {
        switch self {
        case .float32: return chdf5_native_float()
        case .float64: return chdf5_native_double()
        case .uint8: return chdf5_native_uint8()
        case .int64: return chdf5_native_int64()
        }
    }

    /// The type stored in files: fixed little-endian, so a file's bytes do not depend on the
    /// machine that wrote it (a library constant: never closed).
    var fileType: hid_t {
        switch self {
        case .float32: return chdf5_ieee_f32le()
        case .float64: return chdf5_ieee_f64le()
        case .uint8: return chdf5_std_u8le()
        case .int64: return chdf5_std_i64le()
        }
    }

    /// Maps a stored type to one of ours by class, size and sign (byte order is converted by
    /// HDF5 on read, so it does not matter); nil for every other type.
    init?(typeID: hid_t) {
        let size = H5Tget_size(typeID)
        switch H5Tget_class(typeID) {
        case H5T_FLOAT:
            if size == 4 { self = .float32 } else if size == 8 { self = .float64 } else { return nil }
        case H5T_INTEGER:
            let signed = H5Tget_sign(typeID) == H5T_SGN_2
            if size == 1 && !signed { self = .uint8 } else if size == 8 && signed { self = .int64 } else { return nil }
        default:
            return nil
        }
    }

    /// A short name for any stored type ("float32", "int16", "string", ...), for listings and
    /// error messages.
    static func describe(typeID: hid_t) -> String {
        let bits = H5Tget_size(typeID) * 8
        switch H5Tget_class(typeID) {
        case H5T_FLOAT: return "float\(bits)"
        case H5T_INTEGER: return (H5Tget_sign(typeID) == H5T_SGN_2 ? "int" : "uint") + "\(bits)"
        case H5T_STRING: return "string"
        case H5T_COMPOUND: return "compound"
        case H5T_ENUM: return "enum"
        case H5T_ARRAY: return "array"
        case H5T_VLEN: return "vlen"
        case H5T_OPAQUE: return "opaque"
        case H5T_REFERENCE: return "reference"
        case H5T_BITFIELD: return "bitfield"
        default: return "unknown"
        }
    }
}

/// A Swift scalar type that maps to an HDF5 dataset element type: Float, Double, UInt8, Int64.
public protocol HDF5Element {
    /// The HDF5 element type used to store values of this Swift type.
    static var hdf5ElementType: HDF5ElementType { get }
}

extension Float: HDF5Element {
    public static var hdf5ElementType: HDF5ElementType { .float32 }
}

extension Double: HDF5Element {
    public static var hdf5ElementType: HDF5ElementType { .float64 }
}

extension UInt8: HDF5Element {
    public static var hdf5ElementType: HDF5ElementType { .uint8 }
}

extension Int64: HDF5Element {
    public static var hdf5ElementType: HDF5ElementType { .int64 }
}

/// One dataset found by `HDF5File.datasetNames()`.
public struct HDF5DatasetInfo: Equatable, Sendable, CustomStringConvertible {
    /// Absolute path inside the file, e.g. "/G/block1/conv0/weight".
    public let path: String
    /// Extent of each axis; empty for a scalar dataset.
    public let shape: [Int]
    /// Short name of the stored element type ("float32", "uint8", "int16", "string"...).
    public let typeName: String
    /// The stored type when this module can read it, nil otherwise.
    public let elementType: HDF5ElementType?

    /// Creates a listing entry.
    public init(path: String, shape: [Int], typeName: String, elementType: HDF5ElementType?) {
        self.path = path
        self.shape = shape
        self.typeName = typeName
        self.elementType = elementType
    }

    /// "path  type[d0, d1, ...]", one line for a `dataset inspect` listing.
    public var description: String {
        "\(path)  \(typeName)[\(shape.map(String.init).joined(separator: ", "))]"
    }
}

/// Chunked storage for a dataset: chunks of whole rows (first-axis slices), optionally deflated.
///
/// Chunking suits large uint8 image arrays: each chunk is compressed on its own, and reading a
/// few rows only decompresses the chunks that hold them.
public struct HDF5Chunking: Equatable, Sendable {
    /// Number of first-axis rows per chunk (clamped to the dataset's row count; at least 1).
    public var rowsPerChunk: Int
    /// zlib level 1...9, or nil for no compression.
    public var deflateLevel: Int?

    /// - Parameters:
    ///   - rowsPerChunk: rows (e.g. images) stored together in one chunk.
    ///   - deflateLevel: zlib compression level 1...9, or nil for none.
    public init(rowsPerChunk: Int, deflateLevel: Int? = nil) {
        require(rowsPerChunk >= 1, "rowsPerChunk must be at least 1")
        require(deflateLevel.map { (0...9).contains($0) } ?? true, "deflateLevel must be 0...9")
        self.rowsPerChunk = rowsPerChunk
        self.deflateLevel = deflateLevel
    }
}
