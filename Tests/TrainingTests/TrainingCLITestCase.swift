import Foundation
import Storage
import TestSupport
import XCTest

/// Runs the real release binary on a small Fashion-MNIST-like dataset made once per test run.
class TrainingCLITestCase: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("training-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    /// PROGAN_KEEP_TEST_DIRS=1 keeps each test's directory (runs, datasets) and names it.
    override func tearDownWithError() throws {
        if ProcessInfo.processInfo.environment["PROGAN_KEEP_TEST_DIRS"] != nil {
            print("kept \(directory.path)")
            return
        }
        try? FileManager.default.removeItem(at: directory)
    }

    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    /// The release binary: skips when it is missing or stale, fails instead under CI=true.
    func binary() throws -> String { try ChildProcess.requireProganReleaseBinary() }

    /// Runs progan-mpi with `arguments` (under `mpirun -np ranks` when ranks > 1).
    @discardableResult
    func progan(_ arguments: [String], ranks: Int = 1, timeout: Double = 120) throws -> ChildResult {
        let b = try binary()
        let argv = ranks > 1 ? ["mpirun", "-np", "\(ranks)", "--oversubscribe", b] + arguments : [b] + arguments
        return try ChildProcess.run(argv, timeout: timeout)
    }

    /// A small grayscale dataset (32x32 unless asked) of smooth synthetic images (written by the binary from a
    /// folder would need image files; Fashion-MNIST may be absent): made through the Storage API.
    /// With `classes` > 0, image n is labelled n % classes (its pattern's y frequency follows n % 3)
    /// and the classes are named "c0", "c1", ...
    /// - Parameter noise: adds uniform noise of this amplitude (a hash of sample and pixel), so
    ///   that no two pixels repeat a value: flat regions make many pre-activations equal, and a
    ///   rounding-level difference near 0 then flips LReLU's slope at all of them at once.
    func makeDataset(_ name: String = "data.h5", count: Int = 64, classes: Int = 0, noise: Double = 0,
                     resolution size: Int = 32) throws -> String {
        let file = path(name)
        var pixels = [UInt8](repeating: 0, count: count * size * size)
        for n in 0..<count {
            for y in 0..<size {
                for x in 0..<size {
                    let u: Double = Double(x) * 32 / Double(size) * 0.2 * Double(1 + n % 5) + Double(n)
                    let w: Double = Double(y) * 32 / Double(size) * 0.15 * Double(1 + n % 3)
                    var h = UInt64((n * size + y) * size + x) &* 0x9E37_79B9_7F4A_7C15
                    h = (h ^ (h >> 31)) &* 0xBF58_476D_1CE4_E5B9
                    let jitter = noise * (Double(h >> 11) / Double(1 << 53) * 2 - 1)
                    let v: Double = 127.5 + (noise > 0 ? 80 : 120) * sin(u) * cos(w) + jitter
                    pixels[(n * size + y) * size + x] = UInt8(max(0, min(255, v)))
                }
            }
        }
        try ImageDatasetFile.create(at: file, resolution: size, channels: 1, count: count, source: "test", withLabels: classes > 0,
                                    classNames: classes > 0 ? (0..<classes).map { "c\($0)" } : nil) { w in
            if classes > 0 { try w.writeLabels((0..<count).map { Int64($0 % classes) }, rows: 0..<count) }
            var level = pixels
            var r = size
            while true {
                try w.write(level, level: r, rows: 0..<count)
                if r == 4 { break }
                var half = [UInt8](repeating: 0, count: count * r * r / 4)
                for p in 0..<count {
                    for y in 0..<r / 2 {
                        for x in 0..<r / 2 {
                            let a = p * r * r + 2 * y * r + 2 * x
                            let sum: Int = Int(level[a]) + Int(level[a + 1]) + Int(level[a + r]) + Int(level[a + r + 1])
                            half[(p * r / 2 + y) * r / 2 + x] = UInt8((sum + 2) / 4)
                        }
                    }
                }
                level = half
                r /= 2
            }
        }
        return file
    }

    /// Every dataset of a checkpoint, by name.
    func checkpointArrays(_ file: String) throws -> [String: [Float]] {
        let f = try HDF5File.open(file)
        defer { try? f.close() }
        var out: [String: [Float]] = [:]
        for info in try f.datasetNames() { out[info.path] = try f.read(info.path, as: Float.self) }
        return out
    }

    /// Each state group's largest difference between two checkpoints, relative to the group's
    /// largest magnitude in `reference`.
    func groupDifferences(_ file: String, reference: String) throws -> [String: (relative: Double, worst: String)] {
        let a = try checkpointArrays(reference), b = try checkpointArrays(file)
        var groups: [String: (diff: Double, scale: Double, worst: String)] = [:]
        for (name, values) in a {
            let theirs = try XCTUnwrap(b[name], name)
            let parts = name.split(separator: "/")
            let group = parts[0] == "adam" ? parts[0...2].joined(separator: "/") : String(parts[0])
            let diff = Double(zip(values, theirs).map { abs($0 - $1) }.max() ?? 0)
            let g = groups[group] ?? (0, 0, "")
            groups[group] = (max(g.diff, diff), max(g.scale, Double(values.map { abs($0) }.max() ?? 0)), diff > g.diff ? name : g.worst)
        }
        return groups.mapValues { ($0.scale > 0 ? $0.diff / $0.scale : $0.diff, $0.worst) }
    }

    /// The checkpoints in a run directory, oldest first.
    func checkpoints(_ run: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: run)) ?? [])
            .filter { $0.hasPrefix("checkpoint-") && $0.hasSuffix(".h5") }.sorted().map { run + "/" + $0 }
    }

    /// The metrics.jsonl records of a run.
    func metrics(_ run: String) throws -> [[String: Any]] {
        let text = try String(contentsOfFile: run + "/metrics.jsonl", encoding: .utf8)
        return try text.split(separator: "\n").map {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
        }
    }

    /// Base arguments of a tiny run.
    func tinyArguments(data: String, out: String) -> [String] {
        ["train", "--data", data, "--out", out, "--preset", "tiny", "--tick-kimg", "0.04"]
    }
}
