/// Streams images into a new dataset file, level by level and in row ranges, so that a dataset
/// builder never holds all images in memory. Obtained from `ImageDatasetFile.create(at:...)`.
public final class ImageDatasetWriter {
    /// The largest level R.
    public let resolution: Int
    /// Channels per image C.
    public let channels: Int
    /// Number of images N (lowered by `shrink(to:)`).
    public private(set) var count: Int
    /// Whether a `labels` dataset is being written.
    public let hasLabels: Bool

    private let file: HDF5File
    /// Rows written so far, per level (and -1 for labels), to refuse an incomplete file.
    private var written: [Int: [Bool]] = [:]
    private static let labelsKey = -1

    /// Whether the levels are chunked so that `shrink(to:)` can cut them.
    let shrinkable: Bool

    fileprivate init(file: HDF5File, resolution: Int, channels: Int, count: Int, hasLabels: Bool, shrinkable: Bool) {
        self.file = file
        self.shrinkable = shrinkable
        self.resolution = resolution
        self.channels = channels
        self.count = count
        self.hasLabels = hasLabels
    }

    /// Writes images `rows` of one level.
    ///
    /// - Parameters:
    ///   - images: uint8 NCHW, `rows.count * channels * level * level` values.
    ///   - level: the resolution, one of 4, 8, ..., `resolution`.
    ///   - rows: image indices within 0..<count.
    /// - Throws: `HDF5Error` `.invalidSchema` for a level outside the dataset, `.outOfRange`,
    ///   `.shapeMismatch` for a wrong number of values, or a library failure.
    public func write(_ images: [UInt8], level: Int, rows: Range<Int>) throws {
        guard ImageDatasetFile.levels(upTo: resolution).contains(level) else {
            throw HDF5Error(.invalidSchema, call: "write", path: file.path,
                            message: "\(file.path): \(level)x\(level) is not a level of a dataset with levels "
                                + "\(ImageDatasetFile.minimumResolution)..\(resolution)")
        }
        try file.writeRows(images, rows: rows, to: ImageDatasetFile.levelName(level))
        mark(rows, key: level)
    }

    /// Writes labels `rows`.
    ///
    /// - Throws: `HDF5Error` `.missingObject` if the dataset was created without labels,
    ///   `.outOfRange`, `.shapeMismatch`, or a library failure.
    public func writeLabels(_ labels: [Int64], rows: Range<Int>) throws {
        guard hasLabels else {
            throw HDF5Error(.missingObject, call: "writeLabels", path: file.path,
                            message: "\(file.path): dataset was created without labels")
        }
        try file.writeRows(labels, rows: rows, to: "labels")
        mark(rows, key: ImageDatasetWriter.labelsKey)
    }

    /// Keeps only the first `newCount` images of every level (and labels), for a builder that
    /// learns only while writing how many images there are (unreadable files are skipped):
    /// it creates the file for the most it can hold, writes the readable ones from row 0, and
    /// cuts the rest. The `count` attribute follows.
    ///
    /// - Throws: `HDF5Error` `.invalidSchema` when the file was created without `shrinkable`,
    ///   `.outOfRange` for more rows than the file has, or a library failure.
    public func shrink(to newCount: Int) throws {
        guard shrinkable else {
            throw HDF5Error(.invalidSchema, call: "shrink", path: file.path,
                            message: "\(file.path): created without shrinkable, so its levels cannot be cut")
        }
        guard (0...count).contains(newCount) else {
            throw HDF5Error(.outOfRange, call: "shrink", path: file.path, message: "\(file.path): cannot cut \(count) images to \(newCount)")
        }
        for level in ImageDatasetFile.levels(upTo: resolution) {
            try file.shrinkRows(ImageDatasetFile.levelName(level), to: newCount)
        }
        if hasLabels { try file.shrinkRows("labels", to: newCount) }
        try file.setAttribute("count", .int64(Int64(newCount)))
        count = newCount
        for (key, flags) in written { written[key] = Array(flags.prefix(newCount)) }
    }

    private func mark(_ rows: Range<Int>, key: Int) {
        var flags = written[key] ?? [Bool](repeating: false, count: count)
        for row in rows { flags[row] = true }
        written[key] = flags
    }

    /// Throws unless every row of every level (and of labels) was written.
    fileprivate func checkComplete() throws {
        var keys = ImageDatasetFile.levels(upTo: resolution)
        if hasLabels { keys.append(ImageDatasetWriter.labelsKey) }
        for key in keys {
            let done = written[key]?.lazy.filter { $0 }.count ?? 0
            guard done == count else {
                let name = key == ImageDatasetWriter.labelsKey ? "labels" : ImageDatasetFile.levelName(key)
                throw HDF5Error(.invalidSchema, call: "create", path: file.path,
                                message: "dataset incomplete: \(name) has \(done) of \(count) rows written")
            }
        }
    }
}

extension ImageDatasetFile {
    /// Creates a dataset file atomically: `body` writes every image of every level through the
    /// writer; the file appears at `path` only if `body` returns and every row was written.
    ///
    /// - Parameters:
    ///   - path: the dataset file to create (replaced if it exists).
    ///   - resolution: the largest level R, a power of two ≥ 4.
    ///   - channels: channels per image (3 for RGB).
    ///   - count: number of images N.
    ///   - source: free text stored in the `source` attribute.
    ///   - withLabels: whether to create an int64 `labels` dataset.
    ///   - classNames: with labels, the name of each class (label k names `classNames[k]`), stored
    ///     as the `class_names` attribute, one a line; nil stores none.
    ///   - deflateLevel: zlib level 1...9 to compress levels in chunks of whole images, or nil to
    ///     store them uncompressed (contiguous unless `shrinkable`: fastest to read).
    ///   - shrinkable: store levels (and labels) in chunks of whole images, so that the writer's
    ///     `shrink(to:)` can cut `count` when fewer images turn out to exist.
    ///   - body: writes the images (and labels).
    /// - Throws: `HDF5Error` `.invalidSchema` for bad parameters or when rows were left unwritten,
    ///   whatever `body` throws, or HDF5 and system failures; an existing file at `path` is then untouched.
    public static func create(at path: String, resolution: Int, channels: Int, count: Int, source: String,
                              withLabels: Bool = false, classNames: [String]? = nil, deflateLevel: Int? = nil,
                              shrinkable: Bool = false,
                              _ body: (ImageDatasetWriter) throws -> Void) throws {
        guard isValidResolution(resolution), channels >= 1, count >= 1 else {
            throw HDF5Error(.invalidSchema, call: "create", path: path,
                            message: "\(path): cannot create a dataset with resolution \(resolution), "
                                + "\(channels) channels and \(count) images (resolution must be a power of two ≥ 4, "
                                + "channels and images at least 1)")
        }
        if let names = classNames {
            guard withLabels, !names.isEmpty, names.allSatisfy({ !$0.isEmpty && !$0.contains("\n") }) else {
                throw HDF5Error(.invalidSchema, call: "create", path: path,
                                message: "\(path): class names need labels, and must be non-empty and hold no line breaks")
            }
        }
        if let level = deflateLevel, !(1...9).contains(level) {
            throw HDF5Error(.invalidSchema, call: "create", path: path,
                            message: "\(path): deflate level \(level) is outside 1...9")
        }
        try HDF5File.writeAtomically(to: path) { file in
            try file.setAttribute("format", .string(formatName))
            try file.setAttribute("version", .int64(formatVersion))
            try file.setAttribute("resolution", .int64(Int64(resolution)))
            try file.setAttribute("channels", .int64(Int64(channels)))
            try file.setAttribute("count", .int64(Int64(count)))
            try file.setAttribute("source", .string(source))
            if let names = classNames { try file.setAttribute("class_names", .string(names.joined(separator: "\n"))) }
            for level in levels(upTo: resolution) {
                let imageBytes = channels * level * level
                // About 64 KiB per chunk: small levels share chunks, large images get one each.
                let chunking = deflateLevel != nil || shrinkable
                    ? HDF5Chunking(rowsPerChunk: max(1, 65536 / imageBytes), deflateLevel: deflateLevel) : nil
                try file.createDataset(levelName(level), of: UInt8.self, shape: [count, channels, level, level],
                                       chunking: chunking)
            }
            if withLabels {
                try file.createDataset("labels", of: Int64.self, shape: [count],
                                       chunking: shrinkable ? HDF5Chunking(rowsPerChunk: 8192) : nil)
            }
            let writer = ImageDatasetWriter(file: file, resolution: resolution, channels: channels, count: count,
                                            hasLabels: withLabels, shrinkable: shrinkable)
            try body(writer)
            try writer.checkComplete()
        }
    }
}
