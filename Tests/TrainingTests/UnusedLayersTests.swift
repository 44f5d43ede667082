import Autograd
import ProGAN
import Training
import XCTest

/// A run at 4x4 of networks built for 16x16: the layers of 8x8 and 16x16 are in no step's graph,
/// so they get no gradient, stay out of the all-reduce, and Adam leaves them and their moments
/// exactly as they were; the 4x4 layers train.
final class UnusedLayersTests: XCTestCase {
    func testLayersNotYetGrownKeepTheirWeightsAndZeroMoments() throws {
        var config = Preset.tiny.config(resolution: 16, channels: 1)
        config.schedule.stabilizeKimg = 1000
        config.schedule.totalKimg = 10_000
        let group = RecordingGroup()
        let trainer = try Trainer(config: config, group: group)
        let data = InMemoryImages.synthetic(count: 16, channels: 1, resolution: 16, seed: 3)
        let order = DataOrder(count: 16, seed: 3)
        let before = [trainer.G.parameters, trainer.D.parameters, trainer.Gs.parameters].map { $0.flatValues() }
        // The EMA skips layers where Gs already equals G; a dense average kept alongside must agree.
        var averaged = before[2]
        for _ in 0..<3 {
            try trainer.step(data: data, order: order)
            let g = trainer.G.parameters.flatValues()
            for j in averaged.indices { averaged[j] = g[j] + config.emaBeta * (averaged[j] - g[j]) }
            XCTAssertEqual(trainer.Gs.parameters.flatValues(), averaged, "the moving average differs from the dense one")
        }
        XCTAssertEqual(trainer.progress.resolution, 4)
        // The gradient all-reduces (D then G, each step) carry the 4x4 layers only.
        func countAt4(_ set: ParameterSet) -> Int {
            set.parameters.filter { !($0.name ?? "").contains("8x8") && !($0.name ?? "").contains("16x16") }
                .reduce(0) { $0 + $1.value.count }
        }
        let expected = [countAt4(trainer.D.parameters), countAt4(trainer.G.parameters)]
        XCTAssertEqual(group.allReduceCounts, Array([[Int]](repeating: expected, count: 3).joined()))
        XCTAssertLessThan(expected[1], trainer.G.parameters.count)

        for (k, (set, adam)) in [(trainer.G.parameters, trainer.adamG), (trainer.D.parameters, trainer.adamD),
                                 (trainer.Gs.parameters, nil)].enumerated() {
            var offset = 0
            var trained = 0, untouched = 0
            for (i, p) in set.parameters.enumerated() {
                let name = p.name ?? "?"
                let n = p.value.count
                let was = Array(before[k][offset..<offset + n])
                offset += n
                XCTAssertNil(p.grad, "\(name): gradients are cleared after each update")
                if name.contains("8x8") || name.contains("16x16") {
                    XCTAssertEqual(p.value.data.map(\.bitPattern), was.map(\.bitPattern), "\(name) moved")
                    if let adam {
                        XCTAssertTrue(adam.m[i].allSatisfy { $0 == 0 } && adam.v[i].allSatisfy { $0 == 0 }, "\(name)")
                    }
                    untouched += 1
                } else {
                    XCTAssertNotEqual(p.value.data, was, "\(name) is at 4x4 and should train")
                    trained += 1
                }
            }
            XCTAssertGreaterThan(untouched, 0, "set \(k) has layers beyond 4x4")
            XCTAssertGreaterThan(trained, 0, "set \(k): the 4x4 layers train")
        }
    }
}

/// One process, recording the length of every float all-reduce.
final class RecordingGroup: ProcessGroup {
    var allReduceCounts: [Int] = []
    var rank: Int { 0 }
    var size: Int { 1 }
    func allGather(_ x: [Float]) -> [Float] { x }
    func reduceScatter(_ x: [Float]) -> [Float] { x }
    func allReduceSum(_ x: inout [Float]) { allReduceCounts.append(x.count) }
    func broadcastFromRoot(_ x: inout [Float]) throws {}
    func broadcastBytesFromRoot(_ x: [UInt8]) throws -> [UInt8] { x }
    func allReduceMax(_ x: Int) throws -> Int { x }
    func allReduceSum(_ x: [Double]) throws -> [Double] { x }
    func barrier() throws {}
}
