import XCTest
import TensorKit
import Autograd
@testable import ProGAN
import TestSupport

/// A tiny network configuration: widths nf = min(64 / 2^stage, 16), so 16 channels at 4..8 px,
/// 8 at 16, 4 at 32; latent 16.
func smallConfig(resolution: Int = 32, channels: Int = 3) -> NetworkConfig {
    var c = NetworkConfig()
    c.resolution = resolution
    c.channels = channels
    c.fmapBase = 64
    c.fmapMax = 16
    c.latentSize = 16
    return c
}

/// Gives every bias a nonzero value (N(0, 0.3^2), a stream per parameter), so that a bias applied in
/// the wrong place, or the negative side of an LReLU, shows.
func randomizeBiases(_ params: ParameterSet, seed: UInt64) {
    for (i, p) in params.parameters.enumerated() where p.name?.hasSuffix("/bias") == true {
        p.assign(TestTensors.normal(p.shape, seed: seed &+ UInt64(i), scale: 0.3))
    }
}

/// Mean and population standard deviation of a float array, in Double.
func meanAndStd(_ xs: [Float]) -> (mean: Double, std: Double) {
    let n = Double(xs.count)
    let mean = xs.reduce(0.0) { $0 + Double($1) } / n
    let variance = xs.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / n
    return (mean, variance.squareRoot())
}
