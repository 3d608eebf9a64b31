import Shared

/// Validates and stores every submission and registry command, and publishes its outcome.
@main
enum SubmissionWorker {
    static func main() async {
        await WorkerMain.run(name: "submission-worker") { configuration, logger in
            let clock = SchoolClock.from(configuration)
            let settings = ConsumerService.Settings(queue: SubmissionProcessor.queue,
                                                    batchSize: configuration.batchSize,
                                                    prefetch: configuration.prefetch)
            return (0..<configuration.consumers).map { _ in
                ConsumerService(configuration: configuration, settings: settings, logger: logger) {
                    SubmissionProcessor(clock: clock, logger: logger)
                }
            }
        }
    }
}
