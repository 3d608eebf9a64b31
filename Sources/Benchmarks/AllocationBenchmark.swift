import ArgumentParser
import Foundation
import Logging
import Shared

/// Generates a device-support campaign of N eligible students and M devices directly in the database, then
/// times a running AllocationWorker's run (publish `allocation.run` → `allocation.completed`) against the
/// floor: one set-based SQL statement (window functions) computing the same ranking and pairing.
struct AllocationBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "allocation")

    @Option(help: "Eligible students.") var students = 1_000_000
    @Option(help: "Donated devices (a tenth targeted at schools, the rest in the pool).") var devices = 200_000
    @Option(help: "Schools.") var schools = 2_000
    @Option(help: "Timed repetitions (allocations are cleared between them).") var repetitions = 3
    @Option(help: "PID of the AllocationWorker, for its peak RSS.") var workerPid: Int32?

    func run() throws {
        let configuration = try Configuration()
        let database = try PostgresConnection(url: configuration.databaseURL)
        try Migrator.migrate(database, logger: Logger(label: "bench"))
        let campaign = "bench-alloc"
        print("generating \(students) students in \(schools) schools and \(devices) devices...")
        let generated = ContinuousClock.now
        try generate(campaign: campaign, database: database)
        print("  generated in \(format(ContinuousClock.now - generated))")

        let floorSQL = """
            SELECT count(*) FROM (
                SELECT row_number() OVER (ORDER BY array_position(c.priority, s.category::text), s.first_on_time_at,
                           encode(sha256(convert_to(s.campaign || ':' || s.school_code || ':' || s.student_ref, 'UTF8')), 'hex'),
                           s.school_code, s.student_ref) AS position
                FROM students s JOIN campaigns c ON c.campaign = s.campaign
                WHERE s.campaign = $1 AND s.first_on_time_at IS NOT NULL
                  AND NOT EXISTS (SELECT 1 FROM allocations a WHERE a.campaign = s.campaign AND a.school_code = s.school_code
                                  AND a.student_ref = s.student_ref)
            ) ranked JOIN (
                SELECT row_number() OVER (ORDER BY received_at, serial) AS position FROM devices d
                WHERE d.campaign = $1 AND NOT EXISTS (SELECT 1 FROM allocations a WHERE a.device_serial = d.serial)
            ) pool USING (position)
            """
        let url = try AMQPURL(parsing: configuration.amqpURL)
        let broker = try AMQPConnection(url: url)
        try broker.declare(.contract)
        try broker.enableConfirms()
        let watcher = try AMQPConnection(url: url)
        let events = try watcher.declareTemporaryQueue(bindingTo: Topology.Exchange.events,
                                                       routingKeys: ["allocation.completed", "command.#"])
        try watcher.startConsuming(queue: events, prefetch: 100)

        var floors: [Double] = []
        var runs: [Double] = []
        var inDatabase: [Double] = []
        var allocated = 0
        for repetition in 1...repetitions {
            try database.query("DELETE FROM allocations")
            try database.query("DELETE FROM allocation_runs WHERE run_id <> 'bench-deadline-marker'")
            try database.execute("VACUUM ANALYZE allocations")
            let floorStart = ContinuousClock.now
            let paired = try database.query(floorSQL, [campaign])[0].int(0)
            floors.append(seconds(ContinuousClock.now - floorStart))

            let id = "bench-run-\(repetition)-\(UUID().uuidString.prefix(8))"
            let runStart = ContinuousClock.now
            try broker.publishConfirmed([AMQPMessage(exchange: Topology.Exchange.commands, routingKey: "allocation.run",
                                                     messageID: id, body: Array("{\"campaign\":\"\(campaign)\"}".utf8))])
            var completed: JSONValue? = nil
            let deadline = Date().addingTimeInterval(600)
            while completed == nil, Date() < deadline {
                guard let delivery = try watcher.nextDelivery(timeout: .seconds(1)) else { continue }
                try watcher.ack(delivery.deliveryTag)
                if delivery.routingKey == "command.rejected.allocation.run" {
                    throw ValidationError("the run was rejected: \(String(decoding: delivery.body, as: UTF8.self))")
                }
                if delivery.routingKey == "allocation.completed", delivery.correlationID == "run-" + id {
                    completed = try? JSONParser.parse(delivery.body)
                }
            }
            guard let completed else { throw ValidationError("no allocation.completed within 600 s: is the AllocationWorker running?") }
            runs.append(seconds(ContinuousClock.now - runStart))
            let row = try database.query("""
                SELECT extract(epoch FROM finished_at - started_at)::float8 FROM allocation_runs WHERE run_id = $1
                """, ["run-" + id])[0]
            inDatabase.append(try row.double(0))
            allocated = completed["allocated"]?.intValue ?? 0
            print(String(format: "  run %d: floor %.2f s (%d pairs) · worker run %.2f s end to end, %.2f s in its transaction · %d allocated",
                         repetition, floors.last!, paired, runs.last!, inDatabase.last!, allocated))
        }
        watcher.close()
        broker.close()
        let floor = median(floors), run = median(runs)
        print("""
            allocation benchmark: \(students) eligible students, \(devices) devices (\(devices / 10) targeted), \(schools) schools
              set-based SQL floor (median)   \(String(format: "%.2f", floor)) s
              worker run (median)            \(String(format: "%.2f", run)) s end to end (publish → allocation.completed), \(String(format: "%.2f", median(inDatabase))) s in the database transaction
              ratio run / floor              \(String(format: "%.2f", median(zip(runs, floors).map { $0 / $1 })))× end to end, \(String(format: "%.2f", median(zip(inDatabase, floors).map { $0 / $1 })))× in the transaction (medians of the per-repetition ratios)
              allocated per run              \(allocated)
              worker peak RSS                \(workerPid.flatMap { peakRSS(pid: $0) }.map { String(format: "%.1f MiB", $0) } ?? "n/a (pass --worker-pid)")
            """)
    }

    private func generate(campaign: String, database: PostgresConnection) throws {
        try database.query("DELETE FROM allocations")
        try database.query("DELETE FROM allocation_runs")
        try database.query("DELETE FROM devices WHERE campaign = $1", [campaign])
        try database.query("DELETE FROM donations WHERE campaign = $1", [campaign])
        try database.query("DELETE FROM students WHERE campaign = $1", [campaign])
        try database.query("DELETE FROM submissions WHERE campaign = $1", [campaign])
        try database.query("""
            INSERT INTO campaigns (campaign, kind, title, opens_at, deadline, timezone, staff_emails)
            VALUES ($1, 'device_support', 'Allocation benchmark', '2021-11-01T00:00:00Z', '2021-11-20T00:00:00Z',
                    'Asia/Ho_Chi_Minh', '{bench@example.invalid}')
            ON CONFLICT (campaign) DO NOTHING
            """, [campaign])
        // Marks the deadline run as done, so the worker's own deadline-triggered run does not race the timed ones.
        try database.query("""
            INSERT INTO allocation_runs (run_id, campaign, trigger, started_at, finished_at)
            VALUES ('bench-deadline-marker', $1, 'deadline', now() + interval '1 day', now())
            """, [campaign])
        try database.query("""
            INSERT INTO schools (school_code, name, level, region, official_email, language)
            SELECT 'BS-' || i, 'Bench school ' || i, 'primary', 'Region ' || (i % 20), 'bs' || i || '@example.invalid', 'vi'
            FROM generate_series(1, $1::int) AS i ON CONFLICT (school_code) DO NOTHING
            """, [schools])
        try database.query("""
            INSERT INTO submissions (message_id, type, campaign, school_code, submitted_by, submitted_at, status)
            VALUES ($1 || '-donation', 'donation_record', $1, NULL, 'bench@example.invalid', '2021-11-25T00:00:00Z', 'late')
            """, [campaign])
        // Students: the four categories, report times spread over the reporting window.
        try database.query("""
            INSERT INTO students (campaign, school_code, student_ref, full_name, grade, category, reported_at, submission_id,
                                  first_on_time_at)
            SELECT $1, 'BS-' || (1 + i % $3::int), 'HS-' || i, 'Student ' || i, 1 + i % 5,
                   (ARRAY['covid_orphan','poor_household','near_poor_household','other_hardship'])[1 + (hashint4(i) & 3)],
                   t, 'bench-report-' || (i % $3::int), t
            FROM generate_series(1, $2::int) AS i,
                 LATERAL (SELECT timestamptz '2021-11-17T00:00:00Z' + ((hashint4(i * 7) & 255) * interval '10 minutes') AS t) AS times
            """, [campaign, students, schools])
        try database.query("""
            INSERT INTO donations (campaign, donation_ref, submission_id, channel, donor_name, donor_kind, submitted_at)
            VALUES ($1, 'BENCH-DN', $1 || '-donation', 'ministry', 'Benchmark donor', 'government', '2021-11-25T00:00:00Z')
            """, [campaign])
        try database.query("""
            INSERT INTO devices (serial, campaign, donation_ref, kind, target_school_code, received_at)
            SELECT 'BD-' || i, $1, 'BENCH-DN', 'laptop', CASE WHEN i % 10 = 0 THEN 'BS-' || (1 + (hashint4(i) & 2147483647) % $3::int) END,
                   timestamptz '2021-11-25T00:00:00Z' + i * interval '1 second'
            FROM generate_series(1, $2::int) AS i
            """, [campaign, devices, schools])
        for table in ["students", "devices", "schools"] { try database.execute("VACUUM ANALYZE \(table)") }
    }
}

private func seconds(_ duration: Duration) -> Double {
    let (whole, fraction) = duration.components
    return Double(whole) + Double(fraction) / 1e18
}

private func format(_ duration: Duration) -> String { String(format: "%.1f s", seconds(duration)) }

private func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted.isEmpty ? .nan : sorted[sorted.count / 2]
}
