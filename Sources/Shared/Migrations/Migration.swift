/// One schema change, applied once per database by ``Migrator``.
public struct Migration: Sendable, Hashable {
    /// Ordering key; also the primary key in `schema_migrations`.
    public let version: Int
    /// A readable label, e.g. `initial`.
    public let name: String
    /// The statements, run in one transaction. They must not manage transactions themselves
    /// (no `BEGIN`/`COMMIT`, no `CREATE INDEX CONCURRENTLY`).
    public let sql: String

    /// A migration from code; the project's own come from ``all``.
    public init(version: Int, name: String, sql: String) {
        self.version = version
        self.name = name
        self.sql = sql
    }

    /// The project's migrations, from `Sources/Shared/Migrations/SQL`, embedded in the binary.
    ///
    /// SwiftPM's `.embedInCode` exposes each file as a static `[UInt8]` on `PackageResources`,
    /// named after the file with characters invalid in an identifier (including a leading
    /// digit) replaced by `_`: `0001_initial.sql` becomes `_001_initial_sql`. Swift cannot
    /// enumerate static members, so every new file needs a line here; a unit test checks that
    /// the directory and this list agree.
    public static let all: [Migration] = [
        embedded("0001_initial.sql", PackageResources._001_initial_sql),
        embedded("0002_notifications.sql", PackageResources._002_notifications_sql),
        embedded("0003_allocation.sql", PackageResources._003_allocation_sql),
        embedded("0004_trust.sql", PackageResources._004_trust_sql),
        embedded("0005_erasure.sql", PackageResources._005_erasure_sql),
        embedded("0006_relay.sql", PackageResources._006_relay_sql),
        embedded("0007_trace.sql", PackageResources._007_trace_sql),
        embedded("0008_failures.sql", PackageResources._008_failures_sql),
        embedded("0009_equipment_records.sql", PackageResources._009_equipment_records_sql),
        embedded("0010_claims_hold_outcomes.sql", PackageResources._010_claims_hold_outcomes_sql),
    ]

    /// Version and name from a file name like `0001_initial.sql`: digits, `_`, name, `.sql`.
    static func parse(fileName: String) -> (version: Int, name: String)? {
        guard fileName.hasSuffix(".sql") else { return nil }
        let stem = fileName.dropLast(4)
        guard let separator = stem.firstIndex(of: "_"),
            let version = Int(stem[..<separator]),
            version > 0
        else { return nil }
        let name = stem[stem.index(after: separator)...]
        guard !name.isEmpty else { return nil }
        return (version, String(name))
    }

    private static func embedded(_ fileName: String, _ bytes: [UInt8]) -> Migration {
        guard let (version, name) = parse(fileName: fileName) else {
            preconditionFailure("migration file \(fileName) is not named like 0001_name.sql")
        }
        return Migration(version: version, name: name, sql: String(decoding: bytes, as: UTF8.self))
    }
}
