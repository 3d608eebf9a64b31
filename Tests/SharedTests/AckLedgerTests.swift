import Testing

@testable import Shared

/// How a consumer settles the deliveries it holds (``AckLedger``).
@Suite("Ack bookkeeping")
struct AckLedgerTests {
    @Test("a whole batch, lowest tags first, is one multiple ack")
    func wholeBatchIsOneMultipleAck() {
        var ledger = AckLedger()
        ledger.received([1, 2, 3, 4])
        #expect(ledger.acknowledge([1, 2, 3, 4]) == .multiple(upTo: 4))
        #expect(ledger.unsettled.isEmpty)
    }

    @Test("a batch above a delivery still held waits for it, then both go in one multiple ack")
    func heldDeliveryIsNeverAcknowledgedByAnother() {
        var ledger = AckLedger()
        ledger.received([5, 6, 7, 8])
        // 5 is a suspect processed alone, after the others.
        #expect(ledger.acknowledge([6, 7, 8]) == nil)
        #expect(ledger.unsettled == [5])
        #expect(ledger.waiting == [6, 7, 8])
        #expect(ledger.acknowledge([5]) == .multiple(upTo: 8))
        #expect(ledger.unsettled.isEmpty && ledger.waiting.isEmpty)
    }

    @Test("two loops' batches committed out of order: the later waits for the earlier; a third above still held")
    func loopsCommittingOutOfOrder() {
        var ledger = AckLedger()
        ledger.received(1...500)
        ledger.received(501...1000)
        ledger.received(1001...1500)
        #expect(ledger.acknowledge(501...1000) == nil)
        #expect(ledger.acknowledge(1...500) == .multiple(upTo: 1000))
        #expect(ledger.unsettled == Set(1001...1500))
        #expect(ledger.waiting.isEmpty)
    }

    @Test("a rejected delivery releases what waited behind it")
    func rejectionReleasesWaiting() {
        var ledger = AckLedger()
        ledger.received([1, 2, 3])
        #expect(ledger.acknowledge([2, 3]) == nil)
        #expect(ledger.rejected(1) == .multiple(upTo: 3))
        #expect(ledger.waiting.isEmpty)
    }

    @Test("a delivery held with a higher tag does not stop a multiple ack of lower ones")
    func higherHeldTagAllowsMultiple() {
        var ledger = AckLedger()
        ledger.received([1, 2, 3])
        #expect(ledger.acknowledge([1, 2]) == .multiple(upTo: 2))
        #expect(ledger.unsettled == [3])
    }

    @Test("a rejected delivery is no longer held; a lost connection forgets everything; nothing to ack is nil")
    func rejectedAndReset() {
        var ledger = AckLedger()
        ledger.received([1, 2, 3])
        #expect(ledger.rejected(1) == nil)
        #expect(ledger.acknowledge([2, 3]) == .multiple(upTo: 3))
        ledger.received([4, 5, 6])
        #expect(ledger.acknowledge([6]) == nil)
        ledger.reset()
        #expect(ledger.unsettled.isEmpty && ledger.waiting.isEmpty)
        #expect(ledger.acknowledge([]) == nil)
    }
}
