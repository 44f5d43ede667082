import Autograd
import TensorKit

/// Which positions of the present-gradient layout (`ParameterSet.flatGradient(present:)`) each
/// rank updates in a sharded Adam step: contiguous blocks in rank order, as even as possible.
/// A pure function of its arguments, the same on every rank.
public struct OptimizerShards: Equatable, Sendable {
    /// The parameters in the layout.
    public let present: [Bool]
    /// The layout's positions dealt out over the ranks.
    public let blocks: BatchShards
    /// This rank.
    public let rank: Int

    public init(present: [Bool], elements: Int, ranks: Int, rank: Int) {
        require((0..<ranks).contains(rank), "OptimizerShards: rank \(rank) of \(ranks)")
        (self.present, self.blocks, self.rank) = (present, BatchShards(total: elements, parts: ranks), rank)
    }

    /// The positions this rank updates.
    public var range: Range<Int> { blocks.range(of: rank) }
    /// Every rank's block length, in rank order.
    public var counts: [Int] { blocks.counts }
}

extension Adam {
    /// One update, sharded over `group` (every rank of it calls this with its own gradient of the
    /// same parameters): the gradients are summed by a reduce-scatter, each rank applies Adam to
    /// its block of the present parameters, and an all-gather brings every rank the updated
    /// values. The arithmetic per element is the dense update's, so the weights are those of
    /// `update(_:flatGradient:present:learningRate:)` on the summed gradient, and alike on every
    /// rank; the work and the moments' traffic per rank fall to 1/N. (An all-reduce moves the same
    /// bytes as the reduce-scatter and all-gather together.)
    ///
    /// Each rank's moments stay current in its own block only (`shardedAs`); `gatherMoments`
    /// brings them together, as this does by itself when the layout changes (a new present set:
    /// growth, fades), and a checkpoint must first.
    ///
    /// - Returns: false, with nothing changed but the moments' gathering, when any element of the
    ///   summed gradient is not finite (every rank agrees).
    public func update(_ parameters: ParameterSet, flatGradient flat: inout [Float], present: [Bool], learningRate lr: Float,
                       over group: Collective) -> Bool {
        let shards = OptimizerShards(present: present, elements: parameters.presentCount(present),
                                     ranks: group.size, rank: group.rank)
        require(flat.count == shards.blocks.total, "update: the gradient has \(flat.count) values, the parameters marked present \(shards.blocks.total)")
        if let last = shardedAs, last != shards { gatherMoments(parameters, over: group) }
        // In place throughout: the buffer is the gradient's size (tens of millions of values).
        StepPhase.allreduce.record { group.reduceScatterInPlace(&flat, counts: shards.counts) }
        let range = shards.range
        let finite = StepPhase.optimizer.record {
            flat.withUnsafeBufferPointer { allFinite(UnsafeBufferPointer(rebasing: $0[range])) }
        }
        var nonFinite: [Float] = [finite ? 0 : 1]
        StepPhase.allreduce.record { group.allReduceSum(&nonFinite) }
        guard nonFinite[0] == 0 else { return false }
        StepPhase.optimizer.record {
            flat.withUnsafeBufferPointer { g in
                apply(parameters, block: UnsafeBufferPointer(rebasing: g[range]), at: range, present: present, learningRate: lr)
            }
            // This rank's new values go where its gradient block was, for the all-gather.
            flat.withUnsafeMutableBufferPointer { x in
                parameters.copyValues(present: present, range: range, into: UnsafeMutableBufferPointer(rebasing: x[range]))
            }
        }
        shardedAs = group.size > 1 ? shards : nil
        StepPhase.allreduce.record { group.allGatherInPlace(&flat, counts: shards.counts) }
        StepPhase.optimizer.record { parameters.assign(flatValues: flat, present: present, keeping: range) }
        return true
    }

    /// Makes every rank's moments current everywhere after sharded updates (each rank contributes
    /// its block; an all-gather of the first and second moments). A collective: every rank of the
    /// group that made the updates calls it together. Nothing to do, and no message, when the
    /// moments are current already.
    public func gatherMoments(_ parameters: ParameterSet, over group: Collective) {
        guard let shards = shardedAs else { return }
        require(group.size == shards.blocks.parts && group.rank == shards.rank,
                "gatherMoments: moments sharded over \(shards.blocks.parts) ranks, gathered over \(group.size)")
        StepPhase.allreduce.record {
            gather(&m, parameters, shards, group)
            gather(&v, parameters, shards, group)
        }
        shardedAs = nil
    }

    /// Puts every rank's block of the present parameters' `moments` in place (an all-gather in a
    /// buffer of the present layout).
    private func gather(_ moments: inout [[Float]], _ parameters: ParameterSet, _ shards: OptimizerShards,
                        _ group: Collective) {
        var flat = [Float](repeating: 0, count: shards.blocks.total)
        parameters.forEachPresentPart(shards.present, in: shards.range) { i, elements, position in
            flat.replaceSubrange(position ..< position + elements.count, with: moments[i][elements])
        }
        group.allGatherInPlace(&flat, counts: shards.counts)
        parameters.forEachPresentPart(shards.present, in: 0..<shards.blocks.total) { i, elements, position in
            moments[i].replaceSubrange(elements, with: flat[position ..< position + elements.count])
        }
    }
}
