import XCTest
@testable import Metrics
import TensorKit

final class SlicedWassersteinTests: XCTestCase {
    static let n = 24, c = 3, s = 64
    /// The reference images, shared by the tests (deterministic).
    static let real = Synthetic.images(count: n, channels: c, size: s, seed: 11)

    func set(_ pixels: [Float], seed: UInt64 = 7) throws -> SWDDescriptorSet {
        var set = try SWDDescriptorSet(resolution: Self.s, channels: Self.c, seed: seed)
        try set.append(images: Synthetic.batch(pixels, count: Self.n, channels: Self.c, size: Self.s))
        return set
    }

    func swd(_ fake: [Float], seed: UInt64 = 1) throws -> SlicedWassersteinResult {
        try slicedWassersteinDistance(real: set(Self.real), fake: set(fake), seed: seed)
    }

    func testSetAgainstItselfIsZero() throws {
        let r = try swd(Self.real)
        XCTAssertEqual(r.resolutions, [64, 32, 16])
        for v in r.perLevel { XCTAssertEqual(v, 0, accuracy: 1e-9) }
        // With independent patch draws the distance is not zero: it is the sampling noise of only
        // 24 * 128 descriptors per level (measured ~20-35, about a sigma-1 blur; the paper's 16,384
        // images make it far smaller). It must still sit well below a strong blur at the finest level.
        let other = try slicedWassersteinDistance(real: set(Self.real), fake: set(Self.real, seed: 8), seed: 1)
        XCTAssertGreaterThan(other.average, 0)
        let blurred = try swd(Synthetic.blur(Self.real, planes: Self.n * Self.c, size: Self.s, sigma: 2))
        XCTAssertLessThan(other.perLevel[0], blurred.perLevel[0] / 3, "\(other.perLevel) vs \(blurred.perLevel)")
    }

    func testDistanceGrowsWithBlur() throws {
        let results = try [0.5, 1.0, 2.0].map {
            try swd(Synthetic.blur(Self.real, planes: Self.n * Self.c, size: Self.s, sigma: $0))
        }
        for k in 1..<results.count {
            XCTAssertGreaterThan(results[k].average, results[k - 1].average, "sigma step \(k)")
            XCTAssertGreaterThan(results[k].perLevel[0], results[k - 1].perLevel[0], "finest level, step \(k)")
        }
        // Blur removes fine detail: the finest level moves much more than the coarsest.
        let r = results[1]
        XCTAssertGreaterThan(r.perLevel[0], 3 * r.perLevel[r.perLevel.count - 1], "\(r.perLevel)")
    }

    func testDistanceGrowsWithNoise() throws {
        let results = try [Float(0.05), 0.1, 0.2].map { try swd(Synthetic.noisy(Self.real, sigma: $0, seed: 3)) }
        for k in 1..<results.count {
            XCTAssertGreaterThan(results[k].average, results[k - 1].average, "noise step \(k)")
        }
    }

    func testBrightnessShiftMovesCoarsestLevelOnly() throws {
        let shifted = Synthetic.brightnessShifted(Self.real, imageLength: Self.c * Self.s * Self.s, delta: 0.3)
        let r = try swd(shifted)
        let coarsest = r.perLevel[r.perLevel.count - 1]
        // Laplacian bands of a constant are zero, so the finer levels see (almost) nothing.
        XCTAssertGreaterThan(coarsest, 10 * r.perLevel[0], "\(r.perLevel)")
        XCTAssertGreaterThan(coarsest, 10 * r.perLevel[1], "\(r.perLevel)")
        XCTAssertLessThan(r.perLevel[0], 1e-2)
    }

    func testSameSeedSameNumbers() throws {
        let fake = Synthetic.noisy(Self.real, sigma: 0.1, seed: 4)
        XCTAssertEqual(try swd(fake, seed: 5), try swd(fake, seed: 5))
        XCTAssertNotEqual(try swd(fake, seed: 5).perLevel, try swd(fake, seed: 6).perLevel)
    }

    func testBatchSplittingAndMergingDoNotChangeResult() throws {
        let n = Self.n, len = Self.c * Self.s * Self.s
        let whole = try set(Self.real)
        func slice(_ a: Int, _ b: Int) throws -> ImageBatch {
            try Synthetic.batch(Array(Self.real[(a * len)..<(b * len)]), count: b - a, channels: Self.c, size: Self.s)
        }
        // Streaming batches with implicit indices.
        var streamed = try SWDDescriptorSet(resolution: Self.s, channels: Self.c, seed: 7)
        for (a, b) in [(0, 5), (5, 16), (16, n)] { try streamed.append(images: slice(a, b)) }
        XCTAssertEqual(streamed.levels, whole.levels)
        XCTAssertEqual(streamed.imageIndices, Array(0..<n))
        // Two "ranks" with explicit global indices, rebuilt from raw arrays and merged out of order.
        var rank0 = try SWDDescriptorSet(resolution: Self.s, channels: Self.c, seed: 7)
        var rank1 = rank0
        try rank0.append(images: slice(0, 9), firstIndex: 0)
        try rank1.append(images: slice(9, n), firstIndex: 9)
        let gathered1 = try SWDDescriptorSet(resolution: Self.s, channels: Self.c, seed: 7,
                                             imageIndices: rank1.imageIndices, levels: rank1.levels)
        let merged = try SWDDescriptorSet(merging: [gathered1, rank0])
        XCTAssertEqual(merged.levels, whole.levels)
        XCTAssertEqual(merged.imageIndices, Array(0..<n))
        let fake = try set(Synthetic.noisy(Self.real, sigma: 0.1, seed: 4))
        XCTAssertEqual(try slicedWassersteinDistance(real: merged, fake: fake, seed: 2),
                       try slicedWassersteinDistance(real: whole, fake: fake, seed: 2))
    }

    func testPatchesDependOnGlobalImageIndexNotPosition() throws {
        let len = Self.c * Self.s * Self.s
        let whole = try set(Self.real)
        var single = try SWDDescriptorSet(resolution: Self.s, channels: Self.c, seed: 7)
        try single.append(images: Synthetic.batch(Array(Self.real[(5 * len)..<(6 * len)]), count: 1,
                                                  channels: Self.c, size: Self.s), firstIndex: 5)
        let chunk = SWDDescriptorSet.patchesPerImage * whole.descriptorLength
        for l in 0..<whole.levels.count {
            XCTAssertEqual(single.levels[l], Array(whole.levels[l][(5 * chunk)..<(6 * chunk)]))
        }
        // Descriptors are the pyramid's 7x7 patches: every value lies within the level's range.
        XCTAssertEqual(whole.levels[0].count, Self.n * 128 * 49 * Self.c)
    }

    func testNormalizationGivesZeroMeanUnitStdPerChannel() throws {
        let whole = try set(Self.real)
        let x = SlicedWasserstein.normalized(whole.levels[1], channels: Self.c)
        for ch in 0..<Self.c {
            var values: [Double] = []
            for i in 0..<(x.count / 147) { for t in 0..<49 { values.append(Double(x[i * 147 + ch * 49 + t])) } }
            let mean = values.reduce(0, +) / Double(values.count)
            let std = (values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(values.count)).squareRoot()
            XCTAssertEqual(mean, 0, accuracy: 1e-5)
            XCTAssertEqual(std, 1, accuracy: 1e-4)
        }
    }

    func testDirectionsAreUnitNorm() {
        let d = RandomDraws.directions(.init(seed: 3), level: 1, repeat: 2, count: 128, dimension: 147)
        for k in 0..<128 {
            let norm = d[(k * 147)..<((k + 1) * 147)].map { Double($0) * Double($0) }.reduce(0, +).squareRoot()
            XCTAssertEqual(norm, 1, accuracy: 1e-5)
        }
    }

    func testRejectsMismatchedOrInvalidSets() throws {
        let real = try set(Self.real)
        var small = try SWDDescriptorSet(resolution: Self.s, channels: Self.c, seed: 7)
        try small.append(images: Synthetic.batch(Array(Self.real[0..<(Self.c * Self.s * Self.s)]), count: 1,
                                                 channels: Self.c, size: Self.s))
        XCTAssertThrowsError(try slicedWassersteinDistance(real: real, fake: small, seed: 1)) {
            XCTAssertTrue("\($0)".contains("equal size"), "\($0)")
        }
        let empty = try SWDDescriptorSet(resolution: Self.s, channels: Self.c, seed: 7)
        XCTAssertThrowsError(try slicedWassersteinDistance(real: empty, fake: empty, seed: 1))
        let gray = try SWDDescriptorSet(resolution: Self.s, channels: 1, seed: 7)
        XCTAssertThrowsError(try slicedWassersteinDistance(real: real, fake: gray, seed: 1))
        XCTAssertThrowsError(try SWDDescriptorSet(resolution: 8, channels: 3, seed: 7))
        // Appending an index twice, or raw arrays of the wrong length, are errors.
        XCTAssertThrowsError(try small.append(images: Synthetic.batch(Array(Self.real[0..<(Self.c * Self.s * Self.s)]),
                                                                      count: 1, channels: Self.c, size: Self.s),
                                              firstIndex: 0))
        XCTAssertThrowsError(try SWDDescriptorSet(resolution: Self.s, channels: Self.c, seed: 7,
                                                  imageIndices: [0], levels: [[], [], []]))
        XCTAssertThrowsError(try SWDDescriptorSet(merging: [real, real]))
    }

    func testRadixSortMatchesSort() {
        let rng = CounterRNG(seed: 12)
        var values = (0..<5000).map { rng.normal(stream: 1, index: UInt64($0)) * 100 }
        values += [0, -0.0, 1e-40, -1e-40, .greatestFiniteMagnitude, -.greatestFiniteMagnitude, 3, 3, -3]
        var sorter = RadixSorter(capacity: values.count)
        for m in [0, 1, 2, 17, values.count] {
            var x = Array(values.suffix(m))
            x.withUnsafeMutableBufferPointer { sorter.sort($0.baseAddress!, count: m) }
            XCTAssertEqual(x, values.suffix(m).sorted(), "count \(m)")
        }
    }
}
