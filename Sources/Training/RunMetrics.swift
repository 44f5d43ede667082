import Foundation
import Imaging

/// A metric measured at every checkpoint of a run: one JSON object a checkpoint (a JSONL table)
/// and a chart of the metric against kimg, as the authors' evaluation over all snapshots gives.
public struct RunMetrics {
    /// The metric's name, used in file names and the `metric` field: "swd" or "msssim".
    public let metric: String
    /// One row a checkpoint, oldest first: `kimg`, `images`, `resolution`, `alpha`, `checkpoint`
    /// and the metric's values.
    public private(set) var rows: [[String: Any]] = []
    /// One series a level (SWD) or one series: label and (kimg, value) points.
    public private(set) var series: [LinePlot.Series] = []

    public init(metric: String) { self.metric = metric }

    /// Adds a checkpoint's measurement. `values` are the named numbers of the row; `levels`, when
    /// given, are per-level values (labelled by resolution) drawn as one line each, otherwise the
    /// `plotted` value is drawn as a single line.
    public mutating func add(checkpoint: String, progress: TrainingProgress, values: [String: Any],
                             levels: [(resolution: Int, value: Double)]? = nil, plotted: Double? = nil) {
        let kimg = Double(progress.imagesShown) / 1000
        var row: [String: Any] = ["metric": metric, "kimg": kimg, "images": progress.imagesShown,
                                  "resolution": max(4, progress.resolution), "alpha": Double(progress.alpha),
                                  "checkpoint": (checkpoint as NSString).lastPathComponent]
        for (k, v) in values { row[k] = v }
        rows.append(row)
        let points: [(label: String, value: Double)] = levels.map { $0.map { ("\($0.resolution)", $0.value) } }
            ?? plotted.map { [("", $0)] } ?? []
        for (label, value) in points {
            if let i = series.firstIndex(where: { $0.label == label }) {
                series[i].points.append((kimg, value))
            } else {
                series.append(LinePlot.Series(label: label, points: [(kimg, value)]))
            }
        }
    }

    /// The table as JSON lines (keys sorted).
    public func jsonLines() throws -> String {
        try rows.map { String(decoding: try JSONSerialization.data(withJSONObject: $0, options: [.sortedKeys]), as: UTF8.self) + "\n" }
            .joined()
    }

    /// Writes `<prefix>.jsonl` and `<prefix>.png`, each appearing complete.
    ///
    /// - Returns: the two paths.
    @discardableResult
    public func write(prefix: String, plot: LinePlot? = nil) throws -> (table: String, chart: String) {
        let plot = plot ?? LinePlot(xTitle: "kimg", yTitle: metric == "swd" ? "swd x1000" : metric)
        let table = prefix + ".jsonl", chart = prefix + ".png"
        let text = try jsonLines()
        try AtomicFile.write(table) { tmp in
            guard FileManager.default.createFile(atPath: tmp, contents: Data(text.utf8)) else {
                throw InputError("\(table): cannot write")
            }
        }
        try AtomicFile.write(chart) { try plot.write(series, to: $0) }
        return (table, chart)
    }
}
