import Foundation
import Synchronization

/// What `/healthz` and `/readyz` answer, reported by the worker's own threads.
///
/// - Liveness (`/healthz`): every registered loop (consumers, the relay, the scheduler, senders) has reported
///   progress within ``stallLimit``; a loop stuck in a call that never returns stops reporting, and the process
///   should be restarted.
/// - Readiness (`/readyz`): every loop that needs the broker and the database has them (connected, schema
///   current); while one is reconnecting the process takes no work and should get no traffic.
public final class Health: Sendable {
    /// The process's health, shared by its loops and its metrics server.
    public static let shared = Health()

    /// A loop that reports no progress for this long is stalled.
    public static let stallLimit: Duration = .seconds(60)

    private struct Component {
        var lastProgress: ContinuousClock.Instant
        var ready: Bool?
        var reason: String
    }

    private let components = Mutex<[String: Component]>([:])

    public init() {}

    /// A unique name for a component (`consumer-submissions-2`).
    public static func name(_ base: String) -> String {
        base + "-" + String(UUID().uuidString.prefix(8)).lowercased()
    }

    /// `name` made progress (called each loop turn, idle or not).
    public func progress(_ name: String) {
        components.withLock { all in
            var component = all[name] ?? Component(lastProgress: .now, ready: nil, reason: "")
            component.lastProgress = .now
            all[name] = component
        }
    }

    /// `name` has (or lost) what it needs to take work; `reason` says why not, without secrets.
    public func ready(_ name: String, _ isReady: Bool, reason: String = "") {
        components.withLock { all in
            var component = all[name] ?? Component(lastProgress: .now, ready: nil, reason: "")
            component.lastProgress = .now
            component.ready = isReady
            component.reason = isReady ? "" : reason
            all[name] = component
        }
    }

    /// `name` stopped on purpose (graceful shutdown): it no longer counts.
    public func remove(_ name: String) {
        _ = components.withLock { $0.removeValue(forKey: name) }
    }

    /// Liveness: the stalled components, if any.
    public func stalled(now: ContinuousClock.Instant = .now, limit: Duration = Health.stallLimit) -> [String] {
        components.withLock { all in all.filter { now - $0.value.lastProgress > limit }.keys.sorted() }
    }

    /// Readiness: the components not ready and why (one reporting none yet counts as not ready).
    public func notReady() -> [String] {
        components.withLock { all in
            all.filter { $0.value.ready == false }.map { "\($0.key): \($0.value.reason)" }.sorted()
        }
    }

    /// Whether any component has said it is ready (a process that has connected nothing yet is not ready).
    public var hasReadyComponent: Bool {
        components.withLock { all in all.values.contains { $0.ready == true } }
    }
}
