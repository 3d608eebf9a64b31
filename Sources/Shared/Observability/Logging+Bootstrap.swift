import Logging
import Synchronization

/// Sets up swift-log once per process, in `main`, before the first `Logger` is made.
///
/// Everything logs to standard error through `StreamLogHandler`, at the level in `LOG_LEVEL`.
///
/// Conventions for whoever logs:
/// - Pass a `Logger` in; add context as metadata, not string interpolation.
/// - Metadata keys are dotted, concern first: `amqp.queue`, `amqp.message_id`, `submission.id`,
///   `campaign`, `school.code`, `db.sqlstate`, `error.code`.
/// - Never log student names, household circumstances (hardship categories of a named child), message
///   bodies, or connection URLs (use ``Configuration/redactedDescription``).
public enum LogSetup {
    private static let isBootstrapped = Mutex(false)

    /// Bootstraps swift-log at `configuration.logLevel`.
    ///
    /// - Returns: `true` if this call bootstrapped the logging system, `false` if it already was
    ///   (swift-log allows a single bootstrap per process; later calls change nothing).
    @discardableResult
    public static func bootstrap(_ configuration: Configuration) -> Bool {
        bootstrap(level: configuration.logLevel)
    }

    /// Bootstraps swift-log at `level`; see ``bootstrap(_:)``.
    @discardableResult
    public static func bootstrap(level: Logger.Level) -> Bool {
        isBootstrapped.withLock { done in
            guard !done else { return false }
            LoggingSystem.bootstrap { label in
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = level
                return handler
            }
            done = true
            return true
        }
    }
}
