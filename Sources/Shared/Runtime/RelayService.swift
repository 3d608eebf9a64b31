import Foundation
import Logging
import ServiceLifecycle

/// The outbox relay (``RelayLoop``) as a swift-service-lifecycle `Service`, on a thread of its own like the
/// consumers. On graceful shutdown it publishes what is pending once more, then closes.
public struct RelayService: Service {
    private let configuration: Configuration
    private let signal: RelaySignal
    private let name: String
    private let logger: Logger

    public init(configuration: Configuration, signal: RelaySignal, name: String, logger: Logger) {
        self.configuration = configuration
        self.signal = signal
        self.name = name
        self.logger = logger
    }

    public func run() async throws {
        let stop = StopSignal()
        let (configuration, signal, name, logger) = (self.configuration, self.signal, self.name, self.logger)
        await withGracefulShutdownHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let thread = Thread {
                    RelayLoop(configuration: configuration, signal: signal, stop: stop, name: name, logger: logger).run()
                    continuation.resume()
                }
                thread.name = "relay-\(name)"
                thread.start()
            }
        } onGracefulShutdown: {
            stop.stop()
            signal.notify()
        }
    }
}
