import Foundation
import Logging
import Mail
import Shared
import TestSupport

@testable import NotificationWorker

/// The scheduler and a sender run in-process on an explicit clock, against a scratch database and a sink of the
/// test's own: `cycle(at:)` is one planning pass followed by sending until nothing more is due.
final class NotificationHarness {
    static let quiet = Logger(label: "notification-tests", factory: { _ in SwiftLogNoOpLogHandler() })

    let environment: TestEnvironment
    let scratch: ScratchDatabase
    let database: PostgresConnection
    let sink: SMTPSink
    var settings: NotificationSettings
    let mailFrom = "noreply@schoolict.invalid"
    private var smtp: SMTPClient?

    init() throws {
        environment = try TestEnvironment.load()
        scratch = try ScratchDatabase(environment: environment)
        database = try scratch.connect()
        try Migrator.migrate(database, logger: Self.quiet)
        sink = try SMTPSink()
        settings = NotificationSettings()
        settings.retryBase = 0.05
        settings.retryMaximum = 0.2
        settings.batchSize = 20
    }

    func tearDown() {
        smtp?.close()
        database.close()
        scratch.drop()
        sink.cleanUp()
    }

    static func date(_ text: String) -> Date { ISO8601.parse(text)!.date }

    struct CycleReport {
        var planned = 0
        var sent = 0
        var retrying = 0
        var failed = 0
        var cancelled = 0
    }

    /// Plans at `now` (school clock) and sends until nothing is claimable.
    @discardableResult
    func cycle(at now: String) throws -> CycleReport {
        let instant = Self.date(now)
        var report = CycleReport()
        let planner = Planner(messageIDDomain: NotificationKey.messageIDDomain(from: mailFrom), logger: Self.quiet)
        report.planned = try planner.plan(at: instant, database: database).planned
        let sender = makeSender(now: instant)
        while true {
            let batch = try sender.sendBatch(database: database)
            report.sent += batch.sent
            report.retrying += batch.retrying
            report.failed += batch.failed
            report.cancelled += batch.cancelled
            if batch.claimed == 0 || batch.serverUnavailable { break }
        }
        return report
    }

    func makeSender(now: Date) -> Sender {
        let url = sink.url
        return Sender(settings: settings, mailFrom: mailFrom, transport: { [unowned self] message, from, to throws(SMTPError) in
            if self.smtp == nil { self.smtp = try SMTPClient(url: url, connectTimeout: .seconds(2), timeout: .seconds(10)) }
            return try self.smtp!.send(message, from: from, to: to)
        }, schoolNow: { now }, logger: Self.quiet)
    }

    func execute(_ sql: String) throws { try database.execute(sql) }

    struct Row {
        var kind: String
        var recipient: String
        var status: String
        var attempts: Int
        var replyCode: Int?
        var reply: String?
        var series: String
        var day: String
        var schoolCode: String?
        var messageID: String
    }

    func rows(where condition: String = "true") throws -> [Row] {
        try database.query("""
            SELECT kind, recipient, status, attempts, last_reply_code, last_reply, series, day::text AS day, school_code,
                   message_id
            FROM notifications WHERE \(condition) ORDER BY kind, day, recipient
            """).map { row in
            Row(kind: try row.string("kind"), recipient: try row.string("recipient"), status: try row.string("status"),
                attempts: try row.int("attempts"), replyCode: try row.optionalInt("last_reply_code"),
                reply: try row.optionalString("last_reply"), series: try row.string("series"), day: try row.string("day"),
                schoolCode: try row.optionalString("school_code"), messageID: try row.string("message_id"))
        }
    }

    /// Every message the sink stored, parsed by Python's `email` package; `clear` empties the sink afterwards.
    func mails(clear: Bool = true) throws -> [PythonMIME.Parsed] {
        let raw = try sink.messages()
        if clear { try sink.removeAll() }
        return try raw.map(PythonMIME.parse)
    }

    func rawMails() throws -> [String] {
        try sink.messages().map { String(decoding: $0, as: UTF8.self) }
    }
}
