import XCTest
import Autograd

/// The choice of D data groups x S spatial ranks and each rank's rows at each level.
final class SpatialLayoutTests: XCTestCase {
    private func choice(_ ranks: Int, _ minibatch: Int, _ resolution: Int) -> [Int] {
        let l = SpatialLayout(ranks: ranks, minibatch: minibatch, resolution: resolution)
        return [l.dataGroups, l.spatialRanks]
    }

    func testChoices() {
        // 3 images on 8 ranks: one group of 8 slabs, 3/8 of an image a rank (3 x 2 would leave
        // 2 ranks idle and give each 1/2).
        XCTAssertEqual(choice(8, 3, 1024), [1, 8])
        XCTAssertEqual(choice(6, 3, 1024), [3, 2])
        XCTAssertEqual(choice(2, 1, 256), [1, 2])
        // 14 on 8: 2 groups of 7 images x 4 slabs (7/4 a rank, the ideal); 8 x 1 would load
        // the busiest rank with 2.
        XCTAssertEqual(choice(8, 14, 256), [2, 4])
        // Enough images: plain data parallelism (a tie in load goes to the smaller S).
        XCTAssertEqual(choice(8, 16, 64), [8, 1])
        XCTAssertEqual(choice(6, 16, 64), [6, 1])
        XCTAssertEqual(choice(1, 3, 1024), [1, 1])
        // 24 ranks, 3 images: the "3 images x 8 slabs".
        XCTAssertEqual(choice(24, 3, 1024), [3, 8])
        // Slabs of at least 2 rows: at 8x8 at most 4 slabs; 8 ranks, 1 image -> 1 x 4, 4 idle.
        XCTAssertEqual(choice(8, 1, 8), [1, 4])
        // The 4x4 level is never split (the networks' dense head): data parallelism only.
        XCTAssertEqual(choice(8, 1, 4), [1, 1])
        XCTAssertEqual(choice(8, 3, 4), [3, 1])
        // S is a power of two: 6 ranks, one image -> 4 slabs, 2 idle.
        let six = SpatialLayout(ranks: 6, minibatch: 1, resolution: 256)
        XCTAssertEqual([six.dataGroups, six.spatialRanks, six.idleRanks], [1, 4, 2])
        XCTAssertEqual(six.dataGroup(of: 5), nil)
        XCTAssertEqual(six.rows(at: 256, of: 5), 0..<0)
        XCTAssertEqual(six.samples(of: 4), 0..<0)
    }

    /// With level costs, a rank's load counts the levels it computes whole: the paper's widths
    /// (multiply-adds ~ r^2 nf(r)^2) keep 8 slabs at 1024 with 3 images, while levels of equal
    /// cost below a small top level make more slabs pointless.
    func testLevelCostsCountTheWholeLevels() {
        func paperWidth(_ r: Int) -> Double { Double(min(8192 >> (r.trailingZeroBitCount - 1), 512)) }
        let paper = { (r: Int) in Double(r * r) * paperWidth(r) * paperWidth(r) }
        let l = SpatialLayout(ranks: 8, minibatch: 3, resolution: 1024, levelCost: paper)
        XCTAssertEqual([l.dataGroups, l.spatialRanks], [1, 8])
        XCTAssertEqual(SpatialLayout(ranks: 8, minibatch: 14, resolution: 256, levelCost: paper).spatialRanks, 4)
        // Every level as costly as the top one: at 16x16, 8 slabs (2 rows) leave 8x8 and 4x4
        // whole on every rank: 3 images x (1/8 + 1 + 1) = 6.4 against 3 x 2 with 1 image x
        // (1/2 + 1/2 + 1) = 2.
        let flat = SpatialLayout(ranks: 8, minibatch: 3, resolution: 16, levelCost: { _ in 1 })
        XCTAssertEqual([flat.dataGroups, flat.spatialRanks, flat.idleRanks], [3, 2, 2])
        // No cost given: all the work at the top level, as `testChoices`.
        XCTAssertEqual(SpatialLayout(ranks: 8, minibatch: 3, resolution: 16).spatialRanks, 8)
    }

    /// 8 ranks, 3 images at 1024 (1 x 8): slabs of 128 rows at 1024, ... 2 rows at 16, then
    /// the 8x8 and 4x4 maps replicated; at every split level the slabs tile the rows in order
    /// with edges on even rows.
    func testRowsAtEachLevel() {
        let l = SpatialLayout(ranks: 8, minibatch: 3, resolution: 1024)
        for rank in 0..<8 {
            XCTAssertEqual(l.dataGroup(of: rank), 0)
            XCTAssertEqual(l.spatialIndex(of: rank), rank)
            XCTAssertEqual(l.samples(of: rank), 0..<3)
            XCTAssertEqual(l.rows(at: 1024, of: rank), rank * 128 ..< rank * 128 + 128)
            XCTAssertEqual(l.rows(at: 16, of: rank), 2 * rank ..< 2 * rank + 2)
            XCTAssertEqual(l.rows(at: 8, of: rank), 0..<8)
            XCTAssertEqual(l.rows(at: 4, of: rank), 0..<4)
        }
        var r = 1024
        while r >= 4 {
            XCTAssertEqual(l.isSplit(at: r), r >= 16, "\(r)")
            let ranges = (0..<8).map { l.rows(at: r, of: $0) }
            if l.isSplit(at: r) {
                XCTAssertEqual(ranges.first?.lowerBound, 0)
                XCTAssertEqual(ranges.last?.upperBound, r)
                for (a, b) in zip(ranges, ranges.dropFirst()) { XCTAssertEqual(a.upperBound, b.lowerBound) }
                for range in ranges {
                    XCTAssertEqual(range.lowerBound % 2, 0)
                    XCTAssertGreaterThanOrEqual(range.count, SpatialLayout.minimumSlabRows)
                    // Pooling to the next level down keeps the slab's rows: half of them.
                    if l.isSplit(at: r / 2) {
                        XCTAssertEqual(l.rows(at: r / 2, of: ranges.firstIndex(of: range)!),
                                       range.lowerBound / 2 ..< range.upperBound / 2)
                    }
                }
            }
            r /= 2
        }
        XCTAssertEqual(l.neighbours(at: 64, of: 0).above, nil)
        XCTAssertEqual(l.neighbours(at: 64, of: 0).below, 1)
        XCTAssertEqual(l.neighbours(at: 64, of: 7).below, nil)
        XCTAssertEqual(l.neighbours(at: 8, of: 3).above, nil)
    }

    /// 6 ranks, 3 images (3 x 2): consecutive ranks share an image; one image a group.
    func testGroupsOfConsecutiveRanks() {
        let l = SpatialLayout(ranks: 6, minibatch: 3, resolution: 256)
        XCTAssertEqual((0..<6).map { l.dataGroup(of: $0) }, [0, 0, 1, 1, 2, 2])
        XCTAssertEqual((0..<6).map { l.spatialIndex(of: $0) }, [0, 1, 0, 1, 0, 1])
        XCTAssertEqual((0..<6).map { l.samples(of: $0) }, [0..<1, 0..<1, 1..<2, 1..<2, 2..<3, 2..<3])
        XCTAssertEqual(l.rows(at: 256, of: 3), 128..<256)
        XCTAssertEqual(l.rows(at: 8, of: 3), 4..<8)
        XCTAssertEqual(l.rows(at: 4, of: 3), 0..<4)   // never split
        XCTAssertEqual(l.rows(at: 2, of: 3), 0..<2)
        XCTAssertEqual(l.description, "256x256: 3 images in 3 group(s) of 1 x 2 slab(s) on 6 ranks")
        XCTAssertEqual(SpatialLayout(ranks: 24, minibatch: 3, resolution: 1024).description,
                       "1024x1024: 3 images in 3 group(s) of 1 x 8 slab(s) on 24 ranks")
        XCTAssertEqual(SpatialLayout(ranks: 6, minibatch: 3, resolution: 256, dataGroups: 2, spatialRanks: 2).description,
                       "256x256: 3 images in 2 group(s) of 1-2 x 2 slab(s) on 6 ranks (2 idle)")
    }
}
