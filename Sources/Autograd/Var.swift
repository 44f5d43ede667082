import TensorKit

/// Whether ops record the graph. Backward passes run with recording off unless a gradient of the
/// gradient is wanted (`createGraph: true`), in which case the backward ops are themselves recorded.
public enum GradMode {
    nonisolated(unsafe) static var recording = true

    /// Whether new ops are recorded for differentiation.
    public static var isEnabled: Bool { recording }

    /// Runs `body` with recording set to `enabled`, restoring the previous mode afterwards.
    public static func with<T>(_ enabled: Bool, _ body: () throws -> T) rethrows -> T {
        let saved = recording
        recording = enabled
        defer { recording = saved }
        return try body()
    }
}

/// A node of the autograd graph: a tensor value, the nodes it was computed from, and the rule
/// that maps the gradient of its output to gradients of its inputs.
///
/// Backward rules are written with `Var` ops, so when they run with recording on, the gradient
/// is itself a differentiable function of the inputs: that is what the WGAN-GP penalty needs.
public final class Var {
    /// Maps (this node, upstream gradient, which parents need a gradient) to parent gradients
    /// (nil where not needed).
    public typealias Backward = (Var, Var, [Bool]) throws -> [Var?]

    /// The computed value (a leaf's may be replaced between graph builds: parameters).
    public private(set) var value: Tensor
    /// The inputs this node was computed from (empty for leaves and unrecorded results).
    public let parents: [Var]
    let backward: Backward?
    /// Whether gradients flow to this node.
    public let requiresGrad: Bool
    /// Human-readable name (parameters carry their path, e.g. "G/4x4/conv/weight").
    public var name: String?
    /// Accumulated gradient of a parameter, filled by `accumulateGradients`.
    public var grad: Tensor?
    /// The `Profiler` phase this node was made in (0 while its clock is off): a plain backward
    /// pass charges this node's rule to that phase.
    public let phase: Int
    /// Bytes of `value` counted as live by the profiler (0 unless it recorded everything at creation).
    let profiledBytes: Int

    /// A leaf: a constant (`requiresGrad: false`) or a parameter or input to differentiate.
    public init(_ value: Tensor, requiresGrad: Bool = false, name: String? = nil) {
        self.value = value
        self.parents = []
        self.backward = nil
        self.requiresGrad = requiresGrad
        self.name = name
        (phase, profiledBytes) = Var.profile(value)
    }

    init(value: Tensor, parents: [Var], backward: @escaping Backward) {
        self.value = value
        self.parents = parents
        self.backward = backward
        self.requiresGrad = true
        self.name = nil
        (phase, profiledBytes) = Var.profile(value)
    }

    deinit {
        if profiledBytes > 0 { Profiler.release(bytes: profiledBytes, phase: phase) }
    }

    /// The current phase and, while profiling, the value's bytes counted as held by it.
    @inline(__always)
    static func profile(_ value: Tensor) -> (Int, Int) {
        guard Profiler.isTiming else { return (0, 0) }
        guard Profiler.isEnabled else { return (Profiler.phase, 0) }
        let bytes = value.count * MemoryLayout<Float>.stride
        Profiler.retain(bytes: bytes, phase: Profiler.phase)
        return (Profiler.phase, bytes)
    }

    /// The result of an op: recorded with its parents and rule if recording is on and any parent
    /// needs a gradient, else a constant.
    public static func op(_ value: Tensor, _ parents: [Var], _ backward: @escaping Backward) -> Var {
        if GradMode.isEnabled && parents.contains(where: { $0.requiresGrad }) {
            return Var(value: value, parents: parents, backward: backward)
        }
        return Var(value)
    }

    /// Replaces a leaf's value (an optimizer step); the shape must stay the same.
    public func assign(_ newValue: Tensor) {
        require(parents.isEmpty && newValue.shape == value.shape,
                     "assign: only a leaf's value can be replaced, with the same shape (\(value.shape))")
        value = newValue
    }

    /// Mutates a leaf's value in place (no copy if nothing else holds the storage).
    public func updateValue(_ body: (inout Tensor) -> Void) {
        require(parents.isEmpty, "updateValue: only a leaf's value can be changed")
        let shape = value.shape
        body(&value)
        require(value.shape == shape, "updateValue: shape changed from \(shape) to \(value.shape)")
    }

    /// The value's shape.
    public var shape: [Int] { value.shape }
    /// A constant holding this node's value, cut from the graph.
    public func detached() -> Var { Var(value) }
    /// A constant of the given value.
    public static func constant(_ t: Tensor) -> Var { Var(t) }
    /// A constant scalar.
    public static func scalar(_ x: Float) -> Var { Var(Tensor.scalar(x)) }
}

extension Var: CustomStringConvertible {
    public var description: String { "Var(\(name ?? "-"), \(value))" }
}
