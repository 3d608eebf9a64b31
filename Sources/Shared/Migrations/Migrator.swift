import Logging

/// Brings a database's schema up to date; safe to run from every worker at start-up.
public struct Migrator {
    /// Key of the session-level advisory lock that serialises migrators on one database
    /// (an arbitrary constant: `"schoolic"` in ASCII).
    static let advisoryLockKey: Int64 = 0x73_63_68_6f_6f_6c_69_63

    /// Applies every migration whose version is not yet in `schema_migrations`, in version
    /// order, each in its own transaction together with its `schema_migrations` row.
    ///
    /// Holds `pg_advisory_lock` for the whole run, so any number of processes may call this at
    /// once against an empty database: the first applies the migrations, the others wait and
    /// then find nothing left to do. The lock is released on success and on error (and by the
    /// server if the session dies). Tables are created in the first schema of `search_path`.
    ///
    /// - Throws: The ``PostgresError`` of the first failing statement; migrations applied before
    ///   it stay applied.
    public static func migrate(
        _ connection: PostgresConnection,
        migrations: [Migration] = Migration.all,
        logger: Logger
    ) throws {
        let ordered = migrations.sorted { $0.version < $1.version }
        for (earlier, later) in zip(ordered, ordered.dropFirst()) where earlier.version == later.version {
            preconditionFailure("two migrations have version \(later.version): \(earlier.name), \(later.name)")
        }

        try connection.query("SELECT pg_advisory_lock($1)", [advisoryLockKey])
        do {
            try applyMissing(ordered, on: connection, logger: logger)
        } catch {
            // The failure is what matters; a dead session has released the lock anyway.
            _ = try? connection.query("SELECT pg_advisory_unlock($1)", [advisoryLockKey])
            throw error
        }
        try connection.query("SELECT pg_advisory_unlock($1)", [advisoryLockKey])
    }

    /// The versions of `migrations` the database has not applied (all of them when it has no
    /// `schema_migrations` table). Needs only `SELECT` on `schema_migrations`.
    public static func missingVersions(_ connection: PostgresConnection,
                                       migrations: [Migration] = Migration.all) throws -> [Int] {
        let exists = try connection.query("SELECT to_regclass('schema_migrations') IS NOT NULL")[0].bool(0)
        var applied = Set<Int>()
        if exists {
            for row in try connection.query("SELECT version FROM schema_migrations") { applied.insert(try row.int(0)) }
        }
        return migrations.map(\.version).filter { !applied.contains($0) }.sorted()
    }

    /// What a worker does with its first connection: nothing when the schema is current; otherwise it migrates,
    /// and if its role may not (a least-privilege role, see `schoolict provision`), it says what to run instead.
    ///
    /// - Throws: ``SchemaBehind`` when migrations are missing and this role may not apply them.
    public static func prepare(_ connection: PostgresConnection, migrations: [Migration] = Migration.all,
                               logger: Logger) throws {
        let missing = try missingVersions(connection, migrations: migrations)
        guard !missing.isEmpty else { return }
        do {
            try migrate(connection, migrations: migrations, logger: logger)
        } catch let error as PostgresError where error.sqlState == "42501" {
            throw SchemaBehind(missing: missing)
        }
    }

    /// The schema lacks migrations and this role may not apply them.
    public struct SchemaBehind: Error, CustomStringConvertible, Sendable {
        public var missing: [Int]
        public var description: String {
            "the database schema lacks migrations \(missing.map(String.init).joined(separator: ", ")) and this role may "
                + "not apply them: run `schoolict migrate` with the schema owner's URL (db-owner.url from `schoolict "
                + "provision`), or `schoolict provision` again"
        }
    }

    private static func applyMissing(
        _ migrations: [Migration],
        on connection: PostgresConnection,
        logger: Logger
    ) throws {
        // CREATE … IF NOT EXISTS still needs CREATE on the schema: only ask when the table is missing.
        let exists = try connection.query("SELECT to_regclass('schema_migrations') IS NOT NULL")[0].bool(0)
        if !exists { try connection.execute(
            """
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version int PRIMARY KEY,
                name text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )
            """
        ) }
        var applied: [Int: String] = [:]
        for row in try connection.query("SELECT version, name FROM schema_migrations") {
            applied[try row.int("version")] = try row.string("name")
        }

        let known = Set(migrations.map(\.version))
        let unknown = applied.keys.filter { !known.contains($0) }.sorted()
        if !unknown.isEmpty {
            // A newer release migrated this database; this binary's migrations are a prefix of it.
            logger.notice(
                "database has migrations this build does not know",
                metadata: ["migration.versions": "\(unknown)"]
            )
        }

        for migration in migrations {
            if let name = applied[migration.version] {
                if name != migration.name {
                    logger.warning(
                        "applied migration has a different name",
                        metadata: [
                            "migration.version": "\(migration.version)",
                            "migration.name": "\(migration.name)",
                            "migration.applied_name": "\(name)",
                        ]
                    )
                }
                continue
            }
            let metadata: Logger.Metadata = [
                "migration.version": "\(migration.version)",
                "migration.name": "\(migration.name)",
            ]
            logger.info("applying migration", metadata: metadata)
            try connection.transaction { connection in
                try connection.execute(migration.sql)
                try connection.query(
                    "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                    [migration.version, migration.name]
                )
            }
            logger.info("applied migration", metadata: metadata)
        }
    }
}
