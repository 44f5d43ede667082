import XCTest
import Metrics
import TensorKit

final class ImageBatchTests: XCTestCase {
    func testUInt8ConvertsToMinusOneToOne() throws {
        var bytes = [UInt8](repeating: 0, count: 16 * 16)
        bytes[1] = 255
        bytes[2] = 51
        let batch = try ImageBatch(uint8: bytes, count: 1, channels: 1, height: 16, width: 16)
        XCTAssertEqual(batch.pixels[0], -1)
        XCTAssertEqual(batch.pixels[1], 1, accuracy: 1e-7)
        XCTAssertEqual(batch.pixels[2], 51 / 127.5 - 1, accuracy: 1e-7)
    }

    func testRejectsBadShapes() {
        let cases: [(Int, Int, Int, Int, Int)] = [
            (1, 1, 8, 8, 64),          // below 16x16
            (1, 1, 16, 32, 512),       // not square
            (1, 2, 16, 16, 512),       // 2 channels
            (1, 1, 48, 48, 2304),      // not a power of two
            (1, 1, 2048, 2048, 2048 * 2048), // above 1024
            (2, 1, 16, 16, 256),       // too few values
            (0, 1, 16, 16, 0),         // no images
        ]
        for (n, c, h, w, values) in cases {
            XCTAssertThrowsError(try ImageBatch(pixels: [Float](repeating: 0, count: values),
                                                count: n, channels: c, height: h, width: w),
                                 "\(n)x\(c)x\(h)x\(w) with \(values) values") { error in
                guard case MetricsError.invalidImages(let message) = error else {
                    return XCTFail("expected invalidImages, got \(error)")
                }
                XCTAssertFalse(message.isEmpty)
            }
        }
    }

    func testWrapsNCHWTensor() throws {
        let t = Tensor(shape: [2, 3, 16, 16], data: (0..<(2 * 3 * 256)).map { Float($0 % 7) / 7 })
        let batch = try ImageBatch(t)
        XCTAssertEqual([batch.count, batch.channels, batch.size], [2, 3, 16])
        XCTAssertEqual(batch.pixels, t.data)
        XCTAssertThrowsError(try ImageBatch(Tensor(shape: [3, 16, 16], repeating: 0))) { error in
            XCTAssertTrue("\(error)".contains("rank 4"), "\(error)")
        }
    }

    func testOneShotSWDRejectsMismatchedBatches() throws {
        let a = try ImageBatch(Tensor(shape: [2, 3, 16, 16], repeating: 0))
        let b = try ImageBatch(Tensor(shape: [2, 3, 32, 32], repeating: 0))
        let c = try ImageBatch(Tensor(shape: [3, 3, 16, 16], repeating: 0))
        XCTAssertThrowsError(try slicedWassersteinDistance(real: a, fake: b, seed: 1)) { error in
            guard case MetricsError.mismatchedSets = error else { return XCTFail("\(error)") }
        }
        XCTAssertThrowsError(try slicedWassersteinDistance(real: a, fake: c, seed: 1)) { error in
            XCTAssertTrue("\(error)".contains("equal size"), "\(error)")
        }
    }
}
