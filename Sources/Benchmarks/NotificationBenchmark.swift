import ArgumentParser
import Foundation
import Logging
import Shared

/// Schedules and sends N deadline reminders with a real NotificationWorker process and a local SMTP server, and
/// reports e-mails per second and the worker's peak RSS.
///
/// Self-contained: creates a scratch database (and, with `RABBITMQ_MGMT_URL`, a scratch vhost), seeds one campaign
/// with N schools that have not submitted, starts a sink (`--sink discard`: scripts/smtp_sink_discard.py, which
/// measures the sender; `--sink files`: scripts/smtp_sink.py, one file per message, which measures the sink) and the
/// worker (found next to this executable) with `SCHOOLICT_NOW` at the reminder hour, and waits until all are sent.
struct NotificationBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "notifications")

    @Option(help: "Reminders to send (one per school; two staff digests come on top).") var count = 50_000
    @Option(help: "Sending threads in the worker (NOTIFY_SENDERS), each with its own SMTP connection.") var senders = 2
    @Option(help: "E-mails a sender claims at a time (NOTIFY_BATCH_SIZE).") var batchSize = 100
    @Option(help: "discard (fast counting sink), files (scripts/smtp_sink.py), or external (SMTP_URL as set).")
    var sink = "discard"
    @Option(help: "The NotificationWorker executable (default: next to this one).") var worker: String?
    @Flag(help: "Keep the scratch database afterwards.") var keepDatabase = false

    func run() throws {
        let configuration = try Configuration()
        let workerPath = worker ?? Self.sibling("NotificationWorker")
        guard FileManager.default.isExecutableFile(atPath: workerPath) else {
            throw ValidationError("no NotificationWorker at \(workerPath): build it (swift build -c release --product NotificationWorker)")
        }
        let suffix = String(UUID().uuidString.lowercased().prefix(8))

        // Scratch database.
        guard var components = URLComponents(string: configuration.databaseURL) else {
            throw ValidationError("DATABASE_URL must be a postgresql:// URL for this benchmark")
        }
        let name = "bench_notify_\(suffix)"
        components.path = "/postgres"
        let maintenance = try PostgresConnection(url: components.string!)
        defer { maintenance.close() }
        try maintenance.execute("CREATE DATABASE \(name)")
        components.path = "/" + name
        let databaseURL = components.string!
        defer {
            if !keepDatabase { try? maintenance.execute("DROP DATABASE IF EXISTS \(name) WITH (FORCE)") }
        }
        let database = try PostgresConnection(url: databaseURL, applicationName: "schoolict-bench")
        defer { database.close() }
        try Migrator.migrate(database, logger: .init(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() }))

        // Scratch vhost, so the worker consumes nobody else's `notifications` queue.
        var amqpURL = try AMQPURL(parsing: configuration.amqpURL)
        let management = ProcessInfo.processInfo.environment["RABBITMQ_MGMT_URL"]
        if let management {
            amqpURL.virtualHost = "schoolict-bench-notify-\(suffix)"
            try Self.curl(["-X", "PUT", "\(management)/api/vhosts/\(amqpURL.virtualHost)"], amqpURL)
            try Self.curl(["-X", "PUT", "-H", "content-type: application/json", "-d",
                           #"{"configure":".*","write":".*","read":".*"}"#,
                           "\(management)/api/permissions/\(amqpURL.virtualHost)/\(amqpURL.user)"], amqpURL)
        } else {
            print("note: RABBITMQ_MGMT_URL is not set; the worker uses AMQP_URL's vhost as it is")
        }
        defer {
            if let management { try? Self.curl(["-X", "DELETE", "\(management)/api/vhosts/\(amqpURL.virtualHost)"], amqpURL) }
        }

        // The SMTP server.
        var sinkProcess: Process?
        var sinkDirectory: URL?
        let smtpURL: String
        switch sink {
        case "external":
            smtpURL = configuration.smtpURL
        case "discard", "files":
            let port = 20_000 + Int.random(in: 0..<20_000)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
            if sink == "discard" {
                process.arguments = ["scripts/smtp_sink_discard.py", "--port", "\(port)", "--report-every", "0"]
            } else {
                let directory = FileManager.default.temporaryDirectory.appendingPathComponent("bench-mail-\(suffix)")
                try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
                sinkDirectory = directory
                process.arguments = ["scripts/smtp_sink.py", "--port", "\(port)", "--dir", directory.path]
            }
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            sinkProcess = process
            smtpURL = "smtp://127.0.0.1:\(port)"
            try Self.waitForPort(port)
        default:
            throw ValidationError("--sink must be discard, files or external")
        }
        defer {
            if let sinkProcess {
                sinkProcess.terminate()
                sinkProcess.waitUntilExit()
            }
            if let sinkDirectory { try? FileManager.default.removeItem(at: sinkDirectory) }
        }

        // One campaign, `count` schools in 13 regions, none submitted; the worker's clock starts at T-7, 09:00.
        let seedStarted = ContinuousClock.now
        try database.transaction { database in
            try database.execute("""
                INSERT INTO campaigns (campaign, kind, title, opens_at, deadline, timezone, staff_emails, reminder_days)
                VALUES ('bench-ict', 'equipment_inventory', 'Κτηματολόγιο υποδομών Τ.Π.Ε. (benchmark)',
                        '2022-01-10T00:00:00+02:00', '2022-01-21T23:59:59+02:00', 'Europe/Athens',
                        '{ict@minedu.invalid,digest@minedu.invalid}', '{7,3,1}');
                INSERT INTO campaign_deadlines (campaign, deadline) VALUES ('bench-ict', '2022-01-21T23:59:59+02:00');
                """)
            try database.query("""
                INSERT INTO schools (school_code, name, level, region, official_email, language)
                SELECT 'B' || n, 'Σχολείο ' || n, CASE WHEN n % 2 = 0 THEN 'primary' ELSE 'secondary' END,
                       'Περιφέρεια ' || (n % 13), 'school' || n || '@bench.invalid', (ARRAY['el', 'vi', 'en'])[1 + n % 3]
                FROM generate_series(1, $1) AS n
                """, [count])
        }
        let seedSeconds = Self.seconds(ContinuousClock.now - seedStarted)

        var environment = ProcessInfo.processInfo.environment
        environment["DATABASE_URL"] = databaseURL
        environment["AMQP_URL"] = "\(amqpURL.useTLS ? "amqps" : "amqp")://\(amqpURL.user):\(amqpURL.password)@\(amqpURL.host):\(amqpURL.port)/\(amqpURL.virtualHost.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(.init(charactersIn: "-_"))) ?? amqpURL.virtualHost)"
        environment["SMTP_URL"] = smtpURL
        environment["SCHOOLICT_NOW"] = "2022-01-14T09:00:00+02:00"
        environment["NOTIFY_SENDERS"] = "\(senders)"
        environment["NOTIFY_BATCH_SIZE"] = "\(batchSize)"
        environment["NOTIFY_INTERVAL_SECONDS"] = "0.5"
        environment["NOTIFY_DRY_RUN"] = nil
        environment["LOG_LEVEL"] = environment["BENCH_LOG_LEVEL"] ?? "warning"
        environment["METRICS_PORT"] = nil
        let workerProcess = Process()
        workerProcess.executableURL = URL(fileURLWithPath: workerPath)
        workerProcess.environment = environment
        let started = Date()
        try workerProcess.run()
        defer {
            if workerProcess.isRunning {
                workerProcess.terminate()
                workerProcess.waitUntilExit()
            }
        }

        let total = count + 2
        var sent = 0
        var lastProgress = Date()
        var lastSent = -1
        while sent < total {
            Thread.sleep(forTimeInterval: 0.2)
            guard workerProcess.isRunning else { throw ValidationError("the worker exited (status \(workerProcess.terminationStatus))") }
            sent = try database.query("SELECT count(*) FROM notifications WHERE status = 'sent'")[0].int(0)
            if sent != lastSent { lastSent = sent; lastProgress = Date() }
            if Date().timeIntervalSince(lastProgress) > 60 { throw ValidationError("no progress for 60 s at \(sent)/\(total)") }
        }
        let finished = Date()
        let rss = peakRSS(pid: workerProcess.processIdentifier)
        let cpu = cpuSeconds(pid: workerProcess.processIdentifier)
        let row = try database.query("""
            SELECT min(sent_at) AS sent_first,
                   max(sent_at) AS sent_last, count(*) FILTER (WHERE attempts <> 1) AS retried,
                   count(DISTINCT message_id) AS ids
            FROM notifications
            """)[0]
        let sentFirst = try row.date("sent_first"), sentLast = try row.date("sent_last")
        let sendSeconds = sentLast.timeIntervalSince(sentFirst)
        let endToEnd = finished.timeIntervalSince(started)
        let relayed = sent - (try Outbox.pendingCount(database: database))  // the relay deletes what it published
        print("""
            notifications benchmark: \(count) deadline reminders + 2 staff digests, sink \(sink), \(senders) sender(s), batch \(batchSize)
              seeded                  \(count) schools in \(String(format: "%.2f", seedSeconds)) s
              planned                 \(total) e-mails in one transaction; first sent \(String(format: "%.2f", sentFirst.timeIntervalSince(started))) s after the worker started
              sent                    \(sent) in \(String(format: "%.2f", sendSeconds)) s: \(String(format: "%.0f", Double(sent - 1) / max(sendSeconds, 0.001))) e-mails/s
              worker start to done    \(String(format: "%.2f", endToEnd)) s: \(String(format: "%.0f", Double(sent) / endToEnd)) e-mails/s (includes start-up and the planning interval)
              retried / distinct ids  \(try row.int("retried")) / \(try row.int("ids"))
              notification.sent       \(relayed) relayed so far
              worker CPU time         \(cpu.map { String(format: "%.2f s (%.0f µs per e-mail)", $0, 1e6 * $0 / Double(sent)) } ?? "n/a")
              worker peak RSS         \(rss.map { String(format: "%.1f MiB", $0) } ?? "n/a")
            """)
    }

    private static func sibling(_ executable: String) -> String {
        URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
            .appendingPathComponent(executable).path
    }

    private static func seconds(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) + Double(attoseconds) / 1e18
    }

    private static func waitForPort(_ port: Int) throws {
        let deadline = Date().addingTimeInterval(15)
        while Date() < deadline {
            let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = UInt16(port).bigEndian
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            } == 0
            close(descriptor)
            if connected { return }
            Thread.sleep(forTimeInterval: 0.05)
        }
        throw ValidationError("the SMTP sink did not start on port \(port) (run from the repository root)")
    }

    private static func curl(_ arguments: [String], _ url: AMQPURL) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        process.arguments = ["-fsS", "-u", "\(url.user):\(url.password)"] + arguments
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw ValidationError("RabbitMQ management API call failed") }
    }
}
