import Foundation
import XCTest

/// The overrides the authors' configurations vary reach the resolved configuration (config.json),
/// and bad values get one line.
final class ConfigOverrideTests: TrainingCLITestCase {
    func testOverridesReachTheResolvedConfiguration() throws {
        let data = try makeDataset()
        let out = path("run")
        let r = try progan(["train", "--data", data, "--out", out, "--preset", "paper", "--resolution", "8",
                            "--fmap-base", "32", "--fmap-max", "8", "--latent-size", "8", "--lr", "0.002",
                            "--gp-target", "2", "--gp-scale", "native", "--no-mirror", "--minibatch", "4",
                            "--max-steps", "1", "--tick-kimg", "0.004", "--no-tensorboard"])
        XCTAssertTrue(r.succeeded, r.summary)
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/config.json"))) as! [String: Any]
        let network = json["network"] as! [String: Any], loss = json["loss"] as! [String: Any]
        let schedule = json["schedule"] as! [String: Any]
        XCTAssertEqual(network["fmapBase"] as? Int, 32)
        XCTAssertEqual(network["fmapMax"] as? Int, 8)
        XCTAssertEqual(network["latentSize"] as? Int, 8)
        XCTAssertEqual(loss["gpTarget"] as? Double, 2)
        XCTAssertEqual(loss["gpScale"] as? String, "native")
        XCTAssertEqual(json["mirror"] as? Bool, false)
        XCTAssertEqual((schedule["defaultLearningRate"] as? Double).map { Float($0) }, 0.002)
        // --lr replaces the preset's per-resolution rates.
        XCTAssertEqual((schedule["learningRate"] as? [Any])?.count ?? (schedule["learningRate"] as? [String: Any])?.count, 0)
        // Without overrides the paper preset mirrors and takes the penalty at full resolution.
        let out2 = path("run2")
        let r2 = try progan(["train", "--data", data, "--out", out2, "--preset", "paper", "--resolution", "8",
                             "--fmap-base", "32", "--fmap-max", "8", "--latent-size", "8", "--minibatch", "4",
                             "--max-steps", "1", "--tick-kimg", "0.004", "--no-tensorboard"])
        XCTAssertTrue(r2.succeeded, r2.summary)
        let json2 = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out2 + "/config.json"))) as! [String: Any]
        XCTAssertEqual(json2["mirror"] as? Bool, true)
        XCTAssertEqual((json2["loss"] as! [String: Any])["gpScale"] as? String, "full-resolution")
    }

    func testBadOverridesGetOneLine() throws {
        let data = try makeDataset()
        for (flag, value) in [("--gp-scale", "sideways"), ("--lr", "0"), ("--fmap-base", "0"), ("--gp-target", "nan")] {
            let r = try progan(["train", "--data", data, "--out", path("bad"), "--preset", "tiny", "\(flag)=\(value)"])
            XCTAssertNotEqual(r.exitCode, 0, "\(flag) \(value)")
            XCTAssertTrue(r.stderr.contains(flag), "\(flag): \(r.stderr)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: path("bad") + "/config.json"), "\(flag) left a run behind")
        }
    }
}
