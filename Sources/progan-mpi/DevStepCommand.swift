import ArgumentParser
import Foundation
import ProGAN
import Training
import TensorKit

struct DevStepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "dev-step", shouldDisplay: false)
    @Option var res = 32
    @Option var fmapBase = 512
    @Option var fmapMax = 64
    @Option var latent = 64
    @Option var batch = 16
    @Option var steps = 5
    func run() throws {
        var net = NetworkConfig(); net.resolution = res; net.channels = 1; net.latentSize = latent
        net.fmapBase = fmapBase; net.fmapMax = fmapMax
        var sched = GrowthSchedule(finalResolution: res, stabilizeKimg: 0, fadeKimg: 0, totalKimg: 1000, defaultMinibatch: batch)
        sched.initialResolution = res
        let t = try Trainer(config: TrainingConfig(network: net, schedule: sched), group: SingleProcess())
        let data = InMemoryImages.synthetic(count: 256, channels: 1, resolution: res, seed: 1)
        let order = DataOrder(count: 256, seed: 1)
        print("G params", t.G.parameters.count, "D params", t.D.parameters.count)
        for i in 0..<steps {
            let t0 = Date()
            let s = try t.step(data: data, order: order)
            print(i, String(format: "%.3fs", Date().timeIntervalSince(t0)), s.sorted { $0.key < $1.key }.map { "\($0.key)=\(String(format: "%.4f", $0.value))" }.joined(separator: " "))
        }
        print(t.timings.asDictionary)
    }
}
