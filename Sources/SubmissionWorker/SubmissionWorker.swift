import Shared

/// Validates and stores every submission and registry command, and publishes its outcome.
@main
enum SubmissionWorker {
    static func main() async {
        WorkerMain.handleArguments(name: "SubmissionWorker",
                                   summary: "validates and stores every submission and registry command, publishes its outcome")
        // Two loops by default: one commits a batch while the other takes and decodes the next (README, "Speed").
        await WorkerMain.runConsumers(name: "submission-worker", queue: SubmissionProcessor.queue,
                                      defaultConsumers: 2) { clock, limits, logger in
            SubmissionProcessor(clock: clock, limits: limits, logger: logger)
        }
    }
}
