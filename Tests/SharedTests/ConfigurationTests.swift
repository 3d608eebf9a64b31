import Foundation
import Logging
import Testing

@testable import Shared

@Suite("Configuration")
struct ConfigurationTests {
    @Test("NAME_FILE reads a secret from a file when NAME is unset; NAME wins; an unreadable file is an error")
    func fileVariables() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("schoolict-secret-\(getpid()).url").path
        try "amqp://worker:s3cret@rabbitmq:5672/%2f\n".write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let fromFile = try Configuration(environment: ["AMQP_URL_FILE": path, "DATABASE_URL_FILE": path + ".missing-but-unused",
                                                       "DATABASE_URL": "postgresql://db/x"])
        #expect(fromFile.amqpURL == "amqp://worker:s3cret@rabbitmq:5672/%2f")
        #expect(fromFile.databaseURL == "postgresql://db/x")
        #expect(throws: ConfigurationError.self) { try Configuration(environment: ["AMQP_URL_FILE": path + ".missing"]) }
        let error = try? Configuration(environment: ["AMQP_URL_FILE": path + ".missing"])
        #expect(error == nil)
    }

    @Test("an empty environment gives the contract's defaults")
    func defaults() throws {
        let configuration = try Configuration(environment: [:])
        #expect(configuration.amqpURL == "amqp://guest:guest@127.0.0.1:5672/%2f")
        #expect(configuration.databaseURL == "postgresql://postgres@127.0.0.1:5432/schoolict")
        #expect(configuration.smtpURL == "smtp://127.0.0.1:2525")
        #expect(configuration.mailFrom == "noreply@schoolict.invalid")
        #expect(configuration.clockStart == nil)
        #expect(configuration.metricsPort == nil)
        #expect(configuration.logLevel == .info)
        #expect(configuration.batchSize == 500)
        #expect(configuration.prefetch == 1000)
    }

    @Test("every variable overrides its default")
    func overrides() throws {
        let configuration = try Configuration(environment: [
            "AMQP_URL": "amqps://worker:s3cret@mq.example.org:5671/schools",
            "DATABASE_URL": "postgres://app:pw@db.example.org/schoolict?sslmode=require",
            "SMTP_URL": "smtps://mailer:pw@smtp.example.org:465",
            "MAIL_FROM": "ict@example.org",
            "SCHOOLICT_NOW": "2022-01-14T08:00:00+02:00",
            "METRICS_PORT": "9464",
            "LOG_LEVEL": "DEBUG",
            "BATCH_SIZE": "5000",
            "PREFETCH": "1",
        ])
        #expect(configuration.amqpURL == "amqps://worker:s3cret@mq.example.org:5671/schools")
        #expect(configuration.databaseURL == "postgres://app:pw@db.example.org/schoolict?sslmode=require")
        #expect(configuration.smtpURL == "smtps://mailer:pw@smtp.example.org:465")
        #expect(configuration.mailFrom == "ict@example.org")
        #expect(configuration.clockStart == Date(timeIntervalSince1970: 1_642_140_000))
        #expect(configuration.metricsPort == 9464)
        #expect(configuration.logLevel == .debug)
        #expect(configuration.batchSize == 5000)
        #expect(configuration.prefetch == 1)
    }

    @Test("blank variables count as unset, and METRICS_PORT=0 disables metrics")
    func blankAndZero() throws {
        let configuration = try Configuration(environment: ["AMQP_URL": "  ", "METRICS_PORT": "0", "LOG_LEVEL": ""])
        #expect(configuration.amqpURL == Configuration.defaultAMQPURL)
        #expect(configuration.metricsPort == nil)
        #expect(configuration.logLevel == .info)
    }

    @Test("BATCH_MAX_WAIT_MS=0 takes only what has arrived (no wait after a batch's first delivery)")
    func batchWaitMayBeZero() throws {
        #expect(try Configuration(environment: ["BATCH_MAX_WAIT_MS": "0"]).batchMaximumWaitMilliseconds == 0)
        #expect(try Configuration(environment: [:]).batchMaximumWaitMilliseconds == 10)
    }

    @Test("SCHOOLICT_NOW accepts Z and fractional seconds")
    func clockStartForms() throws {
        let configuration = try Configuration(environment: ["SCHOOLICT_NOW": "2022-01-14T06:00:00.250Z"])
        #expect(configuration.clockStart == Date(timeIntervalSince1970: 1_642_140_000.25))
    }

    @Test(
        "invalid values name their variable",
        arguments: [
            ("SCHOOLICT_NOW", "2022-01-14T08:00:00", ConfigurationError.Code.invalidTimestamp),
            ("SCHOOLICT_NOW", "yesterday", .invalidTimestamp),
            ("METRICS_PORT", "http", .notANumber),
            ("METRICS_PORT", "70000", .outOfRange),
            ("METRICS_PORT", "-1", .outOfRange),
            ("BATCH_SIZE", "0", .outOfRange),
            ("BATCH_SIZE", "5001", .outOfRange),
            ("BATCH_SIZE", "lots", .notANumber),
            ("PREFETCH", "65536", .outOfRange),
            ("PREFETCH", "1.5", .notANumber),
            ("BATCH_MAX_WAIT_MS", "-1", .outOfRange),
            ("BATCH_MAX_WAIT_MS", "10001", .outOfRange),
            ("LOG_LEVEL", "verbose", .invalidValue),
            ("AMQP_URL", "http://guest:guest@localhost", .invalidURL),
            ("AMQP_URL", "localhost:5672", .invalidURL),
            ("SMTP_URL", "imap://mail", .invalidURL),
            ("DATABASE_URL", "mysql://root:pw@db/schoolict", .invalidURL),
            ("MAIL_FROM", "no-at-sign", .invalidValue),
            ("MAIL_FROM", "a@b\r\nBcc: victim@example.org", .invalidValue),
        ]
    )
    func invalidValues(variable: String, value: String, code: ConfigurationError.Code) {
        let error = #expect(throws: ConfigurationError.self) {
            try Configuration(environment: [variable: value])
        }
        #expect(error?.variable == variable)
        #expect(error?.code == code)
        #expect(error?.description.contains(variable) == true)
    }

    @Test("errors about URLs never repeat the password")
    func errorsHidePasswords() {
        do {
            _ = try Configuration(environment: ["AMQP_URL": "http://worker:hunter2@mq.example.org"])
            Issue.record("expected an error")
        } catch {
            #expect(error.variable == "AMQP_URL")
            #expect(!error.description.contains("hunter2"))
        }
    }

    @Test("libpq keyword connection strings are accepted")
    func keywordConnectionString() throws {
        let configuration = try Configuration(environment: ["DATABASE_URL": "host=db dbname=schoolict user=app"])
        #expect(configuration.databaseURL == "host=db dbname=schoolict user=app")
    }

    @Test("the redacted description masks every password and keeps the rest")
    func redaction() throws {
        let configuration = try Configuration(environment: [
            "AMQP_URL": "amqp://worker:s3cret@mq.example.org:5672/%2f",
            "DATABASE_URL": "postgresql://app:dbpass@db.example.org:5432/schoolict?password=other&sslmode=require",
            "SMTP_URL": "smtp://mailer:mailpass@smtp.example.org:2525",
        ])
        let text = configuration.redactedDescription
        for secret in ["s3cret", "dbpass", "other", "mailpass"] {
            #expect(!text.contains(secret), "leaked \(secret)")
        }
        #expect(text.contains("amqp://worker:***@mq.example.org:5672/%2f"))
        #expect(text.contains("sslmode=require"))
        #expect(text.contains("smtp://mailer:***@smtp.example.org:2525"))
        #expect("\(configuration)" == text)
        #expect(String(describing: configuration) == text)
    }

    @Test(
        "password redaction",
        arguments: [
            ("amqp://guest:guest@127.0.0.1:5672/%2f", "amqp://guest:***@127.0.0.1:5672/%2f"),
            ("postgresql://postgres@127.0.0.1:5432/schoolict", "postgresql://postgres@127.0.0.1:5432/schoolict"),
            ("smtp://127.0.0.1:2525", "smtp://127.0.0.1:2525"),
            ("amqp://u:p/a@ss@host/vhost", "amqp://u:***@host/vhost"),
            ("postgresql://u@h/db?password=x&sslmode=disable", "postgresql://u@h/db?password=***&sslmode=disable"),
            ("host=db password=secret user=app", "host=db password=*** user=app"),
            ("host=db password='se cret' user=app", "host=db password=*** user=app"),
            ("postgresql://h/db?user=a@b.org", "postgresql://h/db?user=a@b.org"),
        ]
    )
    func redactsPassword(input: String, expected: String) {
        #expect(Configuration.redactingPassword(in: input) == expected)
    }

    @Test("without a start date the school clock is the real clock")
    func realClock() throws {
        let clock = SchoolClock.from(try Configuration(environment: [:]))
        #expect(!clock.isSimulated)
        #expect(abs(clock.now().timeIntervalSinceNow) < 1)
    }

    @Test("with a start date the school clock starts there and runs on")
    func simulatedClock() async throws {
        let configuration = try Configuration(environment: ["SCHOOLICT_NOW": "2022-01-14T08:00:00+02:00"])
        let start = Date(timeIntervalSince1970: 1_642_140_000)
        // Bounds from time measured around the clock, not fixed ones: on a busy machine a 100 ms sleep may
        // last seconds (the tests share two cores with the servers).
        let created = ContinuousClock.now
        let clock = SchoolClock.from(configuration)
        #expect(clock.isSimulated)
        let first = clock.now()
        #expect(first >= start)
        #expect(first.timeIntervalSince(start) <= seconds(ContinuousClock.now - created) + 0.001)
        try await Task.sleep(for: .milliseconds(100))
        let second = clock.now()
        #expect(second.timeIntervalSince(first) >= 0.09)
        #expect(second.timeIntervalSince(start) <= seconds(ContinuousClock.now - created) + 0.001)
    }

    private func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
    }

    @Test("logging is bootstrapped at most once per process")
    func logBootstrapOnce() throws {
        let configuration = try Configuration(environment: ["LOG_LEVEL": "warning"])
        LogSetup.bootstrap(configuration)
        #expect(LogSetup.bootstrap(configuration) == false)
        #expect(LogSetup.bootstrap(level: .debug) == false)
    }
}
