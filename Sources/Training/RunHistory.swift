import Foundation
import Imaging

/// What a run directory holds over time: its tick grids (`fakes-<images>.png`) and its
/// checkpoints (`checkpoint-<images>.h5`), in the order they were written.
public enum RunHistory {
    /// A file of the run and the number of images shown when it was written.
    public struct Entry: Equatable, Sendable {
        public let imagesShown: Int
        public let path: String
        public var kimg: Double { Double(imagesShown) / 1000 }
    }

    /// The files named `prefix<digits>suffix` in `run`, by images shown.
    ///
    /// - Throws: `InputError` when `run` is not a readable folder.
    static func entries(in run: String, prefix: String, suffix: String) throws -> [Entry] {
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: run) } catch {
            throw InputError("\(run): not a run directory (cannot list it)")
        }
        return names.compactMap { name -> Entry? in
            guard name.hasPrefix(prefix), name.hasSuffix(suffix),
                  let images = Int(name.dropFirst(prefix.count).dropLast(suffix.count)) else { return nil }
            return Entry(imagesShown: images, path: (run as NSString).appendingPathComponent(name))
        }.sorted { $0.imagesShown < $1.imagesShown }
    }

    /// The tick grids of a run, oldest first.
    public static func tickGrids(in run: String) throws -> [Entry] {
        try entries(in: run, prefix: "fakes-", suffix: ".png")
    }

    /// The checkpoints of a run, oldest first.
    public static func checkpoints(in run: String) throws -> [Entry] {
        try entries(in: run, prefix: "checkpoint-", suffix: ".h5")
    }

    /// The authors' training video: the tick grids, in order, as one animated PNG of `fps`
    /// frames a second. Grids of earlier stages can be smaller (their tiles are enlarged by a
    /// whole factor); every frame is resized to the last grid's size. Frames are read and
    /// written one at a time.
    ///
    /// - Returns: the number of frames.
    /// - Throws: `InputError` when the run has no grids, `ImageError` for an unreadable grid.
    @discardableResult
    public static func writeTrainingVideo(run: String, to path: String, fps: Int) throws -> Int {
        let grids = try tickGrids(in: run)
        guard let last = grids.last else {
            throw InputError("\(run): no tick grids (fakes-*.png) to make a video of; is this a run directory?")
        }
        let size = try PNGCodec.read(last.path)
        try AtomicFile.write(path) { tmp in
            let writer = try AnimatedPNG.Writer(path: tmp, width: size.width, height: size.height, channels: size.channels,
                                                frameCount: grids.count, delay: (1, UInt16(clamping: fps)))
            for grid in grids {
                var frame = try PNGCodec.read(grid.path)
                if frame.channels != size.channels { frame = size.channels == 1 ? frame.toGrayscale() : frame.toRGB() }
                try writer.append(frame.resized(width: size.width, height: size.height))
            }
            try writer.finish()
        }
        return grids.count
    }
}
