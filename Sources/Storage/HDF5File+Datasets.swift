import CHDF5

/// Datasets: whole-array writes and reads, and row (first-axis) reads and writes through
/// hyperslab selections, so that large arrays never need to sit in memory at once.
extension HDF5File {
    /// Writes an array as a dataset, creating intermediate groups.
    ///
    /// An existing dataset with the same shape and element type is overwritten in place.
    ///
    /// - Parameters:
    ///   - values: elements in row-major (C) order; `values.count` must equal the product of `shape`.
    ///   - shape: extent of each axis; `[]` writes a scalar.
    ///   - objectPath: slash path such as "G/block1/conv0/weight".
    ///   - chunking: optional chunked (and deflated) layout; nil stores the array contiguously.
    /// - Throws: `HDF5Error` if a dataset of another shape or type exists there, the file is
    ///   read-only or closed, or HDF5 fails.
    public func write<T: HDF5Element>(_ values: [T], shape: [Int], to objectPath: String,
                                      chunking: HDF5Chunking? = nil) throws {
        require(shape.allSatisfy { $0 >= 0 }, "negative extent in shape \(shape)")
        require(values.count == shape.reduce(1, *),
                     "\(values.count) values do not fill shape \(shape)")
        let normalized = HDF5File.normalize(objectPath)
        if try exists(normalized) {
            let existing = try self.shape(of: normalized)
            guard existing == shape else {
                throw HDF5Error(.shapeMismatch, call: "write", path: location(normalized),
                                message: "\(location(normalized)) already exists with shape \(existing), not \(shape)")
            }
        } else {
            try createDataset(normalized, of: T.self, shape: shape, chunking: chunking)
        }
        let dataset = try openDataset(normalized, of: T.hdf5ElementType)
        defer { H5Dclose(dataset) }
        if values.isEmpty { return }
        let status = values.withUnsafeBufferPointer {
            H5Dwrite(dataset, T.hdf5ElementType.memoryType, chdf5_s_all(), chdf5_s_all(), chdf5_p_default(),
                     $0.baseAddress)
        }
        try HDF5Library.check(status, "H5Dwrite", path: location(normalized))
    }

    /// Creates a dataset of the given shape, filled with zeros, to be written later by `writeRows`.
    ///
    /// - Parameters:
    ///   - objectPath: slash path; intermediate groups are created.
    ///   - type: the element type, e.g. `UInt8.self`.
    ///   - shape: extent of each axis.
    ///   - chunking: optional chunked (and deflated) layout; nil stores the array contiguously.
    /// - Throws: `HDF5Error` if the path is taken, deflate is unavailable, the file is read-only
    ///   or closed, or HDF5 fails.
    public func createDataset<T: HDF5Element>(_ objectPath: String, of type: T.Type, shape: [Int],
                                              chunking: HDF5Chunking? = nil) throws {
        require(shape.allSatisfy { $0 >= 0 }, "negative extent in shape \(shape)")
        let id = try writableID()
        let normalized = HDF5File.normalize(objectPath)
        let here = location(normalized)
        if try exists(normalized) {
            throw HDF5Error(.shapeMismatch, call: "createDataset", path: here, message: "\(here) already exists")
        }
        let dims = shape.map { hsize_t($0) }
        let space = try HDF5Library.check(
            shape.isEmpty ? H5Screate(H5S_SCALAR) : H5Screate_simple(Int32(dims.count), dims, nil),
            "H5Screate_simple", path: here)
        defer { H5Sclose(space) }
        let dcpl = try HDF5Library.check(H5Pcreate(chdf5_p_dataset_create()), "H5Pcreate", path: here)
        defer { H5Pclose(dcpl) }
        // A chunk cannot exceed a fixed extent, so empty or scalar datasets stay contiguous.
        if let chunking = chunking, !shape.isEmpty, !shape.contains(0) {
            let rowBytes = shape.dropFirst().reduce(1, *) * MemoryLayout<T>.stride
            let maxRows = max(1, (Int(UInt32.max) - 1) / rowBytes)  // HDF5 chunks are < 4 GiB
            var chunk = dims
            chunk[0] = hsize_t(min(chunking.rowsPerChunk, shape[0], maxRows))
            try HDF5Library.check(H5Pset_chunk(dcpl, Int32(chunk.count), chunk), "H5Pset_chunk", path: here)
            if let level = chunking.deflateLevel {
                guard try HDF5Library.checkBool(H5Zfilter_avail(H5Z_FILTER_DEFLATE), "H5Zfilter_avail", path: here) else {
                    throw HDF5Error(.library, call: "H5Pset_deflate", path: here,
                                    message: "this HDF5 library has no deflate (zlib) filter")
                }
                try HDF5Library.check(H5Pset_deflate(dcpl, UInt32(level)), "H5Pset_deflate", path: here)
            }
        }
        let lcpl = try HDF5Library.check(H5Pcreate(chdf5_p_link_create()), "H5Pcreate", path: here)
        defer { H5Pclose(lcpl) }
        try HDF5Library.check(H5Pset_create_intermediate_group(lcpl, 1), "H5Pset_create_intermediate_group", path: here)
        let dataset = try HDF5Library.check(
            H5Dcreate2(id, normalized, T.hdf5ElementType.fileType, space, lcpl, dcpl, chdf5_p_default()),
            "H5Dcreate2", path: here)
        H5Dclose(dataset)
    }

    /// Writes consecutive first-axis rows of an existing dataset (e.g. a slice of images).
    ///
    /// - Parameters:
    ///   - values: the rows' elements in row-major order: `rows.count` times the row size.
    ///   - rows: first-axis indices to write, within the dataset's extent.
    ///   - objectPath: slash path of a dataset of element type `T` and rank at least 1.
    /// - Throws: `HDF5Error` (`.missingObject`, `.typeMismatch`, `.outOfRange`,
    ///   `.shapeMismatch`, `.readOnly`) or a library failure.
    public func writeRows<T: HDF5Element>(_ values: [T], rows: Range<Int>, to objectPath: String) throws {
        _ = try writableID()
        let normalized = HDF5File.normalize(objectPath)
        let dataset = try openDataset(normalized, of: T.hdf5ElementType)
        defer { H5Dclose(dataset) }
        let shape = try datasetShape(dataset, normalized)
        try checkRows(rows, shape: shape, normalized)
        let rowElements = shape.dropFirst().reduce(1, *)
        guard values.count == rows.count * rowElements else {
            throw HDF5Error(.shapeMismatch, call: "writeRows", path: location(normalized),
                            message: "\(location(normalized)): \(values.count) values given for \(rows.count) rows of \(rowElements)")
        }
        if values.isEmpty { return }
        try withRowSelection(dataset, normalized, shape: shape, runs: [(rows.lowerBound, rows.count)]) { memory, file in
            let status = values.withUnsafeBufferPointer {
                H5Dwrite(dataset, T.hdf5ElementType.memoryType, memory, file, chdf5_p_default(), $0.baseAddress)
            }
            try HDF5Library.check(status, "H5Dwrite", path: location(normalized))
        }
    }

    /// Cuts a chunked dataset to its first `rows` first-axis rows (the rest are dropped).
    ///
    /// - Throws: `HDF5Error` `.outOfRange` for more rows than the dataset has, or a library failure
    ///   (contiguous datasets cannot change their extent: create them with chunking).
    public func shrinkRows(_ objectPath: String, to rows: Int) throws {
        _ = try writableID()
        let normalized = HDF5File.normalize(objectPath)
        let dataset = try openDataset(normalized, of: nil)
        defer { H5Dclose(dataset) }
        var shape = try datasetShape(dataset, normalized)
        guard !shape.isEmpty, (0...shape[0]).contains(rows) else {
            throw HDF5Error(.outOfRange, call: "shrinkRows", path: location(normalized),
                            message: "\(location(normalized)): cannot cut shape \(shape) to \(rows) rows")
        }
        shape[0] = rows
        let dims = shape.map { hsize_t($0) }
        try HDF5Library.check(H5Dset_extent(dataset, dims), "H5Dset_extent", path: location(normalized))
    }

    /// Reads a whole dataset.
    ///
    /// - Parameters:
    ///   - objectPath: slash path of the dataset.
    ///   - type: the element type expected in the file (no silent conversion between types).
    ///   - expectedShape: if given, the stored shape must equal it.
    /// - Returns: the elements in row-major order.
    /// - Throws: `HDF5Error` `.missingObject`, `.typeMismatch`, `.shapeMismatch`, or a library failure.
    public func read<T: HDF5Element>(_ objectPath: String, as type: T.Type = T.self,
                                     expectedShape: [Int]? = nil) throws -> [T] {
        _ = try openID()
        let normalized = HDF5File.normalize(objectPath)
        let dataset = try openDataset(normalized, of: T.hdf5ElementType)
        defer { H5Dclose(dataset) }
        let shape = try datasetShape(dataset, normalized)
        if let expected = expectedShape, expected != shape {
            throw HDF5Error(.shapeMismatch, call: "read", path: location(normalized),
                            message: "\(location(normalized)) has shape \(shape), expected \(expected)")
        }
        return try readElements(count: shape.reduce(1, *), normalized) { buffer in
            H5Dread(dataset, T.hdf5ElementType.memoryType, chdf5_s_all(), chdf5_s_all(), chdf5_p_default(), buffer)
        }
    }

    /// Reads consecutive first-axis rows without loading the rest of the dataset.
    ///
    /// - Parameters:
    ///   - objectPath: slash path of a dataset of rank at least 1.
    ///   - rows: first-axis indices, within the dataset's extent.
    ///   - type: the element type expected in the file.
    /// - Returns: `rows.count` rows in row-major order.
    /// - Throws: `HDF5Error` `.missingObject`, `.typeMismatch`, `.outOfRange`, or a library failure.
    public func readRows<T: HDF5Element>(_ objectPath: String, rows: Range<Int>,
                                         as type: T.Type = T.self) throws -> [T] {
        try gatherRuns(objectPath, runs: rows.isEmpty ? [] : [(rows.lowerBound, rows.count)],
                       check: { try self.checkRows(rows, shape: $0, $1) })
    }

    /// Reads arbitrary first-axis rows (random access), returned in the caller's order.
    ///
    /// Indices are sorted and merged into runs of consecutive rows internally, and the runs are
    /// read by H5Dread over unions of hyperslabs (up to 32 runs per read); duplicates are allowed.
    ///
    /// - Parameters:
    ///   - objectPath: slash path of a dataset of rank at least 1.
    ///   - indices: first-axis indices in any order.
    ///   - type: the element type expected in the file.
    /// - Returns: `indices.count` rows, row `i` of the result being row `indices[i]` of the file.
    /// - Throws: `HDF5Error` `.missingObject`, `.typeMismatch`, `.outOfRange`, or a library failure.
    public func readRows<T: HDF5Element>(_ objectPath: String, indices: [Int],
                                         as type: T.Type = T.self) throws -> [T] {
        let unique = Array(Set(indices)).sorted()
        var runs: [(start: Int, count: Int)] = []
        for index in unique {
            if let last = runs.last, last.start + last.count == index {
                runs[runs.count - 1].count += 1
            } else {
                runs.append((index, 1))
            }
        }
        var shape: [Int] = []
        let sortedRows: [T] = try gatherRuns(objectPath, runs: runs, check: { fileShape, normalized in
            shape = fileShape
            for index in [unique.first, unique.last].compactMap({ $0 }) {
                try self.checkRows(index..<(index + 1), shape: fileShape, normalized)
            }
        })
        if indices == unique { return sortedRows }
        let rowElements = shape.dropFirst().reduce(1, *)
        var position: [Int: Int] = [:]
        for (offset, index) in unique.enumerated() { position[index] = offset }
        var result: [T] = []
        result.reserveCapacity(indices.count * rowElements)
        for index in indices {
            // Every index was placed in `position` above.
            let start = (position[index] ?? 0) * rowElements
            result.append(contentsOf: sortedRows[start..<(start + rowElements)])
        }
        return result
    }

    /// The extent of each axis of a dataset (`[]` for a scalar).
    ///
    /// - Throws: `HDF5Error` `.missingObject` or a library failure.
    public func shape(of objectPath: String) throws -> [Int] {
        try info(of: objectPath).shape
    }

    /// Shape and element type of one dataset.
    ///
    /// - Throws: `HDF5Error` `.missingObject` or a library failure.
    public func info(of objectPath: String) throws -> HDF5DatasetInfo {
        _ = try openID()
        let normalized = HDF5File.normalize(objectPath)
        let dataset = try openDataset(normalized, of: nil)
        defer { H5Dclose(dataset) }
        let type = try HDF5Library.check(H5Dget_type(dataset), "H5Dget_type", path: location(normalized))
        defer { H5Tclose(type) }
        return HDF5DatasetInfo(path: normalized, shape: try datasetShape(dataset, normalized),
                               typeName: HDF5ElementType.describe(typeID: type),
                               elementType: HDF5ElementType(typeID: type))
    }

    // MARK: - Helpers

    /// Opens a dataset, with clear errors when it is missing, a group, or of another type.
    func openDataset(_ normalized: String, of expected: HDF5ElementType?) throws -> hid_t {
        let id = try openID()
        let here = location(normalized)
        guard normalized != "/", try exists(normalized) else {
            throw HDF5Error(.missingObject, call: "H5Dopen2", path: here, message: "\(path): no dataset '\(normalized)'")
        }
        guard try objectType(normalized) == H5I_DATASET else {
            throw HDF5Error(.missingObject, call: "H5Dopen2", path: here, message: "\(here) is a group, not a dataset")
        }
        let dataset = try HDF5Library.check(H5Dopen2(id, normalized, chdf5_p_default()), "H5Dopen2", path: here)
        if let (filter, name) = missingFilter(dataset) {
            H5Dclose(dataset)
            throw HDF5Error(.library, call: "H5Dopen2", path: here,
                            message: "\(here) is compressed with the '\(name)' filter (HDF5 filter \(filter)), which "
                                + "this program's HDF5 library does not have; recreate the file with "
                                + "'progan-mpi dataset create', or rewrite it with gzip or no compression")
        }
        guard let expected = expected else { return dataset }
        let type = H5Dget_type(dataset)
        if type < 0 {
            H5Dclose(dataset)
            throw HDF5Library.failure("H5Dget_type", path: here)
        }
        defer { H5Tclose(type) }
        guard HDF5ElementType(typeID: type) == expected else {
            let stored = HDF5ElementType.describe(typeID: type)
            H5Dclose(dataset)
            throw HDF5Error(.typeMismatch, call: "H5Dread", path: here,
                            message: "\(here) holds \(stored), not \(expected.rawValue)")
        }
        return dataset
    }

    /// The first filter a dataset's data needs that this HDF5 library lacks (e.g. LZF, which
    /// h5py writes and the Debian library cannot read): its id and stored name. Optional filters
    /// are left out: HDF5 writes chunks without them when they are missing.
    private func missingFilter(_ dataset: hid_t) -> (H5Z_filter_t, String)? {
        let dcpl = H5Dget_create_plist(dataset)
        guard dcpl >= 0 else { _ = HDF5Library.takeErrorStack(); return nil }
        defer { H5Pclose(dcpl) }
        let count = H5Pget_nfilters(dcpl)
        guard count > 0 else { return nil }
        for index in 0..<UInt32(count) {
            var flags: UInt32 = 0
            var valueCount = 0
            var name = [CChar](repeating: 0, count: 64)
            var config: UInt32 = 0
            let filter = H5Pget_filter2(dcpl, index, &flags, &valueCount, nil, name.count, &name, &config)
            if filter < 0 { _ = HDF5Library.takeErrorStack(); continue }
            guard flags & UInt32(H5Z_FLAG_OPTIONAL) == 0, H5Zfilter_avail(filter) <= 0 else { continue }
            _ = HDF5Library.takeErrorStack()
            let stored = String(cString: name)
            return (filter, stored.isEmpty ? "unnamed" : stored)
        }
        return nil
    }

    func checkRows(_ rows: Range<Int>, shape: [Int], _ normalized: String) throws {
        let here = location(normalized)
        guard let count = shape.first else {
            throw HDF5Error(.shapeMismatch, call: "rows", path: here, message: "\(here) is a scalar and has no rows")
        }
        guard rows.lowerBound >= 0, rows.upperBound <= count else {
            throw HDF5Error(.outOfRange, call: "rows", path: here,
                            message: "\(here): rows \(rows.lowerBound)..<\(rows.upperBound) outside 0..<\(count)")
        }
    }

    /// Reads the union of row runs (sorted, disjoint) into one array, in file order.
    private func gatherRuns<T: HDF5Element>(_ objectPath: String, runs: [(start: Int, count: Int)],
                                            check: ([Int], String) throws -> Void) throws -> [T] {
        _ = try openID()
        let normalized = HDF5File.normalize(objectPath)
        let dataset = try openDataset(normalized, of: T.hdf5ElementType)
        defer { H5Dclose(dataset) }
        let shape = try datasetShape(dataset, normalized)
        try check(shape, normalized)
        if shape.isEmpty {
            throw HDF5Error(.shapeMismatch, call: "rows", path: location(normalized),
                            message: "\(location(normalized)) is a scalar and has no rows")
        }
        let rowElements = shape.dropFirst().reduce(1, *)
        let total = runs.reduce(0) { $0 + $1.count } * rowElements
        if total == 0 { return [] }
        // HDF5 1.10 builds a union of hyperslabs in time quadratic in the number of blocks
        // (4096 random rows: about 1 s), so large gathers read in groups of runs.
        let runsPerRead = 32
        return try readElements(count: total, normalized) { buffer in
            var rowOffset = 0
            for first in stride(from: 0, to: runs.count, by: runsPerRead) {
                let group = Array(runs[first..<min(first + runsPerRead, runs.count)])
                let status = try withRowSelection(dataset, normalized, shape: shape, runs: group) { memory, file in
                    H5Dread(dataset, T.hdf5ElementType.memoryType, memory, file, chdf5_p_default(),
                            buffer + rowOffset * rowElements * MemoryLayout<T>.stride)
                }
                if status < 0 { return status }
                rowOffset += group.reduce(0) { $0 + $1.count }
            }
            return 0
        }
    }

    /// Selects row runs in the file space and a matching contiguous memory space.
    private func withRowSelection<R>(_ dataset: hid_t, _ normalized: String, shape: [Int],
                                     runs: [(start: Int, count: Int)],
                                     _ body: (_ memory: hid_t, _ file: hid_t) throws -> R) throws -> R {
        let here = location(normalized)
        let fileSpace = try HDF5Library.check(H5Dget_space(dataset), "H5Dget_space", path: here)
        defer { H5Sclose(fileSpace) }
        var start = [hsize_t](repeating: 0, count: shape.count)
        var count = shape.map { hsize_t($0) }
        for (offset, run) in runs.enumerated() {
            start[0] = hsize_t(run.start)
            count[0] = hsize_t(run.count)
            let op = offset == 0 ? H5S_SELECT_SET : H5S_SELECT_OR
            try HDF5Library.check(H5Sselect_hyperslab(fileSpace, op, start, nil, count, nil),
                                  "H5Sselect_hyperslab", path: here)
        }
        count[0] = hsize_t(runs.reduce(0) { $0 + $1.count })
        let memorySpace = try HDF5Library.check(H5Screate_simple(Int32(count.count), count, nil),
                                                "H5Screate_simple", path: here)
        defer { H5Sclose(memorySpace) }
        return try body(memorySpace, fileSpace)
    }

    /// Allocates `count` elements and lets `read` fill them.
    private func readElements<T>(count: Int, _ normalized: String,
                                 _ read: (UnsafeMutableRawPointer) throws -> herr_t) throws -> [T] {
        if count == 0 { return [] }
        return try [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            initialized = 0
            // Elements are plain numbers, so leaving them unset on failure needs no cleanup.
            guard let base = buffer.baseAddress else { return }
            try HDF5Library.check(try read(UnsafeMutableRawPointer(base)), "H5Dread", path: location(normalized))
            initialized = count
        }
    }
}
