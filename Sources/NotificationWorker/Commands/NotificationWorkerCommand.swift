import ArgumentParser
import Foundation
import Logging
import Shared

/// The NotificationWorker: consumes the `notifications` queue and runs the reminder scheduler and the senders.
@main
struct NotificationWorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "NotificationWorker",
        abstract: "Deadline reminders, staff digests, allocation and handover e-mails over SMTP.",
        discussion: """
            Configuration comes from the environment: AMQP_URL, DATABASE_URL, SMTP_URL, MAIL_FROM, SCHOOLICT_NOW \
            (see docs/asyncapi.yaml), and NOTIFY_DRY_RUN, NOTIFY_INTERVAL_SECONDS, NOTIFY_SENDERS, NOTIFY_BATCH_SIZE, \
            NOTIFY_RETRY_BASE_SECONDS, NOTIFY_RETRY_MAX_SECONDS, NOTIFY_MAX_ATTEMPTS, NOTIFY_SMTP_TIMEOUT_SECONDS, \
            NOTIFY_SUMMARIES_PER_HOUR, SMTP_CA_FILE. With METRICS_PORT: /metrics, /healthz (liveness), /readyz. \
            With OTEL_EXPORTER_OTLP_ENDPOINT: spans exported over OTLP/HTTP (OTEL_SERVICE_NAME and OTEL_* as usual).
            """,
        version: SchoolICT.version
    )

    @Flag(help: "Print the e-mails due now (school clock) without sending or storing anything, then exit. Same as NOTIFY_DRY_RUN=1.")
    var dryRun = false

    @Flag(help: "With --dry-run, print each e-mail's plain-text body too.")
    var showBodies = false

    func run() async throws {
        let settings: NotificationSettings
        do {
            settings = try NotificationSettings(environment: ProcessInfo.processInfo.environment)
        } catch {
            FileHandle.standardError.write(Data("notification-worker: \(error)\n".utf8))
            throw ExitCode(78)
        }
        if dryRun || settings.dryRun {
            try runDry(settings)
            return
        }
        await WorkerMain.run(name: "notification-worker") { configuration, logger in
            let clock = SchoolClock.from(configuration)
            let schoolNow: @Sendable () -> Date = { clock.now() }
            let domain = NotificationKey.messageIDDomain(from: configuration.mailFrom)
            let relay = RelaySignal()
            let consumer = ConsumerService(
                configuration: configuration,
                settings: .init(queue: AllocationEventHandler.queue, batchSize: min(configuration.batchSize, 100),
                                prefetch: min(configuration.prefetch, 200),
                                batchMaximumBytes: configuration.batchMaximumBytes),
                relay: relay,
                logger: logger
            ) {
                AllocationEventHandler(schoolNow: schoolNow, messageIDDomain: domain, limits: configuration.messageLimits,
                                       summariesPerHour: settings.summariesPerHour, logger: logger)
            }
            // The relay first: services stop in reverse order, so it publishes what was committed last.
            return [RelayService(configuration: configuration, signal: relay, name: AllocationEventHandler.queue, logger: logger),
                    consumer, NotificationService(configuration: configuration, settings: settings,
                                                  schoolNow: schoolNow, logger: logger)]
        }
    }

    private func runDry(_ settings: NotificationSettings) throws {
        let configuration: Configuration
        do {
            configuration = try Configuration()
        } catch {
            FileHandle.standardError.write(Data("notification-worker: \(error)\n".utf8))
            throw ExitCode(78)
        }
        LogSetup.bootstrap(configuration)
        let clock = SchoolClock.from(configuration)
        let dryRun = DryRun(configuration: configuration, settings: settings, schoolNow: { clock.now() },
                            showBodies: showBodies, logger: Logger(label: "schoolict.notification-worker"))
        try dryRun.run { print($0) }
    }
}
