import Foundation
import Logging
import Metrics
import Shared

/// The scheduler thread: every `NOTIFY_INTERVAL_SECONDS` plans what is due on the school clock (the process's
/// outbox relay publishes the senders' `notification.sent` events). Owns its database connection.
final class SchedulerLoop {
    private let configuration: Configuration
    private let settings: NotificationSettings
    private let schoolNow: @Sendable () -> Date
    private let stop: StopSignal
    private let logger: Logger
    private let planner: Planner
    private let database: DatabaseSession
    private var backoff = Backoff()
    /// E-mails waiting to be sent (pending or claimed), for operators watching a backlog drain.
    private let backlogGauge = Gauge(label: "schoolict_notifications_backlog")

    init(configuration: Configuration, settings: NotificationSettings, schoolNow: @escaping @Sendable () -> Date,
         stop: StopSignal, logger: Logger) {
        self.configuration = configuration
        self.settings = settings
        self.schoolNow = schoolNow
        self.stop = stop
        self.logger = logger
        database = DatabaseSession(url: configuration.databaseURL, applicationName: "schoolict-notification-scheduler",
                                   logger: logger)
        planner = Planner(messageIDDomain: NotificationKey.messageIDDomain(from: configuration.mailFrom), logger: logger)
    }

    func run() {
        var nextPlan = ContinuousClock.now
        let health = Health.name("scheduler")
        defer { Health.shared.remove(health) }
        while !stop.isStopped {
            Health.shared.progress(health)
            do {
                let database = try self.database.connected()
                if ContinuousClock.now >= nextPlan {
                    let report = try planner.plan(at: schoolNow(), database: database)
                    if report.planned > 0 {
                        logger.debug("planning cycle", metadata: ["notification.planned": "\(report.planned)"])
                    }
                    let backlog = try database.query(
                        "SELECT count(*) FROM notifications WHERE status IN ('pending', 'sending')")[0].int(0)
                    backlogGauge.record(backlog)
                    nextPlan = ContinuousClock.now + .seconds(settings.planInterval)
                }
                backoff.reset()
                stop.sleep(seconds: min(0.25, settings.planInterval))
            } catch {
                logger.warning("scheduler cycle failed; retrying", metadata: ["error": "\(error)"])
                database.closeIfDead()
                stop.sleep(seconds: backoff.next())
            }
        }
        database.close()
        logger.info("scheduler stopped")
    }
}
