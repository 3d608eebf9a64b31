import Dispatch
import Foundation
import Logging
import ServiceLifecycle
import Shared

/// The scheduler and the senders as a swift-service-lifecycle `Service`, each on a thread of its own with its own
/// connections (libpq, rabbitmq-c and libcurl calls block).
///
/// Graceful shutdown stops planning, lets each sender finish the message in flight, records what it sent,
/// releases the rest of its claim and closes.
struct NotificationService: Service {
    private let configuration: Configuration
    private let settings: NotificationSettings
    private let schoolNow: @Sendable () -> Date
    private let logger: Logger

    init(configuration: Configuration, settings: NotificationSettings, schoolNow: @escaping @Sendable () -> Date,
         logger: Logger) {
        self.configuration = configuration
        self.settings = settings
        self.schoolNow = schoolNow
        self.logger = logger
    }

    func run() async throws {
        let stop = StopSignal()
        let configuration = configuration
        let settings = settings
        let schoolNow = schoolNow
        let logger = logger
        var bodies: [(String, @Sendable () -> Void)] = [("notify-scheduler", {
            SchedulerLoop(configuration: configuration, settings: settings, schoolNow: schoolNow, stop: stop,
                          logger: logger).run()
        })]
        for index in 1...settings.senders {
            var senderLogger = logger
            senderLogger[metadataKey: "notification.sender"] = "\(index)"
            let threadLogger = senderLogger
            bodies.append(("notify-sender-\(index)", {
                SenderLoop(configuration: configuration, settings: settings, schoolNow: schoolNow, stop: stop,
                           logger: threadLogger).run()
            }))
        }
        let threads = bodies
        logger.info("notification service started", metadata: [
            "notification.senders": "\(settings.senders)", "notification.interval": "\(settings.planInterval)",
        ])
        await BlockingThreads.run(threads.map { (name: $0.0, body: $0.1) }, stop: stop) {
            logger.info("graceful shutdown: finishing the messages in flight")
        }
    }
}
