import Foundation

/// One row of ``PostgresRows``, decoded column by column, by name or by zero-based index.
///
/// Accessors throw ``PostgresError`` with code ``PostgresError/Code/decodingFailed`` naming the
/// column (never the value) when the column does not exist, is `NULL` where a value is required,
/// or does not parse as the requested type. Names resolve to the first column with that name.
public struct PostgresRow: Sendable {
    let storage: PostgresRows.Storage
    let row: Int

    /// Column names in result order.
    public var columns: [String] { storage.columns }

    /// Whether the column is SQL `NULL`.
    public func isNull(_ column: String) throws(PostgresError) -> Bool {
        try isNull(index(of: column))
    }

    /// Whether the column is SQL `NULL`.
    public func isNull(_ index: Int) throws(PostgresError) -> Bool {
        try checkBounds(index)
        return storage.lengths[row * storage.columnCount + index] < 0
    }

    // MARK: String

    /// The column's text. Throws if it is `NULL`.
    public func string(_ column: String) throws(PostgresError) -> String {
        try string(index(of: column))
    }

    /// The column's text. Throws if it is `NULL`.
    public func string(_ index: Int) throws(PostgresError) -> String {
        try required(index, optionalString(index))
    }

    /// The column's text, `nil` for `NULL`.
    public func optionalString(_ column: String) throws(PostgresError) -> String? {
        try optionalString(index(of: column))
    }

    /// The column's text, `nil` for `NULL`.
    public func optionalString(_ index: Int) throws(PostgresError) -> String? {
        try decode(index, expecting: "text") { String(decoding: $0, as: UTF8.self) }
    }

    // MARK: Int

    /// An integer column (`smallint`, `int`, `bigint`). Throws if it is `NULL` or not an integer.
    public func int(_ column: String) throws(PostgresError) -> Int {
        try int(index(of: column))
    }

    /// An integer column (`smallint`, `int`, `bigint`). Throws if it is `NULL` or not an integer.
    public func int(_ index: Int) throws(PostgresError) -> Int {
        try required(index, optionalInt(index))
    }

    /// An integer column, `nil` for `NULL`. Throws if it is not an integer.
    public func optionalInt(_ column: String) throws(PostgresError) -> Int? {
        try optionalInt(index(of: column))
    }

    /// An integer column, `nil` for `NULL`. Throws if it is not an integer.
    public func optionalInt(_ index: Int) throws(PostgresError) -> Int? {
        try decode(index, expecting: "an integer", PostgresText.parseInt)
    }

    // MARK: Double

    /// A `float8`/`float4`/`numeric` column (including `Infinity` and `NaN`). Throws if it is `NULL`.
    public func double(_ column: String) throws(PostgresError) -> Double {
        try double(index(of: column))
    }

    /// A `float8`/`float4`/`numeric` column (including `Infinity` and `NaN`). Throws if it is `NULL`.
    public func double(_ index: Int) throws(PostgresError) -> Double {
        try required(index, optionalDouble(index))
    }

    /// A floating-point column, `nil` for `NULL`.
    public func optionalDouble(_ column: String) throws(PostgresError) -> Double? {
        try optionalDouble(index(of: column))
    }

    /// A floating-point column, `nil` for `NULL`.
    public func optionalDouble(_ index: Int) throws(PostgresError) -> Double? {
        try decode(index, expecting: "a floating-point number", PostgresText.parseDouble)
    }

    // MARK: Bool

    /// A `boolean` column. Throws if it is `NULL`.
    public func bool(_ column: String) throws(PostgresError) -> Bool {
        try bool(index(of: column))
    }

    /// A `boolean` column. Throws if it is `NULL`.
    public func bool(_ index: Int) throws(PostgresError) -> Bool {
        try required(index, optionalBool(index))
    }

    /// A `boolean` column, `nil` for `NULL`.
    public func optionalBool(_ column: String) throws(PostgresError) -> Bool? {
        try optionalBool(index(of: column))
    }

    /// A `boolean` column, `nil` for `NULL`.
    public func optionalBool(_ index: Int) throws(PostgresError) -> Bool? {
        try decode(index, expecting: "a boolean", PostgresText.parseBool)
    }

    // MARK: Date

    /// A `timestamptz` (also `timestamp`, read as UTC, and `date`, read as UTC midnight).
    /// The connection sets `TimeZone=UTC` and `DateStyle=ISO`, so the text form is uniform.
    public func date(_ column: String) throws(PostgresError) -> Date {
        try date(index(of: column))
    }

    /// A `timestamptz` (also `timestamp`, read as UTC, and `date`, read as UTC midnight).
    public func date(_ index: Int) throws(PostgresError) -> Date {
        try required(index, optionalDate(index))
    }

    /// A `timestamptz`, `timestamp` or `date` column, `nil` for `NULL`.
    public func optionalDate(_ column: String) throws(PostgresError) -> Date? {
        try optionalDate(index(of: column))
    }

    /// A `timestamptz`, `timestamp` or `date` column, `nil` for `NULL`.
    public func optionalDate(_ index: Int) throws(PostgresError) -> Date? {
        try decode(index, expecting: "a finite ISO timestamp", PostgresText.parseTimestamp)
    }

    // MARK: UUID

    /// A `uuid` column. Throws if it is `NULL`.
    public func uuid(_ column: String) throws(PostgresError) -> UUID {
        try uuid(index(of: column))
    }

    /// A `uuid` column. Throws if it is `NULL`.
    public func uuid(_ index: Int) throws(PostgresError) -> UUID {
        try required(index, optionalUUID(index))
    }

    /// A `uuid` column, `nil` for `NULL`.
    public func optionalUUID(_ column: String) throws(PostgresError) -> UUID? {
        try optionalUUID(index(of: column))
    }

    /// A `uuid` column, `nil` for `NULL`.
    public func optionalUUID(_ index: Int) throws(PostgresError) -> UUID? {
        try decode(index, expecting: "a UUID") { UUID(uuidString: String(decoding: $0, as: UTF8.self)) }
    }

    // MARK: Array

    /// A one-dimensional array in text output form (`{a,"b c",NULL}`); `NULL` elements are `nil`.
    public func stringArray(_ column: String) throws(PostgresError) -> [String?] {
        try stringArray(index(of: column))
    }

    /// A one-dimensional array in text output form (`{a,"b c",NULL}`); `NULL` elements are `nil`.
    public func stringArray(_ index: Int) throws(PostgresError) -> [String?] {
        try required(index, optionalStringArray(index))
    }

    /// A one-dimensional array column, `nil` when the column itself is `NULL`.
    public func optionalStringArray(_ column: String) throws(PostgresError) -> [String?]? {
        try optionalStringArray(index(of: column))
    }

    /// A one-dimensional array column, `nil` when the column itself is `NULL`.
    public func optionalStringArray(_ index: Int) throws(PostgresError) -> [String?]? {
        try decode(index, expecting: "a one-dimensional array", PostgresText.parseArray)
    }

    // MARK: Decoding

    private func index(of column: String) throws(PostgresError) -> Int {
        guard let index = storage.columnIndex[column] else {
            throw PostgresError(code: .decodingFailed, column: column, reason: "no such column")
        }
        return index
    }

    private func checkBounds(_ index: Int) throws(PostgresError) {
        guard index >= 0, index < storage.columnCount else {
            throw PostgresError(
                code: .decodingFailed,
                column: "#\(index)",
                reason: "no such column (the result has \(storage.columnCount))"
            )
        }
    }

    private func required<T>(_ index: Int, _ value: T?) throws(PostgresError) -> T {
        guard let value else {
            throw PostgresError(code: .decodingFailed, column: storage.columns[index], reason: "unexpected NULL")
        }
        return value
    }

    /// `nil` for SQL `NULL`; throws when the text does not parse.
    private func decode<T>(
        _ index: Int,
        expecting expected: String,
        _ parse: (UnsafeBufferPointer<UInt8>) -> T?
    ) throws(PostgresError) -> T? {
        try checkBounds(index)
        let cell = row * storage.columnCount + index
        let length = Int(storage.lengths[cell])
        guard length >= 0 else { return nil }
        let start = storage.starts[cell]
        let value = storage.bytes.withUnsafeBufferPointer { bytes in
            parse(UnsafeBufferPointer(rebasing: bytes[start..<start + length]))
        }
        guard let value else {
            throw PostgresError(code: .decodingFailed, column: storage.columns[index], reason: "expected \(expected)")
        }
        return value
    }
}
