import Foundation

/// What a batch's outcome depends on, for ordering it against the batches of its process's other consumer loops:
/// two batches whose keys meet are decided in queue order; the others side by side.
public enum BatchKeys: Sendable, Equatable {
    /// Everything (a registry change, a command, a message that could not be read): decided after every earlier
    /// batch has committed, and before any later one.
    case all
    /// These keys (``BatchKeys/key(_:)``): a school, a device serial, a message id. Empty: depends on nothing.
    case some(Set<Int>)

    public static let independent = BatchKeys.some([])

    /// A key for `parts` (collisions only make a batch wait when it need not).
    public static func key(_ parts: String...) -> Int {
        var hasher = Hasher()
        for part in parts {
            hasher.combine(part)
            hasher.combine(0x1F as UInt8)
        }
        return hasher.finalize()
    }

    public func meets(_ other: BatchKeys) -> Bool {
        switch (self, other) {
        case (.all, _), (_, .all): true
        case (.some(let mine), .some(let theirs)):
            mine.count <= theirs.count ? !mine.isDisjoint(with: theirs) : !theirs.isDisjoint(with: mine)
        }
    }
}

/// The batches a process's consumer loops hold, in the order they were taken from their one channel (which is
/// queue order), and which of them a batch must wait for: a pure value, so the rules are tested without threads.
public struct BatchOrderBook: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var sequence: UInt64
        /// `nil` until its loop has read the batch and declared them.
        public var keys: BatchKeys?
        /// Its deliveries went back to the broker (the connection was reset): it must not be decided.
        public var abandoned = false
    }

    /// Taken and not yet finished, in sequence order.
    public private(set) var held: [Entry] = []
    private var nextSequence: UInt64 = 0

    public init() {}

    /// A batch taken from the channel: its sequence number.
    public mutating func take() -> UInt64 {
        nextSequence += 1
        held.append(Entry(sequence: nextSequence))
        return nextSequence
    }

    /// What the batch depends on once read, one ``BatchKeys`` per delivery in queue order, and how it splits:
    /// the deliveries that may be decided now (their keys meet no earlier held batch's, nor those of an earlier
    /// delivery of the batch that must wait), and those that wait for ``blockers(of:)``. Both keep queue order.
    public mutating func declare(_ sequence: UInt64, perDelivery keys: [BatchKeys]) -> (now: [Int], later: [Int]) {
        guard let index = held.firstIndex(where: { $0.sequence == sequence }) else { return ([], Array(keys.indices)) }
        var union = Set<Int>()
        var all = false
        for key in keys {
            switch key {
            case .all: all = true
            case .some(let some): union.formUnion(some)
            }
        }
        held[index].keys = all ? .all : .some(union)

        // What the earlier held batches touch; unknown (not read yet) counts as everything.
        var blocked = Set<Int>()
        var blockedAll = false
        for earlier in held[..<index] {
            switch earlier.keys {
            case nil, .all?: blockedAll = true
            case .some(let some)?: blocked.formUnion(some)
            }
        }
        var now: [Int] = []
        var later: [Int] = []
        for (position, key) in keys.enumerated() {
            switch key {
            case .all:
                blockedAll = true
                later.append(position)
            case .some(let some):
                if blockedAll || !blocked.isDisjoint(with: some) {
                    later.append(position)
                    blocked.formUnion(some)
                } else {
                    now.append(position)
                }
            }
        }
        return (now, later)
    }

    /// The earlier batches `sequence` must wait for before it is decided: those whose keys meet its own, and those
    /// not yet read (their keys are unknown). Before `sequence` has declared its keys, all earlier ones.
    public func blockers(of sequence: UInt64) -> [UInt64] {
        guard let entry = held.first(where: { $0.sequence == sequence }) else { return [] }
        let keys = entry.keys ?? .all
        return held.filter { earlier in
            earlier.sequence < sequence && (earlier.keys.map { $0.meets(keys) } ?? true)
        }.map(\.sequence)
    }

    public func isAbandoned(_ sequence: UInt64) -> Bool {
        held.contains { $0.sequence == sequence && $0.abandoned }
    }

    /// The connection was reset: every held batch's deliveries go back to the broker, in queue order. None of
    /// them may be decided any more (those already deciding finish; their acknowledgements are not sent and the
    /// redeliveries are answered as duplicates).
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

    func take() -> UInt64 {
        condition.withLock { book.take() }
    }

    /// Whether a batch taken earlier is still being decided (by another loop, when asked while taking).
    var isDeciding: Bool {
        condition.withLock { !book.held.isEmpty }
    }

    /// Waits until no batch is being decided, or `deadline`.
    func waitUntilNoneDeciding(before deadline: ContinuousClock.Instant) {
        condition.lock()
        defer { condition.unlock() }
        while !book.held.isEmpty {
            let remaining = deadline - .now
            guard remaining > .zero else { return }
            _ = condition.wait(until: Date(timeIntervalSinceNow: Double(remaining.nanoseconds) / 1e9))
        }
    }

    /// Declares what `sequence`'s deliveries depend on (``BatchOrderBook/declare(_:perDelivery:)``); throws when
    /// it was abandoned.
    func declare(_ sequence: UInt64, perDelivery keys: [BatchKeys]) throws -> (now: [Int], later: [Int]) {
        try condition.withLock {
            if book.isAbandoned(sequence) { throw BatchOrderAbandoned() }
            defer { condition.broadcast() }
            return book.declare(sequence, perDelivery: keys)
        }
    }

    /// Waits until the rest of `sequence` may be decided (it has declared its keys); throws when it was abandoned
    /// meanwhile.
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
