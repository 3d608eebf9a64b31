import Logging

/// A worker thread's PostgreSQL connection: opened on first use (the schema checked, and migrated if it is behind
/// and the role may, the first time), opened again after it died. Like the connection, it belongs to one thread.
public final class DatabaseSession {
    private let url: String
    private let applicationName: String
    private let logger: Logger
    private var connection: PostgresConnection?
    private var migrated = false

    public init(url: String, applicationName: String, logger: Logger) {
        self.url = url
        self.applicationName = applicationName
        self.logger = logger
    }

    /// Whether the current connection is open and usable (false before the first use).
    public var isAlive: Bool { connection?.isAlive == true }

    /// The live connection, opened if there is none or the last one died.
    public func connected() throws -> PostgresConnection {
        if let connection, connection.isAlive { return connection }
        close()
        let fresh = try PostgresConnection(url: url, applicationName: applicationName)
        if !migrated {
            do {
                try Migrator.prepare(fresh, logger: logger)
            } catch {
                fresh.close()
                throw error
            }
            migrated = true
        }
        connection = fresh
        return fresh
    }

    /// After a failed cycle: drops a dead connection so that the next use opens a new one.
    public func closeIfDead() {
        if connection != nil, !isAlive { close() }
    }

    public func close() {
        connection?.close()
        connection = nil
    }
}
