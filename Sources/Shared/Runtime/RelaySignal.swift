import Foundation

/// Wakes a process's relay as soon as a consumer committed events, so outcomes leave within milliseconds rather
/// than at the next poll.
public final class RelaySignal: @unchecked Sendable {  // @unchecked: all state is guarded by `condition`.
    private let condition = NSCondition()
    private var pending = false

    public init() {}

    /// Events were committed.
    public func notify() {
        condition.lock()
        pending = true
        condition.signal()
        condition.unlock()
    }

    /// Waits until notified or `seconds` pass; returns whether it was notified.
    @discardableResult
    public func wait(seconds: Double) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        if !pending { _ = condition.wait(until: Date().addingTimeInterval(seconds)) }
        let notified = pending
        pending = false
        return notified
    }
}
