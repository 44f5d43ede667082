@testable import Distributed
import Foundation
import XCTest

final class CollectiveWatchdogTests: XCTestCase {
    /// Collects the lines a watchdog reports, from whichever thread.
    final class Lines: @unchecked Sendable {
        private let lock = NSLock()
        private var items: [String] = []
        func append(_ line: String) { lock.lock(); items.append(line); lock.unlock() }
        var all: [String] { lock.lock(); defer { lock.unlock() }; return items }
    }

    func testWarnsOncePerStuckCollectiveNamingKindAndLabel() {
        let warnings = Lines(), aborts = Lines()
        let watchdog = CollectiveWatchdog(rank: 3, configuration: .init(warnAfter: 60),
                                          report: warnings.append, abort: aborts.append)
        watchdog.label = "step 1234, D gradient allreduce"
        watchdog.enter(.allReduce)
        guard let since = watchdog.current?.since else { return XCTFail("no current collective") }
        XCTAssertEqual(watchdog.current?.kind, .allReduce)
        watchdog.poll(now: since + 59_000_000_000)
        XCTAssertEqual(warnings.all, [])
        watchdog.poll(now: since + 61_000_000_000)
        watchdog.poll(now: since + 62_000_000_000)
        XCTAssertEqual(warnings.all.count, 1)
        XCTAssertEqual(warnings.all.first,
                       "progan-mpi: rank 3 has waited 61.0 s in MPI_Allreduce at \"step 1234, D gradient allreduce\": "
                       + "a rank may have died, hung or skipped this collective")
        XCTAssertEqual(aborts.all, [], "no hard limit set")
        watchdog.leave()
        XCTAssertNil(watchdog.current)
        watchdog.poll(now: since + 600_000_000_000)
        XCTAssertEqual(warnings.all.count, 1, "nothing to report between collectives")
    }

    func testAbortsPastTheHardLimit() {
        let warnings = Lines(), aborts = Lines()
        let watchdog = CollectiveWatchdog(rank: 0, configuration: .init(warnAfter: 1, abortAfter: 5),
                                          report: warnings.append, abort: aborts.append)
        watchdog.enter(.barrier)
        guard let since = watchdog.current?.since else { return XCTFail("no current collective") }
        watchdog.poll(now: since + 2_000_000_000)
        XCTAssertEqual(aborts.all, [])
        watchdog.poll(now: since + 5_500_000_000)
        watchdog.poll(now: since + 6_000_000_000)
        XCTAssertEqual(warnings.all.count, 1)
        XCTAssertEqual(aborts.all.count, 1)
        XCTAssertTrue(aborts.all.first?.contains("waited 5.5 s in MPI_Barrier, over the 5.0 s limit: aborting the job") ?? false,
                      "\(aborts.all)")
    }

    func testAnotherCollectiveIsWarnedAboutAgain() {
        let warnings = Lines()
        let watchdog = CollectiveWatchdog(rank: 1, configuration: .init(warnAfter: 1), report: warnings.append, abort: { _ in })
        watchdog.enter(.allGather)
        let first = watchdog.current?.since ?? 0
        watchdog.poll(now: first + 2_000_000_000)
        watchdog.leave()
        usleep(1000)  // the next entry gets a later timestamp
        watchdog.enter(.reduceScatter)
        let second = watchdog.current?.since ?? 0
        XCTAssertGreaterThan(second, first)
        watchdog.poll(now: second + 2_000_000_000)
        XCTAssertEqual(warnings.all.count, 2)
        XCTAssertTrue(warnings.all.last?.contains("MPI_Reduce_scatter_block") ?? false, "\(warnings.all)")
    }

    func testBackgroundThreadReportsWithinPollInterval() {
        let warnings = Lines()
        let reported = expectation(description: "warning")
        let watchdog = CollectiveWatchdog(rank: 0, configuration: .init(warnAfter: 0.05, pollInterval: 0.01),
                                          report: { warnings.append($0); reported.fulfill() }, abort: { _ in })
        watchdog.label = "threaded"
        watchdog.start()
        watchdog.start()  // idempotent: still one thread, one warning
        XCTAssertTrue(watchdog.isStarted)
        watchdog.enter(.gatherv)
        wait(for: [reported], timeout: 5)
        watchdog.leave()
        watchdog.stop()
        usleep(100_000)
        XCTAssertEqual(warnings.all.count, 1)
        XCTAssertTrue(warnings.all.first?.contains("MPI_Gatherv at \"threaded\"") ?? false, "\(warnings.all)")
    }

    func testDefaultPollIntervalFollowsTheShorterLimit() {
        XCTAssertEqual(CollectiveWatchdog.Configuration().effectivePollInterval, 1)
        XCTAssertEqual(CollectiveWatchdog.Configuration(warnAfter: 2).effectivePollInterval, 0.5)
        XCTAssertEqual(CollectiveWatchdog.Configuration(warnAfter: 60, abortAfter: 0.2).effectivePollInterval, 0.05, accuracy: 1e-12)
        XCTAssertEqual(CollectiveWatchdog.Configuration(warnAfter: 0.001).effectivePollInterval, 0.01)
    }

    func testEveryKindHasItsMPIName() {
        for kind in CollectiveKind.allCases {
            XCTAssertTrue(kind.description.hasPrefix("MPI_"), "\(kind)")
            XCTAssertEqual(CollectiveKind(rawValue: kind.rawValue), kind)
        }
        XCTAssertEqual(Set(CollectiveKind.allCases.map(\.description)).count, CollectiveKind.allCases.count)
    }
}
