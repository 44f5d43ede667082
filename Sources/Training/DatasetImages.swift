import Foundation
import ProGAN
import Storage
import TensorKit

/// Real images from a progan-mpi HDF5 dataset: each resolution's level is read from its own
/// `dataRxR` array (made by 2x2 averaging at creation), held in memory when it is small enough,
/// otherwise gathered by rows per minibatch.
public final class DatasetImages: RealImageSource {
    public let file: ImageDatasetFile
    public var count: Int { file.count }
    public var channels: Int { file.channels }
    public var resolution: Int { file.resolution }
    /// Levels up to this many bytes are cached in memory on first use.
    public let cacheLimitBytes: Int
    private var cache: [Int: [UInt8]] = [:]
    /// Every image's label, read once (8 bytes an image), when the file has labels.
    private let allLabels: [Int]
    /// Classes: the stored class names' count, else the largest label + 1 (files written before
    /// the names were stored); 0 without labels.
    public let classCount: Int

    /// Opens `path`; throws a one-line error for a missing file, a non-HDF5 file or another schema.
    public init(path: String, cacheLimitBytes: Int = 1 << 30) throws {
        guard FileManager.default.fileExists(atPath: path) else {
            throw InputError("\(path): no such dataset file; create one with 'progan-mpi dataset create'")
        }
        file = try ImageDatasetFile(path: path)
        self.cacheLimitBytes = cacheLimitBytes
        allLabels = file.hasLabels ? try file.labels(indices: Array(0..<file.count)).map { Int($0) } : []
        classCount = file.classNames?.count ?? allLabels.max().map { $0 + 1 } ?? 0
        if let bad = allLabels.first(where: { !(0..<classCount).contains($0) }) {
            throw InputError("\(path): label \(bad) is outside the dataset's \(classCount) classes; recreate the dataset")
        }
    }

    public func labels(_ indices: [Int]) throws -> [Int] {
        guard file.hasLabels else { throw InputError("\(file.path) has no labels: conditional training needs a labelled dataset (dataset create --images DIR with one subfolder a class, or --fashion-mnist)") }
        return try indices.map { i in
            guard allLabels.indices.contains(i) else { throw InputError("\(file.path): image \(i) is outside 0..<\(count)") }
            return allLabels[i]
        }
    }

    /// How many images each class has, by class.
    public var classCounts: [Int] {
        var counts = [Int](repeating: 0, count: classCount)
        for label in allLabels { counts[label] += 1 }
        return counts
    }

    public func images(_ indices: [Int], resolution r: Int) throws -> Tensor {
        let plane = channels * r * r
        // A rank holding no samples of the step (more ranks than the minibatch) reads nothing.
        if indices.isEmpty { return Tensor(shape: [0, channels, r, r], data: []) }
        let bytes: [UInt8]
        if count * plane <= cacheLimitBytes {
            if cache[r] == nil { cache[r] = try file.images(resolution: r, rows: 0..<count) }
            let level = cache[r]!
            var gathered = [UInt8](repeating: 0, count: indices.count * plane)
            for (i, idx) in indices.enumerated() {
                gathered.replaceSubrange(i * plane..<(i + 1) * plane, with: level[idx * plane..<(idx + 1) * plane])
            }
            bytes = gathered
        } else {
            bytes = try file.images(resolution: r, indices: indices)
        }
        return Tensor(shape: [indices.count, channels, r, r], data: bytes.map { Float($0) / 127.5 - 1 })
    }
}
