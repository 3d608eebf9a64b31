import Foundation
import Logging
import Metrics

/// One consumer loop: take a batch from the process's ``ConsumerChannel``, wait for its turn (``BatchOrder``),
/// hand it to the handler, acknowledge.
///
/// A batch is acknowledged once its effects and its events are committed (the events in the outbox); the process's
/// relay (``RelayLoop``) publishes them, woken by ``RelaySignal``. So intake never waits for the broker's publishing
/// side: a subscriber that refuses events delays them, it does not stop the queue. Nothing is acknowledged before it
/// is committed. `CONSUMERS` loops share one channel: while one commits a batch on its own database connection,
/// the next takes the next batch. When the database or the broker goes away the connection is closed (the broker
/// requeues what was in flight, in queue order) and everything reconnects with backoff and jitter; the process does
/// not exit.
final class ConsumerLoop {
    private let configuration: Configuration
    private let settings: ConsumerService.Settings
    private let handler: any BatchHandler
    private let stop: StopSignal
    private let relay: RelaySignal
    private let channel: ConsumerChannel
    private var logger: Logger

    private let database: DatabaseSession
    private var backoff = Backoff()
    private var lastIdle = ContinuousClock.now
    private var lastSweep = ContinuousClock.now - .seconds(3_600)
    /// The batch being processed: the connection it came on.
    private var generation = 0
    /// This loop in ``Health``: progress each turn, ready while connected to both servers with a current schema.
    private let healthName: String

    private let batchTimer: Metrics.Timer
    private let batchSizeRecorder: Recorder
    private let reconnects: Counter
    private var outcomeCounters: [String: Counter] = [:]

    init(configuration: Configuration, settings: ConsumerService.Settings, channel: ConsumerChannel,
         handler: any BatchHandler, stop: StopSignal, relay: RelaySignal, logger: Logger) {
        self.channel = channel
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
        let dimensions = [("queue", settings.queue)]
        batchTimer = Metrics.Timer(label: "schoolict_batch_duration_seconds", dimensions: dimensions,
                                   preferredDisplayUnit: .seconds)
        batchSizeRecorder = Recorder(label: "schoolict_batch_size", dimensions: dimensions)
        reconnects = Counter(label: "schoolict_reconnects_total", dimensions: dimensions)
        healthName = Health.name("consumer-\(settings.queue)")
        Health.shared.ready(healthName, false, reason: "connecting")
    }

    func run() {
        while !stop.isStopped {
            do {
                _ = try database.connected()
                try consumeUntilStopped()
            } catch {
                logger.warning("connection lost or failed; reconnecting", metadata: ["error": "\(error)"])
                Health.shared.ready(healthName, false, reason: Self.reason(error))
                reconnects.increment()
                database.closeIfDead()
                stop.sleep(seconds: backoff.next())
            }
        }
        database.close()
        Health.shared.remove(healthName)
        channel.loopStopped()
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

    private func consumeUntilStopped() throws {
        while !stop.isStopped {
            Health.shared.progress(healthName)
            let taken = try channel.take()
            // Connected to both servers.
            Health.shared.ready(healthName, true)
            backoff.reset()
            guard let batch = taken else {
                try idleIfDue()
                continue
            }
            generation = batch.generation
            do {
                // What touches nothing an earlier batch still holds is decided at once, beside the other loop;
                // the rest after the batches it depends on have committed.
                let split = try channel.order.declare(batch.sequence, perDelivery: orderKeys(of: batch.deliveries))
                if !split.now.isEmpty { try process(split.now.map { batch.deliveries[$0] }) }
                if !split.later.isEmpty {
                    try channel.order.waitForTurn(batch.sequence)
                    try process(split.later.map { batch.deliveries[$0] })
                }
            } catch {
                // Nothing of this batch is acknowledged: close the connection it came on, so the broker requeues
                // it (and what the other loops hold) in queue order, before any batch behind it is decided.
                channel.reset(generation: batch.generation)
                channel.order.finish(batch.sequence)
                throw error
            }
            channel.order.finish(batch.sequence)
            // Under constant load there is no idle moment: timers get their turn between batches too.
            try idleIfDue()
        }
    }

    /// What each delivery depends on: everything when one was seen before without an acknowledgement (its body is
    /// not read before it is processed alone: it may be what crashes the worker), the handler's keys otherwise.
    private func orderKeys(of batch: [AMQPDelivery]) -> [BatchKeys] {
        if batch.contains(where: { $0.deliveryCount >= 2 }) { return Array(repeating: .all, count: batch.count) }
        let keys = handler.orderKeys(of: batch)
        return keys.count == batch.count ? keys : Array(repeating: .all, count: batch.count)
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
            // Nothing was committed: the caller drops the AMQP connection so the broker requeues the batch.
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
        try channel.acknowledge(tags, generation: generation)
    }

    /// Rejects a delivery without requeueing: the broker moves it to the queue's dead-letter queue.
    private func deadLetter(_ tag: UInt64) throws {
        try channel.deadLetter(tag, generation: generation)
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

}

extension Duration {
    /// Whole milliseconds, for log metadata.
    public var milliseconds: Int64 { nanoseconds / 1_000_000 }

    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
