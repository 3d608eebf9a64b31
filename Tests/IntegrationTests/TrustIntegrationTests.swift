import CurlHTTP
import Foundation
import Testing
import TestSupport

@testable import Shared

/// Who published, claims per stream, backdating (issue 8), through the real SubmissionWorker.
@Suite("Trust integration", .serialized, .integration)
struct TrustIntegrationTests {
    typealias F = Fixtures

    private func withWorker(_ body: (IntegrationHarness) throws -> Void) throws {
        let harness = try IntegrationHarness()
        defer { harness.shutDown() }
        try harness.startWorker()
        let outcomes = try harness.send(F.registry)
        try #require(outcomes.values.allSatisfy { $0.routingKey.hasPrefix("command.accepted.") })
        try body(harness)
        try harness.checkWorkers()
    }

    @Test func aSubmissionCannotPreemptACommandsIDNorTheOtherWayRound() throws {
        try withWorker { harness in
            // A portal guesses the id the ministry will give its next campaign.upsert, and uses it first.
            let guessed = "campaign-gr-2022-extension"
            let squatter = F.inventory(id: guessed, items: [F.item("desktop", quantity: 1, year: 2015)])
            let first = try harness.send(squatter)
            #expect(first.routingKey == "submission.accepted.equipment_inventory")
            let command = F.greekCampaignUpsert(id: guessed, deadline: "2022-01-31T23:59:59+02:00")
            try harness.publish(command)
            try harness.outcomes.collect(timeout: .seconds(20), abort: harness.checkWorkers) { _ in
                harness.outcomes.outcomes(of: guessed).contains { $0.routingKey.hasPrefix("command.") }
            }
            let answers = harness.outcomes.outcomes(of: guessed)
            #expect(answers.map(\.routingKey).sorted() == ["command.accepted.campaign.upsert",
                                                           "submission.accepted.equipment_inventory"])
            #expect(answers.first { $0.routingKey.hasPrefix("command.") }?.summary?["deadline_changed"] == .bool(true))
            let deadline = try harness.database.query("SELECT deadline FROM campaigns WHERE campaign = $1", [F.greekCampaign])
            #expect(try deadline[0].date(0) == ISO8601.parse("2022-01-31T23:59:59+02:00")!.date)
            // Each is claimed once, under its own stream; a redelivered copy of either is still a duplicate.
            try harness.publish(squatter, command)
            try harness.outcomes.drain(for: .seconds(2))
            #expect(try harness.scalar("SELECT count(*) FROM processed_messages WHERE message_id = $1", [guessed]) == 2)
            #expect(try harness.scalar("SELECT count(*) FROM submissions") == 1)
            let repeated = harness.outcomes.outcomes(of: guessed)
            #expect(repeated.count == 4)
            #expect(Set(repeated.map { $0.body.serialized() }).count == 2, "a duplicate got a different outcome")
        }
    }

    @Test func theBrokerValidatedUserIsStoredAndSaidInTheOutcome() throws {
        try withWorker { harness in
            var message = F.inventory(id: "signed-1", items: [F.item("desktop", quantity: 1, year: 2015)])
            message.userID = harness.environment.amqpURL.user
            let outcome = try harness.send(message)
            #expect(outcome.body["published_by"]?.stringValue == harness.environment.amqpURL.user)
            let row = try harness.database.query("SELECT published_by FROM submissions WHERE message_id = 'signed-1'")
            #expect(try row[0].optionalString(0) == harness.environment.amqpURL.user)
            let claim = try harness.database.query("SELECT published_by FROM processed_messages WHERE message_id = 'signed-1'")
            #expect(try claim[0].optionalString(0) == harness.environment.amqpURL.user)
            // Another user's name is refused by the broker itself: nobody can publish as someone else.
            let forger = try AMQPConnection(url: harness.virtualHost.amqpURL)
            defer { forger.close() }
            var forged = F.inventory(id: "signed-2", items: [F.item("desktop", quantity: 1, year: 2015)])
            forged.userID = "ministry-operator"
            let refused = #expect(throws: AMQPError.self) { try forger.publishConfirmed([forged]) }
            #expect(refused?.replyCode == 406)
            // Without a user_id the outcome says nothing of who published.
            let anonymous = try harness.send(F.inventory(id: "unsigned-1", items: [F.item("desktop", quantity: 1, year: 2015)]))
            #expect(anonymous.body["published_by"] == nil)
        }
    }

    @Test func aSubmissionBackdatedBeyondTheCampaignsLagIsFlagged() throws {
        try withWorker { harness in
            // The workers' clock reads 1 February 2022, 10:00 (Athens); the Greek campaign keeps the default 24 h.
            let recent = F.inventory(id: "recent", school: F.greekPrimary, submittedAt: "2022-02-01T08:30:00+02:00",
                                     items: [F.item("desktop", quantity: 1, year: 2015)])
            let old = F.inventory(id: "backdated", submittedAt: "2022-01-20T09:00:00+02:00",
                                  items: [F.item("desktop", quantity: 1, year: 2015)])
            let outcomes = try harness.send([recent, old])
            #expect(outcomes["backdated"]?.status == "on_time", "submitted_at stays authoritative")
            let rows = try harness.database.query("""
                SELECT message_id, backdated, received_at FROM submissions ORDER BY message_id
                """)
            let flags = Dictionary(uniqueKeysWithValues: try rows.map { (try $0.string(0), try $0.bool(1)) })
            #expect(flags == ["backdated": true, "recent": false])
            // A campaign may allow a longer lag (a region whose schools submit from paper forms, say).
            let patient = F.command("campaign.upsert", id: "gr-patient", body: [
                "campaign": .string(F.greekCampaign), "kind": "equipment_inventory", "title": "Απογραφή",
                "opens_at": "2021-12-01T00:00:00+02:00", "deadline": .string(F.greekDeadline), "timezone": "Europe/Athens",
                "max_submission_lag": 720,
            ])
            #expect(try harness.send(patient).routingKey == "command.accepted.campaign.upsert")
            _ = try harness.send(F.inventory(id: "backdated-but-allowed", school: F.greekPrimary,
                                             submittedAt: "2022-01-20T09:00:00+02:00",
                                             items: [F.item("printer", quantity: 1, year: 2015)]))
            #expect(try harness.scalar("SELECT count(*) FROM submissions WHERE message_id = 'backdated-but-allowed' AND NOT backdated") == 1)
        }
    }

    /// Every text, varchar and json(b) column of every table of the schema: where a name could hide.
    static func textColumns(_ database: PostgresConnection) throws -> [(table: String, column: String)] {
        try database.query("""
            SELECT table_name, column_name FROM information_schema.columns
            WHERE table_schema = 'public' AND data_type IN ('text', 'character varying', 'jsonb', 'json', 'ARRAY')
            ORDER BY table_name, column_name
            """).map { (try $0.string(0), try $0.string(1)) }
    }

    static func occurrences(of text: String, in database: PostgresConnection) throws -> [String] {
        var found: [String] = []
        for (table, column) in try textColumns(database) {
            let sql = "SELECT count(*)::int FROM \"\(table)\" WHERE \"\(column)\"::text LIKE '%' || $1 || '%'"
            if try database.query(sql, [text])[0].int(0) > 0 { found.append("\(table).\(column)") }
        }
        return found
    }

    @Test func studentEraseLeavesNoTraceOfTheNameAndTheAllocationStands() throws {
        try withWorker { harness in
            let name = "Quỳnh Zebedee Oyelaran"
            let other = "Trần Thị Bình"
            _ = try harness.send(F.needsReport(id: "needs-erase", students: [
                F.student("HS-0001", name, grade: 4, "covid_orphan"), F.student("HS-0002", other, grade: 3, "poor_household"),
            ]))
            try harness.database.execute("""
                INSERT INTO allocation_runs (run_id, campaign, finished_at, allocated, waiting)
                VALUES ('run-erase', 'vn-song-2021', now(), 1, 1);
                INSERT INTO allocations (device_serial, campaign, school_code, student_ref, run_id, rank, category, rule)
                VALUES ('LT-ERASE-1', 'vn-song-2021', 'TDM-TH-01', 'HS-0001', 'run-erase', 1, 'covid_orphan', 'pool_priority');
                """)
            #expect(try Self.occurrences(of: "Zebedee", in: harness.database) == ["students.full_name"])

            let erase = F.command("student.erase", id: "erase-1", body: [
                "campaign": "vn-song-2021", "school_code": "TDM-TH-01", "student_ref": "HS-0001",
            ])
            let outcome = try harness.send(erase)
            #expect(outcome.routingKey == "command.accepted.student.erase")
            #expect(outcome.summary?["erased"]?.intValue == 1)
            #expect(try Self.occurrences(of: "Zebedee", in: harness.database).isEmpty)
            #expect(try Self.occurrences(of: "Oyelaran", in: harness.database).isEmpty)
            // The other student keeps a name; the erased one keeps its category, report and allocation.
            #expect(try Self.occurrences(of: other, in: harness.database) == ["students.full_name"])
            let row = try harness.database.query("""
                SELECT s.category, s.erased_at IS NOT NULL AS erased, a.device_serial FROM students s
                JOIN allocations a USING (campaign, school_code, student_ref) WHERE s.student_ref = 'HS-0001'
                """)
            #expect(try row.first?.string("category") == "covid_orphan")
            #expect(try row.first?.bool("erased") == true)
            #expect(try row.first?.string("device_serial") == "LT-ERASE-1")
            // Again: nothing left to erase, and a redelivered old report does not bring the name back.
            let again = try harness.send(F.command("student.erase", id: "erase-2", body: [
                "campaign": "vn-song-2021", "school_code": "TDM-TH-01", "student_ref": "HS-0001",
            ]))
            #expect(again.summary?["erased"]?.intValue == 0)
            try harness.publish(F.needsReport(id: "needs-erase", students: [F.student("HS-0001", name, grade: 4, "covid_orphan")]))
            try harness.outcomes.drain(for: .seconds(1))
            #expect(try Self.occurrences(of: "Zebedee", in: harness.database).isEmpty)
        }
    }

    @Test func namesNeverReachLogsMetricsOrOutcomes() throws {
        let harness = try IntegrationHarness()
        defer { harness.shutDown() }
        let port = try FreePort.next()
        let worker = try harness.startWorker(extra: ["LOG_LEVEL": "trace", "METRICS_PORT": "\(port)"])
        _ = try harness.send(F.registry)
        let names = ["Xochitl Nguyễn Văn Zed", "Ωμέγα Παπαδοπούλου Qz", "Bùi Thị Yolanda Kx"]
        _ = try harness.send([
            F.needsReport(id: "names-1", students: [F.student("HS-1", names[0], grade: 4, "covid_orphan"),
                                                   F.student("HS-2", names[1], grade: 5, "poor_household")]),
            // Rejected ones too: a name with a control character, a grade out of range, a duplicate ref.
            F.needsReport(id: "names-2", students: [F.student("HS-3", names[2] + "\u{7}", grade: 4, "covid_orphan")]),
            F.needsReport(id: "names-3", students: [F.student("HS-4", names[2], grade: 12, "covid_orphan"),
                                                   F.student("HS-4", names[2], grade: 4, "covid_orphan")]),
        ])
        let client = try HTTPClient(baseURL: "http://127.0.0.1:\(port)")
        defer { client.close() }
        let metrics = try client.expectSuccess("GET", "/metrics").text
        #expect(metrics.contains("schoolict_messages_total"))
        worker.terminate()
        let log = try String(contentsOf: worker.logFile, encoding: .utf8)
        #expect(log.contains("batch"), "the trace log is not empty")
        let outcomes = harness.outcomes.all.map { $0.body.serialized() }.map { String(decoding: $0, as: UTF8.self) }
        for name in names {
            for fragment in name.split(separator: " ").map(String.init) where fragment.count > 2 {
                #expect(!log.contains(fragment), "the log holds \(fragment)")
                #expect(!metrics.contains(fragment), "the metrics hold \(fragment)")
                #expect(!outcomes.contains { $0.contains(fragment) }, "an outcome holds \(fragment)")
            }
        }
    }

    @Test func retentionDeletesOldClaimsOutcomesAndFailuresButNoUnpublishedEvent() throws {
        let harness = try IntegrationHarness()
        defer { harness.shutDown() }
        try harness.database.execute("""
            INSERT INTO processed_messages (claim_key, queue, processed_at, outcome_routing_key, outcome_body) VALUES
              ('submissions' || chr(31) || 'schools.submissions' || chr(31) || 'old', 'submissions', now() - interval '100 days',
               'submission.accepted.x', '{}'),
              ('submissions' || chr(31) || 'schools.submissions' || chr(31) || 'new', 'submissions', now() - interval '10 days',
               'submission.accepted.x', '{}'),
              ('allocations' || chr(31) || 'schools.commands' || chr(31) || 'other-queue', 'allocations', now() - interval '100 days',
               NULL, NULL);
            INSERT INTO outbox (message_id, exchange, routing_key, body, created_at) VALUES
              ('unrelayed-old', 'schools.events', 'allocation.completed', '{}', now() - interval '100 days');
            INSERT INTO message_failures (queue, stream, message_id, routing_key, code, reason, failed_at) VALUES
              ('submissions', 'schools.submissions', 'failed-old', 'x', 'processing_failed', 'r', now() - interval '100 days'),
              ('submissions', 'schools.submissions', 'failed-new', 'x', 'processing_failed', 'r', now() - interval '10 days'),
              ('allocations', 'schools.commands', 'failed-other-queue', 'x', 'processing_failed', 'r', now() - interval '100 days');
            """)
        let swept = try Retention.sweep(queue: "submissions", olderThanDays: 90, database: harness.database)
        #expect(swept.claims == 1)
        #expect(swept.failures == 1)
        let failures = try harness.database.query("SELECT message_id FROM message_failures ORDER BY 1").map { try $0.string(0) }
        #expect(failures == ["failed-new", "failed-other-queue"])
        // The old claim went with its stored outcome; the other queue's claim stays.
        let claims = try harness.database.query("SELECT message_id FROM processed_messages ORDER BY 1").map { try $0.string(0) }
        #expect(claims == ["new", "other-queue"])
        // An event waiting for the relay is never swept, however old.
        let outbox = try harness.database.query("SELECT message_id FROM outbox ORDER BY 1").map { try $0.string(0) }
        #expect(outbox == ["unrelayed-old"])
    }

    /// PostgreSQL over TLS with `sslmode=verify-full` against the local server the scripts configure (its certificate
    /// names `localhost`, signed by the local CA): verified, refused for another host name or another authority,
    /// and a worker runs over it.
    @Test func databaseTLSWithVerifyFull() throws {
        guard let tlsURL = ProcessInfo.processInfo.environment["SCHOOLICT_DATABASE_TLS_URL"] else {
            Issue.record("SCHOOLICT_DATABASE_TLS_URL is not set: start the servers with scripts/servers.sh")
            return
        }
        let harness = try IntegrationHarness()
        defer { harness.shutDown() }
        let scratchTLS = try ScratchDatabase.url(tlsURL, database: harness.scratchDatabase.name)
        let database = try PostgresConnection(url: scratchTLS, applicationName: "schoolict-tests")
        defer { database.close() }
        let ssl = try database.query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        #expect(try ssl[0].bool(0) == true)
        // The certificate names localhost, not 127.0.0.1: verify-full refuses the address.
        let wrongHost = scratchTLS.replacingOccurrences(of: "@localhost:", with: "@127.0.0.1:")
        #expect(throws: PostgresError.self) { _ = try PostgresConnection(url: wrongHost) }
        // Another authority (the system's) does not vouch for the local certificate.
        var components = URLComponents(string: scratchTLS)!
        components.queryItems = [URLQueryItem(name: "sslmode", value: "verify-full"),
                                 URLQueryItem(name: "sslrootcert", value: "/etc/ssl/certs/ca-certificates.crt")]
        #expect(throws: PostgresError.self) { _ = try PostgresConnection(url: components.string!) }
        // A worker over the verified connection.
        try harness.startWorker(extra: ["DATABASE_URL": scratchTLS])
        let outcome = try harness.send(F.schoolUpsert(id: "over-tls", F.greekLyceum))
        #expect(outcome.routingKey == "command.accepted.school.upsert")
        let sessions = try database.query("""
            SELECT count(*)::int FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
            WHERE a.application_name LIKE 'schoolict-submissions%' AND s.ssl
            """)
        #expect(try sessions[0].int(0) >= 1)
    }
}
