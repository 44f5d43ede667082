import CHDF5
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An open HDF5 file: datasets at slash paths, attributes, recursive listing.
///
/// Objects are named by slash paths ("G/block1/conv0/weight"); a leading slash is optional and
/// intermediate groups are created on write. Every HDF5 handle taken inside an operation is
/// released before the operation returns. Close the file with `close()`; `deinit` closes it too
/// but cannot report errors. Not safe to share between threads.
public final class HDF5File {
    /// How an existing file is opened.
    public enum Mode: Sendable {
        /// Reading only; the file may be shared with other readers.
        case readOnly
        /// Reading and writing.
        case readWrite
    }

    /// The file's path on disk, as given.
    public let path: String
    /// Whether the file may be written.
    public let isWritable: Bool
    private var fileID: hid_t
    /// False once `close()` has run.
    public private(set) var isOpen: Bool

    private init(path: String, fileID: hid_t, isWritable: Bool) {
        self.path = path
        self.fileID = fileID
        self.isWritable = isWritable
        self.isOpen = true
    }

    deinit {
        if isOpen { _ = H5Fclose(fileID) }
    }

    /// Creates a new, empty file, replacing any file at `path`.
    ///
    /// - Parameter path: where to create the file; its directory must exist.
    /// - Throws: `HDF5Error` (`.library`) when HDF5 cannot create the file.
    public static func create(_ path: String) throws -> HDF5File {
        HDF5Library.silenceAutomaticPrinting()
        let id = try HDF5Library.check(
            H5Fcreate(path, chdf5_f_acc_trunc(), chdf5_p_default(), chdf5_p_default()), "H5Fcreate", path: path)
        return HDF5File(path: path, fileID: id, isWritable: true)
    }

    /// Opens an existing HDF5 file.
    ///
    /// - Parameters:
    ///   - path: the file to open.
    ///   - mode: `.readOnly` (default) or `.readWrite`.
    /// - Throws: `HDF5Error` `.noSuchFile` ("<path>: no such file"), `.notHDF5`
    ///   ("<path> is not an HDF5 file"), or `.library` when HDF5 refuses to open it.
    public static func open(_ path: String, mode: Mode = .readOnly) throws -> HDF5File {
        HDF5Library.silenceAutomaticPrinting()
        var info = stat()
        if stat(path, &info) != 0 {
            if errno == ENOENT || errno == ENOTDIR {
                throw HDF5Error(.noSuchFile, call: "open", path: path, message: "\(path): no such file")
            }
            throw systemError("stat", path: path)
        }
        if access(path, mode == .readOnly ? R_OK : R_OK | W_OK) != 0 {
            throw systemError("access", path: path)
        }
        guard try HDF5Library.checkBool(H5Fis_hdf5(path), "H5Fis_hdf5", path: path) else {
            throw HDF5Error(.notHDF5, call: "H5Fis_hdf5", path: path, message: "\(path) is not an HDF5 file")
        }
        let flags = mode == .readOnly ? chdf5_f_acc_rdonly() : chdf5_f_acc_rdwr()
        let id = try HDF5Library.check(H5Fopen(path, flags, chdf5_p_default()), "H5Fopen", path: path)
        return HDF5File(path: path, fileID: id, isWritable: mode == .readWrite)
    }

    /// Closes the file, writing everything buffered. Calling it again does nothing.
    ///
    /// A writable file is flushed first. If that flush fails (a full disk, an I/O error), the
    /// file is abandoned: its contents are incomplete anyway, so HDF5's remaining writes go to a
    /// scratch memory file instead, and the close can then release everything. (An H5Fclose that
    /// fails itself leaves HDF5 holding a half-destroyed file, which it cannot close again.)
    ///
    /// - Throws: `HDF5Error` when the flush or the close fails; for an operating-system error
    ///   the message is one line naming the file and the reason ("no space left on device").
    public func close() throws {
        guard isOpen else { return }
        HDF5Library.silenceAutomaticPrinting()
        var flushError: HDF5Error?
        if isWritable && H5Fflush(fileID, H5F_SCOPE_LOCAL) < 0 {
            flushError = HDF5Library.failure("H5Fflush", path: path)
            redirectWritesToScratch()
        }
        isOpen = false
        let status = H5Fclose(fileID)
        if let flushError {
            _ = HDF5Library.takeErrorStack()
            throw flushError
        }
        try HDF5Library.check(status, "H5Fclose", path: path)
    }

    /// Closes a file whose contents will be thrown away (a failed atomic write), without
    /// writing anything more to disk and without reporting errors.
    func abandon() {
        guard isOpen else { return }
        HDF5Library.silenceAutomaticPrinting()
        if isWritable { redirectWritesToScratch() }
        isOpen = false
        _ = H5Fclose(fileID)
        _ = HDF5Library.takeErrorStack()
    }

    /// Points the file's descriptor at an anonymous memory file (Linux), so that whatever HDF5
    /// still writes while closing an abandoned file succeeds and costs no disk.
    private func redirectWritesToScratch() {
        #if os(Linux)
        let fapl = H5Fget_access_plist(fileID)
        guard fapl >= 0 else { return }
        let driver = H5Pget_driver(fapl)
        H5Pclose(fapl)
        guard driver == chdf5_fd_sec2() else { return }
        var handle: UnsafeMutableRawPointer?
        guard H5Fget_vfd_handle(fileID, chdf5_p_default(), &handle) >= 0, let handle else { return }
        let descriptor = handle.load(as: Int32.self)
        let scratch = chdf5_memfd_create("progan-abandoned-hdf5")
        guard scratch >= 0 else { return }
        _ = dup2(scratch, descriptor)
        _ = Glibc.close(scratch)
        #endif
    }

    /// Writes buffered data and metadata to the operating system (not necessarily to disk).
    ///
    /// - Throws: `HDF5Error` when the file is closed or the flush fails.
    public func flush() throws {
        let id = try openID()
        try HDF5Library.check(H5Fflush(id, H5F_SCOPE_LOCAL), "H5Fflush", path: path)
    }

    // MARK: - Atomic replacement

    /// Writes a complete file through `body`, then moves it to `path` in one step.
    ///
    /// The file is first written as `.<name>.tmp-<pid>` in the same directory (same file
    /// system, so rename(2) is atomic), closed, fsynced, and renamed over `path`; the directory
    /// is then fsynced so the rename survives a crash. If `body` or any step throws, the
    /// temporary file is removed and an existing file at `path` is left untouched. A process killed
    /// while it writes leaves the temporary file behind (`removeLeftoverTemporaries` clears it).
    ///
    /// - Parameters:
    ///   - path: the final location.
    ///   - body: fills the new file; it need not close it.
    /// - Throws: whatever `body` throws, or `HDF5Error` from HDF5 or the system calls.
    public static func writeAtomically(to path: String, _ body: (HDF5File) throws -> Void) throws {
        let (directory, name) = splitPath(path)
        let temporary = (directory == "/" ? "" : directory) + "/" + temporaryName(for: name, pid: getpid())
        var file: HDF5File?
        do {
            let created = try HDF5File.create(temporary)
            file = created
            try body(created)
            try created.close()
            try fsyncPath(temporary, directory: false)
            if rename(temporary, path) != 0 { throw systemError("rename", path: path) }
        } catch {
            file?.abandon()
            unlink(temporary)
            // Name the file the caller asked for: the temporary one no longer exists.
            if let error = error as? HDF5Error { throw error.naming(temporary, as: path) }
            throw error
        }
        try fsyncPath(directory, directory: true)
    }

    /// Removes the temporary files that `writeAtomically` leaves when its process dies mid-write
    /// (SIGKILL, a node's power): `.<name>.tmp-<pid>` in `directory` for the names `isTarget`
    /// accepts. Such a file is never a complete file, and nothing reads it, but it may be large.
    /// Call it only where no other process is writing into `directory` at the same time.
    ///
    /// - Parameters:
    ///   - directory: where the targets live.
    ///   - isTarget: whether a final name (e.g. "checkpoint-000000032.h5") is one to clean up for.
    /// - Returns: the names of the files removed, sorted.
    @discardableResult
    public static func removeLeftoverTemporaries(in directory: String, where isTarget: (String) -> Bool) -> [String] {
        var removed: [String] = []
        for name in directoryEntries(directory).sorted() {
            guard let target = targetName(ofTemporary: name), isTarget(target) else { continue }
            if unlink((directory == "/" ? "" : directory) + "/" + name) == 0 { removed.append(name) }
        }
        return removed
    }

    /// The temporary name under which `writeAtomically` writes `name`.
    static func temporaryName(for name: String, pid: pid_t) -> String { ".\(name).tmp-\(pid)" }

    /// The final name a temporary name stands for (".x.h5.tmp-42" -> "x.h5"), or nil for any other name.
    static func targetName(ofTemporary name: String) -> String? {
        let digits = name.reversed().prefix { $0.isASCII && $0.isNumber }.count
        let withoutPID = name.dropLast(digits)
        guard digits > 0, name.hasPrefix("."), withoutPID.hasSuffix(".tmp-") else { return nil }
        let target = withoutPID.dropFirst().dropLast(".tmp-".count)
        return target.isEmpty ? nil : String(target)
    }

    /// The names in a directory (none if it cannot be read).
    private static func directoryEntries(_ directory: String) -> [String] {
        guard let stream = opendir(directory) else { return [] }
        defer { closedir(stream) }
        var names: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// Splits "dir/name" into ("dir", "name"); a bare name lies in ".".
    private static func splitPath(_ path: String) -> (String, String) {
        guard let slash = path.lastIndex(of: "/") else { return (".", path) }
        let directory = String(path[..<slash])
        return (directory.isEmpty ? "/" : directory, String(path[path.index(after: slash)...]))
    }

    private static func fsyncPath(_ path: String, directory: Bool) throws {
        // Module-qualified: inside this type, open/close name the HDF5File methods.
        #if canImport(Glibc)
        let fd = Glibc.open(path, directory ? O_RDONLY | O_DIRECTORY : O_RDONLY)
        #else
        let fd = Darwin.open(path, directory ? O_RDONLY | O_DIRECTORY : O_RDONLY)
        #endif
        if fd < 0 { throw systemError("open", path: path) }
        #if canImport(Glibc)
        defer { Glibc.close(fd) }
        #else
        defer { Darwin.close(fd) }
        #endif
        if fsync(fd) != 0 { throw systemError("fsync", path: path) }
    }

    static func systemError(_ call: String, path: String) -> HDF5Error {
        let reason = String(cString: strerror(errno))
        return HDF5Error(.system, call: call, path: path, message: "\(path): \(call) failed: \(reason)")
    }

    // MARK: - Internal helpers shared by the extensions

    /// The file identifier, after silencing HDF5's printer for this thread.
    func openID() throws -> hid_t {
        HDF5Library.silenceAutomaticPrinting()
        guard isOpen else {
            throw HDF5Error(.closed, call: "use", path: path, message: "\(path): file used after close()")
        }
        return fileID
    }

    /// "/a/b/c" for "a/b/c", "/a//b/", ...; "/" for the root.
    static func normalize(_ objectPath: String) -> String {
        "/" + objectPath.split(separator: "/", omittingEmptySubsequences: true).joined(separator: "/")
    }

    /// "<file>:<object>" for error messages.
    func location(_ objectPath: String) -> String {
        "\(path):\(HDF5File.normalize(objectPath))"
    }

    /// Builds the error for a failed call on an object in this file.
    func failure(_ call: String, _ objectPath: String) -> HDF5Error {
        HDF5Library.failure(call, path: location(objectPath))
    }

    /// The file identifier for a write; throws `.readOnly` on a file opened read-only.
    func writableID() throws -> hid_t {
        let id = try openID()
        guard isWritable else {
            throw HDF5Error(.readOnly, call: "write", path: path, message: "\(path) was opened read-only")
        }
        return id
    }

    // MARK: - Objects

    /// Whether a dataset or group exists at `objectPath` ("/" always exists).
    ///
    /// - Throws: `HDF5Error` when the file is closed or HDF5 fails.
    public func exists(_ objectPath: String) throws -> Bool {
        let id = try openID()
        // H5Lexists fails rather than answering false when a parent is missing, so walk down.
        // It also fails below a dataset ("w/x" where "w" is a dataset), hence the group check.
        let components = HDF5File.normalize(objectPath).split(separator: "/")
        var prefix = ""
        for (index, component) in components.enumerated() {
            prefix += "/" + component
            if !(try HDF5Library.checkBool(H5Lexists(id, prefix, chdf5_p_default()), "H5Lexists",
                                           path: location(prefix))) {
                return false
            }
            if index < components.count - 1, try objectType(prefix) != H5I_GROUP {
                return false
            }
        }
        return true
    }

    /// Creates a group and any missing parents; does nothing if it exists already.
    ///
    /// - Throws: `HDF5Error` when the file is read-only or closed, or a dataset is in the way.
    public func createGroup(_ objectPath: String) throws {
        let id = try writableID()
        let normalized = HDF5File.normalize(objectPath)
        if try exists(normalized) {
            guard try objectType(normalized) == H5I_GROUP else {
                throw HDF5Error(.missingObject, call: "createGroup", path: location(normalized),
                                message: "\(location(normalized)) exists and is not a group")
            }
            return
        }
        let lcpl = try HDF5Library.check(H5Pcreate(chdf5_p_link_create()), "H5Pcreate", path: path)
        defer { H5Pclose(lcpl) }
        try HDF5Library.check(H5Pset_create_intermediate_group(lcpl, 1), "H5Pset_create_intermediate_group", path: path)
        let group = try HDF5Library.check(
            H5Gcreate2(id, normalized, lcpl, chdf5_p_default(), chdf5_p_default()), "H5Gcreate2",
            path: location(normalized))
        H5Gclose(group)
    }

    /// The identifier type (H5I_GROUP, H5I_DATASET...) of an existing object.
    func objectType(_ normalized: String) throws -> H5I_type_t {
        let object = try HDF5Library.check(H5Oopen(fileID, normalized, chdf5_p_default()), "H5Oopen",
                                           path: location(normalized))
        defer { H5Oclose(object) }
        return H5Iget_type(object)
    }

    /// Every dataset in the file, recursively, sorted by path, with shape and element type.
    ///
    /// - Throws: `HDF5Error` when the file is closed or HDF5 fails.
    public func datasetNames() throws -> [HDF5DatasetInfo] {
        let id = try openID()
        var found: [HDF5DatasetInfo] = []
        // Iterative walk (an explicit stack), so deep files cannot overflow the call stack.
        var pending = ["/"]
        var visitedGroups = Set<String>()
        while let groupPath = pending.popLast() {
            guard visitedGroups.insert(groupPath).inserted else { continue }
            for name in try linkNames(in: groupPath) {
                let child = groupPath == "/" ? "/" + name : groupPath + "/" + name
                // Soft or external links that lead nowhere cannot be opened; a listing skips them.
                let object = H5Oopen(id, child, chdf5_p_default())
                if object < 0 { _ = HDF5Library.takeErrorStack(); continue }
                defer { H5Oclose(object) }
                switch H5Iget_type(object) {
                case H5I_GROUP:
                    pending.append(child)
                case H5I_DATASET:
                    let shape = try datasetShape(object, child)
                    let type = try HDF5Library.check(H5Dget_type(object), "H5Dget_type", path: location(child))
                    defer { H5Tclose(type) }
                    found.append(HDF5DatasetInfo(path: child, shape: shape,
                                                 typeName: HDF5ElementType.describe(typeID: type),
                                                 elementType: HDF5ElementType(typeID: type)))
                default:
                    continue
                }
            }
        }
        return found.sorted { $0.path < $1.path }
    }

    /// Names of the links directly inside a group, in name order.
    private func linkNames(in groupPath: String) throws -> [String] {
        let group = try HDF5Library.check(H5Gopen2(fileID, groupPath, chdf5_p_default()), "H5Gopen2",
                                          path: location(groupPath))
        defer { H5Gclose(group) }
        var info = H5G_info_t()
        try HDF5Library.check(H5Gget_info(group, &info), "H5Gget_info", path: location(groupPath))
        var names: [String] = []
        for index in 0..<info.nlinks {
            let length = H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, index, nil, 0, chdf5_p_default())
            if length < 0 { throw failure("H5Lget_name_by_idx", groupPath) }
            var buffer = [CChar](repeating: 0, count: Int(length) + 1)
            if H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, index, &buffer, buffer.count,
                                  chdf5_p_default()) < 0 {
                throw failure("H5Lget_name_by_idx", groupPath)
            }
            names.append(String(cString: buffer))
        }
        return names
    }

    /// The extent of an open dataset.
    func datasetShape(_ dataset: hid_t, _ objectPath: String) throws -> [Int] {
        let space = try HDF5Library.check(H5Dget_space(dataset), "H5Dget_space", path: location(objectPath))
        defer { H5Sclose(space) }
        let rank = H5Sget_simple_extent_ndims(space)
        if rank < 0 { throw failure("H5Sget_simple_extent_ndims", objectPath) }
        var dims = [hsize_t](repeating: 0, count: Int(rank))
        if rank > 0 && H5Sget_simple_extent_dims(space, &dims, nil) < 0 {
            throw failure("H5Sget_simple_extent_dims", objectPath)
        }
        return dims.map { Int($0) }
    }
}
