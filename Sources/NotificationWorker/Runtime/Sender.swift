import Foundation
import Logging
import Mail
import Metrics
import Shared
import Tracing

/// Claims due e-mails, renders them, hands them to the mail server over one reused connection and records
/// what it said.
///
/// Exactly-once as far as a mail server allows: an e-mail is claimed (`SKIP LOCKED`, under a token) before it is
/// sent and recorded after; only a crash between the server's acceptance and the record sends it again, after the
/// claim lapses, with the same `Message-ID`.
final class Sender {
    /// Where messages go: a real SMTP connection, or (dry run, tests) a function.
    typealias Transport = (_ message: [UInt8], _ from: String, _ recipients: [String]) throws(SMTPError) -> SMTPReply

    private let settings: NotificationSettings
    private let mailFrom: String
    private let transport: Transport
    private let schoolNow: @Sendable () -> Date
    private let stop: StopSignal?
    private let logger: Logger
    private var outcomeCounters: [String: Counter] = [:]

    init(settings: NotificationSettings, mailFrom: String, transport: @escaping Transport,
         schoolNow: @escaping @Sendable () -> Date, stop: StopSignal? = nil, logger: Logger) {
        self.settings = settings
        self.mailFrom = mailFrom
        self.transport = transport
        self.schoolNow = schoolNow
        self.stop = stop
        self.logger = logger
    }

    /// What one batch did.
    struct BatchReport: Sendable, Equatable {
        var claimed = 0
        var sent = 0
        var retrying = 0
        var failed = 0
        var cancelled = 0
        /// The mail server could not be reached: the sender should pause.
        var serverUnavailable = false
    }

    /// Claims, sends and records one batch.
    func sendBatch(database: PostgresConnection) throws -> BatchReport {
        let token = UUID()
        var report = BatchReport()
        let (claimed, cancelled) = try database.transaction { database throws in
            let claimed = try NotificationStore.claim(limit: settings.batchSize, token: token,
                                                      lease: settings.claimLease, database: database)
            let cancelled = try NotificationStore.cancelStale(keys: claimed.map(\.dedupKey), token: token,
                                                              schoolNow: schoolNow(), database: database)
            return (claimed, cancelled)
        }
        report.claimed = claimed.count
        report.cancelled = cancelled.count
        if !cancelled.isEmpty { count("cancelled", cancelled.count) }
        let due = claimed.filter { cancelled[$0.dedupKey] == nil }
        guard !due.isEmpty else { return report }

        let campaigns = try PlanningStore.campaigns(Array(Set(due.map(\.campaign))), database: database)
        var outcomes: [NotificationStore.Outcome] = []
        outcomes.reserveCapacity(due.count)
        let started = ContinuousClock.now
        var index = 0
        while index < due.count {
            let notification = due[index]
            index += 1
            let (outcome, unreachable) = WorkerTracing.withSpan("send e-mail", ofKind: .client) { span in
                Self.traced(span, notification) { deliver(notification, campaign: campaigns[notification.campaign]) }
            }
            outcomes.append(outcome)
            switch outcome.status {
            case .sent: report.sent += 1
            case .failed: report.failed += 1
            case .pending: report.retrying += 1
            }
            if unreachable {
                // No connection: the rest of the batch would fail the same way. Release it untried.
                report.serverUnavailable = true
                break
            }
            if stop?.isStopped == true || ContinuousClock.now - started > .seconds(settings.claimLease / 2) { break }
        }
        let delay = settings.retryDelay(afterAttempts: 1)
        for notification in due[index...] {
            outcomes.append(.init(dedupKey: notification.dedupKey, status: .pending, attempted: false,
                                  replyCode: nil, reply: nil, retryAfter: report.serverUnavailable ? delay : 0))
        }
        try NotificationStore.record(outcomes, token: token, database: database)
        count("sent", report.sent)
        count("retry", report.retrying)
        count("failed", report.failed)
        return report
    }

    /// An e-mail's kind, campaign, attempt and result on its span: never the recipient or the contents.
    private static func traced(_ span: (any Span)?, _ notification: ClaimedNotification,
                               _ deliver: () -> (NotificationStore.Outcome, unreachable: Bool))
        -> (NotificationStore.Outcome, unreachable: Bool) {
        span?.updateAttributes { attributes in
            attributes["notification.kind"] = notification.kind.rawValue
            attributes["notification.campaign"] = notification.campaign
            attributes["notification.attempt"] = notification.attempts + 1
        }
        let delivered = deliver()
        span?.updateAttributes { attributes in
            attributes["notification.status"] = delivered.0.status.rawValue
            if let code = delivered.0.replyCode { attributes["smtp.reply_code"] = code }
        }
        if delivered.0.status != .sent { span?.setStatus(SpanStatus(code: .error, message: delivered.0.status.rawValue)) }
        return delivered
    }

    /// Renders and sends one e-mail; never throws (every failure is an outcome to record). `unreachable`: the
    /// server could not be reached or the connection broke, so the rest of the batch should wait.
    private func deliver(_ notification: ClaimedNotification,
                         campaign: CampaignSettings?) -> (NotificationStore.Outcome, unreachable: Bool) {
        let attempt = notification.attempts + 1
        func failed(_ reply: String, code: Int? = nil) -> (NotificationStore.Outcome, unreachable: Bool) {
            (.init(dedupKey: notification.dedupKey, status: .failed, attempted: true, replyCode: code, reply: reply,
                   retryAfter: 0), false)
        }
        guard let campaign else { return failed("not sent: the campaign no longer exists") }
        let message: [UInt8]
        do {
            message = try Self.compose(notification, campaign: campaign, mailFrom: mailFrom, date: schoolNow())
        } catch {
            logger.error("notification payload cannot be rendered", metadata: [
                "notification.message_id": "\(notification.messageID)", "error": "\(error)",
            ])
            return failed("not sent: \(error)")
        }
        do {
            let reply = try transport(message, mailFrom, [notification.recipient])
            logger.debug("sent", metadata: ["notification.kind": "\(notification.kind.rawValue)",
                                           "notification.message_id": "\(notification.messageID)"])
            return (.init(dedupKey: notification.dedupKey, status: .sent, attempted: true, replyCode: reply.code,
                          reply: reply.text, retryAfter: 0), false)
        } catch {
            let reply = error.reply ?? error.message
            let metadata: Logger.Metadata = [
                "notification.kind": "\(notification.kind.rawValue)", "notification.message_id": "\(notification.messageID)",
                "smtp.reply_code": "\(error.replyCode.map(String.init) ?? "-")", "smtp.error": "\(error.code)",
                "notification.attempt": "\(attempt)",
            ]
            if !error.isRetryable {
                logger.warning("mail server refused a message for good", metadata: metadata)
                return failed(reply, code: error.replyCode)
            }
            if attempt >= settings.maximumAttempts {
                logger.error("giving up on a message after the last attempt", metadata: metadata)
                return failed("gave up after \(attempt) attempts: \(reply)", code: error.replyCode)
            }
            logger.info("mail server unavailable or deferred a message; will retry", metadata: metadata)
            let outcome = NotificationStore.Outcome(dedupKey: notification.dedupKey, status: .pending, attempted: true,
                                                    replyCode: error.replyCode, reply: reply,
                                                    retryAfter: settings.retryDelay(afterAttempts: attempt))
            return (outcome, error.code == .connection || error.code == .authentication)
        }
    }

    /// The message for a stored e-mail, as the server will receive it.
    static func compose(_ notification: ClaimedNotification, campaign: CampaignSettings, mailFrom: String,
                        date: Date) throws -> [UInt8] {
        let context = campaign.context(deadline: notification.deadline, dueAt: notification.dueAt)
        let rendered = try MailTemplates.render(kind: notification.kind, payload: notification.payload,
                                                context: context, language: notification.language)
        var headers: [(name: String, value: String)] = [("X-SchoolICT-Kind", notification.kind.rawValue)]
        if MIMEEncoding.isPlainHeaderText(campaign.campaign) {
            headers.append(("X-SchoolICT-Campaign", campaign.campaign))
        }
        let message = MailMessage(from: mailFrom, to: [notification.recipient], subject: rendered.subject, date: date,
                                  dateOffsetSeconds: context.calendar.timeZone.secondsFromGMT(for: date),
                                  messageID: notification.messageID, language: notification.language,
                                  text: rendered.text, html: rendered.html, extraHeaders: headers)
        return message.encoded()
    }

    private func count(_ outcome: String, _ number: Int) {
        guard number > 0 else { return }
        let counter = outcomeCounters[outcome] ?? {
            let counter = Counter(label: "schoolict_notifications_total", dimensions: [("outcome", outcome)])
            outcomeCounters[outcome] = counter
            return counter
        }()
        counter.increment(by: number)
    }
}
