import Foundation

/// A value that can be bound to a `$n` parameter of ``PostgresConnection/query(_:_:)``.
///
/// Parameters are sent in PostgreSQL's text format; `nil` is SQL `NULL`. Let the SQL say the
/// type where it is ambiguous (`$1::timestamptz`, `unnest($1::text[])`).
public protocol PostgresBindable {
    /// The value in PostgreSQL's text input format, or `nil` for SQL `NULL`.
    var postgresText: String? { get }
}

extension String: PostgresBindable {
    public var postgresText: String? { self }
}

extension Substring: PostgresBindable {
    public var postgresText: String? { String(self) }
}

extension Int: PostgresBindable {
    public var postgresText: String? { String(self) }
}

extension Int32: PostgresBindable {
    public var postgresText: String? { String(self) }
}

extension Int64: PostgresBindable {
    public var postgresText: String? { String(self) }
}

extension Double: PostgresBindable {
    /// The shortest text that reads back as the same `Double`; infinities and NaN in
    /// PostgreSQL's spelling.
    public var postgresText: String? {
        if isNaN { return "NaN" }
        if isInfinite { return self < 0 ? "-Infinity" : "Infinity" }
        return description
    }
}

extension Bool: PostgresBindable {
    public var postgresText: String? { self ? "t" : "f" }
}

extension Date: PostgresBindable {
    /// ISO 8601 in UTC with microseconds, e.g. `2022-01-21T21:59:59.123456Z`, which is
    /// PostgreSQL's own `timestamptz` resolution.
    public var postgresText: String? { PostgresText.timestamp(self) }
}

extension UUID: PostgresBindable {
    public var postgresText: String? { uuidString }
}

extension Optional: PostgresBindable where Wrapped: PostgresBindable {
    /// `nil` binds SQL `NULL`.
    public var postgresText: String? { self?.postgresText }
}

extension Array: PostgresBindable where Element: PostgresBindable {
    /// A one-dimensional PostgreSQL array literal such as `{"a","b \"c\"",NULL}`: every element
    /// double-quoted with `"` and `\` escaped, `nil` elements as `NULL`. Cast it in SQL
    /// (`$1::text[]`, `unnest($1::int[])`) to bind a whole column of a bulk insert at once.
    public var postgresText: String? { PostgresText.arrayLiteral(self) }
}
