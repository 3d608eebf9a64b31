/// The delivery tags a channel's consumer loops hold and how to settle them: a pure value, so the rules are tested
/// without a broker.
///
/// A committed delivery is acknowledged with one `multiple` ack covering every delivery up to it, once no delivery
/// with a lower tag is still held: a delivery set aside (a suspect processed alone, another loop's batch still
/// committing) is never acknowledged by someone else's `multiple` before its own effects are committed. Committed
/// deliveries above a held one wait for it (a lost connection meanwhile redelivers them, and they are answered as
/// duplicates); the usual case, a loop's whole batch with nothing held below it, is one ack.
public struct AckLedger: Sendable, Equatable {
    /// How to acknowledge what became acknowledgeable.
    public enum Acknowledgement: Sendable, Equatable {
        /// One `basic.ack` with `multiple`: this tag and every lower one.
        case multiple(upTo: UInt64)
    }

    /// Received and neither committed nor rejected.
    public private(set) var unsettled = Set<UInt64>()
    /// Committed, waiting for a lower held tag before they can be acknowledged.
    public private(set) var waiting = Set<UInt64>()

    public init() {}

    public mutating func received(_ tags: some Sequence<UInt64>) {
        unsettled.formUnion(tags)
    }

    /// `tags` (all of them held) were committed: the acknowledgement that is now due, if any.
    public mutating func acknowledge(_ tags: some Sequence<UInt64>) -> Acknowledgement? {
        let settling = Set(tags)
        unsettled.subtract(settling)
        waiting.formUnion(settling)
        return due()
    }

    /// A tag rejected (dead-lettered): no longer held. What it held back may now be due.
    public mutating func rejected(_ tag: UInt64) -> Acknowledgement? {
        unsettled.remove(tag)
        return due()
    }

    /// The connection closed: the broker requeues everything held or waiting.
    public mutating func reset() {
        unsettled.removeAll()
        waiting.removeAll()
    }

    private mutating func due() -> Acknowledgement? {
        let lowestHeld = unsettled.min() ?? .max
        let ready = waiting.filter { $0 < lowestHeld }
        guard let last = ready.max() else { return nil }
        waiting.subtract(ready)
        return .multiple(upTo: last)
    }
}
