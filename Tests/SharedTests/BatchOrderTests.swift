import Synchronization
import Testing

@testable import Shared

/// Which batches a consumer loop waits for (``BatchOrderBook``): registry changes in queue order, submissions
/// side by side.
@Suite("Batch order between consumer loops")
struct BatchOrderTests {
    @Test("free batches never wait for each other")
    func freeBatchesRunSideBySide() {
        var book = BatchOrderBook()
        let first = book.take(.free)
        let second = book.take(.free)
        #expect(book.blockers(of: first).isEmpty)
        #expect(book.blockers(of: second).isEmpty)
    }

    @Test("a barrier waits for every earlier batch; every later batch waits for it")
    func barrierOrdersBothWays() {
        var book = BatchOrderBook()
        let before = book.take(.free)
        let barrier = book.take(.barrier)
        let after = book.take(.free)
        let afterBarrier = book.take(.barrier)
        #expect(book.blockers(of: barrier) == [before])
        #expect(book.blockers(of: after) == [barrier])
        #expect(book.blockers(of: afterBarrier) == [before, barrier, after])
        book.finish(before)
        #expect(book.blockers(of: barrier).isEmpty)
        #expect(book.blockers(of: after) == [barrier])
        book.finish(barrier)
        #expect(book.blockers(of: after).isEmpty)
        #expect(book.blockers(of: afterBarrier) == [after])
    }

    @Test("a free batch is not held back by a later barrier")
    func laterBarrierDoesNotBlockEarlierBatch() {
        var book = BatchOrderBook()
        let first = book.take(.free)
        _ = book.take(.barrier)
        #expect(book.blockers(of: first).isEmpty)
    }

    @Test("a reset abandons every held batch, not those taken after it")
    func resetAbandonsHeldBatches() {
        var book = BatchOrderBook()
        let held = book.take(.free)
        let waiting = book.take(.barrier)
        book.abandonAll()
        let fresh = book.take(.free)
        #expect(book.isAbandoned(held) && book.isAbandoned(waiting))
        #expect(!book.isAbandoned(fresh))
        book.finish(held)
        book.finish(waiting)
        #expect(book.held.map(\.sequence) == [fresh])
    }

    @Test("the shared gate: a barrier's loop waits until the earlier batch finishes; an abandoned batch throws")
    func gateWaitsAndAbandons() async throws {
        let order = BatchOrder()
        let first = order.take(.free)
        let barrier = order.take(.barrier)
        let passed = Mutex(false)
        let waited = Task.detached { () -> Bool in
            do {
                try order.waitForTurn(barrier)
                passed.withLock { $0 = true }
                return true
            } catch {
                return false
            }
        }
        try await Task.sleep(for: .milliseconds(100))
        #expect(!passed.withLock { $0 }, "the barrier went ahead of the batch before it")
        order.finish(first)
        #expect(await waited.value)

        let held = order.take(.free)
        let behind = order.take(.barrier)
        order.abandonAll()
        #expect(throws: BatchOrderAbandoned.self) { try order.waitForTurn(behind) }
        order.finish(held)
        order.finish(behind)
        order.finish(barrier)
    }
}
