import XCTest
@testable import Training

final class LatentSamplingTests: XCTestCase {
    func testTruncatedDrawsStayWithinTheThresholdAndAreReproducible() {
        let z = LatentSampling.truncatedNormal(count: 50, size: 64, threshold: 0.5, seed: 3)
        XCTAssertEqual(z.shape, [50, 64])
        XCTAssertTrue(z.data.allSatisfy { abs($0) <= 0.5 })
        XCTAssertEqual(z.data, LatentSampling.truncatedNormal(count: 50, size: 64, threshold: 0.5, seed: 3).data)
        XCTAssertNotEqual(z.data, LatentSampling.truncatedNormal(count: 50, size: 64, threshold: 0.5, seed: 4).data)
        // A threshold no draw exceeds changes nothing: the first draw of each element is the plain one.
        XCTAssertEqual(LatentSampling.truncatedNormal(count: 4, size: 8, threshold: 100, seed: 9).data,
                       LatentSampling.normal(count: 4, size: 8, seed: 9).data)
    }

    /// E|z| of a standard normal truncated to [-1, 1] is 2(phi(0) - phi(1)) / (2 Phi(1) - 1) =
    /// 0.45987; the sample std of |z| there is below 0.29, so over 20000 draws the mean's standard
    /// error is 0.002: 5 standard errors is 0.01.
    func testTruncatedDrawsFollowTheTruncatedNormal() {
        let z = LatentSampling.truncatedNormal(count: 200, size: 100, threshold: 1, seed: 11)
        let meanAbs = z.data.reduce(0.0) { $0 + Double(abs($1)) } / Double(z.count)
        XCTAssertEqual(meanAbs, 0.45987, accuracy: 0.01)
    }

    func testWalkIsSmoothLoopsAndHasUnitScale() {
        let (frames, size, sigma) = (60, 64, 3.0)
        let w = LatentSampling.walk(frames: frames, size: size, smoothingFrames: sigma, seed: 5)
        XCTAssertEqual(w.shape, [frames, size])
        let rms = (w.data.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(w.count)).squareRoot()
        XCTAssertEqual(rms, 1, accuracy: 1e-5)
        // Gaussian smoothing of white noise has lag-1 correlation exp(-1 / (4 sigma^2)), so
        // consecutive frames differ by 2 (1 - rho) = 0.055 in mean square (independent draws: 2).
        // Checked within a factor of 2 (60 frames are few independent samples), the wrap from the
        // last frame to the first included.
        var sum = 0.0
        for f in 0..<frames {
            let g = (f + 1) % frames
            for j in 0..<size { let d = Double(w.data[g * size + j] - w.data[f * size + j]); sum += d * d }
        }
        let expected = 2 * (1 - exp(-1 / (4 * sigma * sigma)))
        let meanSquare = sum / Double(frames * size)
        XCTAssertGreaterThan(meanSquare, expected / 2)
        XCTAssertLessThan(meanSquare, expected * 2)
    }
}
