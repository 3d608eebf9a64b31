import Shared

/// Allocates donated computers to the students who need them most, and plans procurement.
@main
enum AllocationWorker {
    static func main() async {
        WorkerMain.handleArguments(name: "AllocationWorker",
                                   summary: "allocates donated computers to the students who need them most, plans procurement")
        await WorkerMain.runConsumers(name: "allocation-worker", queue: AllocationProcessor.queue) { clock, limits, logger in
            AllocationProcessor(clock: clock, limits: limits, logger: logger)
        }
    }
}
