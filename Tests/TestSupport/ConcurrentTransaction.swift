import Foundation
import Shared

/// What a second worker does at the same time as the test: `body` runs at once on a thread of its own, with a
/// database connection of its own, so a test can hold a transaction open and see whether the other one waits.
public final class ConcurrentTransaction: @unchecked Sendable {  // @unchecked: `outcome` is guarded by `lock`.
    private let lock = NSLock()
    private var outcome: String?
    private let done = DispatchSemaphore(value: 0)

    /// Starts `body`; what it returns (or `failed: <error>`) becomes ``result``.
    public init(databaseURL: String, _ body: @escaping @Sendable (PostgresConnection) throws -> String) {
        let thread = Thread { [self] in
            let text: String
            do {
                let connection = try PostgresConnection(url: databaseURL, applicationName: "schoolict-tests")
                defer { connection.close() }
                text = try body(connection)
            } catch {
                text = "failed: \(error)"
            }
            lock.withLock { outcome = text }
            done.signal()
        }
        thread.start()
    }

    /// What `body` returned, or `nil` while it runs.
    public var result: String? { lock.withLock { outcome } }

    /// Waits up to `seconds` for `body` to finish; returns ``result``.
    public func wait(seconds: Double) -> String? {
        _ = done.wait(timeout: .now() + seconds)
        return result
    }
}
