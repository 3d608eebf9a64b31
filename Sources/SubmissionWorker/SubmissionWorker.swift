import Shared

/// Validates and stores every submission and registry command, and publishes its outcome.
@main
enum SubmissionWorker {
    static func main() async {
        await WorkerMain.runConsumers(name: "submission-worker", queue: SubmissionProcessor.queue) { clock, logger in
            SubmissionProcessor(clock: clock, logger: logger)
        }
    }
}
