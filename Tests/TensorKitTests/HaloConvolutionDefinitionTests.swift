import XCTest
import TensorKit
import TestSupport

/// The slab convolution kernels (`conv2d(_:_:top:bottom:)`, `conv2dWeightGradient(_:_:kernel:
/// top:bottom:)`) against the definition on the stack [top; x; bottom]: im2col and Winograd,
/// halo rows on both sides, on one side (a slab at the image's top or bottom edge: nil = zero
/// rows) and on none, each output within its float32 rounding bound (`RoundingBound`).
///
/// The reference is `ConvolutionReference` on the stack, the rows of x kept: the same-padded
/// convolution of the stack reads nothing beyond it for those rows. For the weight gradient,
/// g is placed on x's rows of the stack with zero rows on the halos (which contribute nothing).
/// Winograd's expansion: the kernel's tiles start at x's first row, so they are the tiles of
/// the stack with one more zero row on either side ([0; top; x; bottom; 0]) from its second tile
/// row on; `winogradMagnitude` of that image gives each output's |terms|.
final class HaloConvolutionDefinitionTests: XCTestCase {
    override func tearDown() {
        Parallel.threads = 1
        BLAS.threads = 1
        Tensor.im2colBudget = 4 << 20
        Tensor.winogradMinChannels = 32
        Tensor.winogradMinPixels = 64
        Tensor.fusedWinogradMaxChannels = 256
        Tensor.fusedWeightGradientMaxChannels = 32
        Tensor.fusedWinograd4MaxChannels = 128
        Tensor.fusedWeightGradient4MaxChannels = 128
    }

    /// (N, C, O, H, W, k)
    let shapes: [(n: Int, c: Int, o: Int, h: Int, w: Int, k: Int)] = [
        (2, 3, 4, 4, 5, 3), (1, 2, 3, 1, 4, 3), (2, 3, 2, 3, 3, 3), (2, 2, 3, 4, 6, 5), (1, 4, 2, 2, 2, 5),
    ]

    /// Halo cases: (top given, bottom given).
    let sides = [(true, true), (false, true), (true, false), (false, false)]

    private func inputs(_ s: (n: Int, c: Int, o: Int, h: Int, w: Int, k: Int), seed: UInt64)
        -> (x: Tensor, w: Tensor, g: Tensor, top: Tensor, bottom: Tensor) {
        let p = s.k / 2
        return (TestTensors.normal([s.n, s.c, s.h, s.w], seed: seed), TestTensors.normal([s.o, s.c, s.k, s.k], seed: seed + 1),
                TestTensors.normal([s.n, s.o, s.h, s.w], seed: seed + 2), TestTensors.normal([s.n, s.c, p, s.w], seed: seed + 3),
                TestTensors.normal([s.n, s.c, p, s.w], seed: seed + 4))
    }

    /// [top; x; bottom] with zeros for a missing halo, and `extra` more zero rows on either side.
    private func stack(_ x: Tensor, _ top: Tensor?, _ bottom: Tensor?, p: Int, extra: Int = 0) -> Tensor {
        let (n, c, w) = (x.shape[0], x.shape[1], x.shape[3])
        let pad = Tensor.zeros([n, c, extra, w])
        return Tensor.concat([pad, top ?? Tensor.zeros([n, c, p, w]), x, bottom ?? Tensor.zeros([n, c, p, w]), pad], axis: 2)
    }

    /// Rows `start..<start + h` of every (sample, channel) plane of a reference [N, O, rows, W].
    private func rows(_ r: BoundedReference, planes: Int, rows total: Int, width: Int, start: Int, count h: Int) -> BoundedReference {
        var out = BoundedReference(count: planes * h * width)
        for plane in 0..<planes {
            for y in 0..<h {
                for x in 0..<width {
                    let (i, j) = ((plane * h + y) * width + x, (plane * total + start + y) * width + x)
                    out.value[i] = r.value[j]
                    out.magnitude[i] = r.magnitude[j]
                }
            }
        }
        return out
    }

    private func forwardReference(_ x: Tensor, _ w: Tensor, _ top: Tensor?, _ bottom: Tensor?) -> BoundedReference {
        let (n, h, wd, o, p) = (x.shape[0], x.shape[2], x.shape[3], w.shape[0], w.shape[2] / 2)
        return rows(ConvolutionReference.conv2d(stack(x, top, bottom, p: p), w), planes: n * o, rows: h + 2 * p,
                    width: wd, start: p, count: h)
    }

    private func weightReference(_ x: Tensor, _ g: Tensor, _ top: Tensor?, _ bottom: Tensor?, k: Int) -> BoundedReference {
        let (h, p) = (x.shape[2], k / 2)
        return ConvolutionReference.conv2dWeightGradient(stack(x, top, bottom, p: p), g.embedded(axis: 2, start: p, total: h + 2 * p),
                                                         kernel: k)
    }

    private func assertIm2colMatches(_ s: (n: Int, c: Int, o: Int, h: Int, w: Int, k: Int), seed: UInt64, _ label: String) {
        let t = inputs(s, seed: seed)
        for (hasTop, hasBottom) in sides {
            let (top, bottom) = (hasTop ? t.top : nil, hasBottom ? t.bottom : nil)
            let what = "\(label) \(s), top \(hasTop), bottom \(hasBottom)"
            assertWithinRoundingBound(Tensor.conv2d(t.x, t.w, top: top, bottom: bottom).data, forwardReference(t.x, t.w, top, bottom),
                                      roundings: s.c * s.k * s.k, what)
            assertWithinRoundingBound(Tensor.conv2dWeightGradient(t.x, t.g, kernel: s.k, top: top, bottom: bottom).data,
                                      weightReference(t.x, t.g, top, bottom, k: s.k), roundings: s.n * s.h * s.w,
                                      referenceRoundings: s.n * (s.h + 2 * (s.k / 2)) * s.w, what)
        }
    }

    func testIm2colMatchesTheDefinition() {
        Tensor.winogradMinChannels = Int.max
        for (index, s) in shapes.enumerated() { assertIm2colMatches(s, seed: UInt64(10 * index + 1), "im2col") }
    }

    /// Scratch budgets of one image row, and of 3 rows of 4-row images: chunks straddle samples,
    /// and each row must still take the halo rows of its own sample.
    func testIm2colChunksReadTheirOwnSamplesHalos() {
        Tensor.winogradMinChannels = Int.max
        let s = (n: 3, c: 2, o: 3, h: 4, w: 5, k: 3)
        for budget in [1, 3 * 18 * 5] {
            Tensor.im2colBudget = budget
            assertIm2colMatches(s, seed: 90, "budget \(budget)")
        }
    }

    func testWinogradMatchesTheDefinition() {
        Tensor.winogradMinChannels = 1
        Tensor.winogradMinPixels = 1
        let cases: [(n: Int, c: Int, o: Int, h: Int, w: Int)] = [(2, 3, 4, 4, 4), (3, 2, 3, 2, 2), (2, 4, 3, 6, 8), (1, 5, 2, 2, 6)]
        for budget in [4 << 20, 1] {
            for (index, s) in cases.enumerated() { assertWinogradMatches(s, seed: UInt64(100 + 10 * index), budget: budget) }
        }
    }

    private func assertWinogradMatches(_ s: (n: Int, c: Int, o: Int, h: Int, w: Int), seed: UInt64, budget: Int) {
        Tensor.im2colBudget = budget
        let t = inputs((s.n, s.c, s.o, s.h, s.w, 3), seed: seed)
        for (hasTop, hasBottom) in sides {
            let (top, bottom) = (hasTop ? t.top : nil, hasBottom ? t.bottom : nil)
            let what = "Winograd \(s), budget \(budget), top \(hasTop), bottom \(hasBottom)"
            let widened = stack(t.x, top, bottom, p: 1, extra: 1)
            var forward = forwardReference(t.x, t.w, top, bottom)
            let expanded = ConvolutionReference.winogradMagnitude(widened, t.w)
            forward.magnitude = rows(BoundedReference(value: expanded, magnitude: expanded), planes: s.n * s.o, rows: s.h + 4,
                                     width: s.w, start: 2, count: s.h).magnitude
            let y = Tensor.conv2d(t.x, t.w, top: top, bottom: bottom)
            assertWithinRoundingBound(y.data, forward, roundings: ConvolutionReference.winogradRoundings(channels: s.c),
                                      referenceRoundings: 9 * s.c, what)
            var gradient = weightReference(t.x, t.g, top, bottom, k: 3)
            gradient.magnitude = ConvolutionReference.winogradWeightGradientMagnitude(
                widened, t.g.embedded(axis: 2, start: 2, total: s.h + 4))
            let tiles = s.n * s.h * s.w / 4
            assertWithinRoundingBound(Tensor.conv2dWeightGradient(t.x, t.g, kernel: 3, top: top, bottom: bottom).data,
                                      gradient, roundings: ConvolutionReference.winogradWeightGradientRoundings(tiles: tiles),
                                      referenceRoundings: s.n * (s.h + 2) * s.w, what)
            // Both algorithms ran: they round differently.
            let (minimum, fusedMaximum) = (Tensor.winogradMinChannels, Tensor.fusedWinogradMaxChannels)
            let fusedWeightMaximum = Tensor.fusedWeightGradientMaxChannels
            (Tensor.winogradMinChannels, Tensor.fusedWinogradMaxChannels, Tensor.fusedWeightGradientMaxChannels) = (Int.max, 0, 0)
            XCTAssertNotEqual(Tensor.conv2d(t.x, t.w, top: top, bottom: bottom).data, y.data, "\(what): im2col ran instead")
            (Tensor.winogradMinChannels, Tensor.fusedWinogradMaxChannels, Tensor.fusedWeightGradientMaxChannels)
                = (minimum, fusedMaximum, fusedWeightMaximum)
        }
    }

    /// The fused Winograd kernel (few channels, maps at least 16 wide) with halos on either side:
    /// 16-wide maps (one half-empty block of tiles), 40 wide (a full block and a partial one,
    /// odd channel counts) and 34 wide (a last block of one tile, a scalar tail in the row split).
    func testFusedWinogradMatchesTheDefinition() throws {
        try XCTSkipUnless(CPUFeatures.current.avx2FMA, "the fused kernel needs AVX2 and FMA")
        Tensor.winogradMinChannels = Int.max
        let cases: [(n: Int, c: Int, o: Int, h: Int, w: Int)] = [(1, 16, 8, 4, 16), (2, 5, 12, 6, 40), (1, 3, 4, 2, 34), (1, 8, 8, 2, 146)]
        for (index, s) in cases.enumerated() { assertWinogradMatches(s, seed: UInt64(500 + 10 * index), budget: 4 << 20) }
    }

    /// The fused F(4x4, 3x3) kernels with halos on either side. Their tiles start at x's first
    /// row and read one row above and below, so they are the tiles of the stack with 3 more zero
    /// rows either side ([0 0 0; top; x; bottom; 0 0 0]) from its second tile row on (the
    /// gradient's tiles there are zero). The weight gradient takes F(4x4) where C is a multiple
    /// of 8.
    func testFusedWinograd4MatchesTheDefinition() throws {
        try XCTSkipUnless(CPUFeatures.current.avx2FMA, "the fused kernel needs AVX2 and FMA")
        let cases: [(n: Int, c: Int, o: Int, h: Int, w: Int)] = [(2, 5, 8, 4, 36), (1, 16, 4, 8, 32), (2, 8, 8, 4, 36)]
        for (index, s) in cases.enumerated() {
            let t = inputs((s.n, s.c, s.o, s.h, s.w, 3), seed: UInt64(800 + 10 * index))
            for (hasTop, hasBottom) in sides {
                let (top, bottom) = (hasTop ? t.top : nil, hasBottom ? t.bottom : nil)
                let what = "F(4x4) \(s), top \(hasTop), bottom \(hasBottom)"
                let widened = stack(t.x, top, bottom, p: 1, extra: 3)
                var forward = forwardReference(t.x, t.w, top, bottom)
                let expanded = ConvolutionReference.winogradMagnitude(widened, t.w, outputTile: 4)
                forward.magnitude = rows(BoundedReference(value: expanded, magnitude: expanded), planes: s.n * s.o, rows: s.h + 8,
                                         width: s.w, start: 4, count: s.h).magnitude
                assertWithinRoundingBound(Tensor.conv2d(t.x, t.w, top: top, bottom: bottom).data, forward,
                                          roundings: ConvolutionReference.winograd4Roundings(channels: s.c),
                                          referenceRoundings: 9 * s.c, what)
                guard s.c % 8 == 0 else { continue }
                var gradient = weightReference(t.x, t.g, top, bottom, k: 3)
                gradient.magnitude = ConvolutionReference.winogradWeightGradientMagnitude(
                    widened, t.g.embedded(axis: 2, start: 4, total: s.h + 8), outputTile: 4)
                let dw = Tensor.conv2dWeightGradient(t.x, t.g, kernel: 3, top: top, bottom: bottom)
                assertWithinRoundingBound(dw.data, gradient,
                                          roundings: ConvolutionReference.winograd4WeightGradientRoundings(tiles: s.n * s.h * s.w / 16),
                                          referenceRoundings: s.n * (s.h + 2) * s.w, "\(what), weight gradient")
                Tensor.fusedWeightGradient4MaxChannels = 0
                XCTAssertNotEqual(Tensor.conv2dWeightGradient(t.x, t.g, kernel: 3, top: top, bottom: bottom).data, dw.data,
                                  "\(what): the F(4x4) weight gradient did not run")
                Tensor.fusedWeightGradient4MaxChannels = 128
            }
        }
    }

    /// With 2 threads (`Parallel`'s over channels, OpenBLAS's), both paths within their bounds.
    func testWithThreads() {
        Parallel.threads = 2
        BLAS.threads = 2
        Tensor.winogradMinChannels = Int.max
        assertIm2colMatches((2, 6, 5, 4, 6, 3), seed: 400, "2 threads")
        Tensor.winogradMinChannels = 1
        Tensor.winogradMinPixels = 1
        assertWinogradMatches((2, 6, 5, 4, 6), seed: 410, budget: 4 << 20)
    }

    /// Without halos the kernels are the same-padded ones, bit for bit (the same code path).
    func testNoHalosIsTheSamePaddedConvolution() {
        for minChannels in [1, Int.max] {
            Tensor.winogradMinChannels = minChannels
            Tensor.winogradMinPixels = 1
            let x = TestTensors.normal([2, 3, 4, 6], seed: 7), w = TestTensors.normal([2, 3, 3, 3], seed: 8)
            let g = TestTensors.normal([2, 2, 4, 6], seed: 9)
            XCTAssertEqual(Tensor.conv2d(x, w, top: nil, bottom: nil), Tensor.conv2d(x, w))
            XCTAssertEqual(Tensor.conv2dWeightGradient(x, g, kernel: 3, top: nil, bottom: nil), Tensor.conv2dWeightGradient(x, g, kernel: 3))
        }
    }

    /// The bounds see a halo that is not read: the top and bottom rows swapped fail them.
    func testSwappedHalosFailTheBound() {
        for minChannels in [1, Int.max] {
            Tensor.winogradMinChannels = minChannels
            Tensor.winogradMinPixels = 1
            let t = inputs((2, 3, 4, 4, 4, 3), seed: 300)
            let reference = forwardReference(t.x, t.w, t.top, t.bottom)
            var loose = reference
            let widened = stack(t.x, t.top, t.bottom, p: 1, extra: 1)
            loose.magnitude = rows(BoundedReference(value: ConvolutionReference.winogradMagnitude(widened, t.w),
                                                    magnitude: ConvolutionReference.winogradMagnitude(widened, t.w)),
                                   planes: 8, rows: 8, width: 4, start: 2, count: 4).magnitude
            XCTAssertNotNil(roundingBoundViolation(Tensor.conv2d(t.x, t.w, top: t.bottom, bottom: t.top).data, loose,
                                                   roundings: ConvolutionReference.winogradRoundings(channels: 3)),
                            "swapped halos pass, minimum channels \(minChannels)")
        }
    }
}
