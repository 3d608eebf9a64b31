import Testing

@testable import Shared

@Suite("BatchFill: when a batch being taken stops growing")
struct BatchFillTests {
    let start = ContinuousClock.now

    private func fill(count: Int = 1, bytes: Int = 100, countLimit: Int = 500, byteLimit: Int = 1 << 20,
                      maximumWait: Duration = .milliseconds(10)) -> BatchFill {
        var fill = BatchFill(firstBytes: bytes, countLimit: countLimit, byteLimit: byteLimit, maximumWait: maximumWait,
                             now: start)
        for _ in 1..<count { fill.add(bytes: bytes) }
        return fill
    }

    @Test func aloneItWaitsAPauseForTheNextDeliveryUntilItsTimeIsUp() {
        #expect(fill().step(now: start, othersDeciding: false) == .waitForDelivery(.milliseconds(2)))
        #expect(fill().step(now: start + .milliseconds(9), othersDeciding: false) == .waitForDelivery(.milliseconds(1)))
        // Past BATCH_MAX_WAIT_MS it only takes what has already arrived.
        #expect(fill().step(now: start + .milliseconds(30), othersDeciding: false) == .waitForDelivery(.zero))
    }

    @Test func whileAnotherLoopDecidesItKeepsWhatArrivesForAtMostTwiceTheMaximumWait() {
        let holdsAt = start + .milliseconds(20)
        #expect(fill().step(now: start, othersDeciding: true) == .holdForOthers(until: holdsAt))
        // Past its own time, still held: it goes once the other batch committed.
        #expect(fill().step(now: start + .milliseconds(15), othersDeciding: true) == .holdForOthers(until: holdsAt))
        // Never longer than twice BATCH_MAX_WAIT_MS, however long the other batch takes.
        #expect(fill().step(now: holdsAt, othersDeciding: true) == .waitForDelivery(.zero))
        // The other committed: what has arrived goes now.
        #expect(fill().step(now: start + .milliseconds(15), othersDeciding: false) == .waitForDelivery(.zero))
    }

    @Test func aFullBatchClosesEvenWhileAnotherLoopDecides() {
        #expect(fill(count: 500).step(now: start, othersDeciding: true) == .close)
        #expect(fill(count: 499).step(now: start, othersDeciding: true) != .close)
        #expect(fill(count: 3, bytes: 400, byteLimit: 1_000).step(now: start, othersDeciding: true) == .close)
        #expect(fill(count: 2, bytes: 400, byteLimit: 1_000).step(now: start, othersDeciding: false) != .close)
    }

    @Test func noMaximumWaitMeansNoHolding() {
        // BATCH_MAX_WAIT_MS=0: only what is there, whatever the other loops do.
        #expect(fill(maximumWait: .zero).step(now: start, othersDeciding: true) == .waitForDelivery(.zero))
    }
}
