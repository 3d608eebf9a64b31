import Foundation
import Logging
import ServiceLifecycle

/// A queue consumer as a swift-service-lifecycle `Service`.
///
/// The blocking rabbitmq-c and libpq calls run on a thread of their own (not the concurrency pool), with
/// connections confined to it. Graceful shutdown (SIGTERM/SIGINT through `ServiceGroup`) stops taking new
/// deliveries, finishes and acknowledges the batch in flight, cancels the consumer and closes.
public struct ConsumerService: Service {
    public struct Settings: Sendable {
        public var queue: String
        public var batchSize: Int
        public var prefetch: Int
        /// A delivery seen this many times is dead-lettered unprocessed (a poison message).
        public var maximumDeliveries: Int
        /// A batch stops growing once its bodies hold this many bytes (it always takes at least one delivery).
        public var batchMaximumBytes: Int
        /// A batch stops growing this long after its first delivery.
        public var batchMaximumWaitMilliseconds: Int

        public static let defaultBatchMaximumBytes = 16 * 1024 * 1024
        public static let defaultBatchMaximumWaitMilliseconds = 10

        public init(queue: String, batchSize: Int, prefetch: Int, maximumDeliveries: Int = 5,
                    batchMaximumBytes: Int = Self.defaultBatchMaximumBytes,
                    batchMaximumWaitMilliseconds: Int = Self.defaultBatchMaximumWaitMilliseconds) {
            self.batchMaximumWaitMilliseconds = batchMaximumWaitMilliseconds
            self.queue = queue
            self.batchSize = batchSize
            self.prefetch = prefetch
            self.maximumDeliveries = maximumDeliveries
            self.batchMaximumBytes = batchMaximumBytes
        }
    }

    private let configuration: Configuration
    private let settings: Settings
    private let relay: RelaySignal
    private let makeHandler: @Sendable () -> any BatchHandler
    private let logger: Logger

    /// `relay` is the signal of the process's ``RelayService``, woken after every commit.
    public init(configuration: Configuration, settings: Settings, relay: RelaySignal, logger: Logger,
                makeHandler: @escaping @Sendable () -> any BatchHandler) {
        self.configuration = configuration
        self.settings = settings
        self.relay = relay
        self.makeHandler = makeHandler
        self.logger = logger
    }

    public func run() async throws {
        let stop = StopSignal()
        let configuration = configuration
        let settings = settings
        let makeHandler = makeHandler
        let relay = relay
        let logger = logger
        await BlockingThreads.run([("consumer-\(settings.queue)", {
            ConsumerLoop(configuration: configuration, settings: settings,
                         handler: TracedBatchHandler.wrapping(makeHandler(), queue: settings.queue), stop: stop,
                         relay: relay, logger: logger).run()
        })], stop: stop) {
            logger.info("graceful shutdown: finishing the batch in flight")
        }
    }
}
