/// A training image dataset in progan-mpi's HDF5 schema, opened for reading.
///
/// # Schema (version 1)
///
/// One HDF5 file holds the same N images at every resolution from 4×4 up to the dataset's
/// resolution R (a power of two), following the layout of the ProGAN authors' first release:
///
/// | Object | Type | Shape | Meaning |
/// |---|---|---|---|
/// | `/data4x4`, `/data8x8`, ..., `/dataRxR` | uint8 | [N, C, r, r] | image i at r×r, channels first (NCHW), values 0...255 |
/// | `/labels` (optional) | int64 | [N] | class label of image i |
///
/// Row i of every level and of `labels` is the same image. Levels may be stored contiguously or
/// in deflate-compressed chunks of whole images; readers need not care.
///
/// Root attributes:
///
/// | Attribute | Type | Value |
/// |---|---|---|
/// | `format` | string | "progan-mpi-dataset" |
/// | `version` | int64 | 1 |
/// | `resolution` | int64 | R, the largest level |
/// | `channels` | int64 | C (3 for RGB, 1 for grayscale) |
/// | `count` | int64 | N |
/// | `source` | string | where the images came from (free text, e.g. the input folder) |
/// | `class_names` (optional, with `labels`) | string | the name of class 0, 1, ..., one a line |
///
/// From Python: `h5py.File("faces.h5")["data64x64"][17]` is image 17 at 64×64 as a
/// (C, 64, 64) uint8 array; `np.transpose(x, (1, 2, 0))` gives the usual HWC layout.
///
/// Create files with `ImageDatasetFile.create(at:...)`, which writes atomically.
public final class ImageDatasetFile {
    /// The `format` attribute's value.
    public static let formatName = "progan-mpi-dataset"
    /// The schema version this code writes and reads.
    public static let formatVersion: Int64 = 1
    /// The smallest level.
    public static let minimumResolution = 4

    /// The dataset name of a level: "data32x32" for 32.
    public static func levelName(_ resolution: Int) -> String { "data\(resolution)x\(resolution)" }

    /// The levels 4, 8, ..., `resolution` (empty unless `resolution` is a power of two ≥ 4).
    public static func levels(upTo resolution: Int) -> [Int] {
        guard isValidResolution(resolution) else { return [] }
        return Array(sequence(first: minimumResolution) { $0 * 2 }.prefix { $0 <= resolution })
    }

    static func isValidResolution(_ resolution: Int) -> Bool {
        resolution >= minimumResolution && resolution & (resolution - 1) == 0
    }

    /// The file's path.
    public let path: String
    /// The largest level R.
    public let resolution: Int
    /// Channels per image C.
    public let channels: Int
    /// Number of images N.
    public let count: Int
    /// The `source` attribute.
    public let source: String
    /// Whether the file has a `labels` dataset.
    public let hasLabels: Bool
    /// The classes' names, label k's at k (the `class_names` attribute), or nil when not stored.
    public let classNames: [String]?
    /// The levels present: 4, 8, ..., `resolution`.
    public var levels: [Int] { ImageDatasetFile.levels(upTo: resolution) }

    private let file: HDF5File

    /// Opens a dataset file read-only and checks it against the schema.
    ///
    /// - Parameter path: the dataset file.
    /// - Throws: `HDF5Error` `.noSuchFile` or `.notHDF5` from opening, `.invalidSchema` with a
    ///   one-line explanation when the file is not a valid progan-mpi dataset (wrong or missing
    ///   `format`, newer version, no images, missing level, counts that disagree, wrong element type).
    public init(path: String) throws {
        let file = try HDF5File.open(path, mode: .readOnly)
        do {
            let attributes = try ImageDatasetFile.validateAttributes(file, path)
            (resolution, channels, count, source) = attributes
            hasLabels = try file.exists("labels")
            if try file.hasAttribute("class_names") {
                guard hasLabels else { throw ImageDatasetFile.invalid(path, "'class_names' is set but there are no labels") }
                do {
                    classNames = try file.stringAttribute("class_names").split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
                } catch let error as HDF5Error {
                    throw ImageDatasetFile.invalid(path, "bad 'class_names' attribute: \(error.message)")
                }
            } else {
                classNames = nil
            }
            try ImageDatasetFile.validateArrays(file, path, resolution: resolution, channels: channels,
                                                count: count, hasLabels: hasLabels)
        } catch {
            try? file.close()
            throw error
        }
        self.path = path
        self.file = file
    }

    /// Closes the file. Calling it again does nothing.
    /// - Throws: `HDF5Error` when HDF5 fails to close it.
    public func close() throws {
        try file.close()
    }

    /// Throws unless `resolution` is one of this dataset's levels.
    ///
    /// - Throws: `HDF5Error` `.invalidSchema`, e.g. "faces.h5: dataset has levels 4..16 but
    ///   32x32 was asked; recreate it with --resolution 32".
    public func checkLevel(_ resolution: Int) throws {
        guard !levels.contains(resolution) else { return }
        let range = "\(ImageDatasetFile.minimumResolution)..\(self.resolution)"
        let message: String
        if ImageDatasetFile.isValidResolution(resolution) {
            message = "\(path): dataset has levels \(range) but \(resolution)x\(resolution) was asked; "
                + "recreate it with --resolution \(resolution)"
        } else {
            message = "\(path): \(resolution)x\(resolution) is not a level; levels are the powers of two \(range)"
        }
        throw HDF5Error(.invalidSchema, call: "checkLevel", path: path, message: message)
    }

    /// Reads images of one level by index, in the order given (duplicates allowed).
    ///
    /// - Parameters:
    ///   - resolution: the level, e.g. 32.
    ///   - indices: image indices in 0..<count.
    /// - Returns: `indices.count` images as uint8 NCHW, `channels * resolution * resolution` each.
    /// - Throws: `HDF5Error` `.invalidSchema` for a missing level, `.outOfRange` for a bad index.
    public func images(resolution: Int, indices: [Int]) throws -> [UInt8] {
        try checkLevel(resolution)
        return try file.readRows(ImageDatasetFile.levelName(resolution), indices: indices, as: UInt8.self)
    }

    /// Reads consecutive images of one level.
    ///
    /// - Parameters:
    ///   - resolution: the level, e.g. 32.
    ///   - rows: image indices within 0..<count.
    /// - Returns: `rows.count` images as uint8 NCHW.
    /// - Throws: `HDF5Error` `.invalidSchema` for a missing level, `.outOfRange` for a bad range.
    public func images(resolution: Int, rows: Range<Int>) throws -> [UInt8] {
        try checkLevel(resolution)
        return try file.readRows(ImageDatasetFile.levelName(resolution), rows: rows, as: UInt8.self)
    }

    /// Reads the labels of the given images, in the order given.
    ///
    /// - Throws: `HDF5Error` `.missingObject` when the dataset has no labels, `.outOfRange` for a bad index.
    public func labels(indices: [Int]) throws -> [Int64] {
        guard hasLabels else {
            throw HDF5Error(.missingObject, call: "labels", path: path, message: "\(path): dataset has no labels")
        }
        return try file.readRows("labels", indices: indices, as: Int64.self)
    }

    // MARK: - Validation

    private static func invalid(_ path: String, _ message: String) -> HDF5Error {
        HDF5Error(.invalidSchema, call: "validate", path: path, message: "\(path): \(message)")
    }

    private static func validateAttributes(_ file: HDF5File, _ path: String) throws
        -> (resolution: Int, channels: Int, count: Int, source: String) {
        guard try file.hasAttribute("format") else {
            throw invalid(path, "not a progan-mpi dataset (no 'format' attribute)")
        }
        let format = try? file.stringAttribute("format")
        guard format == formatName else {
            throw invalid(path, "not a progan-mpi dataset (format is '\(format ?? "not a string")', expected '\(formatName)')")
        }
        func integer(_ name: String) throws -> Int {
            do { return Int(try file.int64Attribute(name)) } catch let error as HDF5Error {
                throw invalid(path, "bad '\(name)' attribute: \(error.message)")
            }
        }
        let version = try integer("version")
        guard version == formatVersion else {
            throw invalid(path, "dataset version \(version) is not supported (this program reads version \(formatVersion))")
        }
        let resolution = try integer("resolution")
        guard isValidResolution(resolution) else {
            throw invalid(path, "resolution \(resolution) is not a power of two ≥ \(minimumResolution)")
        }
        let channels = try integer("channels")
        guard channels >= 1 else { throw invalid(path, "channels is \(channels), must be at least 1") }
        let count = try integer("count")
        guard count >= 0 else { throw invalid(path, "count is \(count), must not be negative") }
        // Nothing can be trained on or measured with no images (means would divide by zero).
        guard count > 0 else {
            throw invalid(path, "the dataset holds no images; recreate it from a source with at least one image")
        }
        let source: String
        do { source = try file.stringAttribute("source") } catch let error as HDF5Error {
            throw invalid(path, "bad 'source' attribute: \(error.message)")
        }
        return (resolution, channels, count, source)
    }

    private static func validateArrays(_ file: HDF5File, _ path: String, resolution: Int, channels: Int,
                                       count: Int, hasLabels: Bool) throws {
        let range = "\(minimumResolution)..\(resolution)"
        for level in levels(upTo: resolution) {
            let name = levelName(level)
            guard try file.exists(name) else {
                throw invalid(path, "level \(name) is missing (resolution \(resolution) needs levels \(range))")
            }
            let info = try file.info(of: name)
            guard info.elementType == .uint8 else {
                throw invalid(path, "\(name) holds \(info.typeName), expected uint8")
            }
            guard info.shape.count == 4 else {
                throw invalid(path, "\(name) has shape \(info.shape), expected [N, C, H, W]")
            }
            guard info.shape[0] == count else {
                throw invalid(path, "counts disagree: attribute 'count' is \(count) but \(name) holds \(info.shape[0]) images")
            }
            guard info.shape == [count, channels, level, level] else {
                throw invalid(path, "\(name) has shape \(info.shape), expected \([count, channels, level, level])")
            }
        }
        if hasLabels {
            let info = try file.info(of: "labels")
            guard info.elementType == .int64, info.shape.count == 1 else {
                throw invalid(path, "labels is \(info.typeName)\(info.shape), expected int64 [N]")
            }
            guard info.shape[0] == count else {
                throw invalid(path, "counts disagree: attribute 'count' is \(count) but labels holds \(info.shape[0]) entries")
            }
        }
    }
}
