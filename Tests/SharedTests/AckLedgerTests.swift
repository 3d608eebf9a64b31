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

    @Test("a batch after a delivery still held is acknowledged one by one, never with it")
    func heldDeliveryIsNeverAcknowledgedByAnother() {
        var ledger = AckLedger()
        ledger.received([5, 6, 7, 8])
        // 5 is a suspect processed alone, after the others.
        #expect(ledger.acknowledge([6, 7, 8]) == .each([6, 7, 8]))
        #expect(ledger.unsettled == [5])
        #expect(ledger.acknowledge([5]) == .multiple(upTo: 5))
        #expect(ledger.unsettled.isEmpty)
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
        ledger.rejected(1)
        #expect(ledger.acknowledge([2, 3]) == .multiple(upTo: 3))
        ledger.received([4, 5])
        ledger.reset()
        #expect(ledger.unsettled.isEmpty)
        #expect(ledger.acknowledge([]) == nil)
    }
}
