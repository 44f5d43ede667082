import CMPI

/// The element types the communicator moves: each maps to one MPI datatype.
public enum MPIElementType: Sendable {
    /// MPI_UINT8_T, MPI_INT, MPI_INT64_T, MPI_FLOAT, MPI_DOUBLE.
    case uint8, int32, int64, float, double

    var datatype: MPI_Datatype {
        switch self {
        case .uint8: return cmpi_uint8()
        case .int32: return cmpi_int32()
        case .int64: return cmpi_int64()
        case .float: return cmpi_float()
        case .double: return cmpi_double()
        }
    }
}

/// A trivial type that MPI can send as a predefined datatype.
public protocol MPIElement {
    /// The MPI datatype of one element.
    static var mpiElementType: MPIElementType { get }
}

/// An element type MPI can also sum, and take the maximum and minimum of.
public protocol MPIReducible: MPIElement {}

extension UInt8: MPIElement { public static var mpiElementType: MPIElementType { .uint8 } }
extension Int32: MPIReducible { public static var mpiElementType: MPIElementType { .int32 } }
extension Int64: MPIReducible { public static var mpiElementType: MPIElementType { .int64 } }
extension Float: MPIReducible { public static var mpiElementType: MPIElementType { .float } }
extension Double: MPIReducible { public static var mpiElementType: MPIElementType { .double } }

/// The elementwise reduction of an allreduce.
public enum MPIReduction: Sendable, CustomStringConvertible {
    /// MPI_SUM, MPI_MAX, MPI_MIN.
    case sum, max, min

    var op: MPI_Op {
        switch self {
        case .sum: return cmpi_sum()
        case .max: return cmpi_max()
        case .min: return cmpi_min()
        }
    }

    public var description: String {
        switch self {
        case .sum: return "sum"
        case .max: return "max"
        case .min: return "min"
        }
    }
}
