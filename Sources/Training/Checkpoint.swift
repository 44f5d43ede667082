import Foundation
import ProGAN
import Storage
import TensorKit

/// A training checkpoint in HDF5 (docs/ARCHITECTURE.md, "Files"): G, D, the EMA generator and both Adam
/// states under their parameter paths, plus the configuration and progress as JSON attributes.
///
/// Layout: `/G/...`, `/D/...`, `/Gs/...` hold every parameter under its name (e.g.
/// `/G/G/8x8/conv0/weight`); `/adam/G/m/<name>`, `/adam/G/v/<name>` and the same for D hold the
/// moments. Root attributes: `format`, `version`, `config` (JSON), `progress` (JSON),
/// `adamG_step`, `adamD_step`. Files are written to a temporary name and renamed into place.
public enum Checkpoint {
    public static let formatName = "progan-mpi-checkpoint"
    public static let formatVersion: Int64 = 1

    /// File name of the checkpoint after `imagesShown` images (sorts by progress).
    public static func fileName(imagesShown: Int) -> String {
        String(format: "checkpoint-%09d.h5", imagesShown)
    }

    /// Writes the trainer's state to `path` atomically.
    public static func save(_ trainer: Trainer, to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let config = try trainer.config.json()
        let progress = String(decoding: try encoder.encode(trainer.progress), as: UTF8.self)
        try HDF5File.writeAtomically(to: path) { file in
            try file.setAttribute("format", .string(formatName))
            try file.setAttribute("version", .int64(formatVersion))
            try file.setAttribute("config", .string(config))
            try file.setAttribute("progress", .string(progress))
            try file.setAttribute("adamG_step", .int64(Int64(trainer.adamG.step)))
            try file.setAttribute("adamD_step", .int64(Int64(trainer.adamD.step)))
            for (group, set) in [("G", trainer.G.parameters), ("D", trainer.D.parameters), ("Gs", trainer.Gs.parameters)] {
                for p in set.parameters {
                    try file.write(p.value.data, shape: p.value.shape, to: "\(group)/\(p.name ?? "?")")
                }
            }
            for (group, set, adam) in [("G", trainer.G.parameters, trainer.adamG), ("D", trainer.D.parameters, trainer.adamD)] {
                for (i, p) in set.parameters.enumerated() {
                    try file.write(adam.m[i], shape: p.value.shape, to: "adam/\(group)/m/\(p.name ?? "?")")
                    try file.write(adam.v[i], shape: p.value.shape, to: "adam/\(group)/v/\(p.name ?? "?")")
                }
            }
        }
    }

    /// The configuration stored in a checkpoint.
    public static func config(at path: String) throws -> TrainingConfig {
        let file = try open(path)
        defer { try? file.close() }
        return try readConfig(file, path)
    }

    /// Loads a checkpoint into `trainer`, whose configuration must equal the stored one.
    /// - Throws: `InputError` naming the first differing setting, or HDF5 errors.
    public static func load(_ path: String, into trainer: Trainer) throws {
        let file = try open(path)
        defer { try? file.close() }
        let stored = try readConfig(file, path)
        guard stored == trainer.config else {
            throw InputError("\(path) was written with a different configuration (\(difference(stored, trainer.config))); resume with the same settings or start a new run directory")
        }
        let progress = try readProgress(file, path)
        for (group, set) in [("G", trainer.G.parameters), ("D", trainer.D.parameters), ("Gs", trainer.Gs.parameters)] {
            for p in set.parameters {
                p.assign(Tensor(shape: p.value.shape, data: try readArray(file, path, "\(group)/\(p.name ?? "?")", shape: p.value.shape)))
            }
        }
        for (group, set, adam) in [("G", trainer.G.parameters, trainer.adamG), ("D", trainer.D.parameters, trainer.adamD)] {
            for (i, p) in set.parameters.enumerated() {
                try adam.setMoments(i, m: try readArray(file, path, "adam/\(group)/m/\(p.name ?? "?")", shape: p.value.shape),
                                v: try readArray(file, path, "adam/\(group)/v/\(p.name ?? "?")", shape: p.value.shape))
            }
        }
        trainer.adamG.step = Int(try file.int64Attribute("adamG_step"))
        trainer.adamD.step = Int(try file.int64Attribute("adamD_step"))
        trainer.progress = progress
    }

    /// Loads only a generator's weights (for sampling): the EMA generator "Gs" by default, or the
    /// trained "G".
    public static func loadGenerator(_ path: String, network: String = "Gs") throws -> (Generator, TrainingConfig, TrainingProgress) {
        let file = try open(path)
        defer { try? file.close() }
        let config = try readConfig(file, path)
        let progress = try readProgress(file, path)
        let gs = Generator(config.network, seed: config.seed)
        for p in gs.parameters.parameters {
            p.assign(Tensor(shape: p.value.shape, data: try readArray(file, path, "\(network)/\(p.name ?? "?")", shape: p.value.shape)))
        }
        return (gs, config, progress)
    }

    /// Loads only the discriminator's weights (for measurements such as `ClassAccuracy`).
    public static func loadDiscriminator(_ path: String) throws -> Discriminator {
        let file = try open(path)
        defer { try? file.close() }
        let config = try readConfig(file, path)
        let D = Discriminator(config.network, seed: config.seed &+ 1)
        for p in D.parameters.parameters {
            p.assign(Tensor(shape: p.value.shape, data: try file.read("D/\(p.name ?? "?")", as: Float.self)))
        }
        return D
    }

    /// The newest checkpoint in a run directory that opens and carries the format attribute,
    /// or nil when there is none. Unreadable files (e.g. from a full disk) are passed over.
    public static func newest(in directory: String) -> String? {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        for name in names.filter({ $0.hasPrefix("checkpoint-") && $0.hasSuffix(".h5") }).sorted().reversed() {
            let path = directory + "/" + name
            if let file = try? HDF5File.open(path), (try? file.stringAttribute("format")) == formatName {
                try? file.close()
                return path
            }
        }
        return nil
    }

    /// Removes the temporary files of checkpoints whose writer was killed mid-write (SIGKILL,
    /// a lost node); `newest(in:)` never picks them, but each may be as large as a checkpoint.
    /// Only the one process that writes checkpoints into `directory` may call it.
    /// - Returns: the names removed.
    @discardableResult
    public static func removeLeftoverTemporaries(in directory: String) -> [String] {
        HDF5File.removeLeftoverTemporaries(in: directory) { $0.hasPrefix("checkpoint-") && $0.hasSuffix(".h5") }
    }

    static func open(_ path: String) throws -> HDF5File {
        guard FileManager.default.fileExists(atPath: path) else {
            throw InputError("\(path): no such checkpoint file")
        }
        let file = try HDF5File.open(path)
        guard (try? file.stringAttribute("format")) == formatName else {
            try? file.close()
            throw InputError("\(path) is an HDF5 file but not a progan-mpi checkpoint (no format attribute \"\(formatName)\")")
        }
        return file
    }

    /// Reads one stored array, which must have exactly the network's shape for it: a file
    /// edited or damaged by hand must never hand a layer fewer (or more) values than it uses.
    static func readArray(_ file: HDF5File, _ path: String, _ name: String, shape: [Int]) throws -> [Float] {
        guard try file.exists(name) else {
            throw InputError("\(path): array /\(name) is missing; the checkpoint is incomplete or of another network")
        }
        let stored = try file.shape(of: name)
        guard stored == shape else {
            throw InputError("\(path): array /\(name) has shape \(stored), the network expects \(shape)")
        }
        let values = try file.read(name, as: Float.self, expectedShape: shape)
        // Explicit, not a precondition: the release build's -Ounchecked would remove that.
        if values.count != shape.reduce(1, *) {
            throw InputError("\(path): array /\(name) holds \(values.count) values for shape \(shape)")
        }
        return values
    }

    /// The `progress` attribute, decoded; a damaged one is named with its file.
    static func readProgress(_ file: HDF5File, _ path: String) throws -> TrainingProgress {
        let text = try file.stringAttribute("progress")
        do {
            return try JSONDecoder().decode(TrainingProgress.self, from: Data(text.utf8))
        } catch let error as DecodingError {
            throw InputError("\(path): the 'progress' attribute cannot be read (\(describe(error))); "
                              + "the file is damaged: resume from an earlier checkpoint")
        }
    }

    /// A DecodingError in a few words ("not valid JSON", "key 'imagesShown' is missing"...).
    static func describe(_ error: DecodingError) -> String {
        func at(_ context: DecodingError.Context) -> String {
            context.codingPath.isEmpty ? "" : " at '" + context.codingPath.map(\.stringValue).joined(separator: ".") + "'"
        }
        switch error {
        case .dataCorrupted(let context):
            return context.codingPath.isEmpty ? "not valid JSON" : "bad value\(at(context))"
        case .keyNotFound(let key, let context):
            return "key '\(key.stringValue)' is missing\(at(context))"
        case .typeMismatch(_, let context), .valueNotFound(_, let context):
            return "wrong type\(at(context))"
        @unknown default:
            return "cannot be decoded"
        }
    }

    static func readConfig(_ file: HDF5File, _ path: String) throws -> TrainingConfig {
        do {
            return try JSONDecoder().decode(TrainingConfig.self, from: Data(try file.stringAttribute("config").utf8))
        } catch let error as DecodingError {
            throw InputError("\(path): stored configuration cannot be read (\(describe(error))); it was written by an incompatible version or damaged")
        }
    }

    /// Names the top-level settings that differ, for the refusal message.
    static func difference(_ a: TrainingConfig, _ b: TrainingConfig) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        func flat(_ c: TrainingConfig) -> [String: String] {
            guard let data = try? encoder.encode(c),
                  let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return [:] }
            var out: [String: String] = [:]
            for (k, v) in object {
                if let inner = v as? [String: Any] {
                    for (k2, v2) in inner { out["\(k).\(k2)"] = "\(v2)" }
                } else { out[k] = "\(v)" }
            }
            return out
        }
        let (fa, fb) = (flat(a), flat(b))
        let keys = Set(fa.keys).union(fb.keys).filter { fa[$0] != fb[$0] }.sorted()
        return keys.prefix(3).map { "\($0): checkpoint \(fa[$0] ?? "-"), now \(fb[$0] ?? "-")" }.joined(separator: "; ")
    }
}
