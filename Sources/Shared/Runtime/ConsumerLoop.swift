import Foundation
import Logging
import Metrics

/// The consumer thread's loop: connect, take batches, hand them to the handler, publish, acknowledge.
///
/// Nothing is acknowledged before its effects are committed and its events confirmed by the broker. When the
/// database goes away the AMQP connections are closed too (the broker requeues what was in flight) and
/// everything reconnects with backoff and jitter; the process does not exit.
final class ConsumerLoop {
    private let configuration: Configuration
    private let settings: ConsumerService.Settings
    private let handler: any BatchHandler
    private let stop: StopSignal
    private var logger: Logger

    private var consumer: AMQPConnection?
    private var publisher: AMQPConnection?
    private var database: PostgresConnection?
    private var migrated = false
    private var backoff = Backoff()
    private var lastDepthCheck = ContinuousClock.now - .seconds(60)

    private let batchTimer: Metrics.Timer
    private let batchSizeRecorder: Recorder
    private let queueDepthGauge: Gauge
    private let consumersGauge: Gauge
    private let reconnects: Counter
    private var outcomeCounters: [String: Counter] = [:]

    init(configuration: Configuration, settings: ConsumerService.Settings, handler: any BatchHandler,
         stop: StopSignal, logger: Logger) {
        self.configuration = configuration
        self.settings = settings
        self.handler = handler
        self.stop = stop
        var logger = logger
        logger[metadataKey: "amqp.queue"] = "\(settings.queue)"
        self.logger = logger
        let dimensions = [("queue", settings.queue)]
        batchTimer = Metrics.Timer(label: "schoolict_batch_duration_seconds", dimensions: dimensions,
                                   preferredDisplayUnit: .seconds)
        batchSizeRecorder = Recorder(label: "schoolict_batch_size", dimensions: dimensions)
        queueDepthGauge = Gauge(label: "schoolict_queue_messages_ready", dimensions: dimensions)
        consumersGauge = Gauge(label: "schoolict_queue_consumers", dimensions: dimensions)
        reconnects = Counter(label: "schoolict_reconnects_total", dimensions: dimensions)
    }

    func run() {
        while !stop.isStopped {
            do {
                try connect()
                try consumeUntilStopped()
            } catch {
                logger.warning("connection lost or failed; reconnecting", metadata: ["error": "\(error)"])
                reconnects.increment()
                closeAMQP(graceful: false)
                if let database, !database.isAlive { database.close(); self.database = nil }
                stop.sleep(seconds: backoff.next())
            }
        }
        closeAMQP(graceful: true)
        database?.close()
        database = nil
        logger.info("consumer stopped")
    }

    private func connect() throws {
        try connectDatabase()
        if consumer == nil || consumer?.isBroken == true {
            closeAMQP(graceful: false)
            let url = try AMQPURL(parsing: configuration.amqpURL)
            let name = "schoolict-\(settings.queue)@\(ProcessInfo.processInfo.hostName):\(getpid())"
            let publisher = try AMQPConnection(url: url, name: name + " publisher")
            try publisher.declare(.contract)
            try publisher.enableConfirms()
            let consumer = try AMQPConnection(url: url, name: name + " consumer")
            try consumer.startConsuming(queue: settings.queue, prefetch: UInt16(clamping: settings.prefetch))
            self.publisher = publisher
            self.consumer = consumer
            logger.info("consuming", metadata: ["amqp.url": "\(url)", "amqp.prefetch": "\(settings.prefetch)"])
        }
        backoff.reset()
    }

    private func connectDatabase() throws {
        if let database, database.isAlive { return }
        database?.close()
        database = nil
        let connection = try PostgresConnection(url: configuration.databaseURL,
                                                applicationName: "schoolict-\(settings.queue)")
        if !migrated {
            try Migrator.migrate(connection, logger: logger)
            migrated = true
        }
        database = connection
    }

    private func closeAMQP(graceful: Bool) {
        if graceful, let consumer, !consumer.isBroken {
            do { try consumer.cancelConsuming() } catch { logger.debug("basic.cancel failed", metadata: ["error": "\(error)"]) }
        }
        consumer?.close()
        publisher?.close()
        consumer = nil
        publisher = nil
    }

    private func consumeUntilStopped() throws {
        while !stop.isStopped {
            guard let consumer, let publisher else { return }
            reportQueueDepth(publisher)
            guard let first = try consumer.nextDelivery(timeout: .milliseconds(200)) else {
                try publisher.serviceHeartbeat()
                try idleIfDue()
                continue
            }
            var batch = [first]
            while batch.count < settings.batchSize, let next = try consumer.nextDelivery(timeout: .milliseconds(2)) {
                batch.append(next)
            }
            try process(batch)
            // Under constant load there is no idle moment: relay and timers get their turn between batches too.
            try idleIfDue()
        }
    }

    /// Splits off poison and suspect deliveries, then processes and settles.
    private func process(_ batch: [AMQPDelivery]) throws {
        guard let consumer else { return }
        var normal: [AMQPDelivery] = []
        var suspects: [AMQPDelivery] = []
        for delivery in batch {
            if delivery.deliveryCount >= settings.maximumDeliveries {
                logger.error("dead-lettering a message delivered too often",
                             metadata: ["message.id": "\(delivery.messageID ?? "-")", "amqp.delivery_count": "\(delivery.deliveryCount)"])
                if let outcome = handler.poisonOutcome(for: delivery), let publisher {
                    try publisher.publishConfirmed([outcome])
                }
                try consumer.reject(delivery.deliveryTag, requeue: false)
                count("poison", 1)
            } else if delivery.deliveryCount >= 2 {
                // Delivered twice before without an ack: maybe it crashes the worker. Process it alone.
                suspects.append(delivery)
            } else {
                normal.append(delivery)
            }
        }
        if !normal.isEmpty { try processAndSettle(normal) }
        for suspect in suspects { try processAndSettle([suspect]) }
    }

    private var lastIdle = ContinuousClock.now

    /// About once a second without deliveries, lets the handler relay its outbox.
    private func idleIfDue() throws {
        guard ContinuousClock.now - lastIdle > .seconds(1), let publisher else { return }
        lastIdle = .now
        try connectDatabase()
        let result = try handler.idle(database: database!)
        try settle(result, publisher: publisher)
    }

    /// Publishes a result's events with confirms, then records relayed outbox rows as published.
    private func settle(_ result: BatchResult, publisher: AMQPConnection) throws {
        try publisher.publishConfirmed(result.publish)
        if !result.relayedMessageIDs.isEmpty {
            try Outbox.markPublished(messageIDs: result.relayedMessageIDs, database: database!)
        }
    }

    private func processAndSettle(_ batch: [AMQPDelivery]) throws {
        let started = ContinuousClock.now
        let result: BatchResult
        do {
            try connectDatabase()
            result = try handler.handle(batch, database: database!)
        } catch let error as PostgresError where error.isConnectionError || database?.isAlive != true {
            // Nothing was committed: drop the AMQP connections so the broker requeues the batch.
            database?.close()
            database = nil
            throw error
        }
        guard let consumer, let publisher else { return }
        let publishing = ContinuousClock.now
        try settle(result, publisher: publisher)
        logger.debug("batch settled", metadata: ["batch.size": "\(batch.count)",
                                                 "batch.publish_ms": "\((ContinuousClock.now - publishing).milliseconds)"])
        for tag in result.deadLetter.sorted() {
            try consumer.reject(tag, requeue: false)
        }
        if let last = batch.map(\.deliveryTag).filter({ !result.deadLetter.contains($0) }).max() {
            try consumer.ack(last, multiple: true)
        }
        batchTimer.recordNanoseconds((ContinuousClock.now - started).nanoseconds)
        batchSizeRecorder.record(batch.count)
        for (outcome, number) in result.counts { count(outcome, number) }
    }

    private func count(_ outcome: String, _ number: Int) {
        let counter = outcomeCounters[outcome] ?? {
            let counter = Counter(label: "schoolict_messages_total",
                                  dimensions: [("queue", settings.queue), ("outcome", outcome)])
            outcomeCounters[outcome] = counter
            return counter
        }()
        counter.increment(by: number)
    }

    /// Every few seconds, the queue's depth for the metrics page (so operators see it drain).
    private func reportQueueDepth(_ publisher: AMQPConnection) {
        guard ContinuousClock.now - lastDepthCheck > .seconds(5) else { return }
        lastDepthCheck = .now
        if let depth = try? publisher.queueDepth(settings.queue) {
            queueDepthGauge.record(depth.messages)
            consumersGauge.record(depth.consumers)
        }
    }
}

extension Duration {
    /// Whole milliseconds, for log metadata.
    public var milliseconds: Int64 { nanoseconds / 1_000_000 }

    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
