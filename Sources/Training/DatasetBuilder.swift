import Foundation
import Imaging
import ProGAN
import Storage

/// Builds progan-mpi HDF5 datasets: every level from 4x4 up to the target made by repeated 2x2
/// averaging of the full-resolution images (the authors' `dataset_tool.py` convention).
public enum DatasetBuilder {
    /// What a build did, for the command's summary.
    public struct Summary: Sendable {
        public var count: Int
        public var resolution: Int
        public var channels: Int
        public var skipped: [ImageFolder.Skipped] = []
        /// Class names, when the images are labelled.
        public var classNames: [String]? = nil
    }

    /// Fashion-MNIST's class names, label 0 to 9.
    public static let fashionMNISTClassNames = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
                                                "Shirt", "Sneaker", "Bag", "Ankle boot"]

    /// Fashion-MNIST from its IDX files in `directory` (train split, or train+test), padded
    /// 28 -> 32 with black borders as the authors did for MNIST, with labels.
    public static func fashionMNIST(directory: String, output: String, includeTest: Bool = false,
                                    progress: (String) -> Void = { _ in }) throws -> Summary {
        func find(_ stem: String) throws -> String {
            for name in [stem, stem + ".gz"] where FileManager.default.fileExists(atPath: directory + "/" + name) {
                return directory + "/" + name
            }
            throw InputError("\(directory): no \(stem)[.gz] here; install Debian's dataset-fashion-mnist (files under /usr/share/datasets/fashion-mnist) or pass the folder holding the IDX files")
        }
        var splits = ["train"]
        if includeTest { splits.append("t10k") }
        var pixels: [UInt8] = []
        var labels: [Int64] = []
        for split in splits {
            let images = try IDXFile(contentsOf: try find("\(split)-images-idx3-ubyte"))
            let lab = try IDXFile(contentsOf: try find("\(split)-labels-idx1-ubyte"))
            guard images.shape.count == 3, images.shape[1] == 28, images.shape[2] == 28 else {
                throw InputError("\(split) images have shape \(images.shape), expected [N, 28, 28]")
            }
            guard lab.count == images.count else {
                throw InputError("\(split): \(images.count) images but \(lab.count) labels")
            }
            progress("read \(images.count) \(split) images")
            var padded = [UInt8](repeating: 0, count: images.count * 32 * 32)
            images.data.withUnsafeBufferPointer { src in
                for n in 0..<images.count {
                    for y in 0..<28 {
                        for x in 0..<28 { padded[n * 1024 + (y + 2) * 32 + x + 2] = src[n * 784 + y * 28 + x] }
                    }
                }
            }
            pixels += padded
            labels += lab.data.map { Int64($0) }
        }
        try write(pixels: pixels, count: labels.count, channels: 1, resolution: 32, labels: labels,
                  classNames: fashionMNISTClassNames, source: "fashion-mnist:\(directory)", output: output)
        return Summary(count: labels.count, resolution: 32, channels: 1, classNames: fashionMNISTClassNames)
    }

    /// A folder of PNG/JPEG images (recursive): centre square crop, resize to `resolution`,
    /// converted to `channels`. Unreadable files are skipped and returned by name.
    ///
    /// Built for large folders: files are decoded and resized by `threads` workers, a chunk of
    /// about `chunkBytes` of prepared images at a time; each chunk's levels are made and written
    /// before the next is read, so memory does not grow with the folder. The file holds the
    /// images in file order whatever the thread count, so 1 and T threads write the same data.
    /// `progress` gets a line (images done, rate, time left) every few seconds.
    ///
    /// When every file lies in a first-level subfolder and there are at least two of them, the
    /// images are labelled by subfolder: classes are the subfolder names, sorted, label k for the
    /// k-th (`ImageFolderClasses`).
    public static func imageFolder(directory: String, output: String, resolution: Int, channels: Int,
                                   threads: Int = 1, chunkBytes: Int = 64 << 20,
                                   progress: (String) -> Void = { _ in }) throws -> Summary {
        guard resolution >= 4, resolution <= 1024, resolution & (resolution - 1) == 0 else {
            throw InputError("--resolution \(resolution) is not a power of two between 4 and 1024")
        }
        guard channels == 1 || channels == 3 else { throw InputError("--channels must be 1 or 3, got \(channels)") }
        guard threads >= 1 else { throw InputError("--threads must be at least 1, got \(threads)") }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw InputError("\(directory): no such folder")
        }
        let folder = try ImageFolder(path: directory)
        let files = folder.files
        guard !files.isEmpty else {
            throw InputError("\(directory): no readable PNG or JPEG images (no files found)")
        }
        let classes = ImageFolderClasses(root: folder.root, files: files)
        let imageBytes = channels * resolution * resolution
        let chunk = max(threads, min(1024, chunkBytes / imageBytes))
        var skipped = folder.unlistable
        var count = 0
        var meter = ProgressMeter(total: files.count)
        // Created for every file; cut to the readable ones at the end (chunked levels allow it).
        try ImageDatasetFile.create(at: output, resolution: resolution, channels: channels, count: files.count,
                                    source: "images:\(directory)", withLabels: classes != nil,
                                    classNames: classes?.names, shrinkable: true) { writer in
            for first in stride(from: 0, to: files.count, by: chunk) {
                let paths = Array(files[first..<min(files.count, first + chunk)])
                var pixels: [UInt8] = []
                var labels: [Int64] = []
                pixels.reserveCapacity(paths.count * imageBytes)
                // Readable images in file order, each with its file's label when the folder has classes.
                for (path, result) in zip(paths, prepareAll(paths, size: resolution, channels: channels, threads: threads)) {
                    switch result {
                    case .success(let chw):
                        pixels += chw
                        if let classes { labels.append(Int64(classes.label(of: path))) }
                    case .failure(let skip): skipped.append(skip)
                    }
                }
                let n = pixels.count / imageBytes
                if n > 0 {
                    try writeLevels(pixels, rows: count..<count + n, channels: channels, resolution: resolution, writer: writer)
                    if classes != nil { try writer.writeLabels(labels, rows: count..<count + n) }
                }
                count += n
                if let line = meter.advance(to: first + paths.count) { progress(line) }
            }
            guard count > 0 else {
                // Say why each file was refused (the first few), so the fix is clear from the one line.
                let shown = 5
                skipped.sort { $0.path.utf8.lexicographicallyPrecedes($1.path.utf8) }
                var reasons = skipped.prefix(shown).map { "\($0)" }.joined(separator: "; ")
                if skipped.count > shown { reasons += "; and \(skipped.count - shown) more" }
                throw InputError("\(directory): no readable PNG or JPEG images (\(skipped.count) file(s) skipped: \(reasons))")
            }
            if count < files.count { try writer.shrink(to: count) }
        }
        skipped.sort { $0.path.utf8.lexicographicallyPrecedes($1.path.utf8) }
        return Summary(count: count, resolution: resolution, channels: channels, skipped: skipped, classNames: classes?.names)
    }

    /// Decodes and prepares `paths` on `threads` workers (worker w takes every threads-th file
    /// from w), each image as CHW bytes, results in `paths` order.
    static func prepareAll(_ paths: [String], size: Int, channels: Int,
                           threads: Int) -> [Result<[UInt8], ImageFolder.Skipped>] {
        let results = UnsafeMutableBufferPointer<Result<[UInt8], ImageFolder.Skipped>?>.allocate(capacity: paths.count)
        results.initialize(repeating: nil)
        defer { results.deinitialize(); results.deallocate() }
        let workers = min(threads, paths.count)
        let body: (Int) -> Void = { w in
            for i in stride(from: w, to: paths.count, by: workers) {
                results[i] = ImageFolder.prepare(paths[i], size: size, channels: channels).map { image in
                    // Image is interleaved HWC; the dataset is CHW.
                    let plane = size * size
                    var chw = [UInt8](repeating: 0, count: channels * plane)
                    image.pixels.withUnsafeBufferPointer { src in
                        for p in 0..<plane { for c in 0..<channels { chw[c * plane + p] = src[p * channels + c] } }
                    }
                    return chw
                }
            }
        }
        if workers == 1 { body(0) } else { DispatchQueue.concurrentPerform(iterations: workers, execute: body) }
        return results.map { $0! }
    }

    /// Writes images `rows` (uint8 NCHW at `resolution`) at every level, halving down to 4x4.
    static func writeLevels(_ pixels: [UInt8], rows: Range<Int>, channels: Int, resolution: Int,
                            writer: ImageDatasetWriter) throws {
        var level = pixels
        var r = resolution
        while true {
            try writer.write(level, level: r, rows: rows)
            if r == 4 { break }
            level = halve(level, count: rows.count * channels, size: r)
            r /= 2
        }
    }

    /// Progress lines for a long build: done, rate and time left, at most one every `interval`
    /// seconds (and always for the last item).
    struct ProgressMeter {
        let total: Int
        var interval: TimeInterval = 5
        let start: Date
        var lastReport: Date

        init(total: Int, start: Date = Date()) {
            self.total = total
            self.start = start
            lastReport = start
        }

        /// The line to show after `done` items, or nil when the last one is too recent.
        mutating func advance(to done: Int, now: Date = Date()) -> String? {
            guard done == total || now.timeIntervalSince(lastReport) >= interval else { return nil }
            lastReport = now
            let elapsed = max(now.timeIntervalSince(start), 1e-9)
            let rate = Double(done) / elapsed
            let left = rate > 0 ? Double(total - done) / rate : 0
            return String(format: "%d of %d images (%.0f%%), %.1f images/s, ETA %@", done, total,
                          100 * Double(done) / Double(total), rate, ProgressMeter.duration(left))
        }

        /// Seconds as "1h02m", "3m05s" or "42s".
        static func duration(_ seconds: Double) -> String {
            let s = Int(seconds.rounded())
            if s >= 3600 { return String(format: "%dh%02dm", s / 3600, s % 3600 / 60) }
            if s >= 60 { return String(format: "%dm%02ds", s / 60, s % 60) }
            return "\(s)s"
        }
    }

    /// Writes all levels atomically.
    static func write(pixels: [UInt8], count: Int, channels: Int, resolution: Int, labels: [Int64]?,
                      classNames: [String]? = nil, source: String, output: String) throws {
        try ImageDatasetFile.create(at: output, resolution: resolution, channels: channels, count: count,
                                    source: source, withLabels: labels != nil, classNames: classNames) { writer in
            var level = pixels
            var r = resolution
            while true {
                try writer.write(level, level: r, rows: 0..<count)
                if r == 4 { break }
                level = halve(level, count: count * channels, size: r)
                r /= 2
            }
            if let labels { try writer.writeLabels(labels, rows: 0..<count) }
        }
    }

    /// 2x2 mean of `planes` square planes of side `size`, rounded to nearest.
    static func halve(_ x: [UInt8], count planes: Int, size: Int) -> [UInt8] {
        let h = size / 2
        var out = [UInt8](repeating: 0, count: planes * h * h)
        x.withUnsafeBufferPointer { s in
            for p in 0..<planes {
                let base = p * size * size
                for y in 0..<h {
                    for xx in 0..<h {
                        let a = base + 2 * y * size + 2 * xx
                        let sum = Int(s[a]) + Int(s[a + 1]) + Int(s[a + size]) + Int(s[a + size + 1])
                        out[(p * h + y) * h + xx] = UInt8((sum + 2) / 4)
                    }
                }
            }
        }
        return out
    }
}

/// Classes of an image folder taken from its first-level subfolders: `root/<class>/.../file`.
/// Only when every file lies below such a subfolder and there are at least two (a single
/// subfolder or loose files at the top mean the folder is not organised by class).
public struct ImageFolderClasses: Sendable {
    /// The subfolder names, sorted (by UTF-8 bytes, as the files are): class k is `names[k]`.
    public let names: [String]
    let root: String

    /// Nil unless every path of `files` (under `root`) has a first-level subfolder and there are two or more.
    public init?(root: String, files: [String]) {
        let prefix = root.hasSuffix("/") ? root : root + "/"
        var names = Set<String>()
        for file in files {
            guard file.hasPrefix(prefix) else { return nil }
            let parts = file.dropFirst(prefix.count).split(separator: "/", omittingEmptySubsequences: true)
            guard parts.count >= 2 else { return nil }
            names.insert(String(parts[0]))
        }
        guard names.count >= 2 else { return nil }
        self.names = names.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        self.root = prefix
    }

    /// The label of a file below `root`: the index of its first-level subfolder.
    public func label(of path: String) -> Int {
        let name = String(path.dropFirst(root.count).split(separator: "/", omittingEmptySubsequences: true)[0])
        return names.firstIndex(of: name)!
    }
}
