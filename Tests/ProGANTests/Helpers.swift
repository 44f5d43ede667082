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

/// Mean and population standard deviation of a float array, in Double.
func meanAndStd(_ xs: [Float]) -> (mean: Double, std: Double) {
    let n = Double(xs.count)
    let mean = xs.reduce(0.0) { $0 + Double($1) } / n
    let variance = xs.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / n
    return (mean, variance.squareRoot())
}
