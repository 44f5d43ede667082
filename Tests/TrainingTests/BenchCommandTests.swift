import Foundation
import TestSupport
import XCTest

/// `progan-mpi bench` on the real binary: bad input, and tiny runs whose JSON parses and whose
/// sgemm work per phase equals the networks' multiply-adds.
final class BenchCommandTests: TrainingCLITestCase {
    func testResolutionNotPowerOfTwo() throws {
        let r = try progan(["bench", "--res", "48"])
        XCTAssertNotEqual(r.exitCode, 0, r.summary)
        XCTAssertEqual(r.stderr, "progan-mpi: error: --res 48 is not a power of two between 4 and 1024\n")
    }

    func testUnknownConvolutionAlgorithm() throws {
        let r = try progan(["bench", "--res", "8", "--conv", "fft"])
        XCTAssertNotEqual(r.exitCode, 0, r.summary)
        XCTAssertEqual(r.stderr, "progan-mpi: error: The value 'fft' is invalid for '--conv <conv>'. Please provide one of 'auto', 'unfused' or 'im2col'.\n")
    }

    func testMaxResolutionBelowResolution() throws {
        let r = try progan(["bench", "--res", "16", "--max-res", "8"])
        XCTAssertNotEqual(r.exitCode, 0, r.summary)
        XCTAssertEqual(r.stderr, "progan-mpi: error: --max-res 8 is not a power of two between --res 16 and 1024\n")
    }

    /// A batch that does not divide by the ranks is dealt out (2 and 1 samples), not refused.
    func testBatchThatDoesNotDivideByRanksIsDealtOut() throws {
        let r = try progan(["bench", "--res", "4", "--batch", "3", "--iters", "1", "--warmup", "0", "--json"],
                           ranks: 2, timeout: 300)
        XCTAssertTrue(r.succeeded, r.summary)
        let j = try json(r)
        XCTAssertEqual(j["batch"] as? Int, 3)
        XCTAssertEqual(j["local_batch"] as? Int, 2)
        XCTAssertGreaterThan(j["images_per_second"] as? Double ?? 0, 0, r.summary)
    }

    func json(_ r: ChildResult) throws -> [String: Any] {
        let line = r.stdout.split(separator: "\n").last.map(String.init) ?? ""
        return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], r.summary)
    }

    func part(_ j: [String: Any], _ name: String) throws -> [String: Any] {
        let parts = try XCTUnwrap(j["breakdown"] as? [[String: Any]])
        return try XCTUnwrap(parts.first { $0["name"] as? String == name }, "no part \(name)")
    }

    /// G and D of the paper at 8x8, per sample: G = dense 512x8192 + conv 512->512 at 4x4 + two
    /// convs 512->512 at 8x8 + toRGB; D = fromRGB + two convs at 8x8 + conv 513->512 at 4x4 +
    /// dense 8192x512 + dense 512x1.
    static let gMACs = 512 * 8192 + 512 * 512 * 9 * 16 + 2 * 512 * 512 * 9 * 64 + 512 * 3 * 64
    static let dMACs = 3 * 512 * 64 + 2 * 512 * 512 * 9 * 64 + 513 * 512 * 9 * 16 + 8192 * 512 + 512

    func testTinyRunPrintsJSONWithTheNetworksWork() throws {
        let r = try progan(["bench", "--res", "8", "--batch", "2", "--iters", "1", "--warmup", "0", "--json"], timeout: 300)
        XCTAssertTrue(r.succeeded, r.summary)
        let j = try json(r)
        XCTAssertEqual(j["resolution"] as? Int, 8)
        XCTAssertEqual(j["batch"] as? Int, 2)
        XCTAssertEqual(j["ranks"] as? Int, 1)
        XCTAssertGreaterThan(j["images_per_second"] as? Double ?? 0, 0)
        XCTAssertGreaterThan(j["peak_rss_kib"] as? Int ?? 0, 0)
        XCTAssertGreaterThan(j["sgemm_gflops"] as? Double ?? 0, 0)
        // G runs forward twice an iteration (fakes for D, then the G step), D three times outside
        // the penalty (reals, fakes, D(G(z))) and once on the mixed images.
        let gflop = { (name: String) in try self.part(j, name)["gflop"] as? Double ?? -1 }
        XCTAssertEqual(try gflop("G_forward"), 2 * 2 * 2 * Double(Self.gMACs) / 1e9, accuracy: 1e-9)
        XCTAssertEqual(try gflop("D_forward"), 3 * 2 * 2 * Double(Self.dMACs) / 1e9, accuracy: 1e-9)
        XCTAssertEqual(try gflop("GP_forward"), 1 * 2 * 2 * Double(Self.dMACs) / 1e9, accuracy: 1e-9)
        let parts = try XCTUnwrap(j["breakdown"] as? [[String: Any]])
        let sum = parts.reduce(0.0) { $0 + ($1["seconds"] as? Double ?? 0) }
        XCTAssertEqual(sum, j["seconds_per_iteration"] as? Double ?? 0, accuracy: 0.01 * sum, "the parts cover the iteration")
        XCTAssertTrue(r.stderr.contains("bench 8x8 batch 2: iteration 1/1"), r.stderr)
    }

    func testTwoRanksReportGlobalFiguresAndMPIShares() throws {
        let r = try progan(["bench", "--res", "4", "--batch", "2", "--iters", "1", "--warmup", "0", "--json"],
                           ranks: 2, timeout: 300)
        XCTAssertTrue(r.succeeded, r.summary)
        let j = try json(r)
        XCTAssertEqual(j["ranks"] as? Int, 2)
        XCTAssertEqual(j["local_batch"] as? Int, 1)
        XCTAssertEqual((j["peak_rss_kib_per_rank"] as? [Int])?.count, 2)
        XCTAssertGreaterThan(j["mbstd_share"] as? Double ?? 0, 0)
        XCTAssertGreaterThan(j["allreduce_share"] as? Double ?? 0, 0)
        let perRank = try XCTUnwrap(j["mpi_share_per_rank"] as? [Double], r.summary)
        XCTAssertEqual(perRank.count, 2)
        for share in perRank { XCTAssertTrue(share > 0 && share < 1, "MPI share by rank \(perRank)") }
        // One rank's G forward work: its one sample, twice.
        let g = 512 * 8192 + 512 * 512 * 9 * 16 + 512 * 3 * 16
        XCTAssertEqual(try part(j, "G_forward")["gflop"] as? Double ?? -1, 2 * 2 * Double(g) / 1e9, accuracy: 1e-9)
        XCTAssertEqual(r.stdout.split(separator: "\n").count, 1, "one JSON object, from rank 0 only")
    }
}
