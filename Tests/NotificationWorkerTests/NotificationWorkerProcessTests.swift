import Foundation
import Shared
import TestSupport
import Testing

@testable import NotificationWorker

/// The real NotificationWorker executable, several at once, against the real RabbitMQ, PostgreSQL and SMTP sink.
@Suite(.notificationIntegration, .serialized)
struct NotificationWorkerProcessTests {
    /// The executable next to the test bundle (SwiftPM builds both into the same folder).
    static func workerExecutable() throws -> String {
        let candidates = [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("NotificationWorker").path,
            TestEnvironment.packageRoot.appendingPathComponent(".build/debug/NotificationWorker").path,
        ]
        guard let found = candidates.first(where: FileManager.default.isExecutableFile(atPath:)) else {
            throw HarnessError("NotificationWorker is not built (looked at \(candidates)); run `swift build --build-tests`")
        }
        return found
    }

    static let schoolCount = 300

    static func seed(_ database: PostgresConnection) throws {
        try database.execute("""
            INSERT INTO campaigns (campaign, kind, title, opens_at, deadline, timezone, staff_emails, reminder_days, handover_days)
            VALUES ('gr-ict-2022', 'equipment_inventory', 'Κτηματολόγιο υποδομών Τ.Π.Ε. 2022', '2022-01-10T00:00:00+02:00',
                    '2022-01-21T23:59:59+02:00', 'Europe/Athens', '{ict@minedu.gov.gr,digest@minedu.gov.gr}', '{7,3,1}', 1);
            INSERT INTO campaign_deadlines (campaign, deadline) VALUES ('gr-ict-2022', '2022-01-21T23:59:59+02:00');
            INSERT INTO schools (school_code, name, level, region, official_email, language)
            SELECT 'S' || lpad(n::text, 4, '0'), 'Σχολείο ' || n, CASE WHEN n % 2 = 0 THEN 'primary' ELSE 'secondary' END,
                   'Περιφέρεια ' || (n % 7), 's' || n || '@sch.gr', (ARRAY['el', 'en', 'vi'])[1 + n % 3]
            FROM generate_series(1, \(schoolCount)) AS n;
            -- The run the allocation events name: what is mailed comes from here, not from the events.
            INSERT INTO allocation_runs (run_id, campaign, finished_at, allocated, waiting)
            VALUES ('run-1', 'gr-ict-2022', now(), 1, 4);
            INSERT INTO allocations (device_serial, campaign, school_code, student_ref, run_id, rank, category, rule)
            VALUES ('LT-1', 'gr-ict-2022', 'S0001', 'ST-1', 'run-1', 1, 'poor_household', 'priority');
            """)
    }

    static func environment(database: ScratchDatabase, vhost: ScratchVirtualHost, sink: SMTPSink,
                            now: String) -> [String: String] {
        var environment = ProcessInfo.processInfo.environment
        environment["DATABASE_URL"] = database.url
        environment["AMQP_URL"] = "amqp://\(vhost.amqpURL.user):\(vhost.amqpURL.password)@\(vhost.amqpURL.host):\(vhost.amqpURL.port)/\(vhost.name)"
        environment["SMTP_URL"] = sink.url
        environment["SCHOOLICT_NOW"] = now
        environment["NOTIFY_INTERVAL_SECONDS"] = "0.2"
        environment["NOTIFY_SENDERS"] = "2"
        environment["NOTIFY_BATCH_SIZE"] = "10"
        environment["LOG_LEVEL"] = "warning"
        environment["METRICS_PORT"] = nil
        environment["NOTIFY_DRY_RUN"] = nil
        return environment
    }

    /// Runs `body` with the worker executable, a scratch database (migrated and seeded), a scratch vhost and a
    /// running SMTP sink, and removes them afterwards.
    private static func withSeededServers(
        _ body: (_ executable: String, ScratchDatabase, ScratchVirtualHost, SMTPSink, PostgresConnection) throws -> Void
    ) throws {
        let environment = try TestEnvironment.load()
        let executable = try workerExecutable()
        let scratch = try ScratchDatabase(environment: environment)
        defer { scratch.drop() }
        let vhost = try ScratchVirtualHost(environment: environment)
        defer { vhost.delete() }
        let sink = try SMTPSink()
        defer { sink.cleanUp() }
        try sink.start()
        let database = try scratch.connect()
        defer { database.close() }
        try Migrator.migrate(database, logger: NotificationHarness.quiet)
        try seed(database)
        try body(executable, scratch, vhost, sink, database)
    }

    @Test func threeWorkersAtOnceNeverSendAKeyTwiceAndPublishEverySentEvent() throws {
        try Self.withSeededServers { executable, scratch, vhost, sink, database in
            // Watch notification.sent and publish an allocation run before the workers start.
            let broker = try AMQPConnection(url: vhost.amqpURL)
            defer { broker.close() }
            try broker.declare(.contract)
            let watched = try broker.declareTemporaryQueue(bindingTo: Topology.Exchange.events, routingKeys: ["notification.sent"])
            let publisher = try AMQPConnection(url: vhost.amqpURL)
            defer { publisher.close() }
            let school: JSONValue = ["campaign": "gr-ict-2022", "run_id": "run-1", "school_code": "S0001",
                                     "allocations": [["student_ref": "ST-1", "device_serial": "LT-1", "category": "poor_household",
                                                      "rank": 1, "rule": "priority"]]]
            let completed: JSONValue = ["campaign": "gr-ict-2022", "run_id": "run-1", "allocated": 1,
                                        "schools": [["school_code": "S0001", "devices": 1]], "waiting": 4]
            let events = [
                AMQPMessage(exchange: Topology.Exchange.events, routingKey: "allocation.school", messageID: "alloc-school-1",
                            body: school.serialized()),
                AMQPMessage(exchange: Topology.Exchange.events, routingKey: "allocation.completed", messageID: "alloc-done-1",
                            body: completed.serialized()),
            ]
            // Twice: the second copies are duplicates the workers must drop.
            try publisher.publishConfirmed(events + events)

            let workerEnvironment = Self.environment(database: scratch, vhost: vhost, sink: sink,
                                                     now: "2022-01-14T09:00:00+02:00")
            var workers: [Process] = []
            defer { workers.forEach { Run.stop($0, grace: 2) } }
            for index in 0..<3 {
                let process = Run.unmasked(executable, [])
                process.environment = workerEnvironment
                let log = sink.directory.appendingPathComponent("worker-\(index).log")
                _ = FileManager.default.createFile(atPath: log.path, contents: nil)
                process.standardOutput = try FileHandle(forWritingTo: log)
                process.standardError = process.standardOutput
                workers.append(process)
            }
            for process in workers { try process.run() }

            // 300 school reminders, 2 staff digests, 1 allocation notice, 2 allocation summaries.
            let expected = Self.schoolCount + 2 + 1 + 2
            let deadline = Date().addingTimeInterval(120)
            var sent = 0
            while Date() < deadline {
                sent = try database.query("SELECT count(*) FROM notifications WHERE status = 'sent'")[0].int(0)
                if sent >= expected { break }
                Thread.sleep(forTimeInterval: 0.2)
            }
            #expect(sent == expected)

            // Every sent e-mail's event reaches the broker through the outbox relays.
            try broker.startConsuming(queue: watched, prefetch: 1000)
            var eventIDs: [String] = []
            let eventDeadline = Date().addingTimeInterval(30)
            while Set(eventIDs).count < expected, Date() < eventDeadline {
                if let delivery = try broker.nextDelivery(timeout: .milliseconds(200)) {
                    eventIDs.append(delivery.messageID ?? "")
                    try broker.ack(delivery.deliveryTag)
                }
            }
            #expect(Set(eventIDs).count == expected)

            // Graceful stop: each worker finishes and exits 0 on SIGTERM.
            for process in workers { Run.stop(process, grace: 15) }
            for process in workers {
                #expect(process.terminationReason == .exit && process.terminationStatus == 0)
            }

            let mails = try sink.messages().map { String(decoding: $0, as: UTF8.self) }
            #expect(mails.count == expected)
            let ids = mails.compactMap { mail in
                mail.split(separator: "\r\n").first { $0.hasPrefix("Message-ID: ") }.map { String($0.dropFirst(12)) }
            }
            #expect(Set(ids).count == expected, "no key e-mailed twice")
            let rows = try database.query("SELECT count(*) FILTER (WHERE attempts <> 1) AS retried, count(*) AS total FROM notifications")
            #expect(try rows[0].int("retried") == 0)
            #expect(try rows[0].int("total") == expected)
            #expect(try database.query("SELECT 1 FROM outbox").isEmpty)
        }
    }

    /// With `OTEL_EXPORTER_OTLP_ENDPOINT`, every e-mail sent is a `send e-mail` span exported over OTLP/HTTP, with its
    /// kind and result and never its recipient.
    @Test func everyEmailSentIsASpanWithoutItsRecipient() throws {
        try Self.withSeededServers { executable, scratch, vhost, sink, database in
            let receiver = try OTLPReceiver()
            defer { receiver.stop() }
            var environment = Self.environment(database: scratch, vhost: vhost, sink: sink, now: "2022-01-14T09:00:00+02:00")
            environment["OTEL_EXPORTER_OTLP_ENDPOINT"] = receiver.endpoint
            environment["OTEL_BSP_SCHEDULE_DELAY"] = "100"
            let process = Run.unmasked(executable, [])
            process.environment = environment
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            defer { Run.stop(process, grace: 5) }

            let expected = Self.schoolCount + 2
            let deadline = Date().addingTimeInterval(120)
            var sent = 0
            while sent < expected, Date() < deadline {
                sent = try database.query("SELECT count(*) FROM notifications WHERE status = 'sent'")[0].int(0)
                Thread.sleep(forTimeInterval: 0.2)
            }
            #expect(sent == expected)
            var spans: [OTLPReceiver.ExportedSpan] = []
            let spanDeadline = Date().addingTimeInterval(20)
            while spans.count < expected, Date() < spanDeadline {
                spans = try receiver.received().spans.filter { $0.name == "send e-mail" }
                Thread.sleep(forTimeInterval: 0.2)
            }
            #expect(spans.count == expected)
            #expect(spans.allSatisfy { $0.serviceName == "notification-worker" })
            #expect(spans.filter { $0.attributes["notification.kind"] == "deadline_reminder" }.count == Self.schoolCount)
            #expect(spans.allSatisfy { $0.attributes["notification.status"] == "sent" })
            #expect(spans.allSatisfy { $0.attributes["notification.campaign"] == "gr-ict-2022" })
            let leaked = try receiver.received().spans.filter { span in span.attributes.values.contains { $0.contains("@") } }
            #expect(leaked.isEmpty, "an address in a span: \(leaked.map(\.attributes))")
        }
    }

    @Test func dryRunPrintsWhatIsDueAndChangesNothing() throws {
        try Self.withSeededServers { executable, scratch, vhost, sink, database in
            let process = Run.unmasked(executable, ["--dry-run"])
            process.environment = Self.environment(database: scratch, vhost: vhost, sink: sink,
                                                   now: "2022-01-18T10:00:00+02:00")
            let output = Pipe()
            process.standardOutput = output
            process.standardError = FileHandle.nullDevice
            try process.run()
            let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            #expect(process.terminationStatus == 0)
            #expect(text.contains("would send \(Self.schoolCount + 2) e-mail(s): deadline_reminder=\(Self.schoolCount) staff_digest=2"))
            #expect(text.contains("send  deadline_reminder  s1@sch.gr  [en]  Reminder: Κτηματολόγιο υποδομών Τ.Π.Ε. 2022"))
            #expect(text.contains("key deadline_reminder/gr-ict-2022/2022-01-21T21:59:59Z/2022-01-18/s1@sch.gr"))
            #expect(try database.query("SELECT 1 FROM notifications UNION ALL SELECT 1 FROM notification_slots").isEmpty)
            #expect(try sink.messages().isEmpty)
        }
    }
}
