import Foundation

/// How a batch must be ordered against the other batches of its process's consumer loops.
public enum BatchOrdering: Sendable, Equatable {
    /// Its outcome does not depend on the order of batches (the contract's newest-wins submissions): it may be
    /// decided beside other batches, but never before an earlier barrier has committed.
    case free
    /// It must be decided in queue order (a registry change, a command): after every earlier batch has
    /// committed, and before any later one is decided.
    case barrier
}

/// The batches a process's consumer loops hold, in the order they were taken from their one channel (which is
/// queue order), and which of them a batch must wait for: a pure value, so the rules are tested without threads.
public struct BatchOrderBook: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var sequence: UInt64
        public var ordering: BatchOrdering
        /// Its deliveries went back to the broker (the connection was reset): it must not be decided.
        public var abandoned = false
    }

    /// Taken and not yet finished, in sequence order.
    public private(set) var held: [Entry] = []
    private var nextSequence: UInt64 = 0

    public init() {}

    /// A batch taken from the channel: its sequence number.
    public mutating func take(_ ordering: BatchOrdering) -> UInt64 {
        nextSequence += 1
        held.append(Entry(sequence: nextSequence, ordering: ordering))
        return nextSequence
    }

    /// The earlier batches `sequence` must wait for before it is decided: all of them for a barrier, the earlier
    /// barriers for a free batch.
    public func blockers(of sequence: UInt64) -> [UInt64] {
        guard let entry = held.first(where: { $0.sequence == sequence }) else { return [] }
        return held.filter { earlier in
            earlier.sequence < sequence && (entry.ordering == .barrier || earlier.ordering == .barrier)
        }.map(\.sequence)
    }

    public func isAbandoned(_ sequence: UInt64) -> Bool {
        held.contains { $0.sequence == sequence && $0.abandoned }
    }

    /// The connection was reset: every held batch's deliveries go back to the broker, in queue order. None of
    /// them may be decided any more (those already deciding finish; their acknowledgements fail harmlessly and
    /// the redeliveries are answered as duplicates).
    public mutating func abandonAll() {
        for index in held.indices { held[index].abandoned = true }
    }

    /// A batch committed, or given up.
    public mutating func finish(_ sequence: UInt64) {
        held.removeAll { $0.sequence == sequence }
    }
}

/// ``BatchOrderBook`` shared by the consumer loops of one process, with waiting.
final class BatchOrder: @unchecked Sendable {  // all state is guarded by `condition`
    private let condition = NSCondition()
    private var book = BatchOrderBook()

    func take(_ ordering: BatchOrdering) -> UInt64 {
        condition.withLock { book.take(ordering) }
    }

    /// Waits until `sequence` may be decided; throws when it was abandoned meanwhile.
    func waitForTurn(_ sequence: UInt64) throws {
        condition.lock()
        defer { condition.unlock() }
        while true {
            if book.isAbandoned(sequence) { throw BatchOrderAbandoned() }
            if book.blockers(of: sequence).isEmpty { return }
            condition.wait()
        }
    }

    func abandonAll() {
        condition.withLock {
            book.abandonAll()
            condition.broadcast()
        }
    }

    func finish(_ sequence: UInt64) {
        condition.withLock {
            book.finish(sequence)
            condition.broadcast()
        }
    }
}

/// A batch was not decided because the connection it came on was reset (a batch before it failed); its
/// deliveries return to the broker.
struct BatchOrderAbandoned: Error, CustomStringConvertible {
    var description: String { "the connection was reset before this batch's turn; it goes back to the broker" }
}
