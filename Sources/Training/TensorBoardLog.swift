import Imaging
import Metrics
import TensorBoard

/// Rank 0's TensorBoard log of a run: the tick records of metrics.jsonl as scalars, the sample
/// grids as images, SWD results as scalars.
///
/// Every event's step is the number of images shown, the schedule's clock, so TensorBoard's x
/// axis is kimg * 1000 and lines up across resumes and rank counts. Each call writes one event
/// and flushes it: a tick's few hundred bytes (and one PNG) cost nothing against a tick's
/// training, and a killed run keeps everything logged before.
///
/// A resumed run writes a new event file in the same folder (never appends to an old one).
final class TensorBoardLog {
    let writer: EventFileWriter

    /// Opens a new event file in `directory` (created if needed) for a run that starts (or
    /// resumes) at `imagesShown`.
    ///
    /// A run resumed after a crash repeats the ticks between its checkpoint and the crash, which
    /// the older file holds already. The session-start event tells TensorBoard's loader to drop
    /// those: it drops earlier points at steps >= its step, so the step is `imagesShown + 1`,
    /// which keeps the points at the checkpoint itself (logged just before it was written).
    ///
    /// - Throws: `TensorBoardError` if it cannot be created.
    init(directory: String, imagesShown: Int) throws {
        writer = try EventFileWriter(directory: directory)
        try writer.writeSessionStart(step: Int64(imagesShown) + 1)
        try writer.flush()
    }

    /// One tick's record (the metrics.jsonl line) as scalars, tagged by `TickRecord.scalars`.
    func scalars(_ record: TickRecord, imagesShown: Int) throws {
        let values = record.scalars.map { SummaryValue.scalar(tag: $0.tag, value: Float($0.value)) }
        try writer.write(values, step: Int64(imagesShown))
        try writer.flush()
    }

    /// Longest side of an image in the event file. A grid of 64 samples at 1024x1024 is 8206
    /// pixels a side, tens of MB as PNG: every tick would add that to a file TensorBoard loads
    /// whole. Larger grids are scaled down (area averaging) to this; the run directory's PNGs
    /// keep full size.
    static let maxImageSide = 2048

    /// A sample grid as a PNG image under `tag` (scaled down to `maxImageSide` if larger).
    ///
    /// - Throws: `ImageError` if the PNG cannot be encoded, `TensorBoardError` if the write fails.
    func image(_ grid: Image, tag: String, imagesShown: Int) throws {
        var image = grid
        let side = max(grid.width, grid.height)
        if side > Self.maxImageSide {
            let scale = Double(Self.maxImageSide) / Double(side)
            image = grid.resized(width: max(1, Int((Double(grid.width) * scale).rounded())),
                                 height: max(1, Int((Double(grid.height) * scale).rounded())))
        }
        let summary = SummaryImage(height: image.height, width: image.width, channels: image.channels,
                                   encoded: try PNGCodec.encode(image))
        try writer.write(image: summary, tag: tag, step: Int64(imagesShown))
        try writer.flush()
    }

    /// An SWD result (x1e3, as logged): `<prefix>/avg` and `<prefix>/<resolution>px` per level.
    func swd(_ result: SlicedWassersteinResult, prefix: String, imagesShown: Int) throws {
        var values: [SummaryValue] = [.scalar(tag: prefix + "/avg", value: Float(result.average))]
        for (resolution, value) in zip(result.resolutions, result.perLevel) {
            values.append(.scalar(tag: "\(prefix)/\(resolution)px", value: Float(value)))
        }
        try writer.write(values, step: Int64(imagesShown))
        try writer.flush()
    }
}
