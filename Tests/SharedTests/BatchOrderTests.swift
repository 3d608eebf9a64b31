import Synchronization
import Testing

@testable import Shared

/// Which batches a consumer loop waits for (``BatchOrderBook``): batches whose keys meet in queue order, the
/// others side by side, commands before and after everything.
@Suite("Batch order between consumer loops")
struct BatchOrderTests {
    let schoolA = BatchKeys.key("school", "gr-ict-2022", "0551010")
    let schoolB = BatchKeys.key("school", "gr-ict-2022", "9051020")

    @Test("batches with disjoint keys never wait for each other")
    func disjointBatchesRunSideBySide() {
        var book = BatchOrderBook()
        let first = book.take()
        let second = book.take()
        #expect(book.declare(first, perDelivery: [.some([schoolA])]) == ([0], []))
        #expect(book.declare(second, perDelivery: [.some([schoolB])]) == ([0], []))
        #expect(book.blockers(of: first).isEmpty)
        #expect(book.blockers(of: second).isEmpty)
    }

    @Test("a delivery sharing a key with an earlier batch waits, and so does every later one sharing a key with it")
    func commonKeyOrders() {
        var book = BatchOrderBook()
        let device = BatchKeys.key("device", "LT-1")
        let first = book.take()
        let second = book.take()
        _ = book.declare(first, perDelivery: [.some([schoolA])])
        let split = book.declare(second, perDelivery: [
            .some([schoolB]),          // free: decided now
            .some([schoolA, device]),  // meets the first batch: waits
            .some([device]),           // meets the delivery before it that waits: waits too
            .independent,              // free
        ])
        #expect(split.now == [0, 3])
        #expect(split.later == [1, 2])
        #expect(book.blockers(of: second) == [first])
        #expect(book.blockers(of: first).isEmpty)
        book.finish(first)
        #expect(book.blockers(of: second).isEmpty)
    }

    @Test("an earlier batch not yet read holds back all of a later one: its keys are unknown")
    func undeclaredEarlierBatchBlocks() {
        var book = BatchOrderBook()
        let first = book.take()
        let second = book.take()
        #expect(book.declare(second, perDelivery: [.some([schoolB]), .independent]) == ([], [0, 1]))
        #expect(book.blockers(of: second) == [first])
        _ = book.declare(first, perDelivery: [.some([schoolA])])
        #expect(book.blockers(of: second).isEmpty)
    }

    @Test("a command waits for every earlier batch and holds back what follows it; what precedes it may go now")
    func allOrdersBothWays() {
        var book = BatchOrderBook()
        let before = book.take()
        let command = book.take()
        let after = book.take()
        _ = book.declare(before, perDelivery: [.some([schoolA])])
        #expect(book.declare(command, perDelivery: [.some([schoolB]), .all, .some([BatchKeys.key("x")])])
            == ([0], [1, 2]))
        #expect(book.declare(after, perDelivery: [.independent]) == ([], [0]))
        #expect(book.blockers(of: command) == [before])
        #expect(book.blockers(of: after) == [command])
        book.finish(before)
        book.finish(command)
        #expect(book.blockers(of: after).isEmpty)
    }

    @Test("keys: equal parts meet, different parts or a different split do not")
    func keysMeet() {
        #expect(BatchKeys.some([schoolA]).meets(.some([BatchKeys.key("school", "gr-ict-2022", "0551010")])))
        #expect(!BatchKeys.some([schoolA]).meets(.some([schoolB])))
        #expect(BatchKeys.key("school", "ab", "c") != BatchKeys.key("school", "a", "bc"))
        #expect(!BatchKeys.independent.meets(.independent))
        #expect(BatchKeys.independent.meets(.all))
    }

    @Test("a reset abandons every held batch, not those taken after it")
    func resetAbandonsHeldBatches() {
        var book = BatchOrderBook()
        let held = book.take()
        let waiting = book.take()
        book.abandonAll()
        let fresh = book.take()
        #expect(book.isAbandoned(held) && book.isAbandoned(waiting))
        #expect(!book.isAbandoned(fresh))
        book.finish(held)
        book.finish(waiting)
        #expect(book.held.map(\.sequence) == [fresh])
    }

    @Test("the shared gate: a loop waits until the earlier batch with a common key finishes; an abandoned batch throws")
    func gateWaitsAndAbandons() async throws {
        let order = BatchOrder()
        let first = order.take()
        let second = order.take()
        let keys = BatchKeys.some([schoolA])
        _ = try order.declare(first, perDelivery: [keys])
        #expect(try order.declare(second, perDelivery: [keys]) == ([], [0]))
        let passed = Mutex(false)
        let waited = Task.detached { () -> Bool in
            do {
                try order.waitForTurn(second)
                passed.withLock { $0 = true }
                return true
            } catch {
                return false
            }
        }
        try await Task.sleep(for: .milliseconds(100))
        #expect(!passed.withLock { $0 }, "the second batch went ahead of the first")
        order.finish(first)
        #expect(await waited.value)

        let held = order.take()
        let behind = order.take()
        order.abandonAll()
        #expect(throws: BatchOrderAbandoned.self) { _ = try order.declare(behind, perDelivery: [.independent]) }
        #expect(throws: BatchOrderAbandoned.self) { try order.waitForTurn(behind) }
        order.finish(held)
        order.finish(behind)
        order.finish(second)
    }
}
