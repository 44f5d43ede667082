import TensorKit

/// Reverse-mode differentiation of a graph of `Var`s.
///
/// - Parameters:
///   - output: the value to differentiate; a one-element tensor unless `seed` is given.
///   - inputs: the nodes to differentiate with respect to.
///   - seed: the gradient of some scalar with respect to `output` (defaults to ones).
///   - createGraph: record the backward pass, so that the returned gradients can themselves be
///     differentiated (the WGAN-GP penalty).
/// - Returns: one gradient per input, shaped like it (zeros where `output` does not depend on it).
/// - Throws: `ShapeError` if the seed does not match `output`.
///
/// Only nodes on a path to some input get gradients computed (a rule asked for a parent that leads
/// to no input is skipped). The graph is walked iteratively, so deep graphs do not overflow the stack.
public func gradients(of output: Var, wrt inputs: [Var], seed: Var? = nil,
                      createGraph: Bool = false) throws -> [Var] {
    try reachedGradients(of: output, wrt: inputs, seed: seed, createGraph: createGraph).enumerated().map { i, g in
        g ?? Var(Tensor.zeros(inputs[i].shape))
    }
}

/// `gradients(of:wrt:seed:createGraph:)`, with nil for each input that `output` does not reach.
func reachedGradients(of output: Var, wrt inputs: [Var], seed: Var? = nil,
                      createGraph: Bool = false) throws -> [Var?] {
    if let seed, seed.shape != output.shape {
        throw ShapeError("gradients", "seed shape \(seed.shape) differs from output shape \(output.shape)")
    }
    if seed == nil && output.value.count != 1 {
        throw ShapeError("gradients", "output of shape \(output.shape) is not a scalar: pass a seed")
    }
    let order = topologicalOrder(output)
    // needed[node]: the node is an input or leads to one.
    let inputIDs = Set(inputs.map(ObjectIdentifier.init))
    var needed = Set<ObjectIdentifier>()
    for node in order where inputIDs.contains(ObjectIdentifier(node))
        || node.parents.contains(where: { needed.contains(ObjectIdentifier($0)) }) {
        needed.insert(ObjectIdentifier(node))
    }
    var grads: [ObjectIdentifier: Var] = [:]
    grads[ObjectIdentifier(output)] = seed ?? Var(Tensor.ones(output.shape))
    // Profiling: a plain backward pass charges each rule to the phase of the node it belongs to;
    // one that records a graph (createGraph) is part of a forward computation and stays in the
    // caller's phase, whose tag its new nodes get.
    // The pass's own bookkeeping outside the rules is the caller phase's backward work.
    let byNode = Profiler.isTiming && !createGraph
    let callerSlot = byNode ? Profiler.enter(Profiler.phase, backward: true) : Profiler.current
    defer { if byNode { Profiler.restore(callerSlot) } }
    try GradMode.with(createGraph) {
        for node in order.reversed() {
            let id = ObjectIdentifier(node)
            guard needed.contains(id), let g = grads[id], let rule = node.backward else { continue }
            if byNode { Profiler.enter(node.phase, backward: true) }
            if !inputIDs.contains(id) { grads[id] = nil }  // free intermediate gradients early
            let needs = node.parents.map { $0.requiresGrad && needed.contains(ObjectIdentifier($0)) }
            guard needs.contains(true) else { continue }
            let pg = try rule(node, g, needs)
            for (i, parent) in node.parents.enumerated() where needs[i] {
                guard let gp = pg[i] else { continue }
                let pid = ObjectIdentifier(parent)
                if let existing = grads[pid] { grads[pid] = try existing + gp } else { grads[pid] = gp }
            }
        }
    }
    return inputs.map { grads[ObjectIdentifier($0)] }
}

/// Adds d(loss)/d(p) into `p.grad` for every parameter that `loss` depends on (creating it if
/// nil). A parameter outside the graph keeps its gradient, nil if it had none: the optimizer and
/// the all-reduce can then skip layers not in use.
public func accumulateGradients(of loss: Var, into parameters: [Var]) throws {
    let gs = try reachedGradients(of: loss, wrt: parameters)
    for (p, g) in zip(parameters, gs) {
        guard let g else { continue }
        if p.grad == nil { p.grad = g.value } else { p.grad?.add(g.value) }
    }
}

/// Nodes reachable from `root` through recorded edges, parents before children (iterative DFS).
func topologicalOrder(_ root: Var) -> [Var] {
    var order: [Var] = []
    var visited = Set<ObjectIdentifier>()
    var stack: [(Var, Int)] = [(root, 0)]
    visited.insert(ObjectIdentifier(root))
    while let (node, next) = stack.popLast() {
        if next < node.parents.count {
            stack.append((node, next + 1))
            let p = node.parents[next]
            if p.requiresGrad && visited.insert(ObjectIdentifier(p)).inserted { stack.append((p, 0)) }
        } else {
            order.append(node)
        }
    }
    return order
}
