#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The image files under a folder, listed once, decoded on demand.
///
/// Every regular file below `root` (recursively) is a candidate, whatever its extension: the
/// format comes from the file's first bytes. Names starting with "." (.DS_Store, .git) are
/// ignored, files and folders alike. Symbolic links to files are followed; links to folders
/// are not, so a link cycle cannot make the listing endless.
public struct ImageFolder: Sendable {
    /// A file (or subfolder) that gave no image, and why, e.g. "not a JPEG or PNG file".
    public struct Skipped: Error, Equatable, Sendable, CustomStringConvertible {
        /// The file's path, as listed (root joined with the relative path).
        public let path: String
        /// One line saying why it was skipped.
        public let reason: String

        /// Makes an entry for `path`.
        public init(path: String, reason: String) {
            self.path = path
            self.reason = reason
        }

        /// "path: reason", one line, as a training log prints it.
        public var description: String { "\(path): \(reason)" }
    }

    /// The folder that was listed.
    public let root: String
    /// Every candidate file, sorted by path (byte order of UTF-8), so runs are deterministic.
    public let files: [String]
    /// Subfolders that could not be listed.
    public let unlistable: [Skipped]

    /// Lists the files under `root`.
    ///
    /// - Throws: `ImageError` if `root` itself cannot be opened as a folder.
    public init(path root: String) throws {
        var files: [String] = []
        var unlistable: [Skipped] = []
        ImageFolder.list(root, into: &files, unlistable: &unlistable)
        // An unreadable subfolder is skipped; an unreadable root means there is nothing to load.
        if let first = unlistable.first, first.path == root {
            throw ImageError(path: root, message: first.reason)
        }
        self.root = root
        self.files = files.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        self.unlistable = unlistable
    }

    /// Decodes each file in `files` order and passes it, prepared as `size` x `size` with
    /// `channels` channels (see `Image.prepared(size:channels:)`), to `body`. Only one image is
    /// held at a time, so folders larger than memory can be streamed into a dataset.
    ///
    /// - Parameters:
    ///   - size: the side of the square output images.
    ///   - channels: 1 (gray) or 3 (RGB).
    ///   - body: called with each file's path and its prepared image; an error it throws stops
    ///     the loop and is rethrown.
    /// - Returns: the files and folders that gave no image, with reasons, sorted by path.
    @discardableResult
    public func forEachImage(size: Int, channels: Int,
                             _ body: (_ path: String, _ image: Image) throws -> Void) rethrows -> [Skipped] {
        require(size > 0, "ImageFolder: size must be positive, not \(size)")
        require(channels == 1 || channels == 3, "ImageFolder: channels must be 1 or 3, not \(channels)")
        var skipped = unlistable
        for path in files {
            switch ImageFolder.prepare(path, size: size, channels: channels) {
            case .success(let image): try body(path, image)
            case .failure(let skip): skipped.append(skip)
            }
        }
        return skipped.sorted { $0.path.utf8.lexicographicallyPrecedes($1.path.utf8) }
    }

    /// Decodes one file and prepares it as `size` x `size` with `channels` channels (see
    /// `Image.prepared(size:channels:)`), or says why it gives no image. Safe to call from
    /// several threads at once (each call has its own decoder state).
    public static func prepare(_ path: String, size: Int, channels: Int) -> Result<Image, Skipped> {
        let image: Image
        do {
            image = try Image(contentsOfFile: path)
        } catch let error as ImageError {
            return .failure(Skipped(path: path, reason: error.message))
        } catch {
            return .failure(Skipped(path: path, reason: "\(error)"))
        }
        guard image.width > 0 && image.height > 0 else { return .failure(Skipped(path: path, reason: "empty image")) }
        return .success(image.prepared(size: size, channels: channels))
    }

    /// Decodes and prepares every image (see `forEachImage(size:channels:_:)`) into memory.
    ///
    /// - Returns: the images in `files` order, with their paths, and the skipped files.
    public func loadAll(size: Int, channels: Int) -> (images: [(path: String, image: Image)], skipped: [Skipped]) {
        var images: [(path: String, image: Image)] = []
        let skipped = forEachImage(size: size, channels: channels) { images.append(($0, $1)) }
        return (images, skipped)
    }

    /// Appends the files below `folder` to `files`; folders that cannot be read go to `unlistable`.
    private static func list(_ folder: String, into files: inout [String], unlistable: inout [Skipped]) {
        let names: [String]
        do {
            names = try entries(of: folder)
        } catch {
            unlistable.append(Skipped(path: folder, reason: error.message))
            return
        }
        for name in names where !name.hasPrefix(".") {
            let path = folder.hasSuffix("/") ? folder + name : folder + "/" + name
            var info = stat()
            guard lstat(path, &info) == 0 else {
                unlistable.append(Skipped(path: path, reason: "cannot stat: \(FileIO.errnoMessage())"))
                continue
            }
            switch info.st_mode & S_IFMT {
            case S_IFDIR:
                list(path, into: &files, unlistable: &unlistable)
            case S_IFREG:
                files.append(path)
            case S_IFLNK:
                // Follow links to files only; a dangling link is worth reporting.
                if stat(path, &info) != 0 {
                    unlistable.append(Skipped(path: path, reason: "broken link: \(FileIO.errnoMessage())"))
                } else if info.st_mode & S_IFMT == S_IFREG {
                    files.append(path)
                }
            default:
                continue  // sockets, pipes, devices: never images
            }
        }
    }

    /// The names in `folder`; the DIR handle is closed before returning, so a deep tree holds
    /// one open at a time.
    private static func entries(of folder: String) throws(ImageError) -> [String] {
        try Directory(path: folder).names()
    }
}
