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
    /// When every file lies in a first-level subfolder and there are at least two of them, the
    /// images are labelled by subfolder: classes are the subfolder names, sorted, label k for the
    /// k-th (`ImageFolderClasses`).
    public static func imageFolder(directory: String, output: String, resolution: Int, channels: Int,
                                   progress: (String) -> Void = { _ in }) throws -> Summary {
        guard resolution >= 4, resolution <= 1024, resolution & (resolution - 1) == 0 else {
            throw InputError("--resolution \(resolution) is not a power of two between 4 and 1024")
        }
        guard channels == 1 || channels == 3 else { throw InputError("--channels must be 1 or 3, got \(channels)") }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw InputError("\(directory): no such folder")
        }
        let folder = try ImageFolder(path: directory)
        let classes = ImageFolderClasses(root: folder.root, files: folder.files)
        var pixels: [UInt8] = []
        var labels: [Int64] = []
        var count = 0
        let skipped = folder.forEachImage(size: resolution, channels: channels) { path, image in
            if let classes { labels.append(Int64(classes.label(of: path))) }
            // Image is interleaved HWC; the dataset is CHW.
            let plane = resolution * resolution
            var chw = [UInt8](repeating: 0, count: channels * plane)
            for i in 0..<plane { for c in 0..<channels { chw[c * plane + i] = image.pixels[i * channels + c] } }
            pixels += chw
            count += 1
            if count % 1000 == 0 { progress("prepared \(count) of \(folder.files.count) images") }
        }
        guard count > 0 else {
            throw InputError("\(directory): no readable PNG or JPEG images (\(skipped.count) file(s) skipped)")
        }
        try write(pixels: pixels, count: count, channels: channels, resolution: resolution,
                  labels: classes.map { _ in labels }, classNames: classes?.names, source: "images:\(directory)", output: output)
        return Summary(count: count, resolution: resolution, channels: channels, skipped: skipped, classNames: classes?.names)
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
