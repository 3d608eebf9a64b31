import Foundation
import Logging
import Metrics

/// The consumer thread's loop: connect, take batches, hand them to the handler, publish, acknowledge.
///
/// Nothing is acknowledged before its effects are committed and its events confirmed by the broker. When the
/// database goes away the AMQP connections are closed too (the broker requeues what was in flight) and
/// everything reconnects with backoff and jitter; the process does not exit. When the broker refuses or
/// cannot confirm events, only the publisher reconnects: the batch stays with this worker, unacknowledged,
/// until its events are confirmed (see ``publishUntilConfirmed(_:)``).
final class ConsumerLoop {
    private let configuration: Configuration
    private let settings: ConsumerService.Settings
    private let handler: any BatchHandler
    private let stop: StopSignal
    private var logger: Logger

    private var consumer: AMQPConnection?
    private var publisher: AMQPConnection?
    private let database: DatabaseSession
    /// Delivery tags received on the current consumer connection and not yet acknowledged or rejected.
    private var unsettled = Set<UInt64>()
    private var backoff = Backoff()
    private var lastDepthCheck = ContinuousClock.now - .seconds(60)

    private let batchTimer: Metrics.Timer
    private let batchSizeRecorder: Recorder
    private let queueDepthGauge: Gauge
    private let consumersGauge: Gauge
    private let reconnects: Counter
    private let publishRetries: Counter
    private let refusedEvents: Counter
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
        database = DatabaseSession(url: configuration.databaseURL, applicationName: "schoolict-\(settings.queue)",
                                   logger: logger)
        let dimensions = [("queue", settings.queue)]
        batchTimer = Metrics.Timer(label: "schoolict_batch_duration_seconds", dimensions: dimensions,
                                   preferredDisplayUnit: .seconds)
        batchSizeRecorder = Recorder(label: "schoolict_batch_size", dimensions: dimensions)
        queueDepthGauge = Gauge(label: "schoolict_queue_messages_ready", dimensions: dimensions)
        consumersGauge = Gauge(label: "schoolict_queue_consumers", dimensions: dimensions)
        reconnects = Counter(label: "schoolict_reconnects_total", dimensions: dimensions)
        publishRetries = Counter(label: "schoolict_publish_retries_total", dimensions: dimensions)
        refusedEvents = Counter(label: "schoolict_events_refused_total", dimensions: dimensions)
    }

    func run() {
        while !stop.isStopped {
            do {
                try connect()
                try consumeUntilStopped()
            } catch is StoppedWhilePublishing {
                logger.notice("stopping with events unconfirmed; the broker redelivers their batch to a worker")
            } catch {
                logger.warning("connection lost or failed; reconnecting", metadata: ["error": "\(error)"])
                reconnects.increment()
                closeAMQP(graceful: false)
                database.closeIfDead()
                stop.sleep(seconds: backoff.next())
            }
        }
        closeAMQP(graceful: true)
        database.close()
        logger.info("consumer stopped")
    }

    private func connect() throws {
        _ = try database.connected()
        if consumer == nil || consumer?.isBroken == true {
            closeAMQP(graceful: false)
            _ = try connectedPublisher()
            let url = try AMQPURL(parsing: configuration.amqpURL)
            let consumer = try AMQPConnection(url: url, name: connectionName + " consumer")
            try consumer.startConsuming(queue: settings.queue, prefetch: UInt16(clamping: settings.prefetch))
            self.consumer = consumer
            logger.info("consuming", metadata: ["amqp.url": "\(url)", "amqp.prefetch": "\(settings.prefetch)"])
        }
        backoff.reset()
    }

    private var connectionName: String {
        "schoolict-\(settings.queue)@\(ProcessInfo.processInfo.hostName):\(getpid())"
    }

    /// The publisher connection (topology declared, confirms on), opened again if it broke.
    private func connectedPublisher() throws -> AMQPConnection {
        if let publisher, !publisher.isBroken { return publisher }
        publisher?.close()
        publisher = nil
        let url = try AMQPURL(parsing: configuration.amqpURL)
        let publisher = try AMQPConnection.withContractTopology(url: url, name: connectionName + " publisher")
        try publisher.enableConfirms()
        self.publisher = publisher
        return publisher
    }

    /// Publishes until the broker has confirmed every message.
    ///
    /// A refusal (`basic.nack`: a queue bound to the events exchange is full with `reject-publish`, or the
    /// broker could not store the message) or a lost publisher connection is retried with backoff, on a new
    /// publisher connection if need be. The consumer connection stays open meanwhile (``AMQPConnection/keepAlive()``),
    /// so the batch's deliveries stay with this worker: a broker that refuses events for minutes neither
    /// redelivers the batch to another worker nor raises its messages' delivery count until they look like
    /// poison. A stop request ends the wait; the broker then requeues the batch, whose outcomes are stored.
    ///
    /// A message the broker refuses for good (the channel closed with 406 PRECONDITION_FAILED: larger than its
    /// `max_message_size`, say) is never retried: the batch is then published one message at a time, and a
    /// refused outcome is replaced by a small `processing_failed` one with the same ids (dropped with an error
    /// log if the broker refuses that too).
    private func publishUntilConfirmed(_ messages: [AMQPMessage]) throws {
        var publication = EventPublication(messages)
        var retry = Backoff()
        while !publication.isDone {
            do {
                try publication.run(publish: { try connectedPublisher().publishConfirmed($0) }) { refusal in
                    refusedEvents.increment()
                    logger.error("the broker refused an event for good; it is not retried", metadata: [
                        "event.id": "\(refusal.event.messageID)", "event.routing_key": "\(refusal.event.routingKey)",
                        "event.replaced_by": "\(refusal.replacement == nil ? "nothing" : "processing_failed")",
                        "error": "\(refusal.error)",
                    ])
                }
            } catch let error as AMQPError {
                guard let consumer, !consumer.isBroken else { throw error }
                publishRetries.increment()
                logger.warning("the broker did not confirm the events; the batch stays unacknowledged, retrying",
                               metadata: ["error": "\(error)", "events": "\(publication.pending.count)"])
                var remaining = retry.next()
                while remaining > 0 {
                    let slice = min(remaining, 5)
                    stop.sleep(seconds: slice)
                    remaining -= slice
                    if stop.isStopped { throw StoppedWhilePublishing() }
                    try consumer.keepAlive()
                }
            }
        }
    }

    private func closeAMQP(graceful: Bool) {
        if graceful, let consumer, !consumer.isBroken {
            do { try consumer.cancelConsuming() } catch { logger.debug("basic.cancel failed", metadata: ["error": "\(error)"]) }
        }
        consumer?.close()
        publisher?.close()
        consumer = nil
        publisher = nil
        unsettled.removeAll()
    }

    private func consumeUntilStopped() throws {
        while !stop.isStopped {
            guard let consumer else { return }
            let publisher = try connectedPublisher()
            reportQueueDepth(publisher)
            guard let first = try consumer.nextDelivery(timeout: .milliseconds(200)) else {
                try publisher.serviceHeartbeat()
                try idleIfDue()
                continue
            }
            // A batch is bounded in bytes as well as in count, so a run of maximum-size messages cannot make a
            // batch's memory grow with BATCH_SIZE.
            var batch = [first]
            var bytes = first.body.count
            while batch.count < settings.batchSize, bytes < settings.batchMaximumBytes,
                  let next = try consumer.nextDelivery(timeout: .milliseconds(2)) {
                batch.append(next)
                bytes += next.body.count
            }
            unsettled.formUnion(batch.map(\.deliveryTag))
            try process(batch)
            // Under constant load there is no idle moment: relay and timers get their turn between batches too.
            try idleIfDue()
        }
    }

    /// Splits off poison and suspect deliveries, then processes and settles.
    private func process(_ batch: [AMQPDelivery]) throws {
        var normal: [AMQPDelivery] = []
        var suspects: [AMQPDelivery] = []
        for delivery in batch {
            if delivery.deliveryCount >= settings.maximumDeliveries {
                switch try handler.poisonVerdict(for: delivery, database: database.connected()) {
                case .alreadyProcessed(let outcome):
                    // Redelivered by lost connections, not by crashes: its effects are committed.
                    logger.warning("a message delivered too often had been processed; acknowledging it",
                                   metadata: ["message.id": "\(delivery.messageID ?? "-")"])
                    try publishUntilConfirmed(outcome.map { [$0] } ?? [])
                    try acknowledge([delivery.deliveryTag])
                    count("duplicate", 1)
                case .deadLetter(let outcome):
                    logger.error("dead-lettering a message delivered too often",
                                 metadata: ["message.id": "\(delivery.messageID ?? "-")",
                                            "amqp.delivery_count": "\(delivery.deliveryCount)"])
                    try publishUntilConfirmed(outcome.map { [$0] } ?? [])
                    try deadLetter(delivery.deliveryTag)
                    count("poison", 1)
                }
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

    private var lastSweep = ContinuousClock.now - .seconds(3_600)

    /// About once a second without deliveries, lets the handler relay its outbox; about once an hour, deletes
    /// claims and outcomes past `RETENTION_DAYS`.
    private func idleIfDue() throws {
        guard ContinuousClock.now - lastIdle > .seconds(1) else { return }
        lastIdle = .now
        let result = try handler.idle(database: database.connected())
        try settle(result)
        if configuration.retentionDays > 0, ContinuousClock.now - lastSweep > .seconds(3_600) {
            lastSweep = .now
            let swept = try Retention.sweep(queue: settings.queue, olderThanDays: configuration.retentionDays,
                                            database: database.connected())
            if swept.claims + swept.outbox > 0 {
                logger.info("retention: deleted old claims and outcomes",
                            metadata: ["retention.claims": "\(swept.claims)", "retention.outbox": "\(swept.outbox)",
                                       "retention.days": "\(configuration.retentionDays)"])
            }
        }
    }

    /// Publishes a result's events with confirms, then records relayed outbox rows as published.
    private func settle(_ result: BatchResult) throws {
        try publishUntilConfirmed(result.publish)
        if !result.relayedMessageIDs.isEmpty {
            try Outbox.markPublished(messageIDs: result.relayedMessageIDs, database: database.connected())
        }
    }

    private func processAndSettle(_ batch: [AMQPDelivery]) throws {
        let started = ContinuousClock.now
        let result: BatchResult
        do {
            result = try handler.handle(batch, database: database.connected())
        } catch let error as PostgresError where error.isConnectionError || !database.isAlive {
            // Nothing was committed: drop the AMQP connections so the broker requeues the batch.
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
            try settleRefused(batch[0])
            return
        }
        let publishing = ContinuousClock.now
        try settle(result)
        logger.debug("batch settled", metadata: ["batch.size": "\(batch.count)",
                                                 "batch.publish_ms": "\((ContinuousClock.now - publishing).milliseconds)"])
        for tag in result.deadLetter.sorted() {
            try deadLetter(tag)
        }
        try acknowledge(batch.map(\.deliveryTag).filter { !result.deadLetter.contains($0) })
        batchTimer.recordNanoseconds((ContinuousClock.now - started).nanoseconds)
        batchSizeRecorder.record(batch.count)
        for (outcome, number) in result.counts { count(outcome, number) }
    }

    /// A delivery the database refused on its own: processed before → its stored outcome and an ack; otherwise
    /// the handler's `processing_failed` outcome (if any) and the dead-letter queue, for an operator.
    private func settleRefused(_ delivery: AMQPDelivery) throws {
        switch try handler.poisonVerdict(for: delivery, database: database.connected()) {
        case .alreadyProcessed(let outcome):
            try publishUntilConfirmed(outcome.map { [$0] } ?? [])
            try acknowledge([delivery.deliveryTag])
            count("duplicate", 1)
        case .deadLetter(let outcome):
            logger.error("the database refused a message on its own; dead-lettering it",
                         metadata: ["message.id": "\(delivery.messageID ?? "-")"])
            try publishUntilConfirmed(outcome.map { [$0] } ?? [])
            try deadLetter(delivery.deliveryTag)
            count("failed", 1)
        }
    }

    /// Acknowledges deliveries: one `multiple` ack when no other unsettled delivery has a lower tag (the usual
    /// case), one ack each otherwise, so a message set aside (a suspect processed alone) is never acknowledged
    /// with a batch before its own effects are committed.
    private func acknowledge(_ tags: [UInt64]) throws {
        guard let consumer, let last = tags.max() else { return }
        let settling = Set(tags)
        if unsettled.allSatisfy({ $0 > last || settling.contains($0) }) {
            try consumer.ack(last, multiple: true)
        } else {
            for tag in settling.sorted() { try consumer.ack(tag) }
        }
        unsettled.subtract(settling)
    }

    /// Rejects a delivery without requeueing: the broker moves it to the queue's dead-letter queue.
    private func deadLetter(_ tag: UInt64) throws {
        try consumer?.reject(tag, requeue: false)
        unsettled.remove(tag)
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

/// A stop request ended ``ConsumerLoop``'s wait for the broker to confirm a batch's events.
private struct StoppedWhilePublishing: Error {}
