import Foundation
import TestSupport
import Testing

@testable import Shared

// Helpers for the AllocationWorker's integration tests: campaigns, schools, students and devices seeded with SQL
// straight into the tables (as the SubmissionWorker would have stored them), and waits on the database.

/// Seeds a scratch database for allocation tests.
struct AllocationSeed {
    let database: PostgresConnection

    static let campaign = "vn-song-2021"
    /// The needs-report deadline; the harness's workers run on `IntegrationHarness.defaultNow`, after it.
    static let deadline = "2021-11-20T23:59:59+07:00"
    /// The first on-time report; students report at offsets from it.
    static let firstReport = "2021-11-18T10:00:00+07:00"
    static let staff = "office@tdm.edu.vn"
    static let contractPriority = ["covid_orphan", "poor_household", "near_poor_household", "other_hardship"]

    static func date(_ text: String) -> Date {
        guard let parsed = ISO8601.parse(text) else { preconditionFailure("bad test time \(text)") }
        return parsed.date
    }

    /// A school with a Vietnamese official address derived from its code.
    func school(_ code: String, region: String, level: String = "primary", name: String? = nil,
                students: Int? = nil) throws {
        try database.query("""
            INSERT INTO schools (school_code, name, level, region, official_email, language, students)
            VALUES ($1, $2, $3, $4, $5, 'vi', $6)
            """, [code, name ?? "Trường \(code)", level, region, Self.email(code), students])
    }

    /// Many schools at once.
    func schools(_ codes: [String], regions: [String], level: String = "primary") throws {
        try database.query("""
            INSERT INTO schools (school_code, name, level, region, official_email, language)
            SELECT code, 'Trường ' || code, $3, region, lower(code) || '@tdm.edu.vn', 'vi'
            FROM unnest($1::text[], $2::text[]) AS s(code, region)
            """, [codes, regions, level])
    }

    static func email(_ school: String) -> String { school.lowercased() + "@tdm.edu.vn" }

    /// A device-support campaign whose deadline has passed for the workers.
    func deviceCampaign(_ campaign: String = campaign, deadline: String = deadline,
                        priority: [String] = contractPriority) throws {
        try database.query("""
            INSERT INTO campaigns (campaign, kind, title, opens_at, deadline, timezone, staff_emails, priority)
            VALUES ($1, 'device_support', 'Sóng và máy tính cho em', '2021-10-01T00:00:00+07:00', $2,
                    'Asia/Ho_Chi_Minh', $3, $4)
            """, [campaign, Self.date(deadline), [Self.staff], priority])
        try database.query("INSERT INTO campaign_deadlines (campaign, deadline) VALUES ($1, $2)",
                           [campaign, Self.date(deadline)])
    }

    /// One student of a needs report. `minutes` after ``firstReport``; `late` reports leave `first_on_time_at` null.
    struct Student: Sendable {
        var school: String
        var ref: String
        var category: String
        var minutes: Int = 0
        var late = false
        var name: String = "Học sinh"
    }

    func students(_ students: [Student], campaign: String = campaign) throws {
        guard !students.isEmpty else { return }
        let first = Self.date(Self.firstReport)
        let deadline = Self.date(Self.deadline)
        let reported = students.map { $0.late ? deadline.addingTimeInterval(3600 + Double($0.minutes) * 60)
                                              : first.addingTimeInterval(Double($0.minutes) * 60) }
        try database.query("""
            INSERT INTO students (campaign, school_code, student_ref, full_name, grade, category, reported_at,
                                  submission_id, first_on_time_at)
            SELECT $1, school, ref, name, 3, category, reported, 'needs-' || school,
                   CASE WHEN late THEN NULL ELSE reported END
            FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::bool[])
                 AS s(school, ref, name, category, reported, late)
            """, [campaign, students.map(\.school), students.map(\.ref), students.map(\.name), students.map(\.category),
                  reported, students.map(\.late)])
    }

    /// Donated devices, stored as donations of `batch` (one per target), received at `receivedAt`.
    /// `targets[i]` is the school device i is given to (`nil`: the pool); serials are `batch-i`.
    @discardableResult
    func devices(batch: String, targets: [String?], receivedAt: Date = date("2021-11-19T08:00:00+07:00"),
                 campaign: String = campaign) throws -> [String] {
        // One statement: the foreign keys are checked at its end, when the submissions and donations exist.
        let serials = targets.indices.map { "\(batch)-\(String(format: "%04d", $0))" }
        try database.query("""
            WITH d AS (SELECT * FROM unnest($2::text[], $3::text[]) AS d(serial, target)),
                 g AS (SELECT DISTINCT target FROM d),
                 sub AS (INSERT INTO submissions (message_id, type, campaign, school_code, submitted_by, submitted_at, status)
                         SELECT 'donation-' || $4::text || '-' || COALESCE(target, 'pool'), 'donation_record', $1, NULL,
                                $5, $6::timestamptz, 'on_time'
                         FROM g),
                 don AS (INSERT INTO donations (campaign, donation_ref, submission_id, channel, donor_name, donor_kind,
                                                target_school_code, submitted_at)
                         SELECT $1, 'DN-' || $4::text || '-' || COALESCE(target, 'pool'),
                                'donation-' || $4::text || '-' || COALESCE(target, 'pool'), 'other', 'Công ty ABC', 'company',
                                target, $6::timestamptz FROM g)
            INSERT INTO devices (serial, campaign, donation_ref, kind, specs, target_school_code, received_at)
            SELECT serial, $1, 'DN-' || $4::text || '-' || COALESCE(target, 'pool'), 'laptop', 'i3, 8GB, 256GB SSD', target,
                   $6::timestamptz
            FROM d
            """, [campaign, serials, targets, batch, Self.staff, receivedAt])
        return serials
    }

    /// An allocation made earlier (by a run the test invents), so the student already has a device.
    func existingAllocation(serial: String, school: String, ref: String, category: String,
                            campaign: String = campaign) throws {
        try database.query("""
            INSERT INTO allocation_runs (run_id, campaign, trigger, finished_at, allocated)
            VALUES ('run-earlier', $1, 'command', now(), 1) ON CONFLICT DO NOTHING
            """, [campaign])
        try database.query("""
            INSERT INTO allocations (device_serial, campaign, school_code, student_ref, run_id, rank, category, rule)
            VALUES ($1, $2, $3, $4, 'run-earlier', 1, $5, 'pool_priority')
            """, [serial, campaign, school, ref, category])
    }
}

extension IntegrationHarness {
    var seed: AllocationSeed { AllocationSeed(database: database) }

    /// Polls `condition` every 100 ms (collecting events meanwhile) until it holds; fails after `timeout`
    /// with the workers' logs, or early when a worker died.
    func waitUntil(_ what: String, timeout: Duration = .seconds(30), _ condition: () throws -> Bool) throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            try checkWorkers()
            if try condition() { return }
            try outcomes.drain(for: .milliseconds(100))
        }
        throw HarnessError("timed out after \(timeout) waiting until \(what)\n" + workerLogs())
    }

    /// Waits for the run every AllocationWorker makes when it first sees that a campaign's deadline has passed.
    func awaitDeadlineRun(_ campaign: String = AllocationSeed.campaign) throws {
        try waitUntil("the deadline run of \(campaign) is stored") {
            try scalar("SELECT count(*) FROM allocation_runs WHERE campaign = $1 AND trigger = 'deadline'", [campaign]) > 0
        }
    }

    /// Every event with this routing key seen so far.
    func events(_ routingKey: String) -> [ObservedOutcome] {
        outcomes.all.filter { $0.routingKey == routingKey }
    }

    /// Waits until an event with `routingKey` and correlation id `correlationID` has been seen, and returns them all.
    @discardableResult
    func awaitEvents(_ routingKey: String, correlationID: String, count: Int = 1,
                     timeout: Duration = .seconds(30)) throws -> [ObservedOutcome] {
        func matching() -> [ObservedOutcome] {
            outcomes.outcomes(of: correlationID).filter { $0.routingKey == routingKey }
        }
        if matching().count < count {
            try outcomes.collect(timeout: timeout, abort: checkWorkers) { _ in matching().count >= count }
        }
        let found = matching()
        guard found.count >= count else {
            throw HarnessError("timed out waiting for \(routingKey) correlated with \(correlationID)\n" + workerLogs())
        }
        return found
    }

    /// Starts another worker executable (the SubmissionWorker, say) on this harness's vhost and database.
    /// The caller stops it (`crash()` or `terminate()`).
    func startOtherWorker(_ executable: String, now: String = IntegrationHarness.defaultNow) throws -> WorkerProcess {
        let variables = workerEnvironment(now: now)
        let log = FileManager.default.temporaryDirectory
            .appendingPathComponent("schoolict-it-\(executable)-\(TestEnvironment.randomSuffix()).log")
        return try WorkerProcess(executable: executable, environment: variables, logFile: log)
    }
}

extension Fixtures {
    /// `allocation.run` for a campaign, optionally limited to a region or a school.
    static func allocationRun(id: String, campaign: String = AllocationSeed.campaign, region: String? = nil,
                              school: String? = nil) -> AMQPMessage {
        var body: JSONObject = ["campaign": .string(campaign)]
        if let region { body["region"] = .string(region) }
        if let school { body["school_code"] = .string(school) }
        return command("allocation.run", id: id, body: .object(body))
    }

    /// An accepted-submission event, as the SubmissionWorker publishes it, that triggers an allocation run.
    static func acceptedEvent(_ type: String, submissionID: String, campaign: String = AllocationSeed.campaign,
                              school: String = "TDM-TH-01") -> AMQPMessage {
        AMQPMessage(exchange: Topology.Exchange.events, routingKey: "submission.accepted.\(type)",
                    messageID: "outcome-" + submissionID, correlationID: submissionID,
                    body: JSONValue.object([
                        "message_id": .string(submissionID), "campaign": .string(campaign),
                        "school_code": .string(school), "status": "on_time", "summary": [:],
                    ]).serialized())
    }
}

// MARK: - Large campaigns

extension AllocationSeed {
    /// `schools` schools `BIG-000`… in five regions and `students` students spread over them (student g in school
    /// g mod `schools`), one in `lateEvery` of each school's reported late only; categories and report times (over
    /// two days before the deadline) vary within every school.
    func bigCampaign(schools: Int, students: Int, lateEvery: Int, campaign: String = campaign) throws {
        try database.query("""
            INSERT INTO schools (school_code, name, level, region, official_email, language)
            SELECT 'BIG-' || lpad(g::text, 3, '0'), 'Trường ' || g, 'primary', 'Vùng ' || (g % 5),
                   'big' || g || '@tdm.edu.vn', 'vi'
            FROM generate_series(0, $1::int - 1) g
            """, [schools])
        try database.query("""
            INSERT INTO students (campaign, school_code, student_ref, full_name, grade, category, reported_at,
                                  submission_id, first_on_time_at)
            SELECT $1, 'BIG-' || lpad((g % $2::int)::text, 3, '0'), 'HS-' || g, 'Học sinh ' || g, 1 + g % 5,
                   ($3::text[])[1 + ((g / $2::int) * 7 + g) % 4], t.reported, 'needs-big',
                   CASE WHEN (g / $2::int) % $5::int = 0 THEN NULL ELSE t.reported END
            FROM generate_series(1, $6::int) g,
                 LATERAL (SELECT $4::timestamptz + ((g::bigint * 104729) % 2880) * interval '1 minute' AS reported) t
            """, [campaign, schools, Self.contractPriority, Self.date(Self.firstReport), lateEvery, students])
    }

    /// `count` devices `BIG-LT-…` in one donation; every tenth is targeted at a school (of the first `schools`).
    func bigDonation(count: Int, schools: Int, campaign: String = campaign) throws {
        let received = Self.date("2021-11-22T08:00:00+07:00")
        try database.query("""
            WITH sub AS (INSERT INTO submissions (message_id, type, campaign, school_code, submitted_by, submitted_at, status)
                         VALUES ('donation-big', 'donation_record', $1, NULL, $4, $3::timestamptz, 'on_time')),
                 don AS (INSERT INTO donations (campaign, donation_ref, submission_id, channel, donor_name, donor_kind,
                                                target_school_code, submitted_at)
                         VALUES ($1, 'DN-BIG', 'donation-big', 'ministry', 'Bộ Giáo dục và Đào tạo', 'government', NULL,
                                 $3::timestamptz))
            INSERT INTO devices (serial, campaign, donation_ref, kind, specs, target_school_code, received_at)
            SELECT 'BIG-LT-' || lpad(g::text, 6, '0'), $1, 'DN-BIG', 'laptop', NULL,
                   CASE WHEN g % 10 = 0 THEN 'BIG-' || lpad(((g / 10) % $5::int)::text, 3, '0') END, $3::timestamptz
            FROM generate_series(1, $2::int) g
            """, [campaign, count, received, Self.staff, schools])
    }
}

// MARK: - Invariants, checked in SQL with an order computed here (not the worker's)

/// What must hold over `allocations` at any time, whatever ran concurrently.
struct AllocationInvariants: Equatable, CustomStringConvertible {
    var devicesGivenTwice = 0
    var studentsWithTwoDevices = 0
    var lateStudentsAllocated = 0
    var targetedDevicesOutsideTheirSchool = 0
    /// Campaign-wide pool allocations to a student outranked by one still waiting.
    var poolInversions = 0
    /// Targeted allocations to a student outranked by one of the same school still waiting.
    var targetedInversions = 0

    static let clean = AllocationInvariants()

    var description: String {
        "devices twice \(devicesGivenTwice), students twice \(studentsWithTwoDevices), late \(lateStudentsAllocated), "
            + "targeted elsewhere \(targetedDevicesOutsideTheirSchool), pool inversions \(poolInversions), "
            + "targeted inversions \(targetedInversions)"
    }

    /// The campaign's order (priority list, earlier on-time report, SHA-256 lottery, school, reference), with each
    /// on-time student's position in the campaign and in their school, and their allocation if any.
    static let rankedStudents = """
        WITH base AS (
            SELECT s.school_code, s.student_ref, a.device_serial, a.rule,
                   (r.region IS NULL AND r.school_code IS NULL) AS campaign_wide,
                   array_position(c.priority, s.category) AS category_position, s.first_on_time_at,
                   encode(sha256(convert_to(s.campaign || ':' || s.school_code || ':' || s.student_ref, 'UTF8')), 'hex')
                       AS lottery
            FROM students s JOIN campaigns c ON c.campaign = s.campaign
            LEFT JOIN allocations a ON a.campaign = s.campaign AND a.school_code = s.school_code
                                   AND a.student_ref = s.student_ref
            LEFT JOIN allocation_runs r ON r.run_id = a.run_id
            WHERE s.campaign = $1 AND s.first_on_time_at IS NOT NULL),
        ranked AS (
            SELECT base.*,
                   row_number() OVER (ORDER BY category_position, first_on_time_at, lottery, school_code, student_ref)
                       AS campaign_position,
                   row_number() OVER (PARTITION BY school_code
                                      ORDER BY category_position, first_on_time_at, lottery, student_ref) AS school_position
            FROM base),
        -- The first waiting student's position, in the campaign and in each school, beside every student (window
        -- aggregates: computed once, where a correlated minimum would rescan the ranking per allocated student).
        positioned AS (
            SELECT ranked.*,
                   min(campaign_position) FILTER (WHERE device_serial IS NULL) OVER () AS first_waiting,
                   min(school_position) FILTER (WHERE device_serial IS NULL) OVER (PARTITION BY school_code)
                       AS first_waiting_in_school
            FROM ranked)
        """

    static func check(_ database: PostgresConnection, campaign: String = AllocationSeed.campaign) throws -> AllocationInvariants {
        let row = try database.query(rankedStudents + """
            SELECT
              (SELECT count(*) FROM (SELECT device_serial FROM allocations GROUP BY device_serial HAVING count(*) > 1) d),
              (SELECT count(*) FROM (SELECT 1 FROM allocations GROUP BY campaign, school_code, student_ref
                                     HAVING count(*) > 1) s),
              (SELECT count(*) FROM allocations a JOIN students s ON s.campaign = a.campaign
                    AND s.school_code = a.school_code AND s.student_ref = a.student_ref
               WHERE a.campaign = $1 AND s.first_on_time_at IS NULL),
              (SELECT count(*) FROM allocations a JOIN devices d ON d.serial = a.device_serial
               WHERE a.campaign = $1 AND d.target_school_code IS DISTINCT FROM a.school_code
                 AND d.target_school_code IS NOT NULL),
              (SELECT count(*) FROM positioned
               WHERE rule = 'pool_priority' AND campaign_wide AND campaign_position > first_waiting),
              (SELECT count(*) FROM positioned
               WHERE rule = 'targeted_school' AND school_position > first_waiting_in_school)
            """, [campaign])[0]
        return AllocationInvariants(devicesGivenTwice: try row.int(0), studentsWithTwoDevices: try row.int(1),
                                    lateStudentsAllocated: try row.int(2), targetedDevicesOutsideTheirSchool: try row.int(3),
                                    poolInversions: try row.int(4), targetedInversions: try row.int(5))
    }

    /// Devices still free although someone they may go to is waiting: none after a campaign-wide run.
    static func unservedDevices(_ database: PostgresConnection, campaign: String = AllocationSeed.campaign) throws -> Int {
        let row = try database.query("""
            WITH waiting AS (SELECT s.school_code FROM students s
                             WHERE s.campaign = $1 AND s.first_on_time_at IS NOT NULL
                               AND NOT EXISTS (SELECT 1 FROM allocations a WHERE a.campaign = s.campaign
                                               AND a.school_code = s.school_code AND a.student_ref = s.student_ref)),
                 free AS (SELECT d.serial, d.target_school_code FROM devices d
                          WHERE d.campaign = $1 AND NOT EXISTS (SELECT 1 FROM allocations a WHERE a.device_serial = d.serial))
            SELECT
              (SELECT count(*) FROM free WHERE target_school_code IS NULL) * LEAST(1, (SELECT count(*) FROM waiting)),
              (SELECT count(*) FROM free WHERE target_school_code IN (SELECT school_code FROM waiting))
            """, [campaign])[0]
        return try row.int(0) + row.int(1)
    }
}
