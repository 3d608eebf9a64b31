import Foundation
import Logging
import Metrics
import Shared

/// The scheduler thread: every `NOTIFY_INTERVAL_SECONDS` plans what is due on the school clock, and in between
/// relays `notification.sent` events to the broker. Owns its database and broker connections.
final class SchedulerLoop {
    private let configuration: Configuration
    private let settings: NotificationSettings
    private let schoolNow: @Sendable () -> Date
    private let stop: StopSignal
    private let logger: Logger
    private let planner: Planner
    private let relay: OutboxRelay
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
        relay = OutboxRelay(amqpURL: configuration.amqpURL, logger: logger)
    }

    func run() {
        var nextPlan = ContinuousClock.now
        var nextRelay = ContinuousClock.now
        var relayBackoff = Backoff(base: 0.5, maximum: 30)
        while !stop.isStopped {
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
                var relayed = 0
                if ContinuousClock.now >= nextRelay {
                    do {
                        relayed = try relay.relay(database: database)
                        relayBackoff.reset()
                    } catch let error as PostgresError where error.isConnectionError {
                        throw error
                    } catch {
                        // The broker is away: keep planning (e-mails still go out); events wait in the outbox.
                        let delay = relayBackoff.next()
                        logger.warning("relaying notification.sent events failed; retrying",
                                       metadata: ["error": "\(error)", "retry.seconds": "\(delay)"])
                        nextRelay = ContinuousClock.now + .seconds(delay)
                    }
                }
                if relayed < OutboxRelay.batchLimit {
                    relay.serviceHeartbeat()
                    stop.sleep(seconds: min(0.25, settings.planInterval))
                }
            } catch {
                logger.warning("scheduler cycle failed; retrying", metadata: ["error": "\(error)"])
                database.closeIfDead()
                stop.sleep(seconds: backoff.next())
            }
        }
        relay.close()
        database.close()
        logger.info("scheduler stopped")
    }
}
