import ProGAN

/// Named starting configurations; every field can then be overridden from the command line.
public enum Preset: String, CaseIterable, Sendable {
    /// The paper's networks and schedule (800k/800k, minibatch 16 ... 14, 6, 3) at the dataset's resolution.
    case paper
    /// Fashion-MNIST 32x32 grayscale on a 2-core machine in well under an hour: narrow networks
    /// (64 feature maps, latent 64) and 6k-image phases; the paper's losses and optimizer.
    case fashionMNIST = "fashion-mnist"
    /// A few-second run for tests and smoke checks (tiny widths, 0.1k-image phases).
    case tiny

    /// The configuration for a dataset of `resolution` and `channels`.
    public func config(resolution: Int, channels: Int) -> TrainingConfig {
        var net = NetworkConfig()
        net.resolution = resolution
        net.channels = channels
        switch self {
        case .paper:
            return TrainingConfig(network: net, schedule: .paper(finalResolution: resolution))
        case .fashionMNIST:
            net.latentSize = 64
            net.fmapBase = 512
            net.fmapMax = 64
            var s = GrowthSchedule(finalResolution: resolution, stabilizeKimg: 6, fadeKimg: 6, totalKimg: 0)
            s.totalKimg = s.growthKimg + 12
            var c = TrainingConfig(network: net, schedule: s)
            // The paper's 0.999 a step has a half-life of ~11k images: in a 48k-image run the
            // averaged generator would still be a third random init at 18k (seen in a first run:
            // Gs grids were noise while G drew garments). 0.99 halves in ~1.1k images.
            c.emaBeta = 0.99
            return c
        case .tiny:
            net.latentSize = 16
            net.fmapBase = 64
            net.fmapMax = 16
            var s = GrowthSchedule(finalResolution: resolution, stabilizeKimg: 0.08, fadeKimg: 0.08, totalKimg: 0,
                                   defaultMinibatch: 8)
            s.totalKimg = s.growthKimg + 0.08
            return TrainingConfig(network: net, schedule: s)
        }
    }
}
