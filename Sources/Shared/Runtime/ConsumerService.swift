import Foundation
import Logging
import ServiceLifecycle

/// A queue consumer as a swift-service-lifecycle `Service`.
///
/// The blocking rabbitmq-c and libpq calls run on threads of their own (not the concurrency pool): one per consumer
/// loop, each with its own database connection, sharing one AMQP connection (``ConsumerChannel``). Graceful shutdown
/// (SIGTERM/SIGINT through `ServiceGroup`) stops taking new deliveries, finishes and acknowledges the batches in
/// flight, cancels the consumer and closes.
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

    private let loops: Int

    /// `relay` is the signal of the process's ``RelayService``, woken after every commit. `loops` consumer loops
    /// share one AMQP channel (one consumer, deliveries in queue order), each with its own handler and database
    /// connection: while one commits a batch, the next takes the next one.
    public init(configuration: Configuration, settings: Settings, loops: Int = 1, relay: RelaySignal, logger: Logger,
                makeHandler: @escaping @Sendable () -> any BatchHandler) {
        self.loops = max(1, loops)
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
        // Validated by Configuration: this parse cannot fail.
        let brokers = try! BrokerEndpoints(configuration.amqpURL)
        let channel = ConsumerChannel(settings: settings, loops: loops, brokers: brokers, logger: logger)
        await BlockingThreads.run((0..<loops).map { index in
            ("consumer-\(settings.queue)-\(index + 1)", {
                ConsumerLoop(configuration: configuration, settings: settings, channel: channel,
                             handler: TracedBatchHandler.wrapping(makeHandler(), queue: settings.queue), stop: stop,
                             relay: relay, logger: logger).run()
            })
        }, stop: stop) {
            logger.info("graceful shutdown: finishing the batches in flight")
        }
    }
}
