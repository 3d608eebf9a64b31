import Foundation
import Logging
import Metrics

/// The consumer thread's loop: connect, take batches, hand them to the handler, acknowledge.
///
/// A batch is acknowledged once its effects and its events are committed (the events in the outbox); the process's
/// relay (``RelayLoop``) publishes them, woken by ``RelaySignal``. So intake never waits for the broker's publishing
/// side: a subscriber that refuses events delays them, it does not stop the queue. Nothing is acknowledged before it
/// is committed. When the database or the broker goes away the connection is closed (the broker requeues what was in
/// flight) and everything reconnects with backoff and jitter; the process does not exit.
final class ConsumerLoop {
    private let configuration: Configuration
    private let settings: ConsumerService.Settings
    private let handler: any BatchHandler
    private let stop: StopSignal
    private let relay: RelaySignal
    private var logger: Logger

    private var consumer: AMQPConnection?
    private let brokers: BrokerEndpoints
    private let database: DatabaseSession
    private var ledger = AckLedger()
    private var backoff = Backoff()
    private var lastDepthCheck = ContinuousClock.now - .seconds(60)
    private var lastIdle = ContinuousClock.now
    private var lastSweep = ContinuousClock.now - .seconds(3_600)
    /// This loop in ``Health``: progress each turn, ready while connected to both servers with a current schema.
    private let healthName: String

    private let batchTimer: Metrics.Timer
    private let batchSizeRecorder: Recorder
    private let queueDepthGauge: Gauge
    private let consumersGauge: Gauge
    private let reconnects: Counter
    private var outcomeCounters: [String: Counter] = [:]

    init(configuration: Configuration, settings: ConsumerService.Settings, handler: any BatchHandler,
         stop: StopSignal, relay: RelaySignal, logger: Logger) {
        self.configuration = configuration
        self.settings = settings
        self.handler = handler
        self.stop = stop
        self.relay = relay
        var logger = logger
        logger[metadataKey: "amqp.queue"] = "\(settings.queue)"
        self.logger = logger
        database = DatabaseSession(url: configuration.databaseURL, applicationName: "schoolict-\(settings.queue)",
                                   logger: logger)
        // Validated by Configuration: this parse cannot fail.
        brokers = try! BrokerEndpoints(configuration.amqpURL)
        let dimensions = [("queue", settings.queue)]
        batchTimer = Metrics.Timer(label: "schoolict_batch_duration_seconds", dimensions: dimensions,
                                   preferredDisplayUnit: .seconds)
        batchSizeRecorder = Recorder(label: "schoolict_batch_size", dimensions: dimensions)
        queueDepthGauge = Gauge(label: "schoolict_queue_messages_ready", dimensions: dimensions)
        consumersGauge = Gauge(label: "schoolict_queue_consumers", dimensions: dimensions)
        reconnects = Counter(label: "schoolict_reconnects_total", dimensions: dimensions)
        healthName = Health.name("consumer-\(settings.queue)")
        Health.shared.ready(healthName, false, reason: "connecting")
    }

    func run() {
        while !stop.isStopped {
            do {
                try connect()
                try consumeUntilStopped()
            } catch {
                logger.warning("connection lost or failed; reconnecting", metadata: ["error": "\(error)"])
                Health.shared.ready(healthName, false, reason: Self.reason(error))
                reconnects.increment()
                closeAMQP(graceful: false)
                database.closeIfDead()
                stop.sleep(seconds: backoff.next())
            }
        }
        closeAMQP(graceful: true)
        database.close()
        Health.shared.remove(healthName)
        logger.info("consumer stopped")
    }

    /// What `/readyz` says of a failure: its kind, never a URL or a password.
    static func reason(_ error: any Error) -> String {
        switch error {
        case is AMQPError: "broker: " + ((error as? AMQPError)?.code.rawValue ?? "error")
        case let error as PostgresError: "database: \(error.code)"
        case let error as Migrator.SchemaBehind: "schema behind: migrations \(error.missing) missing"
        default: "error"
        }
    }

    private func connect() throws {
        _ = try database.connected()
        if consumer == nil || consumer?.isBroken == true {
            closeAMQP(graceful: false)
            // The topology first (declared, or checked when this user may not declare it), on the first node
            // that answers; then the consumer on the same node.
            let name = connectionName
            let queue = settings.queue
            let prefetch = UInt16(clamping: settings.prefetch)
            let consumer = try brokers.connect { url throws -> AMQPConnection in
                try AMQPConnection.withContractTopology(url: url, name: name + " setup").close()
                let consumer = try AMQPConnection(url: url, name: name + " consumer")
                do {
                    try consumer.startConsuming(queue: queue, prefetch: prefetch)
                } catch {
                    consumer.close()
                    throw error
                }
                return consumer
            }
            let url = brokers.preferred
            self.consumer = consumer
            logger.info("consuming", metadata: ["amqp.url": "\(url)", "amqp.prefetch": "\(settings.prefetch)"])
        }
        Health.shared.ready(healthName, true)
        backoff.reset()
    }

    private var connectionName: String {
        "schoolict-\(settings.queue)@\(ProcessInfo.processInfo.hostName):\(getpid())"
    }

    private func closeAMQP(graceful: Bool) {
        if graceful, let consumer, !consumer.isBroken {
            do { try consumer.cancelConsuming() } catch { logger.debug("basic.cancel failed", metadata: ["error": "\(error)"]) }
        }
        consumer?.close()
        consumer = nil
        ledger.reset()
    }

    private func consumeUntilStopped() throws {
        while !stop.isStopped {
            guard let consumer else { return }
            Health.shared.progress(healthName)
            reportQueueDepth(consumer)
            guard let first = try consumer.nextDelivery(timeout: .milliseconds(200)) else {
                try idleIfDue()
                continue
            }
            // A batch is bounded in bytes as well as in count, so a run of maximum-size messages cannot make a
            // batch's memory grow with BATCH_SIZE.
            // And in time: BATCH_MAX_WAIT_MS after its first delivery a batch only takes what is already there, so
            // under a steady load it does not wait to fill, while a backlog still fills it. (0: only what is there.)
            var batch = [first]
            var bytes = first.body.count
            let closesAt = ContinuousClock.now + .milliseconds(settings.batchMaximumWaitMilliseconds)
            while batch.count < settings.batchSize, bytes < settings.batchMaximumBytes,
                  let next = try consumer.nextDelivery(timeout: min(.milliseconds(2), max(.zero, closesAt - .now))) {
                batch.append(next)
                bytes += next.body.count
            }
            ledger.received(batch.map(\.deliveryTag))
            try process(batch)
            // Under constant load there is no idle moment: timers get their turn between batches too.
            try idleIfDue()
        }
    }

    /// Splits off poison and suspect deliveries, then processes and settles.
    private func process(_ batch: [AMQPDelivery]) throws {
        var normal: [AMQPDelivery] = []
        var suspects: [AMQPDelivery] = []
        for delivery in batch {
            if delivery.deliveryCount >= settings.maximumDeliveries {
                logger.error("a message was delivered too often", metadata: [
                    "message.id": "\(delivery.messageID ?? "-")", "amqp.delivery_count": "\(delivery.deliveryCount)",
                ])
                try settleAlone(delivery, reason: .deliveredTooOften(delivery.deliveryCount))
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

    /// About once a second without deliveries (and between batches), the handler's timers; about once an hour,
    /// the retention sweep (`RETENTION_DAYS`).
    private func idleIfDue() throws {
        guard ContinuousClock.now - lastIdle > .seconds(1) else { return }
        lastIdle = .now
        // A database that went away while no delivery came is noticed here, within seconds (`/readyz`).
        try database.connected().execute("SELECT 1")
        if try handler.idle(database: database.connected()) { relay.notify() }
        if configuration.retentionDays > 0, ContinuousClock.now - lastSweep > .seconds(3_600) {
            lastSweep = .now
            let swept = try Retention.sweep(queue: settings.queue, olderThanDays: configuration.retentionDays,
                                            database: database.connected())
            if swept.claims + swept.failures > 0 {
                logger.info("retention: deleted old claims (with their outcomes) and failure records",
                            metadata: ["retention.claims": "\(swept.claims)", "retention.failures": "\(swept.failures)",
                                       "retention.days": "\(configuration.retentionDays)"])
            }
        }
    }

    private func processAndSettle(_ batch: [AMQPDelivery]) throws {
        let started = ContinuousClock.now
        let result: BatchResult
        do {
            result = try handler.handle(batch, database: database.connected())
        } catch let error as PostgresError where error.isConnectionError || !database.isAlive {
            // Nothing was committed: drop the AMQP connection so the broker requeues the batch.
            database.close()
            throw error
        } catch let error as PostgresError {
            // The database refused what one message asked (its transaction rolled back; the session is fine):
            // never let that stop the queue. Alone, the message gets the handler's verdict; in a batch, each is
            // tried alone so the others go through.
            logger.warning("the database refused a batch; processing its deliveries one by one",
                           metadata: ["db.sqlstate": "\(error.sqlState ?? "")", "batch.size": "\(batch.count)"])
            guard batch.count == 1 else {
                for delivery in batch { try processAndSettle([delivery]) }
                return
            }
            try settleAlone(batch[0], reason: .database(error))
            return
        }
        relay.notify()
        for tag in result.deadLetter.sorted() {
            try deadLetter(tag)
        }
        try acknowledge(batch.map(\.deliveryTag).filter { !result.deadLetter.contains($0) })
        batchTimer.recordNanoseconds((ContinuousClock.now - started).nanoseconds)
        batchSizeRecorder.record(batch.count)
        for (outcome, number) in result.counts { count(outcome, number) }
    }

    /// A delivery seen too often (it may crash the worker) or refused by the database on its own, settled without
    /// processing its body: processed before → its stored outcome again and an ack; otherwise the handler's
    /// `processing_failed` outcome (if any) and the dead-letter queue, for an operator.
    private func settleAlone(_ delivery: AMQPDelivery, reason: Failures.Reason) throws {
        let connection = try database.connected()
        switch try handler.poisonVerdict(for: delivery, database: connection) {
        case .alreadyProcessed(let outcome):
            try Outbox.store(outcome.map { [$0] } ?? [], database: connection)
            relay.notify()
            try acknowledge([delivery.deliveryTag])
            count("duplicate", 1)
        case .deadLetter(let outcome):
            logger.error("dead-lettering a message that cannot be processed",
                         metadata: ["message.id": "\(delivery.messageID ?? "-")"])
            // Transient: the message is not recorded as processed, so a replay after a fix gets a fresh outcome.
            try Failures.record(delivery, queue: settings.queue, outcome: outcome, reason: reason, database: connection)
            relay.notify()
            try deadLetter(delivery.deliveryTag)
            count("failed", 1)
        }
    }

    private func acknowledge(_ tags: [UInt64]) throws {
        guard let consumer else { return }
        switch ledger.acknowledge(tags) {
        case .multiple(let last)?: try consumer.ack(last, multiple: true)
        case .each(let each)?: for tag in each { try consumer.ack(tag) }
        case nil: return
        }
    }

    /// Rejects a delivery without requeueing: the broker moves it to the queue's dead-letter queue.
    private func deadLetter(_ tag: UInt64) throws {
        try consumer?.reject(tag, requeue: false)
        ledger.rejected(tag)
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
    private func reportQueueDepth(_ connection: AMQPConnection) {
        guard ContinuousClock.now - lastDepthCheck > .seconds(5) else { return }
        lastDepthCheck = .now
        if let depth = try? connection.queueDepth(settings.queue) {
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
