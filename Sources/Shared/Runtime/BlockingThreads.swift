import Foundation
import ServiceLifecycle

/// The one bridge from the workers' blocking C calls (rabbitmq-c, libpq, libcurl) to structured concurrency: the
/// loops run on threads of their own, never on the concurrency pool, and a service awaits them.
///
/// Graceful shutdown or task cancellation sets the ``StopSignal`` the loops watch (and calls `onStop`); the loops
/// finish what is in flight and return; this returns when all have.
public enum BlockingThreads {
    public static func run(_ bodies: [(name: String, body: @Sendable () -> Void)], stop: StopSignal,
                           onStop: @escaping @Sendable () -> Void = {}) async {
        await withTaskCancellationOrGracefulShutdownHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let group = DispatchGroup()
                for (name, body) in bodies {
                    group.enter()
                    let thread = Thread {
                        body()
                        group.leave()
                    }
                    thread.name = name
                    thread.start()
                }
                group.notify(queue: .global()) { continuation.resume() }
            }
        } onCancelOrGracefulShutdown: {
            stop.stop()
            onStop()
        }
    }
}
