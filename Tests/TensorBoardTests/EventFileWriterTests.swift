import Foundation
import XCTest
@testable import TensorBoard

/// Files written by `EventFileWriter`, read back with the test's own reader (framing, both CRCs,
/// the protobuf fields).
final class EventFileWriterTests: XCTestCase {
    var directory: String!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("tensorboard-tests-\(UUID().uuidString)").path
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    private func contents(_ path: String) throws -> [UInt8] {
        Array(try XCTUnwrap(FileManager.default.contents(atPath: path)))
    }

    func testFileNameAndVersionEvent() throws {
        let time = Date(timeIntervalSince1970: 1_700_000_000.25)
        let writer = try EventFileWriter(directory: directory + "/a/b", hostname: "node7", wallTime: time)
        XCTAssertEqual(writer.path, directory + "/a/b/events.out.tfevents.1700000000.node7")
        try writer.close()
        let events = try EventFileReader.events(try contents(writer.path))
        XCTAssertEqual(events.count, 1)
        XCTAssertEqual(events[0].fileVersion, "brain.Event:2")
        XCTAssertEqual(events[0].wallTime, 1_700_000_000.25)
        XCTAssertEqual(events[0].step, 0)
        XCTAssertEqual(EventFileWriter.fileName(wallTime: time, hostname: "a/b"), "events.out.tfevents.1700000000.a_b")
        XCTAssertFalse(EventFileWriter.hostname().isEmpty)
    }

    func testScalarsAndImagesRoundTrip() throws {
        let writer = try EventFileWriter(directory: directory, hostname: "h")
        let png: [UInt8] = [0x89, 0x50, 0x4E, 0x47] + (0..<1000).map { UInt8(truncatingIfNeeded: $0) }
        try writer.write([.scalar(tag: "Loss/D", value: -0.25), .scalar(tag: "Loss/G", value: 1.5e-3)],
                         step: 64, wallTime: Date(timeIntervalSince1970: 12.5))
        try writer.write(image: SummaryImage(height: 34, width: 70, channels: 3, encoded: png), tag: "fakes", step: 64)
        try writer.write(scalar: 0.1, tag: "Progress/alpha", step: 5_000_000_000)   // beyond Int32
        try writer.write(scalar: .nan, tag: "nan", step: 7)
        try writer.close()

        let events = try EventFileReader.events(try contents(writer.path))
        XCTAssertEqual(events.count, 5)
        XCTAssertEqual(events[1].step, 64)
        XCTAssertEqual(events[1].wallTime, 12.5)
        XCTAssertEqual(events[1].scalars, ["Loss/D": -0.25, "Loss/G": 1.5e-3])
        let image = try XCTUnwrap(events[2].images["fakes"])
        XCTAssertEqual(image.height, 34)
        XCTAssertEqual(image.width, 70)
        XCTAssertEqual(image.colorspace, 3)
        XCTAssertEqual(image.encoded, png)
        XCTAssertEqual(events[3].step, 5_000_000_000)
        XCTAssertEqual(events[3].scalars["Progress/alpha"], Float(0.1))
        XCTAssertTrue(try XCTUnwrap(events[4].scalars["nan"]).isNaN)
        // A wall time near now for events that did not pass one.
        XCTAssertEqual(try XCTUnwrap(events[2].wallTime), Date().timeIntervalSince1970, accuracy: 60)
    }

    /// A record's exact bytes for a one-scalar event, so the framing is pinned down, not only
    /// self-consistent with the reader.
    func testRecordBytes() {
        let payload = EventMessage.summary(wallTime: 0, step: 1, values: [.scalar(tag: "x", value: 1)])
        XCTAssertEqual(payload, [0x09, 0, 0, 0, 0, 0, 0, 0, 0,            // wall_time 0.0
                                 0x10, 0x01,                              // step 1
                                 0x2A, 0x0A,                              // summary, 10 bytes
                                 0x0A, 0x08,                              //   value, 8 bytes
                                 0x0A, 0x01, 0x78,                        //     tag "x"
                                 0x15, 0x00, 0x00, 0x80, 0x3F])           //     simple_value 1.0f
        let record = TFRecord.frame(payload)
        XCTAssertEqual(record.count, payload.count + 16)
        XCTAssertEqual(Array(record[0..<8]), [UInt8(payload.count), 0, 0, 0, 0, 0, 0, 0])
        let lengthCRC = CRC32C.masked(CRC32C.checksum(Array(record[0..<8])))
        XCTAssertEqual(Array(record[8..<12]), [0, 8, 16, 24].map { UInt8(truncatingIfNeeded: lengthCRC >> $0) })
        XCTAssertEqual(Array(record[12..<12 + payload.count]), payload)
        let dataCRC = CRC32C.masked(CRC32C.checksum(payload))
        XCTAssertEqual(Array(record.suffix(4)), [0, 8, 16, 24].map { UInt8(truncatingIfNeeded: dataCRC >> $0) })
    }

    func testSessionStart() throws {
        let writer = try EventFileWriter(directory: directory, hostname: "h")
        try writer.writeSessionStart(step: 97, wallTime: Date(timeIntervalSince1970: 3))
        try writer.close()
        let events = try EventFileReader.events(try contents(writer.path))
        XCTAssertEqual(events.count, 2)
        XCTAssertEqual(events[1].step, 97)
        XCTAssertEqual(events[1].wallTime, 3)
        XCTAssertEqual(events[1].sessionStatus, 1)                  // SessionLog.START
        XCTAssertTrue(events[1].scalars.isEmpty)
    }

    /// What a killed run leaves: every flushed record is in the file before close (or deinit).
    func testFlushedRecordsAreOnDiskBeforeClose() throws {
        let writer = try EventFileWriter(directory: directory, hostname: "h")
        try writer.write(scalar: 1, tag: "a", step: 1)
        try writer.flush()
        let events = try EventFileReader.events(try contents(writer.path))
        XCTAssertEqual(events.map(\.step), [0, 1])
        XCTAssertEqual(events[1].scalars, ["a": 1])
        try writer.close()
    }

    /// A second writer in the same folder and second gets its own file, sorting after the first.
    func testSecondWriterNeverReusesAFile() throws {
        let time = Date(timeIntervalSince1970: 1_700_000_000)
        let first = try EventFileWriter(directory: directory, hostname: "h", wallTime: time)
        let second = try EventFileWriter(directory: directory, hostname: "h", wallTime: time)
        let third = try EventFileWriter(directory: directory, hostname: "h", wallTime: time)
        XCTAssertEqual(second.path, first.path + ".1")
        XCTAssertEqual(third.path, first.path + ".2")
        XCTAssertEqual([first.path, second.path, third.path].sorted(), [first.path, second.path, third.path])
        for w in [first, second, third] { try w.close() }
        for w in [first, second, third] {
            XCTAssertEqual(try EventFileReader.events(try contents(w.path)).count, 1)
        }
    }

    func testErrorsNameThePathAndTheReason() throws {
        // A folder that cannot exist: its parent is a regular file.
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        XCTAssertTrue(FileManager.default.createFile(atPath: directory + "/file", contents: Data([1])))
        XCTAssertThrowsError(try EventFileWriter(directory: directory + "/file/tb")) { error in
            let e = error as? TensorBoardError
            XCTAssertEqual(e?.path, directory + "/file/tb")
            XCTAssertTrue(e?.message.hasPrefix("cannot create folder: ") ?? false, "\(error)")
        }
        let writer = try EventFileWriter(directory: directory, hostname: "h")
        try writer.close()
        XCTAssertThrowsError(try writer.write(scalar: 1, tag: "a", step: 1)) { error in
            XCTAssertEqual("\(error)", writer.path + ": event file already closed")
        }
    }

    /// The reader rejects a flipped byte, so the round-trip tests do check the CRCs.
    func testReaderCatchesCorruption() throws {
        let writer = try EventFileWriter(directory: directory, hostname: "h")
        try writer.write(scalar: 1, tag: "a", step: 1)
        try writer.close()
        var bytes = try contents(writer.path)
        bytes[bytes.count - 6] ^= 1
        XCTAssertThrowsError(try EventFileReader.records(bytes))
        XCTAssertThrowsError(try EventFileReader.records(Array(try contents(writer.path).dropLast())))
    }
}
