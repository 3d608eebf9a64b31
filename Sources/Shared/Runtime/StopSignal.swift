import Synchronization

/// A flag set once by graceful shutdown and read by a worker thread.
public final class StopSignal: Sendable {
    private let stopped = Atomic<Bool>(false)

    public init() {}

    public var isStopped: Bool { stopped.load(ordering: .acquiring) }

    public func stop() { stopped.store(true, ordering: .releasing) }

    /// Sleeps up to `seconds`, waking early when stopped. Returns whether it was stopped.
    @discardableResult
    public func sleep(seconds: Double) -> Bool {
        var remaining = seconds
        while remaining > 0, !isStopped {
            let step = min(remaining, 0.1)
            Thread.sleep(forTimeInterval: step)
            remaining -= step
        }
        return isStopped
    }
}

import Foundation
