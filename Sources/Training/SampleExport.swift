import Foundation
import Imaging
import Storage
import TensorKit

/// Generated samples in forms other tools read: one PNG a sample, one HDF5 array, frames of an
/// animation. Samples are float NCHW in [-1, 1] (the generator's range); every writer maps them
/// to bytes as the sample grids do (clip, then `round(x * 127.5 + 127.5)`).
public enum SampleExport {
    /// Value of the `format` attribute of a samples file.
    public static let formatName = "progan-mpi-samples"

    /// The samples as uint8 NCHW, the pixel mapping of the grids.
    public static func bytes(_ samples: Tensor) -> [UInt8] {
        samples.data.map(ImageGrid.byte)
    }

    /// Sample `index` of an NCHW batch as an 8-bit image (1 channel for gray, 3 for RGB).
    public static func image(_ samples: Tensor, index: Int) -> Image {
        let (c, h, w) = (samples.shape[1], samples.shape[2], samples.shape[3])
        let plane = c * h * w
        return ImageGrid(columns: 1, rows: 1, gap: 0, minimumTileSize: 1)
            .render(samples.data[index * plane ..< (index + 1) * plane], count: 1, channels: c, height: h, width: w)
    }

    /// The file name of sample `index` in a folder of samples: zero-padded, so names sort in order.
    public static func fileName(index: Int) -> String { String(format: "%06d.png", index) }

    /// Writes one PNG a sample into `directory` (created if missing), named by index
    /// (`000000.png`, ...). Each file appears complete (written under a temporary name and
    /// renamed); on failure the files this call wrote are removed again.
    ///
    /// - Returns: the paths written, in sample order.
    /// - Throws: `InputError` when the folder cannot be made, `ImageError` when a file cannot be written.
    @discardableResult
    public static func writePNGs(_ samples: Tensor, directory: String) throws -> [String] {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw InputError("\(directory): cannot create the folder (\(error.localizedDescription))")
        }
        var written: [String] = []
        do {
            for n in 0..<samples.shape[0] {
                let path = (directory as NSString).appendingPathComponent(fileName(index: n))
                try AtomicFile.write(path) { try PNGCodec.write(image(samples, index: n), to: $0) }
                written.append(path)
            }
        } catch {
            for path in written { unlink(path) }
            throw error
        }
        return written
    }

    /// Writes the samples as one HDF5 file: `/images` uint8 [N, C, H, W] and, when given,
    /// `/labels` int64 [N]; root attributes `format` = "progan-mpi-samples" and `attributes`
    /// (e.g. the checkpoint and seed). The file appears only when complete.
    ///
    /// - Precondition: `labels`, when given, has one entry a sample.
    /// - Throws: `HDF5Error` if the file cannot be written.
    public static func writeHDF5(_ samples: Tensor, labels: [Int64]? = nil,
                                 attributes: [String: HDF5AttributeValue] = [:], to path: String) throws {
        require(labels.map { $0.count == samples.shape[0] } ?? true, "one label a sample")
        try HDF5File.writeAtomically(to: path) { file in
            try file.setAttribute("format", .string(formatName))
            for (name, value) in attributes.sorted(by: { $0.key < $1.key }) { try file.setAttribute(name, value) }
            try file.write(bytes(samples), shape: samples.shape, to: "images")
            if let labels { try file.write(labels, shape: [labels.count], to: "labels") }
        }
    }

    /// The frames of a latent walk: `walk` holds [frames, count * latentSize] (one independent
    /// walk a grid cell, see `LatentSampling.walk`), `render` maps one frame's [count, latentSize]
    /// latents to samples, and each frame is laid out by `grid`.
    public static func walkFrames(_ walk: Tensor, count: Int, grid: ImageGrid,
                                  render: (Tensor) throws -> Tensor) throws -> [Image] {
        let (frames, width) = (walk.shape[0], walk.shape[1])
        require(width % count == 0, "walk width \(width) is not count * latentSize")
        var out: [Image] = []
        out.reserveCapacity(frames)
        for f in 0..<frames {
            let z = Tensor(shape: [count, width / count], data: Array(walk.data[f * width ..< (f + 1) * width]))
            let x = try render(z)
            out.append(grid.render(x.data, count: count, channels: x.shape[1], height: x.shape[2], width: x.shape[3]))
        }
        return out
    }
}

/// Writing a file so that it appears only complete: under a temporary name in the same folder,
/// then renamed into place; the temporary is removed on failure.
public enum AtomicFile {
    /// Calls `body` with a temporary path next to `path`, then renames it to `path`.
    ///
    /// - Throws: whatever `body` throws, or `InputError` when the rename fails.
    public static func write(_ path: String, _ body: (String) throws -> Void) throws {
        let tmp = temporaryPath(for: path)
        do {
            try body(tmp)
            guard rename(tmp, path) == 0 else {
                throw InputError("\(path): cannot write (\(String(cString: strerror(errno))))")
            }
        } catch {
            unlink(tmp)
            throw error
        }
    }

    /// A hidden name in `path`'s folder that keeps its extension (tools such as ffmpeg choose
    /// the format by it).
    public static func temporaryPath(for path: String) -> String {
        let ns = path as NSString
        let name = ".\(ns.lastPathComponent).tmp-\(getpid())" + (ns.pathExtension.isEmpty ? "" : ".\(ns.pathExtension)")
        return (ns.deletingLastPathComponent as NSString).appendingPathComponent(name)
    }
}
