import Shared

/// Validates and stores every submission and registry command, and publishes its outcome.
@main
enum SubmissionWorker {
    static func main() async {
        WorkerMain.handleArguments(name: "SubmissionWorker",
                                   summary: "validates and stores every submission and registry command, publishes its outcome")
        await WorkerMain.runConsumers(name: "submission-worker", queue: SubmissionProcessor.queue) { clock, limits, logger in
            SubmissionProcessor(clock: clock, limits: limits, logger: logger)
        }
    }
}
