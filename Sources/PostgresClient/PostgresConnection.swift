import CPostgres
import Foundation

/// One PostgreSQL session over libpq, in blocking mode.
///
/// The connection owns its `PGconn` alone and is confined to one task or thread, like the
/// libpq handle it wraps. Close it explicitly with ``close()``; `deinit` only guards against
/// a forgotten close.
///
/// Every session runs with `TimeZone=UTC`, `DateStyle=ISO, MDY` and `client_encoding=UTF8`
/// so values come back in one text form.
public final class PostgresConnection {
    private var handle: OpaquePointer?
    /// Open `transaction` calls on this connection, to give nested savepoints distinct names.
    private var transactionDepth = 0
    /// The statements ``query(_:_:)`` prepared in this session, by their SQL. The workers' statements are a fixed
    /// set written in the code; the limit only bounds a caller that builds SQL text at run time.
    private var preparedStatements: [String: String] = [:]
    private var preparedStatementSerial = 0
    /// A prepared statement no longer fit its table (0A000): the session's statements are deallocated before the
    /// next one runs, so the server never holds more than the limit.
    private var preparedStatementsStale = false
    public static let preparedStatementLimit = 256

    /// COPY data is sent in chunks of about this size: big enough that the per-call overhead
    /// vanishes, small enough to stay in cache.
    private static let copyChunkSize = 64 * 1024

    /// Field codes of `PQresultErrorField`. `postgres_ext.h` defines them as character
    /// macros, which Swift does not import.
    private enum DiagnosticField {
        static let sqlState = Int32(UInt8(ascii: "C"))
        static let primaryMessage = Int32(UInt8(ascii: "M"))
        static let constraintName = Int32(UInt8(ascii: "n"))
    }

    /// Connects and waits until the session is ready.
    ///
    /// - Parameters:
    ///   - url: Any libpq connection string, as a URI (`postgresql://user@host:5432/db?sslmode=disable`)
    ///     or as `key=value` pairs. `options` given there are kept; the session settings above
    ///     are appended to them.
    ///   - applicationName: Shown in `pg_stat_activity`; when `nil`, the URL's setting (if any) stays.
    /// - Throws: ``PostgresError`` with code ``PostgresError/Code/connectionFailed``; its message
    ///   is libpq's, with any password removed.
    public init(url: String, applicationName: String? = nil) throws(PostgresError) {
        let parsed = try Self.parse(url)
        let sessionOptions = "-c TimeZone=UTC -c DateStyle=ISO,MDY -c client_min_messages=warning"
        let userOptions = parsed.options ?? ProcessInfo.processInfo.environment["PGOPTIONS"]
        let options = userOptions.map { "\($0) \(sessionOptions)" } ?? sessionOptions
        // Later keywords override what the expanded `dbname` connection string set.
        var settings: [(String, String)] = [("dbname", url), ("client_encoding", "UTF8"), ("options", options)]
        if let applicationName {
            settings.append(("application_name", applicationName))
        }
        let connection = Self.withCStrings(settings.map(\.0)) { keywords in
            Self.withCStrings(settings.map(\.1)) { values in
                PQconnectdbParams(keywords, values, 1)
            }
        }
        guard let connection else {
            throw PostgresError(code: .connectionFailed, reason: "libpq could not allocate a connection")
        }
        guard PQstatus(connection) == CONNECTION_OK else {
            var message = Self.trimmedMessage(PQerrorMessage(connection)).map(PostgresError.redactingCredentials(in:))
            if let password = parsed.password, !password.isEmpty {
                message = message?.replacingOccurrences(of: password, with: "<redacted>")
            }
            PQfinish(connection)
            throw PostgresError(code: .connectionFailed, serverMessage: message)
        }
        handle = connection
    }

    deinit {
        close()
    }

    /// Whether the session is usable as far as libpq knows. libpq notices a broken socket only
    /// when a call fails, so `true` does not guarantee that the next query succeeds.
    public var isAlive: Bool {
        guard let handle else { return false }
        return PQstatus(handle) == CONNECTION_OK
    }

    /// Ends the session. Calling it again does nothing.
    public func close() {
        guard let handle else { return }
        self.handle = nil
        PQfinish(handle)
    }

    // MARK: Statements

    /// Runs one statement with `$1`, `$2`, … bound to `parameters` (text format; `nil` is `NULL`).
    /// The statement is prepared on its first run in this session and reused after (see `preparedStatementLimit`).
    ///
    /// ```swift
    /// let rows = try connection.query("SELECT id, name FROM school WHERE region = $1", [region])
    /// for row in rows { print(try row.int("id"), try row.string("name")) }
    /// ```
    ///
    /// - Returns: The result rows, already copied out of libpq; for commands without rows, an
    ///   empty result whose ``PostgresRows/affectedRows`` is the command's count.
    /// - Throws: ``PostgresError`` with the server's SQLSTATE, or
    ///   ``PostgresError/Code/connectionLost`` when the session broke.
    @discardableResult
    public func query(_ sql: String, _ parameters: [any PostgresBindable] = []) throws(PostgresError) -> PostgresRows {
        let handle = try openHandle()
        let texts = parameters.map(\.postgresText)
        for (position, text) in texts.enumerated() where text?.utf8.contains(0) == true {
            // libpq takes C strings: a NUL would silently cut the value short.
            throw PostgresError(
                code: .queryFailed,
                reason: "parameter $\(position + 1) contains a NUL byte, which PostgreSQL text cannot hold"
            )
        }
        let statement = try preparedStatement(for: sql, parameterCount: texts.count, handle: handle)
        let result = Self.withCStrings(texts) { values in
            if let statement {
                PQexecPrepared(handle, statement, Int32(texts.count), values, nil, nil, 0)
            } else {
                PQexecParams(handle, sql, Int32(texts.count), nil, values, nil, nil, 0)
            }
        }
        do {
            return try rows(from: result)
        } catch where error.sqlState == "0A000" && statement != nil {
            // "cached plan must not change result type": a table a prepared statement reads changed shape (a
            // migration ran beside this session). Drop them all; the next attempt prepares afresh.
            preparedStatementsStale = true
            throw error
        }
    }

    /// The name of the session's prepared statement for `sql`, prepared now on first use; `nil` when the cache is
    /// full (the statement then runs unprepared). Preparing once per session spares the server parsing and planning
    /// the same statement again for every batch; after a few runs PostgreSQL keeps a generic plan when it costs no
    /// more than the custom ones (`plan_cache_mode`). A statement that fails to prepare is not kept.
    private func preparedStatement(for sql: String, parameterCount: Int,
                                   handle: OpaquePointer) throws(PostgresError) -> String? {
        if preparedStatementsStale {
            // DEALLOCATE is not transactional and runs inside a transaction, but not in one that already failed.
            guard PQtransactionStatus(handle) != PQTRANS_INERROR else { return nil }
            try execute("DEALLOCATE ALL")
            preparedStatements.removeAll()
            preparedStatementsStale = false
        }
        if let name = preparedStatements[sql] { return name }
        guard preparedStatements.count < Self.preparedStatementLimit else { return nil }
        preparedStatementSerial += 1
        let name = "schoolict_\(preparedStatementSerial)"
        PQclear(try checked(PQprepare(handle, name, sql, Int32(parameterCount), nil)))
        preparedStatements[sql] = name
        return name
    }

    /// Runs one or more `;`-separated statements without parameters, e.g. a migration.
    /// Unless the SQL manages its own transaction, the statements run in one implicit transaction.
    public func execute(_ sql: String) throws(PostgresError) {
        let handle = try openHandle()
        _ = try rows(from: PQexec(handle, sql))
    }

    /// Runs `body` in a transaction: `BEGIN`, then `COMMIT` if `body` returns, `ROLLBACK` if it
    /// throws (the body's error is rethrown). Called inside another `transaction`, it uses a
    /// savepoint so only the inner work is undone.
    ///
    /// If `body` swallowed a failed statement, PostgreSQL has already aborted the transaction;
    /// it is rolled back and this throws SQLSTATE `25P02` instead of committing.
    public func transaction<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
        // Nest on the session's real state, so a transaction begun with plain SQL is respected too.
        let nested = try PQtransactionStatus(openHandle()) != PQTRANS_IDLE
        let savepoint = nested ? "schoolict_savepoint_\(transactionDepth)" : nil
        try execute(savepoint.map { "SAVEPOINT \($0)" } ?? "BEGIN")
        transactionDepth += 1
        defer { transactionDepth -= 1 }

        let rollback = savepoint.map { "ROLLBACK TO SAVEPOINT \($0); RELEASE SAVEPOINT \($0)" } ?? "ROLLBACK"
        let value: T
        do {
            value = try body(self)
        } catch {
            // The body's error is the one that matters; a broken connection rolls back by itself.
            try? execute(rollback)
            throw error
        }
        // Read the handle again: the body may have closed the connection.
        if let handle, PQtransactionStatus(handle) == PQTRANS_INERROR {
            try? execute(rollback)
            throw PostgresError(
                code: .queryFailed,
                sqlState: "25P02",
                reason: "a statement in the transaction failed and the transaction was rolled back"
            )
        }
        try execute(savepoint.map { "RELEASE SAVEPOINT \($0)" } ?? "COMMIT")
        return value
    }

    // MARK: COPY

    /// Streams `rows` into `COPY table (columns…) FROM STDIN` (text format), the fastest way to
    /// load many rows. Values are escaped here; `nil` is `NULL`.
    ///
    /// - Parameters:
    ///   - sql: The `COPY … FROM STDIN` statement, e.g. `COPY reading (school_id, value) FROM STDIN`.
    ///   - rows: One array per row, with one element per column of the statement.
    /// - Returns: The number of rows the server stored.
    /// - Throws: ``PostgresError`` with code ``PostgresError/Code/copyFailed`` (and the server's
    ///   SQLSTATE, e.g. `23505`) if any row is rejected; then nothing was stored.
    public func copyIn(_ sql: String, rows: some Sequence<[String?]>) throws(PostgresError) -> Int {
        let handle = try openHandle()
        let start = try checked(PQexec(handle, sql), code: .copyFailed)
        let startStatus = PQresultStatus(start)
        PQclear(start)
        guard startStatus == PGRES_COPY_IN else {
            abandonCopy(status: startStatus)
            throw PostgresError(code: .copyFailed, reason: "the statement is not COPY … FROM STDIN")
        }

        var failure: PostgresError?
        var buffer: [UInt8] = []
        buffer.reserveCapacity(Self.copyChunkSize + 4096)
        for row in rows {
            PostgresText.appendCopyRow(row, to: &buffer)
            if buffer.count >= Self.copyChunkSize {
                failure = send(buffer, over: handle)
                if failure != nil { break }
                buffer.removeAll(keepingCapacity: true)
            }
        }
        if failure == nil, !buffer.isEmpty {
            failure = send(buffer, over: handle)
        }
        // An error message makes the server discard everything received so far.
        if PQputCopyEnd(handle, failure == nil ? nil : "COPY aborted by the client") != 1, failure == nil {
            failure = error(from: nil, code: .copyFailed)
        }

        var stored = 0
        while let result = PQgetResult(handle) {
            if PQresultStatus(result) == PGRES_COMMAND_OK {
                stored = Int(String(cString: PQcmdTuples(result))) ?? 0
            } else if failure == nil {
                failure = error(from: result, code: .copyFailed)
            }
            PQclear(result)
        }
        if let failure { throw failure }
        return stored
    }

    // MARK: libpq plumbing

    private func openHandle() throws(PostgresError) -> OpaquePointer {
        guard let handle else {
            throw PostgresError(code: .connectionLost, reason: "the connection is closed")
        }
        return handle
    }

    /// The one place a `PGresult` is judged: returns it if it succeeded (the caller clears it),
    /// otherwise clears it and throws.
    private func checked(_ result: OpaquePointer?, code: PostgresError.Code = .queryFailed) throws(PostgresError) -> OpaquePointer {
        guard let result else {
            throw error(from: nil, code: code)
        }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY, PGRES_SINGLE_TUPLE,
            PGRES_COPY_IN, PGRES_COPY_OUT, PGRES_COPY_BOTH:
            return result
        default:
            let failure = error(from: result, code: code)
            PQclear(result)
            throw failure
        }
    }

    /// Checks, copies and clears a statement's result. A statement that started a COPY is
    /// ended cleanly and reported, since only ``copyIn(_:rows:)`` can feed it.
    private func rows(from result: OpaquePointer?) throws(PostgresError) -> PostgresRows {
        let result = try checked(result)
        defer { PQclear(result) }
        let status = PQresultStatus(result)
        if status == PGRES_COPY_IN || status == PGRES_COPY_OUT || status == PGRES_COPY_BOTH {
            abandonCopy(status: status)
            throw PostgresError(code: .queryFailed, reason: "COPY is only supported through copyIn")
        }
        return PostgresRows(copying: result)
    }

    /// Builds the error for a failed result (or for `nil`, from the connection's message).
    /// Keeps SQLSTATE, primary message and constraint; leaves out `DETAIL`, which repeats row values.
    private func error(from result: OpaquePointer?, code: PostgresError.Code) -> PostgresError {
        let lost = handle.map { PQstatus($0) == CONNECTION_BAD } ?? true
        let effectiveCode: PostgresError.Code = lost ? .connectionLost : code
        guard let result else {
            let message = handle.flatMap { Self.trimmedMessage(PQerrorMessage($0)) }
            return PostgresError(code: effectiveCode, serverMessage: message)
        }
        func field(_ code: Int32) -> String? {
            PQresultErrorField(result, code).map { String(cString: $0) }
        }
        // libpq's own errors (e.g. "server closed the connection unexpectedly") have no fields,
        // and their whole message is safe to keep: it carries no DETAIL.
        let primary = field(DiagnosticField.primaryMessage) ?? Self.trimmedMessage(PQresultErrorMessage(result))
        return PostgresError(
            code: effectiveCode,
            sqlState: field(DiagnosticField.sqlState),
            serverMessage: primary,
            constraint: field(DiagnosticField.constraintName)
        )
    }

    /// Sends one chunk of COPY data; `nil` on success.
    private func send(_ chunk: [UInt8], over handle: OpaquePointer) -> PostgresError? {
        let sent = chunk.withUnsafeBufferPointer { bytes in
            bytes.withMemoryRebound(to: CChar.self) { characters in
                PQputCopyData(handle, characters.baseAddress, Int32(characters.count))
            }
        }
        return sent == 1 ? nil : error(from: nil, code: .copyFailed)
    }

    /// Ends a COPY the caller cannot serve and drains its results, leaving the session usable.
    private func abandonCopy(status: ExecStatusType) {
        guard let handle else { return }
        if status == PGRES_COPY_IN {
            _ = PQputCopyEnd(handle, "COPY FROM STDIN is only supported through copyIn")
        } else if status == PGRES_COPY_OUT || status == PGRES_COPY_BOTH {
            var buffer: UnsafeMutablePointer<CChar>?
            while PQgetCopyData(handle, &buffer, 0) >= 0 {
                if let buffer { PQfreemem(buffer) }
                buffer = nil
            }
        }
        while let result = PQgetResult(handle) {
            PQclear(result)
        }
    }

    /// The settings of a connection string that need attention before connecting.
    private struct ConnectionSettings {
        var options: String?
        var password: String?
    }

    /// Reads `options` (to append the session settings to the caller's) and `password` (to
    /// keep it out of error messages) from a URI or `key=value` string; a bare word is a
    /// database name, as for libpq.
    ///
    /// A malformed string is rejected here with its quoted fragments removed from libpq's
    /// message: the fragment libpq quotes may be the password.
    private static func parse(_ url: String) throws(PostgresError) -> ConnectionSettings {
        let isConnectionString = url.contains("=") || url.hasPrefix("postgresql://") || url.hasPrefix("postgres://")
        guard isConnectionString else { return ConnectionSettings() }
        var parseError: UnsafeMutablePointer<CChar>?
        guard let parsed = PQconninfoParse(url, &parseError) else {
            let message = trimmedMessage(parseError)
            if let parseError { PQfreemem(parseError) }
            throw PostgresError(
                code: .connectionFailed,
                serverMessage: message.map(PostgresError.removingQuotedInput),
                reason: "the connection string is malformed"
            )
        }
        defer { PQconninfoFree(parsed) }
        var settings = ConnectionSettings()
        var option = parsed
        while let keyword = option.pointee.keyword {
            if let value = option.pointee.val {
                switch String(cString: keyword) {
                case "options": settings.options = String(cString: value)
                case "password": settings.password = String(cString: value)
                default: break
                }
            }
            option += 1
        }
        return settings
    }

    /// Calls `body` with NUL-terminated copies of `strings` (`nil` stays a null pointer) followed
    /// by a terminating null pointer; the copies are freed afterwards.
    private static func withCStrings<R>(_ strings: [String?], _ body: ([UnsafePointer<CChar>?]) -> R) -> R {
        let copies: [UnsafeMutablePointer<CChar>?] = strings.map { string in
            string.map { text in
                guard let copy = strdup(text) else { fatalError("strdup: out of memory") }
                return copy
            }
        }
        defer { copies.forEach { free($0) } }
        return body(copies.map { $0.map { UnsafePointer($0) } } + [nil])
    }

    /// A libpq message on one line (libpq wraps and indents its hints); `nil` if empty.
    private static func trimmedMessage(_ message: UnsafePointer<CChar>?) -> String? {
        guard let message else { return nil }
        let text = String(cString: message)
            .split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
            .joined(separator: " ")
        return text.isEmpty ? nil : text
    }
}

/// A libpq connection must not be used from two threads at once; keep it in one task.
@available(*, unavailable)
extension PostgresConnection: Sendable {}
