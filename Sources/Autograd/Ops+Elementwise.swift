import TensorKit

// Elementwise ops with broadcasting. Each backward rule sits beside its forward and is written in
// Var ops, so it can be differentiated again. `reduce(_:to:)` undoes broadcasting in gradients.

/// Sums a gradient over the dimensions along which an operand of shape `shape` was broadcast.
func reduce(_ g: Var, to shape: [Int]) throws -> Var {
    g.shape == shape ? g : try g.sum(to: shape)
}

func broadcastCheck(_ op: String, _ a: Var, _ b: Var) throws {
    if Tensor.broadcastShape(a.shape, b.shape) == nil {
        throw ShapeError(op, "shapes \(a.shape) and \(b.shape) do not broadcast")
    }
}

extension Var {
    /// `a + b` with broadcasting.
    public static func + (a: Var, b: Var) throws -> Var {
        try broadcastCheck("add", a, b)
        return Var.op(a.value + b.value, [a, b]) { _, g, needs in
            [needs[0] ? try reduce(g, to: a.shape) : nil, needs[1] ? try reduce(g, to: b.shape) : nil]
        }
    }

    /// `a - b` with broadcasting.
    public static func - (a: Var, b: Var) throws -> Var {
        try broadcastCheck("sub", a, b)
        return Var.op(a.value - b.value, [a, b]) { _, g, needs in
            [needs[0] ? try reduce(g, to: a.shape) : nil, needs[1] ? try reduce(-g, to: b.shape) : nil]
        }
    }

    /// `a * b` elementwise with broadcasting.
    public static func * (a: Var, b: Var) throws -> Var {
        try broadcastCheck("mul", a, b)
        return Var.op(a.value * b.value, [a, b]) { _, g, needs in
            [needs[0] ? try reduce(g * b, to: a.shape) : nil, needs[1] ? try reduce(g * a, to: b.shape) : nil]
        }
    }

    /// `a / b` elementwise with broadcasting.
    public static func / (a: Var, b: Var) throws -> Var {
        try broadcastCheck("div", a, b)
        return Var.op(a.value / b.value, [a, b]) { _, g, needs in
            [needs[0] ? try reduce(g / b, to: a.shape) : nil,
             needs[1] ? try reduce(-(g * a) / (b * b), to: b.shape) : nil]
        }
    }

    /// `a * s` for a constant scalar.
    public static func * (a: Var, s: Float) -> Var {
        Var.op(a.value * s, [a]) { _, g, _ in [g * s] }
    }

    /// `s * a` for a constant scalar.
    public static func * (s: Float, a: Var) -> Var { a * s }

    /// `a + s` for a constant scalar.
    public static func + (a: Var, s: Float) -> Var {
        Var.op(a.value + s, [a]) { _, g, _ in [g] }
    }

    /// `a - s` for a constant scalar.
    public static func - (a: Var, s: Float) -> Var { a + (-s) }

    /// `-a`.
    public static prefix func - (a: Var) -> Var { a * -1 }

    /// `x^2` elementwise; backward `2 x g`.
    public func square() throws -> Var {
        Var.op(value.squared(), [self]) { node, g, _ in [try g * node.parents[0] * 2] }
    }

    /// `sqrt(x)` elementwise; backward `g / (2 sqrt(x))`, in terms of the output.
    public func sqrt() throws -> Var {
        Var.op(value.sqrt(), [self]) { node, g, _ in [try (g / node) * 0.5] }
    }

    /// `1 / sqrt(x)` elementwise; backward `-g y^3 / 2` with `y` the output.
    public func rsqrt() throws -> Var {
        Var.op(value.rsqrt(), [self]) { node, g, _ in [try g * node * node * node * -0.5] }
    }

    /// `e^x` elementwise; backward `g y` with `y` the output.
    public func exp() -> Var {
        Var.op(value.exp(), [self]) { node, g, _ in [try g * node] }
    }

    /// `ln x` elementwise (x > 0); backward `g / x`.
    public func log() -> Var {
        Var.op(value.log(), [self]) { node, g, _ in [try g / node.parents[0]] }
    }

    /// Leaky ReLU with the given negative slope (> 0). The derivative is a constant mask (1 or
    /// slope), whose own derivative is zero almost everywhere; the rule applies it with
    /// `leakyReLUMasked`, reading the sign from the output, so no mask tensor is made or held.
    public func leakyReLU(_ slope: Float = 0.2) -> Var {
        Var.op(value.leakyReLU(slope), [self]) { node, g, _ in
            [try g.leakyReLUMasked(by: node.value, slope: slope)]
        }
    }

    /// Linear interpolation `a + (b - a) * t` for a constant `t`.
    public static func lerp(_ a: Var, _ b: Var, _ t: Float) throws -> Var {
        try a + (b - a) * t
    }

    /// Linear interpolation `a + (b - a) * t` with `t` broadcast (e.g. one factor per sample).
    public static func lerp(_ a: Var, _ b: Var, _ t: Var) throws -> Var {
        try a + (b - a) * t
    }
}
