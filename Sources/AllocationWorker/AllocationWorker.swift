import Shared

/// Allocates donated computers to the students who need them most, and plans procurement.
@main
enum AllocationWorker {
    static func main() async {
        await WorkerMain.run(name: "allocation-worker") { configuration, logger in
            let clock = SchoolClock.from(configuration)
            let settings = ConsumerService.Settings(queue: AllocationProcessor.queue,
                                                    batchSize: configuration.batchSize,
                                                    prefetch: configuration.prefetch)
            return (0..<configuration.consumers).map { _ in
                ConsumerService(configuration: configuration, settings: settings, logger: logger) {
                    AllocationProcessor(clock: clock, logger: logger)
                }
            }
        }
    }
}
