import Foundation
import Logging
import Mail
import Shared

/// A sending thread: its own database connection and its own SMTP connection (one libcurl handle, reused for
/// every message), claiming and sending batches until stopped.
final class SenderLoop {
    private let configuration: Configuration
    private let settings: NotificationSettings
    private let schoolNow: @Sendable () -> Date
    private let stop: StopSignal
    private let logger: Logger
    private let database: DatabaseSession
    private var smtp: SMTPClient?
    private var backoff = Backoff()

    init(configuration: Configuration, settings: NotificationSettings, schoolNow: @escaping @Sendable () -> Date,
         stop: StopSignal, logger: Logger) {
        self.configuration = configuration
        self.settings = settings
        self.schoolNow = schoolNow
        self.stop = stop
        self.logger = logger
        database = DatabaseSession(url: configuration.databaseURL, applicationName: "schoolict-notification-sender",
                                   logger: logger)
    }

    func run() {
        let sender = Sender(settings: settings, mailFrom: configuration.mailFrom,
                            transport: { [unowned self] message, from, recipients throws(SMTPError) in
                                try self.client().send(message, from: from, to: recipients)
                            },
                            schoolNow: schoolNow, stop: stop, logger: logger)
        let health = Health.name("sender")
        defer { Health.shared.remove(health) }
        while !stop.isStopped {
            Health.shared.progress(health)
            do {
                let report = try sender.sendBatch(database: try database.connected())
                backoff.reset()
                if report.serverUnavailable {
                    stop.sleep(seconds: max(settings.pollInterval, min(5, settings.retryBase)))
                } else if report.claimed < settings.batchSize {
                    stop.sleep(seconds: settings.pollInterval)
                }
            } catch {
                logger.warning("sending cycle failed; retrying", metadata: ["error": "\(error)"])
                database.closeIfDead()
                stop.sleep(seconds: backoff.next())
            }
        }
        smtp?.close()
        smtp = nil
        database.close()
    }

    private func client() throws(SMTPError) -> SMTPClient {
        if let smtp { return smtp }
        let client = try SMTPClient(url: configuration.smtpURL, caFile: settings.smtpCAFile,
                                    timeout: .seconds(settings.smtpTimeout))
        smtp = client
        return client
    }
}
