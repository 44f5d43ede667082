import XCTest
import TensorKit
import Autograd
@testable import ProGAN
import TestSupport

/// Adam with bias correction, against the closed form of Kingma and Ba, computed in Double.
final class AdamTests: XCTestCase {
    private func makeParams(_ a: [Float], _ b: [Float]) -> ParameterSet {
        let p = ParameterSet()
        _ = p.add("a", Tensor(shape: [a.count], data: a))
        _ = p.add("b", Tensor(shape: [1, b.count], data: b))
        return p
    }

    /// Runs `grads.count` steps of the textbook algorithm from `w0`.
    private func reference(_ w0: [Float], _ grads: [[Float]], lr: Double, b1: Double, b2: Double,
                           eps: Double) -> [Double] {
        var w = w0.map(Double.init)
        var m = [Double](repeating: 0, count: w.count), v = m
        for (t, g) in grads.enumerated() {
            let step = Double(t + 1)
            for j in w.indices {
                let gj = Double(g[j])
                m[j] = b1 * m[j] + (1 - b1) * gj
                v[j] = b2 * v[j] + (1 - b2) * gj * gj
                let mHat = m[j] / (1 - pow(b1, step)), vHat = v[j] / (1 - pow(b2, step))
                w[j] -= lr * mHat / (vHat.squareRoot() + eps)
            }
        }
        return w
    }

    func testUpdatesMatchClosedFormWithBiasCorrection() {
        let w0: [Float] = [0.5, -1, 2, 0.25, 3]
        let grads: [[Float]] = [[0.1, -2, 1e-7, 0, 5], [-0.3, 1, 2e-7, 0.01, 4], [0.2, 0.5, -1e-3, 0.02, -1]]
        let params = makeParams(Array(w0[0..<3]), Array(w0[3...]))
        let adam = Adam(params, beta1: 0.9, beta2: 0.99, epsilon: 1e-8)
        for k in 1...grads.count {
            adam.update(params, flatGradient: grads[k - 1], learningRate: 0.01)
            XCTAssertEqual(adam.step, k)
            let expected = reference(w0, Array(grads[0..<k]), lr: 0.01, b1: 0.9, b2: 0.99, eps: 1e-8)
            for (j, (a, e)) in zip(params.flatValues(), expected).enumerated() {
                XCTAssertEqual(Double(a), e, accuracy: 1e-6, "step \(k), element \(j)")
            }
        }
    }

    /// A parameter of 21 elements runs two 8-lane blocks and a tail of 5: every element must follow
    /// the closed form, whichever path it took.
    func testVectorizedBlocksAndTailMatchClosedForm() {
        let w0 = (0..<21).map { Float($0) * 0.1 - 1 }
        var grads: [[Float]] = []
        for t in 0..<3 {
            var g = [Float](repeating: 0, count: 21)
            for j in 0..<21 { g[j] = Float((j * 7 + t * 3) % 11) * 0.05 - 0.25 }
            grads.append(g)
        }
        let params = ParameterSet()
        _ = params.add("w", Tensor(shape: [21], data: w0))
        let adam = Adam(params, beta1: 0.5, beta2: 0.99, epsilon: 1e-8)
        for g in grads { adam.update(params, flatGradient: g, learningRate: 0.01) }
        let expected = reference(w0, grads, lr: 0.01, b1: 0.5, b2: 0.99, eps: 1e-8)
        for (j, (a, e)) in zip(params.flatValues(), expected).enumerated() {
            XCTAssertEqual(Double(a), e, accuracy: 1e-6, "element \(j)")
        }
    }

    /// The skip test for non-finite gradients, at positions in the vector blocks and in the tail.
    func testAllFiniteFindsInfinitiesAndNaNAnywhere() {
        let base = (0..<19).map { Float($0) - 9 }
        XCTAssertTrue(allFinite(base))
        XCTAssertTrue(allFinite([]))
        XCTAssertTrue(allFinite([Float.greatestFiniteMagnitude, -Float.greatestFiniteMagnitude]))
        for position in [0, 7, 8, 15, 16, 18] {
            for bad in [Float.infinity, -Float.infinity, Float.nan] {
                var x = base
                x[position] = bad
                XCTAssertFalse(allFinite(x), "\(bad) at \(position)")
            }
        }
    }

    func testPaperDefaultsFirstStep() {
        // beta1 0, beta2 0.99: the first step is lr * g / (|g| + eps), so about lr * sign(g),
        // except where |g| is comparable to eps.
        let params = makeParams([1, 1, 1], [1])
        let adam = Adam(params)
        XCTAssertEqual(adam.beta1, 0)
        XCTAssertEqual(adam.beta2, 0.99)
        XCTAssertEqual(adam.epsilon, 1e-8)
        let g: [Float] = [3, -0.5, 1e-8, 0]
        adam.update(params, flatGradient: g, learningRate: 0.001)
        let expected = reference([1, 1, 1, 1], [g], lr: 0.001, b1: 0, b2: 0.99, eps: 1e-8)
        XCTAssertEqual(expected[0], 0.999, accuracy: 1e-9)
        XCTAssertEqual(expected[2], 1 - 0.0005, accuracy: 1e-9)
        for (a, e) in zip(params.flatValues(), expected) { XCTAssertEqual(Double(a), e, accuracy: 1e-7) }
        // The moments: m = g, v = 0.01 g^2.
        XCTAssertEqual(adam.m[0], [3, -0.5, 1e-8])
        XCTAssertEqual(adam.v[1][0], 0, accuracy: 0)
        XCTAssertEqual(adam.v[0][0], 0.09, accuracy: 1e-7)
    }

    func testResetZeroesMomentsAndRestartsBiasCorrection() {
        let params = makeParams([0.5, -1, 2], [0.25])
        let adam = Adam(params, beta1: 0.9, beta2: 0.99)
        adam.update(params, flatGradient: [1, 2, 3, 4], learningRate: 0.01)
        adam.update(params, flatGradient: [-1, 0.5, 3, 1], learningRate: 0.01)
        XCTAssertTrue(adam.m.joined().contains { $0 != 0 })
        adam.reset()
        XCTAssertEqual(adam.step, 0)
        XCTAssertTrue(adam.m.joined().allSatisfy { $0 == 0 })
        XCTAssertTrue(adam.v.joined().allSatisfy { $0 == 0 })
        XCTAssertEqual(adam.m.map(\.count), [3, 1])
        // After a reset, an update is a first update from the current weights.
        let w = params.flatValues()
        let g: [Float] = [0.3, -0.2, 0.1, 2]
        adam.update(params, flatGradient: g, learningRate: 0.01)
        let expected = reference(w, [g], lr: 0.01, b1: 0.9, b2: 0.99, eps: 1e-8)
        for (a, e) in zip(params.flatValues(), expected) { XCTAssertEqual(Double(a), e, accuracy: 1e-6) }
    }

    func testFlatGradientLayoutAndZeroFill() {
        let params = makeParams([1, 2, 3], [4])
        params.parameters[1].grad = Tensor(shape: [1, 1], data: [7])
        XCTAssertEqual(params.flatGradient(), [0, 0, 0, 7])
        params.zeroGradients()
        XCTAssertNil(params.parameters[1].grad)
        params.assign(flatValues: [5, 6, 7, 8])
        XCTAssertEqual(params.flatValues(), [5, 6, 7, 8])
        XCTAssertEqual(params.parameters[1].shape, [1, 1])
    }

    func testFlatGradientOfPresentParametersOnly() {
        let params = makeParams([1, 2, 3], [4])
        XCTAssertEqual(params.gradientPresence, [false, false])
        params.parameters[1].grad = Tensor(shape: [1, 1], data: [7])
        XCTAssertEqual(params.gradientPresence, [false, true])
        XCTAssertEqual(params.flatGradient(present: params.gradientPresence), [7])
        params.parameters[0].grad = Tensor(shape: [3], data: [1, -1, 2])
        XCTAssertEqual(params.flatGradient(present: [true, false]), [1, -1, 2])
        XCTAssertEqual(params.flatGradient(present: [true, true]), params.flatGradient())
    }

    /// Three parameters over six steps: one always has a gradient, one has it only in steps 2-3
    /// (its moments then keep decaying and moving it), one never until step 6. The sparse update,
    /// given only the gradients that exist, must equal the dense one given zeros, bit for bit;
    /// the never-used parameter costs nothing and stays exactly where it was.
    func testSparseUpdateEqualsDenseUpdateBitForBit() throws {
        func make() -> ParameterSet {
            let p = ParameterSet()
            _ = p.add("always", Tensor(shape: [11], data: (0..<11).map { Float($0) * 0.3 - 1 }))
            _ = p.add("sometimes", Tensor(shape: [9], data: (0..<9).map { Float($0) * -0.2 + 0.5 }))
            _ = p.add("later", Tensor(shape: [5], data: [0, -0.0, 1, -2, 3]))
            return p
        }
        let (dense, sparse) = (make(), make())
        let adamDense = Adam(dense, beta1: 0.5, beta2: 0.99), adamSparse = Adam(sparse, beta1: 0.5, beta2: 0.99)
        let sizes = [11, 9, 5]
        for step in 1...6 {
            let present = [true, step == 2 || step == 3, step == 6]
            var full: [Float] = [], packed: [Float] = []
            for (i, n) in sizes.enumerated() {
                let g = (0..<n).map { Float(($0 * 5 + step * 3 + i) % 7) * 0.1 - 0.3 }
                full += present[i] ? g : [Float](repeating: 0, count: n)
                if present[i] { packed += g }
            }
            adamDense.update(dense, flatGradient: full, learningRate: 0.01)
            adamSparse.update(sparse, flatGradient: packed, present: present, learningRate: 0.01)
            XCTAssertEqual(sparse.flatValues().map(\.bitPattern), dense.flatValues().map(\.bitPattern), "step \(step)")
            XCTAssertEqual(Array(adamSparse.m.joined()), Array(adamDense.m.joined()), "step \(step)")
            XCTAssertEqual(Array(adamSparse.v.joined()), Array(adamDense.v.joined()), "step \(step)")
            if step < 6 { XCTAssertEqual(sparse.parameters[2].value.data.map(\.bitPattern), make().parameters[2].value.data.map(\.bitPattern)) }
        }
        // After step 4, "sometimes" had no gradient but still moved (its moments were not zero).
        XCTAssertNotEqual(sparse.parameters[1].value.data, make().parameters[1].value.data)
    }

    /// Moments set from a checkpoint count as nonzero: a parameter without a gradient then still
    /// moves, as the dense update would move it.
    func testMomentsFromACheckpointKeepMovingAParameterWithoutGradient() throws {
        let params = makeParams([1, 2, 3], [4])
        let adam = Adam(params, beta1: 0.5, beta2: 0.99)
        try adam.setMoments(0, m: [0.1, 0, -0.2], v: [0.01, 0, 0.04])
        adam.update(params, flatGradient: [1], present: [false, true], learningRate: 0.01)
        XCTAssertNotEqual(params.parameters[0].value.data[0], 1)
        XCTAssertEqual(params.parameters[0].value.data[1], 2, "zero moments, zero gradient: no move")
        XCTAssertThrowsError(try adam.setMoments(1, m: [1, 2], v: [1, 2]))
    }

    func testMovingAverage() {
        let ema = makeParams([1, 1, 1], [1])
        let target = makeParams([3, -1, 1], [5])
        ema.moveAverage(towards: target, beta: 0.999)
        for (a, e) in zip(ema.flatValues(), [3 + 0.999 * -2, -1 + 0.999 * 2, 1, 5 + 0.999 * -4] as [Double]) {
            XCTAssertEqual(Double(a), e, accuracy: 1e-6)
        }
        // A parameter equal to its source stays; one differing in its last element moves there only.
        let same = makeParams([0.5, -2, 7], [1])
        let source = makeParams([0.5, -2, 7], [2])
        same.moveAverage(towards: source, beta: 0.5)
        XCTAssertEqual(same.flatValues(), [0.5, -2, 7, 1.5])
        let lastDiffers = makeParams([0.5, -2, 8], [2])
        lastDiffers.moveAverage(towards: source, beta: 0.5)
        XCTAssertEqual(lastDiffers.flatValues(), [0.5, -2, 7.5, 2])
    }
}

/// Adam and the EMA split across threads (`Parallel`) give the same bits for 1 and 2 threads,
/// on parameters larger than the split grain and of lengths that are not whole lanes.
final class AdamParallelTests: XCTestCase {
    override func tearDown() { Parallel.threads = 1 }

    func run(threads: Int) -> [[Float]] {
        Parallel.threads = threads
        defer { Parallel.threads = 1 }
        let sizes = [100_003, 40_000, 7]
        let params = ParameterSet(), ema = ParameterSet()
        for (i, n) in sizes.enumerated() {
            _ = params.add("p\(i)", TestTensors.normal([n], seed: UInt64(90 + i)))
            _ = ema.add("p\(i)", TestTensors.normal([n], seed: UInt64(95 + i)))
        }
        let adam = Adam(params, beta1: 0.9, beta2: 0.99, epsilon: 1e-8)
        for step in 0..<3 {
            let flat = TestTensors.normal([sizes.reduce(0, +)], seed: UInt64(100 + step)).data
            adam.update(params, flatGradient: flat, learningRate: 0.01)
            ema.moveAverage(towards: params, beta: 0.999)
        }
        return params.parameters.map { $0.value.data } + ema.parameters.map { $0.value.data }
    }

    func testUpdatesAreDeterministic() {
        let serial = run(threads: 1), parallel = run(threads: 2)
        for (i, (s, p)) in zip(serial, parallel).enumerated() {
            XCTAssertTrue(s == p, "parameter \(i) differs with 2 threads")
        }
    }
}
