import XCTest
import TensorKit
import Autograd
import TestSupport

/// The halo exchange of horizontal slabs, simulated on several ranks in one process
/// (`replayRanks`): values, gradients and second-order gradients are those of the whole image
/// zero-padded by one row, cut into overlapping slabs.
final class HaloExchangeTests: XCTestCase {
    /// Rows per rank: uneven, a one-row slab between neighbours, one rank alone.
    let splits = [[3, 1, 3], [2, 2, 2, 1], [7], [4, 3]]

    func testEachSlabGetsItsNeighboursRowsAndZerosAtTheEdges() throws {
        let image = TestTensors.normal([2, 3, 7, 4], seed: 5)
        let padded = image.embedded(axis: 2, start: 1, total: 9)
        for rows in splits {
            let got = try replayRanks(rows.count) { comm in
                try Var(slab(image, rows, comm.rank)).haloExchange(comm, above: above(comm), below: below(comm)).value
            }
            for r in rows.indices {
                XCTAssertEqual(got[r], padded.narrowed(axis: 2, start: first(rows, r), length: rows[r] + 2), "rows \(rows), rank \(r)")
            }
        }
    }

    /// Rank r's loss is `L_r = sum(w_r * y_r^3)` on its slab with halos y_r; the ranks' total
    /// equals one process's `sum_r sum(w_r * P[rows of r, one more each side]^3)` for the padded
    /// image P. Each rank's gradient (its own rows' terms plus those its neighbours' losses send
    /// back) must be its rows of the one-process gradient; then `M = sum_r sum(u_r * grad_r)`
    /// differentiated again (the exchange's backward differentiated: exchanges once more), with
    /// respect to the slabs and to the weights.
    func testGradientsToSecondOrderAreThoseOfTheWholeImage() throws {
        let image = TestTensors.normal([2, 2, 7, 3], seed: 6)
        for rows in splits {
            let n = rows.count
            let weights = (0..<n).map { TestTensors.normal([2, 2, rows[$0] + 2, 3], seed: UInt64(20 + $0)) }
            let u = TestTensors.normal([2, 2, 7, 3], seed: 7)

            // One process: the padded image cut into the ranks' overlapping windows.
            let x = Var(image, requiresGrad: true)
            let ws = weights.map { Var($0, requiresGrad: true) }
            let p = try x.embed(axis: 2, start: 1, total: 9)
            var total: Var? = nil
            for r in 0..<n {
                let window = try p.narrow(axis: 2, start: first(rows, r), length: rows[r] + 2)
                let term = try (window * window * window * ws[r]).sum()
                total = try total.map { try $0 + term } ?? term
            }
            let g = try gradients(of: total!, wrt: [x], createGraph: true)[0]
            let m = try (g * Var(u)).sum()
            let second = try gradients(of: m, wrt: [x] + ws)

            let ranks = try replayRanks(n) { comm -> [Tensor] in
                let r = comm.rank
                let xr = Var(slab(image, rows, r), requiresGrad: true)
                let wr = Var(weights[r], requiresGrad: true)
                let y = try xr.haloExchange(comm, above: above(comm), below: below(comm))
                let gr = try gradients(of: (y * y * y * wr).sum(), wrt: [xr], createGraph: true)[0]
                let mr = try (gr * Var(slab(u, rows, r))).sum()
                let s = try gradients(of: mr, wrt: [xr, wr])
                return [gr.value, s[0].value, s[1].value]
            }
            let what = "rows \(rows)"
            assertRows(ranks.map { $0[0] }, equal: g.value, rows: rows, what + ", gradient")
            assertRows(ranks.map { $0[1] }, equal: second[0].value, rows: rows, what + ", second order in x")
            for r in 0..<n { assertClose(ranks[r][2], second[1 + r].value, what + ", second order in w, rank \(r)") }
        }
    }

    /// Each rank's gradient w.r.t. its slab against the one-process gradient's rows. An element
    /// sums at most three terms (its own window's and its neighbours'), identical on both sides
    /// but added in another order: a few float32 ulps of the largest.
    private func assertRows(_ parts: [Tensor], equal whole: Tensor, rows: [Int], _ what: String) {
        for r in rows.indices {
            assertClose(parts[r], whole.narrowed(axis: 2, start: first(rows, r), length: rows[r]), "\(what), rank \(r)")
        }
    }

    private func assertClose(_ a: Tensor, _ b: Tensor, _ what: String) {
        XCTAssertEqual(a.shape, b.shape, what)
        let scale = b.data.map(abs).max() ?? 0
        XCTAssertGreaterThan(scale, 0, what)
        for (x, y) in zip(a.data, b.data) { XCTAssertEqual(x, y, accuracy: 4e-7 * scale, what) }
    }
}

private func first(_ rows: [Int], _ r: Int) -> Int { rows[..<r].reduce(0, +) }
private func slab(_ t: Tensor, _ rows: [Int], _ r: Int) -> Tensor { t.narrowed(axis: 2, start: first(rows, r), length: rows[r]) }
private func above(_ comm: Collective) -> Int? { comm.rank > 0 ? comm.rank - 1 : nil }
private func below(_ comm: Collective) -> Int? { comm.rank < comm.size - 1 ? comm.rank + 1 : nil }
