import Foundation
import Logging
import Shared

/// `--dry-run`: plans what is due on the school clock and renders every e-mail that would go out now, prints them,
/// and rolls everything back: nothing is sent, stored or marked.
struct DryRun {
    private struct Rollback: Error {}

    var configuration: Configuration
    var settings: NotificationSettings
    var schoolNow: @Sendable () -> Date
    var showBodies: Bool
    var logger: Logger

    /// Prints to `output`; returns how many e-mails would be sent.
    @discardableResult
    func run(output: (String) -> Void) throws -> Int {
        let database = try PostgresConnection(url: configuration.databaseURL, applicationName: "schoolict-notification-dry-run")
        defer { database.close() }
        try Migrator.migrate(database, logger: logger)
        let now = schoolNow()
        let domain = NotificationKey.messageIDDomain(from: configuration.mailFrom)
        var wouldSend = 0
        do {
            try database.transaction { database throws in
                let report = try Planner(messageIDDomain: domain, logger: logger).plan(at: now, database: database)
                output("dry run at \(ISO8601Text.utc(now)) (school clock): \(report.planned) e-mail(s) newly due; "
                       + "nothing is sent or stored")
                let token = UUID()
                let claimed = try NotificationStore.claim(limit: 1_000_000, token: token, lease: 60, database: database)
                let cancelled = try NotificationStore.cancelStale(keys: claimed.map(\.dedupKey), token: token,
                                                                  schoolNow: now, database: database)
                let campaigns = try PlanningStore.campaigns(Array(Set(claimed.map(\.campaign))), database: database)
                var byKind: [NotificationKind: Int] = [:]
                for notification in claimed {
                    if let reason = cancelled[notification.dedupKey] {
                        output("skip  \(notification.kind.rawValue)  \(notification.recipient)  (\(reason))")
                        continue
                    }
                    guard let campaign = campaigns[notification.campaign] else { continue }
                    let context = campaign.context(deadline: notification.deadline, dueAt: notification.dueAt)
                    let rendered = try MailTemplates.render(kind: notification.kind, payload: notification.payload,
                                                            context: context, language: notification.language)
                    wouldSend += 1
                    byKind[notification.kind, default: 0] += 1
                    output("send  \(notification.kind.rawValue)  \(notification.recipient)  [\(notification.language.rawValue)]  "
                           + "\(rendered.subject)")
                    output("      key \(notification.dedupKey)  message-id \(notification.messageID)")
                    if showBodies {
                        output(rendered.text.split(separator: "\n", omittingEmptySubsequences: false)
                            .map { "      | " + $0 }.joined(separator: "\n"))
                    }
                }
                let summary = byKind.keys.sorted { $0.rawValue < $1.rawValue }
                    .map { "\($0.rawValue)=\(byKind[$0]!)" }.joined(separator: " ")
                output("would send \(wouldSend) e-mail(s)\(summary.isEmpty ? "" : ": " + summary)")
                throw Rollback()
            }
        } catch is Rollback {
            return wouldSend
        }
        return wouldSend
    }
}
