import NIOCore

/// Runs the metrics server's tasks on one of SwiftNIO's event loop threads instead of Swift's cooperative pool, so
/// that a pool kept busy by other work never delays a scrape or a probe (as the old server's own thread did).
/// What runs there never blocks: reading ``Health`` and rendering the registry.
final class EventLoopTaskExecutor: TaskExecutor {
    private let eventLoop: any EventLoop

    init(_ eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        eventLoop.execute {
            job.runSynchronously(on: self.asUnownedTaskExecutor())
        }
    }
}
