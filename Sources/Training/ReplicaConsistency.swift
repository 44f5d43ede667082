import ProGAN

/// The arrays every rank's replica must hold alike, by checkpoint path ("G/G/8x8/conv0/weight"):
/// G, D, the EMA generator and both Adams' moments (gather those first: `Trainer.gatherOptimizerState`).
func replicatedArrays(_ trainer: Trainer) -> [(name: String, values: [Float])] {
    let weights = [("G", trainer.G.parameters), ("D", trainer.D.parameters), ("Gs", trainer.Gs.parameters)].flatMap { prefix, set in
        set.parameters.map { (name: prefix + "/" + ($0.name ?? "?"), values: $0.value.data) }
    }
    let moments = [("G", trainer.G.parameters, trainer.adamG), ("D", trainer.D.parameters, trainer.adamD)].flatMap { prefix, set, adam in
        set.parameters.indices.flatMap { i in
            [(name: "adam/\(prefix)/m/" + (set.parameters[i].name ?? "?"), values: adam.m[i]),
             (name: "adam/\(prefix)/v/" + (set.parameters[i].name ?? "?"), values: adam.v[i])]
        }
    }
    return weights + moments
}

/// The name of the first array (in the given order) whose values differ between rank 0 and any
/// other rank, or nil if all ranks hold the same. Every rank must call this with the same names.
///
/// Each rank hashes each array's bit patterns (FNV-1a, 64 bits), compares with rank 0's hashes
/// (one broadcast) and finds its first mismatch; an all-reduce of the maximum agrees on the
/// earliest over all ranks. One changed value always changes its array's hash (each step of the
/// hash is a bijection of the state); several could cancel only by a rare accident.
func firstDifferingArray(_ arrays: [(name: String, values: [Float])], group: ProcessGroup) throws -> String? {
    guard group.size > 1, !arrays.isEmpty else { return nil }
    let hashes = arrays.map { fnv1a($0.values) }
    let bytes = hashes.flatMap { h in (0..<8).map { UInt8(truncatingIfNeeded: h >> (8 * $0)) } }
    let root = try group.broadcastBytesFromRoot(bytes)
    let rootHashes = (0..<arrays.count).map { i in (0..<8).reduce(UInt64(0)) { $0 | UInt64(root[8 * i + $1]) << (8 * $1) } }
    // Encoded as count - index so that the maximum over ranks is the smallest index (0: none).
    let mine = hashes.indices.first { hashes[$0] != rootHashes[$0] }.map { arrays.count - $0 } ?? 0
    let earliest = try group.allReduceMax(mine)
    return earliest == 0 ? nil : arrays[arrays.count - earliest].name
}

/// FNV-1a over the floats' 32-bit patterns, one word a step.
func fnv1a(_ values: [Float]) -> UInt64 {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for v in values { h = (h ^ UInt64(v.bitPattern)) &* 0x0000_0100_0000_01b3 }
    return h
}
