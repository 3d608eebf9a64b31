/// The delivery tags a consumer holds and how to settle them: a pure value, so the rules are tested without a
/// broker.
///
/// Tags are settled with one `multiple` ack when no other unsettled delivery has a lower tag (the usual case: the
/// whole batch), one ack each otherwise, so a delivery set aside (a suspect processed alone, a delivery held by
/// another batch) is never acknowledged by someone else's `multiple` before its own effects are committed.
public struct AckLedger: Sendable, Equatable {
    /// How to acknowledge a set of tags.
    public enum Acknowledgement: Sendable, Equatable {
        /// One `basic.ack` with `multiple`: this tag and every lower one.
        case multiple(upTo: UInt64)
        /// One `basic.ack` per tag, in order.
        case each([UInt64])
    }

    /// Received and neither acknowledged nor rejected.
    public private(set) var unsettled = Set<UInt64>()

    public init() {}

    public mutating func received(_ tags: some Sequence<UInt64>) {
        unsettled.formUnion(tags)
    }

    /// How to acknowledge `tags` (all of them held), and forgets them. `nil` when `tags` is empty.
    public mutating func acknowledge(_ tags: some Sequence<UInt64>) -> Acknowledgement? {
        let settling = Set(tags)
        guard let last = settling.max() else { return nil }
        defer { unsettled.subtract(settling) }
        if unsettled.allSatisfy({ $0 > last || settling.contains($0) }) {
            return .multiple(upTo: last)
        }
        return .each(settling.sorted())
    }

    /// A tag rejected (dead-lettered): no longer held.
    public mutating func rejected(_ tag: UInt64) {
        unsettled.remove(tag)
    }

    /// The connection closed: the broker requeues everything held.
    public mutating func reset() {
        unsettled.removeAll()
    }
}
