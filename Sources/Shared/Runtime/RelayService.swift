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
        await BlockingThreads.run([("relay-\(name)", {
            RelayLoop(configuration: configuration, signal: signal, stop: stop, name: name, logger: logger).run()
        })], stop: stop) {
            signal.notify()
        }
    }
}
