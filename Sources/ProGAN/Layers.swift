import Autograd
import TensorKit

/// Draws layer weights: N(0,1) per element, from a stream derived from the parameter's name, so
/// every rank and every run with the same seed initializes identically.
struct Initializer {
    let rng: CounterRNG

    func normal(_ shape: [Int], name: String) -> Tensor {
        Tensor.randomNormal(shape, rng: rng, stream: Initializer.stream(for: name))
    }

    /// FNV-1a hash of the name: a stable stream id.
    static func stream(for name: String) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in name.utf8 { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        return h
    }
}

/// A same-padded k x k convolution with equalized learning rate and a per-channel bias.
///
/// Equalized learning rate: the weight is stored as N(0,1) draws and multiplied at run time by
/// `gain / sqrt(fanIn)`, `fanIn = inChannels * k * k` (He's constant), so Adam sees every layer
/// at the same scale. With `equalizedLR` off, the weight is initialized at that scale instead.
public struct EqualizedConv2d {
    public let weight: Var
    public let bias: Var
    public let runtimeScale: Float

    init(_ params: ParameterSet, _ name: String, inChannels: Int, outChannels: Int, kernel: Int,
         gain: Float, equalized: Bool, initializer: Initializer) {
        let he = gain / Float(inChannels * kernel * kernel).squareRoot()
        var w = initializer.normal([outChannels, inChannels, kernel, kernel], name: name + "/weight")
        if !equalized { w = w * he }
        weight = params.add(name + "/weight", w)
        bias = params.add(name + "/bias", Tensor.zeros([outChannels]))
        runtimeScale = equalized ? he : 1
    }

    /// `conv2d(x, weight * scale) + bias`, x [N,C,H,W] -> [N,O,H,W].
    public func callAsFunction(_ x: Var) throws -> Var {
        let w = runtimeScale == 1 ? weight : weight * runtimeScale
        return try Var.conv2d(x, w) + bias.reshape([1, bias.shape[0], 1, 1])
    }

    /// `leakyReLU(conv2d(x, weight * scale) + bias)`, x [N,C,H,W] -> [N,O,H,W], as one graph node
    /// that holds only its output (`Var.conv2dBiasLeakyReLU`); the same values as composing them.
    public func callAsFunction(_ x: Var, leakyReLUSlope slope: Float) throws -> Var {
        let w = runtimeScale == 1 ? weight : weight * runtimeScale
        return try Var.conv2dBiasLeakyReLU(x, w, bias, slope: slope)
    }
}

/// A dense layer `x W^T (* scale)` with equalized learning rate; weight stored [out, in].
/// The bias is optional because G's first layer adds its bias per channel after the reshape.
public struct EqualizedDense {
    public let weight: Var
    public let bias: Var?
    public let runtimeScale: Float

    init(_ params: ParameterSet, _ name: String, inFeatures: Int, outFeatures: Int, gain: Float,
         equalized: Bool, hasBias: Bool = true, initializer: Initializer) {
        let he = gain / Float(inFeatures).squareRoot()
        var w = initializer.normal([outFeatures, inFeatures], name: name + "/weight")
        if !equalized { w = w * he }
        weight = params.add(name + "/weight", w)
        bias = hasBias ? params.add(name + "/bias", Tensor.zeros([outFeatures])) : nil
        runtimeScale = equalized ? he : 1
    }

    /// x [N, in] -> [N, out].
    public func callAsFunction(_ x: Var) throws -> Var {
        let w = runtimeScale == 1 ? weight : weight * runtimeScale
        let y = try Var.matmul(x, w, transB: true)
        guard let bias else { return y }
        return try y + bias.reshape([1, bias.shape[0]])
    }
}

/// Pixelwise feature normalization: `x * rsqrt(mean_c(x^2) + 1e-8)` over axis 1, as one graph
/// node holding only its output (`Var.pixelNorm`).
public func pixelNorm(_ x: Var, epsilon: Float = 1e-8) throws -> Var {
    try Var.pixelNorm(x, epsilon: epsilon)
}
