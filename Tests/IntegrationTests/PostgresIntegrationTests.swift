import Foundation
import Logging
import Testing

@testable import Shared

/// Runs against the PostgreSQL named by `DATABASE_URL` (`scripts/servers.sh start` writes it to
/// `.data/env.sh`). Without it these tests fail; `SCHOOLICT_SKIP_INTEGRATION=1` disables them.
/// Every test works in a schema of its own, dropped afterwards, so they run in parallel.
@Suite(
    "Postgres integration",
    .enabled(
        if: ProcessInfo.processInfo.environment["SCHOOLICT_SKIP_INTEGRATION"] != "1",
        "SCHOOLICT_SKIP_INTEGRATION=1 disables tests that need PostgreSQL"
    )
)
struct PostgresIntegrationTests {
    // MARK: Connection

    @Test func sessionIsUTCAndNamedAndKeepsTheURLsOptions() throws {
        let url = try Self.databaseURL()
        let separator = url.contains("?") ? "&" : "?"
        let connection = try PostgresConnection(
            url: url + separator + "options=-c%20statement_timeout%3D5s",
            applicationName: "schoolict-tests"
        )
        defer { connection.close() }
        let row = try #require(try connection.query(
            """
            SELECT current_setting('TimeZone') AS zone, current_setting('application_name') AS app,
                   current_setting('statement_timeout') AS timeout, current_setting('client_encoding') AS encoding
            """
        ).first)
        #expect(try row.string("zone") == "UTC")
        #expect(try row.string("app") == "schoolict-tests")
        #expect(try row.string("timeout") == "5s")
        #expect(try row.string("encoding") == "UTF8")
        #expect(connection.isAlive)
    }

    @Test func closeIsIdempotentAndLaterCallsThrowConnectionLost() throws {
        let connection = try Self.connect()
        connection.close()
        connection.close()
        #expect(!connection.isAlive)
        let error = #expect(throws: PostgresError.self) { try connection.query("SELECT 1") }
        #expect(error?.code == .connectionLost)
    }

    @Test func failedConnectionReportsNoPassword() throws {
        // Port 1 on loopback: nothing listens, so libpq fails fast and names the host.
        let error = #expect(throws: PostgresError.self) {
            try PostgresConnection(url: "postgresql://schoolict:pa55word@127.0.0.1:1/schoolict?connect_timeout=2")
        }
        #expect(error?.code == .connectionFailed)
        #expect(error?.isConnectionError == true)
        #expect(error?.description.contains("127.0.0.1") == true)
        #expect(error?.description.contains("pa55word") == false)
    }

    @Test func terminatedSessionIsAConnectionError() throws {
        let connection = try Self.connect()
        defer { connection.close() }
        let error = #expect(throws: PostgresError.self) {
            try connection.query("SELECT pg_terminate_backend(pg_backend_pid())")
        }
        #expect(error?.isConnectionError == true)
        #expect(!connection.isAlive)
    }

    // MARK: Round trips

    @Test func everyBindableTypeRoundTrips() throws {
        try Self.withSchema { connection in
            let id = UUID()
            let instant = Date(timeIntervalSince1970: 1_642_802_399.123456)
            let greek = "Καλημέρα, κόσμε — Ελληνικά"
            let vietnamese = "Trường Tiểu học Nguyễn Văn Trỗi, Đà Nẵng"
            let row = try #require(try connection.query(
                """
                SELECT $1::text AS s, $2::text AS sub, $3::bigint AS i, $4::int AS i32, $5::bigint AS i64,
                       $6::float8 AS d, $7::bool AS t, $8::bool AS f, $9::timestamptz AS ts, $10::uuid AS id,
                       $11::text AS null_text, $12::int AS null_int, $13::text AS greek, $14::text AS vietnamese,
                       $15::float8 AS inf, $16::float8 AS tiny, $17::bigint AS min
                """,
                [
                    "plain", "xsubstringx".dropFirst().dropLast(), 42, Int32(-7), Int64.max,
                    0.1, true, false, instant, id,
                    String?.none, Int?.none, greek, vietnamese,
                    Double.infinity, Double.leastNonzeroMagnitude, Int.min,
                ]
            ).first)
            #expect(try row.string("s") == "plain")
            #expect(try row.string("sub") == "substring")
            #expect(try row.int("i") == 42)
            #expect(try row.int("i32") == -7)
            #expect(try row.int("i64") == Int(Int64.max))
            #expect(try row.double("d") == 0.1)
            #expect(try row.bool("t"))
            #expect(try !row.bool("f"))
            #expect(try row.date("ts").postgresText == instant.postgresText)
            #expect(try row.uuid("id") == id)
            #expect(try row.optionalString("null_text") == nil)
            #expect(try row.optionalInt("null_int") == nil)
            #expect(try row.string("greek") == greek)
            #expect(try row.string("vietnamese") == vietnamese)
            #expect(try row.double("inf") == .infinity)
            #expect(try row.double("tiny") == Double.leastNonzeroMagnitude)
            #expect(try row.int("min") == Int.min)
        }
    }

    @Test func timestampsKeepMicrosecondsAndParseAnyOffset() throws {
        try Self.withSchema { connection in
            let instants = (0..<200).map { _ in
                Date(timeIntervalSince1970: Double(Int64.random(in: 0...4_102_444_800_000_000)) / 1_000_000)
            }
            let rows = try connection.query("SELECT unnest($1::timestamptz[]) AS ts", [instants])
            #expect(try rows.map { try $0.date("ts").postgresText } == instants.map(\.postgresText))

            // Output in a zone with a half-hour offset (e.g. "2022-01-22 03:29:59.5+05:30").
            try connection.execute("SET TimeZone = 'Asia/Kolkata'")
            let row = try #require(try connection.query(
                "SELECT $1::timestamptz AS ts, $1::timestamptz::text AS text", [Date(timeIntervalSince1970: 1_642_802_399.5)]
            ).first)
            #expect(try row.string("text").hasSuffix("+05:30"))
            #expect(try row.date("ts") == Date(timeIntervalSince1970: 1_642_802_399.5))
            try connection.execute("SET TimeZone = 'UTC'")
        }
    }

    @Test func arraysWithQuotesBackslashesAndNullsSurviveUnnest() throws {
        try Self.withSchema { connection in
            try connection.execute("CREATE TABLE note (position int, body text, score int)")
            let bodies: [String?] = [
                #"say "hi""#, #"C:\temp\"#, #"\""#, "a,b", "{braces}", "NULL", "", nil,
                "Ελληνικά", "Tiếng Việt có dấu", "tab\tand\nnewline", "  padded  ",
            ]
            let scores: [Int?] = bodies.indices.map { $0 % 3 == 0 ? nil : $0 }
            let inserted = try connection.query(
                """
                INSERT INTO note (position, body, score)
                SELECT position, body, score FROM unnest($1::int[], $2::text[], $3::int[]) AS u(position, body, score)
                """,
                [Array(bodies.indices), bodies, scores]
            )
            #expect(inserted.affectedRows == bodies.count)

            let rows = try connection.query("SELECT body, score FROM note ORDER BY position")
            #expect(try rows.map { try $0.optionalString("body") } == bodies)
            #expect(try rows.map { try $0.optionalInt("score") } == scores)

            let array = try #require(try connection.query("SELECT $1::text[] AS bodies", [bodies]).first)
            #expect(try array.stringArray("bodies") == bodies)
        }
    }

    // MARK: Transactions and errors

    @Test func transactionRollsBackWhenTheBodyThrows() throws {
        struct Abort: Error {}
        try Self.withSchema { connection in
            try connection.execute("CREATE TABLE item (id int PRIMARY KEY)")
            #expect(throws: Abort.self) {
                try connection.transaction { connection in
                    try connection.query("INSERT INTO item VALUES ($1)", [1])
                    throw Abort()
                }
            }
            #expect(try connection.query("SELECT id FROM item").isEmpty)

            let committed = try connection.transaction { connection in
                try connection.query("INSERT INTO item VALUES ($1), ($2)", [2, 3]).affectedRows
            }
            #expect(committed == 2)
            #expect(try connection.query("SELECT id FROM item").count == 2)
        }
    }

    @Test func nestedTransactionRollsBackOnlyItsSavepoint() throws {
        struct Abort: Error {}
        try Self.withSchema { connection in
            try connection.execute("CREATE TABLE item (id int PRIMARY KEY)")
            try connection.transaction { connection in
                try connection.query("INSERT INTO item VALUES (1)")
                _ = try? connection.transaction { connection in
                    try connection.query("INSERT INTO item VALUES (2)")
                    throw Abort()
                }
                try connection.query("INSERT INTO item VALUES (3)")
            }
            #expect(try connection.query("SELECT id FROM item ORDER BY id").map { try $0.int(0) } == [1, 3])
        }
    }

    @Test func swallowedStatementFailureDoesNotCommitSilently() throws {
        try Self.withSchema { connection in
            try connection.execute("CREATE TABLE item (id int PRIMARY KEY)")
            let error = #expect(throws: PostgresError.self) {
                try connection.transaction { connection in
                    try connection.query("INSERT INTO item VALUES (1)")
                    _ = try? connection.query("INSERT INTO item VALUES (1)")
                }
            }
            #expect(error?.sqlState == "25P02")
            #expect(try connection.query("SELECT id FROM item").isEmpty)
        }
    }

    @Test func uniqueViolationKeepsSQLStateAndConstraintButNotTheRowValues() throws {
        try Self.withSchema { connection in
            try connection.execute("CREATE TABLE student (email text CONSTRAINT student_email_key UNIQUE)")
            try connection.query("INSERT INTO student VALUES ($1)", ["nguyen.van.a@example.vn"])
            let error = #expect(throws: PostgresError.self) {
                try connection.query("INSERT INTO student VALUES ($1)", ["nguyen.van.a@example.vn"])
            }
            #expect(error?.code == .queryFailed)
            #expect(error?.sqlState == "23505")
            #expect(error?.isUniqueViolation == true)
            #expect(error?.isConnectionError == false)
            #expect(error?.constraint == "student_email_key")
            #expect(error?.description.contains("student_email_key") == true)
            #expect(error?.description.contains("nguyen") == false)
            #expect(error?.description.contains("INSERT") == false)
            #expect(try connection.query("SELECT 1 AS one").first?.int("one") == 1)
        }
    }

    @Test func badInputIsNotEchoedInTheDescription() throws {
        try Self.withSchema { connection in
            let error = #expect(throws: PostgresError.self) {
                try connection.query("SELECT $1::int", ["Nguyễn Văn A"])
            }
            #expect(error?.sqlState == "22P02")
            #expect(error?.description.contains("Nguyễn") == false)
        }
    }

    // MARK: Prepared statements

    @Test func aStatementIsPreparedOnceAndRunsAgainWithNewParameters() throws {
        try Self.withSchema { connection in
            try connection.execute("CREATE TABLE item (id int PRIMARY KEY)")
            for id in 1...3 { try connection.query("INSERT INTO item VALUES ($1)", [id]) }
            let ids = try connection.query("SELECT id FROM item ORDER BY id").map { row throws(PostgresError) in try row.int(0) }
            #expect(ids == [1, 2, 3])
            let prepared = try connection.query(
                "SELECT count(*)::int FROM pg_prepared_statements WHERE statement = $1", ["INSERT INTO item VALUES ($1)"])
            let count = try prepared[0].int(0)
            #expect(count == 1)
        }
    }

    @Test func aStatementThatFailsToPrepareIsNotKeptAndTheSessionGoesOn() throws {
        try Self.withSchema { connection in
            for _ in 1...2 {
                let error = #expect(throws: PostgresError.self) { try connection.query("SELEC $1::int", [1]) }
                #expect(error?.sqlState == "42601")
            }
            let kept = try connection.query("SELECT count(*)::int FROM pg_prepared_statements WHERE statement LIKE 'SELEC %'")
            let count = try kept[0].int(0)
            #expect(count == 0)
            let answer = try connection.query("SELECT $1::int + 1", [41])[0].int(0)
            #expect(answer == 42)
        }
    }

    @Test func aTableThatChangesShapeUnderAPreparedStatementFailsItOnceThenWorks() throws {
        try Self.withSchema { connection in
            try connection.execute("CREATE TABLE item (id int); INSERT INTO item VALUES (1)")
            let before = try connection.query("SELECT * FROM item WHERE id = $1", [1]).columns
            #expect(before == ["id"])
            // A migration beside a running worker: the session's plan no longer fits.
            try connection.execute("ALTER TABLE item ADD COLUMN name text")
            let error = #expect(throws: PostgresError.self) { try connection.query("SELECT * FROM item WHERE id = $1", [1]) }
            #expect(error?.sqlState == "0A000")
            let after = try connection.query("SELECT * FROM item WHERE id = $1", [1]).columns
            #expect(after == ["id", "name"])
            // The stale statement was deallocated, not left beside its replacement.
            let kept = try connection.query("SELECT count(*)::int FROM pg_prepared_statements WHERE statement = $1",
                                            ["SELECT * FROM item WHERE id = $1"])[0].int(0)
            #expect(kept == 1)
        }
    }

    @Test func theSessionKeepsABoundedNumberOfStatementsAndRunsTheRestUnprepared() throws {
        try Self.withSchema { connection in
            let limit = PostgresConnection.preparedStatementLimit
            for value in 0..<(limit + 20) {
                // SQL text built at run time: each one a new statement.
                let sum = try connection.query("SELECT \(value) + $1::int", [1])[0].int(0)
                #expect(sum == value + 1)
            }
            let kept = try connection.query("SELECT count(*)::int FROM pg_prepared_statements")[0].int(0)
            #expect(kept == limit)
        }
    }

    // MARK: Bulk loading

    @Test func copyLoadsTenThousandRowsFasterThanPerRowInserts() throws {
        try Self.withSchema { connection in
            try connection.execute("CREATE TABLE reading (id int PRIMARY KEY, school text, note text)")
            let count = 10_000
            let rows: [[String?]] = (0..<count).map { index in
                [String(index), "Trường số \(index)", index % 10 == 0 ? nil : "tab\there \\ \"q\" line\nbreak \(index)"]
            }
            let copyStart = ContinuousClock.now
            let copied = try connection.copyIn("COPY reading (id, school, note) FROM STDIN", rows: rows)
            let copyTime = ContinuousClock.now - copyStart
            #expect(copied == count)

            let stored = try connection.query("SELECT id, school, note FROM reading ORDER BY id")
            #expect(stored.count == count)
            for (row, expected) in zip(stored, rows) {
                #expect(try row.int("id") == Int(expected[0]!))
                #expect(try row.string("school") == expected[1])
                #expect(try row.optionalString("note") == expected[2])
            }

            try connection.execute("TRUNCATE reading")
            let unnestStart = ContinuousClock.now
            let inserted = try connection.query(
                "INSERT INTO reading SELECT * FROM unnest($1::int[], $2::text[], $3::text[])",
                [rows.map { Int($0[0]!)! }, rows.map { $0[1] }, rows.map { $0[2] }]
            )
            let unnestTime = ContinuousClock.now - unnestStart
            #expect(inserted.affectedRows == count)

            print("PostgreSQL bulk load of \(count) rows: COPY \(Self.rate(count, copyTime)), unnest \(Self.rate(count, unnestTime))")
        }
    }

    @Test func rejectedCopyStoresNothingAndLeavesTheSessionUsable() throws {
        try Self.withSchema { connection in
            try connection.execute("CREATE TABLE reading (id int PRIMARY KEY)")
            let error = #expect(throws: PostgresError.self) {
                try connection.copyIn("COPY reading (id) FROM STDIN", rows: [["1"], ["2"], ["1"]])
            }
            #expect(error?.code == .copyFailed)
            #expect(error?.isUniqueViolation == true)
            #expect(try connection.query("SELECT count(*) AS n FROM reading").first?.int("n") == 0)

            let notCopy = #expect(throws: PostgresError.self) {
                try connection.copyIn("SELECT 1", rows: [[String?]]())
            }
            #expect(notCopy?.code == .copyFailed)
            let copyViaQuery = #expect(throws: PostgresError.self) {
                try connection.query("COPY reading (id) FROM STDIN")
            }
            #expect(copyViaQuery?.code == .queryFailed)
            #expect(try connection.copyIn("COPY reading (id) FROM STDIN", rows: [["7"]]) == 1)
        }
    }

    // MARK: Migrations

    @Test func migratorRunningOnFourThreadsAppliesEachMigrationOnce() throws {
        try Self.withSchema { connection, schema in
            let migrations = [
                Migration(version: 1, name: "create_school", sql: "CREATE TABLE school (id serial PRIMARY KEY, name text)"),
                Migration(version: 3, name: "seed", sql: "INSERT INTO school (name) VALUES ('Trường A'); SELECT pg_sleep(0.1)"),
                Migration(version: 2, name: "add_region", sql: "ALTER TABLE school ADD COLUMN region text"),
            ]
            let url = try Self.databaseURL()
            let failures = FailureLog()
            let finished = DispatchGroup()
            for worker in 0..<4 {
                finished.enter()
                Thread {
                    defer { finished.leave() }
                    do {
                        let connection = try PostgresConnection(url: url, applicationName: "migrator-\(worker)")
                        defer { connection.close() }
                        try connection.execute("SET search_path TO \(schema)")
                        try Migrator.migrate(connection, migrations: migrations, logger: Logger(label: "test.migrator.\(worker)"))
                    } catch {
                        failures.record(error)
                    }
                }.start()
            }
            #expect(finished.wait(timeout: .now() + 60) == .success)
            #expect(failures.errors.isEmpty, "\(failures.errors)")

            let applied = try connection.query("SELECT version, name FROM schema_migrations ORDER BY version")
            #expect(try applied.map { try $0.int("version") } == [1, 2, 3])
            #expect(try applied.map { try $0.string("name") } == ["create_school", "add_region", "seed"])
            #expect(try connection.query("SELECT name, region FROM school").count == 1)

            try Migrator.migrate(connection, migrations: migrations, logger: Logger(label: "test.migrator"))
            #expect(try connection.query("SELECT version FROM schema_migrations").count == 3)
        }
    }

    @Test func failedMigrationRollsBackAndReleasesTheLock() throws {
        try Self.withSchema { connection in
            let migrations = [
                Migration(version: 1, name: "ok", sql: "CREATE TABLE a (id int)"),
                Migration(version: 2, name: "broken", sql: "CREATE TABLE b (id int); SELECT * FROM missing_table"),
            ]
            let error = #expect(throws: PostgresError.self) {
                try Migrator.migrate(connection, migrations: migrations, logger: Logger(label: "test.migrator"))
            }
            #expect(error?.sqlState == "42P01")
            #expect(try connection.query("SELECT version FROM schema_migrations").map { try $0.int(0) } == [1])
            #expect(try connection.query("SELECT to_regclass('b') IS NULL AS missing").first?.bool("missing") == true)

            let other = try Self.connect()
            defer { other.close() }
            let locked = try other.query("SELECT pg_try_advisory_lock($1) AS acquired", [Migrator.advisoryLockKey])
            #expect(try locked.first?.bool("acquired") == true)
            try other.query("SELECT pg_advisory_unlock($1)", [Migrator.advisoryLockKey])
        }
    }

    // MARK: Helpers

    private static func databaseURL() throws -> String {
        try #require(
            ProcessInfo.processInfo.environment["DATABASE_URL"],
            "DATABASE_URL is not set: run `scripts/servers.sh start` and `source .data/env.sh`, or set SCHOOLICT_SKIP_INTEGRATION=1"
        )
    }

    private static func connect() throws -> PostgresConnection {
        try PostgresConnection(url: databaseURL(), applicationName: "schoolict-tests")
    }

    /// Runs `body` on a connection whose `search_path` is a fresh schema, dropped afterwards.
    private static func withSchema(_ body: (PostgresConnection, String) throws -> Void) throws {
        let connection = try connect()
        defer { connection.close() }
        // Identifiers cannot be parameters; this one is generated here, never taken from input.
        let schema = "test_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        try connection.execute("CREATE SCHEMA \(schema)")
        defer { try? connection.execute("DROP SCHEMA \(schema) CASCADE") }
        try connection.execute("SET search_path TO \(schema)")
        try body(connection, schema)
    }

    private static func withSchema(_ body: (PostgresConnection) throws -> Void) throws {
        try withSchema { connection, _ in try body(connection) }
    }

    private static func rate(_ count: Int, _ duration: Duration) -> String {
        let seconds = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        return "\(Int(seconds * 1000)) ms (\(Int(Double(count) / seconds)) rows/s)"
    }
}

/// Errors collected from the migrator threads.
private final class FailureLog: @unchecked Sendable {  // @unchecked: every access holds `lock`
    private let lock = NSLock()
    private var recorded: [any Error] = []

    func record(_ error: any Error) {
        lock.withLock { recorded.append(error) }
    }

    var errors: [any Error] {
        lock.withLock { recorded }
    }
}
