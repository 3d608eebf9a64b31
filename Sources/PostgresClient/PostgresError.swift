/// An error from PostgreSQL or from libpq, with the server's SQLSTATE kept for callers to branch on.
///
/// `description` is safe to log: it never contains SQL text, bound parameters, the server's
/// `DETAIL` (which repeats row values, i.e. personal data) or a password. For data exceptions
/// (SQLSTATE class `22`) the primary message quotes the rejected input
/// (`invalid input syntax for type integer: "…"`), so `description` shows it with the quoted
/// part elided; the full text stays in ``serverMessage`` for deliberate use.
public struct PostgresError: Error, CustomStringConvertible, Sendable {
    /// What kind of operation failed.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        /// The code's name, e.g. `queryFailed`.
        public let rawValue: String

        /// A code by name; prefer the static members.
        public init(rawValue: String) {
            self.rawValue = rawValue
        }

        /// Opening the connection failed (unreachable server, authentication, bad URL).
        public static let connectionFailed = Code(rawValue: "connectionFailed")
        /// The server rejected a statement; see ``PostgresError/sqlState``.
        public static let queryFailed = Code(rawValue: "queryFailed")
        /// The connection broke during an operation, or was already closed.
        public static let connectionLost = Code(rawValue: "connectionLost")
        /// A column value could not be decoded as the requested type.
        public static let decodingFailed = Code(rawValue: "decodingFailed")
        /// A `COPY … FROM STDIN` could not be started, streamed or completed.
        public static let copyFailed = Code(rawValue: "copyFailed")

        /// The code's name, e.g. `queryFailed`.
        public var description: String { rawValue }
    }

    /// What kind of operation failed.
    public let code: Code
    /// The five-character SQLSTATE sent by the server (`PG_DIAG_SQLSTATE`), if any.
    public let sqlState: String?
    /// The server's primary message (`PG_DIAG_MESSAGE_PRIMARY`), or libpq's message with any
    /// password removed. Never contains `DETAIL`.
    public let serverMessage: String?
    /// The name of the violated constraint (`PG_DIAG_CONSTRAINT_NAME`), if any.
    public let constraint: String?
    /// The column a decoding error is about (its name, never its value).
    public let column: String?
    /// A client-side explanation, free of values (for example "expected an integer").
    public let reason: String?

    /// Creates an error; `serverMessage` is stored as given, so pass it through
    /// ``redactingCredentials(in:)`` when it may echo a connection string.
    public init(
        code: Code,
        sqlState: String? = nil,
        serverMessage: String? = nil,
        constraint: String? = nil,
        column: String? = nil,
        reason: String? = nil
    ) {
        self.code = code
        self.sqlState = sqlState
        self.serverMessage = serverMessage
        self.constraint = constraint
        self.column = column
        self.reason = reason
    }

    /// `23505 unique_violation`: a duplicate key, e.g. a message that was already stored.
    public var isUniqueViolation: Bool { sqlState == "23505" }

    /// `40001 serialization_failure` or `40P01 deadlock_detected`: retrying the transaction may succeed.
    public var isSerializationFailure: Bool { sqlState == "40001" || sqlState == "40P01" }

    /// The connection is unusable: it failed to open, broke, or the server reported a
    /// connection exception (class `08`) or is shutting down (`57P01`–`57P03`).
    /// Reconnecting may help; retrying on the same connection will not.
    public var isConnectionError: Bool {
        if code == .connectionFailed || code == .connectionLost { return true }
        guard let sqlState else { return false }
        // 25006: the server became a read-only standby (a failover): reconnecting finds the new primary when the
        // URL lists several hosts with target_session_attrs=read-write. The transaction was rolled back whole.
        return sqlState.hasPrefix("08") || ["57P01", "57P02", "57P03", "25006"].contains(sqlState)
    }

    /// `PostgresError(code: …, sqlState: …, message: …, constraint: …)`, safe to log (see above).
    public var description: String {
        var parts = ["code: \(code)"]
        if let sqlState { parts.append("sqlState: \(sqlState)") }
        if let serverMessage {
            let isDataException = sqlState?.hasPrefix("22") ?? false
            parts.append("message: \(isDataException ? Self.removingQuotedInput(serverMessage) : serverMessage)")
        }
        if let constraint { parts.append("constraint: \(constraint)") }
        if let column { parts.append("column: \(column)") }
        if let reason { parts.append("reason: \(reason)") }
        return "PostgresError(\(parts.joined(separator: ", ")))"
    }

    /// `value "x" is out of range` → `value "…" is out of range`.
    static func removingQuotedInput(_ message: String) -> String {
        message.replacing(#/"[^"]*"/#, with: "\"…\"")
    }

    /// Removes passwords from a libpq message that may echo the connection string:
    /// `password=…` settings (quoted or not) and the password in a URI's user info.
    public static func redactingCredentials(in message: String) -> String {
        var redacted = message.replacing(#/(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'?|[^\s&]+)/#) { match in
            "\(match.output.1)<redacted>"
        }
        redacted = redacted.replacing(#/(?i)(postgres(?:ql)?://[^:/@\s]*):[^@\s]*@/#) { match in
            "\(match.output.1):<redacted>@"
        }
        return redacted
    }
}
