import Foundation
import Logging
import Metrics

/// What the consumer loops of one process share: one AMQP connection with one consumer, so deliveries arrive in
/// queue order and the order of the loops' batches is known (``BatchOrder``); the turn to take a batch; the
/// acknowledgement ledger.
///
/// One loop at a time takes a batch (it holds `turn`), then decides and commits it on its own database
/// connection while the next loop takes the next batch. rabbitmq-c connections are not thread-safe: every call
/// on the connection is made under `lock`, and the loop taking a batch waits for input on the socket outside it,
/// so acknowledgements from the other loops are never held up by a wait.
final class ConsumerChannel: @unchecked Sendable {  // `connection`, `ledger`, `generation`, `running` under `lock`; receiving under `turn`
    struct Batch {
        var deliveries: [AMQPDelivery]
        /// The connection the deliveries came on: settling them on a later one would settle other deliveries.
        var generation: Int
        var sequence: UInt64
    }

    let order = BatchOrder()
    private let settings: ConsumerService.Settings
    private let brokers: BrokerEndpoints
    private let connectionName: String
    private let lock = NSLock()
    private let turn = NSLock()
    private var connection: AMQPConnection?
    private var ledger = AckLedger()
    private var generation = 0
    private var running: Int
    private var lastDepthCheck = ContinuousClock.now - .seconds(60)
    private let logger: Logger

    private let queueDepthGauge: Gauge
    private let consumersGauge: Gauge

    init(settings: ConsumerService.Settings, loops: Int, brokers: BrokerEndpoints, logger: Logger) {
        self.settings = settings
        self.brokers = brokers
        running = loops
        self.logger = logger
        connectionName = "schoolict-\(settings.queue)@\(ProcessInfo.processInfo.hostName):\(getpid())"
        let dimensions = [("queue", settings.queue)]
        queueDepthGauge = Gauge(label: "schoolict_queue_messages_ready", dimensions: dimensions)
        consumersGauge = Gauge(label: "schoolict_queue_consumers", dimensions: dimensions)
    }

    /// The next batch in queue order, or `nil` when nothing arrived within a while (time for the loop's timers).
    /// Connects first when there is no connection.
    func take() throws -> Batch? {
        turn.lock()
        defer { turn.unlock() }
        let generation = try connected()
        reportQueueDepth()
        guard let first = try nextDelivery(within: .milliseconds(200)) else { return nil }
        // A batch is bounded in bytes as well as in count, so a run of maximum-size messages cannot make a batch's
        // memory grow with BATCH_SIZE; and in time (``BatchFill``).
        var deliveries = [first]
        var fill = BatchFill(firstBytes: first.body.count, countLimit: settings.batchSize,
                             byteLimit: settings.batchMaximumBytes,
                             maximumWait: .milliseconds(settings.batchMaximumWaitMilliseconds), now: .now)
        filling: while true {
            let next: AMQPDelivery?
            switch fill.step(now: .now, othersDeciding: order.isDeciding) {
            case .close:
                break filling
            case .holdForOthers(let until):
                next = try nextDelivery(within: .zero)
                // Woken at once when the other loop finishes; every few milliseconds to read what arrived.
                if next == nil { order.waitUntilNoneDeciding(before: min(until, .now + .milliseconds(5))) }
            case .waitForDelivery(let wait):
                guard let delivery = try nextDelivery(within: wait) else { break filling }
                next = delivery
            }
            if let next {
                deliveries.append(next)
                fill.add(bytes: next.body.count)
            }
        }
        lock.withLock { ledger.received(deliveries.map(\.deliveryTag)) }
        return Batch(deliveries: deliveries, generation: generation, sequence: order.take())
    }

    /// Acknowledges `tags` of a batch taken on `generation` (nothing when the connection was reset since: the
    /// broker requeued them).
    func acknowledge(_ tags: [UInt64], generation: Int) throws {
        try lock.withLock {
            guard generation == self.generation, let connection else { return }
            if case .multiple(let last)? = ledger.acknowledge(tags) { try connection.ack(last, multiple: true) }
        }
    }

    /// Rejects a delivery without requeueing: the broker moves it to the queue's dead-letter queue.
    func deadLetter(_ tag: UInt64, generation: Int) throws {
        try lock.withLock {
            guard generation == self.generation, let connection else { return }
            try connection.reject(tag, requeue: false)
            if case .multiple(let last)? = ledger.rejected(tag) { try connection.ack(last, multiple: true) }
        }
    }

    /// Closes the connection the failed batch came on (the broker requeues everything the loops hold, in queue
    /// order) unless that happened already; no held batch is decided after this.
    func reset(generation: Int) {
        lock.withLock {
            guard generation == self.generation else { return }
            closeConnection(graceful: false)
        }
    }

    /// A loop stopped; the last one cancels the consumer (so that the acknowledgements sent before are processed)
    /// and closes the connection.
    func loopStopped() {
        lock.withLock {
            running -= 1
            if running == 0 { closeConnection(graceful: true) }
        }
    }

    // MARK: Under `turn`

    private func connected() throws -> Int {
        let current: Int? = lock.withLock {
            guard let connection, !connection.isBroken else { return nil }
            return generation
        }
        if let current { return current }
        // The topology first (declared, or checked when this user may not declare it), on the first node that
        // answers; then the consumer on the same node. One consumer for all loops, with all their prefetch.
        let name = connectionName
        let queue = settings.queue
        let prefetch = UInt16(clamping: settings.prefetch * running)
        lock.withLock { closeConnection(graceful: false) }
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
        logger.info("consuming", metadata: ["amqp.url": "\(brokers.preferred)", "amqp.prefetch": "\(prefetch)"])
        return lock.withLock {
            connection = consumer
            return generation
        }
    }

    /// The next delivery within `timeout`. Reads what rabbitmq-c or the socket already holds under `lock`, then
    /// waits on the socket without it. (With TLS, decrypted bytes may wait unseen by `poll`, so waits are short.)
    private func nextDelivery(within timeout: Duration) throws -> AMQPDelivery? {
        let deadline = ContinuousClock.now + timeout
        while true {
            let (delivery, socket, usesTLS) = try lock.withLock { () throws -> (AMQPDelivery?, Int32, Bool) in
                let connection = try openConnection()
                guard let socket = connection.socketDescriptor else { throw Self.closed }
                return (try connection.nextDelivery(timeout: .zero), socket, connection.usesTLS)
            }
            if let delivery { return delivery }
            let remaining = deadline - .now
            guard remaining > .zero else { return nil }
            if remaining < .milliseconds(1) {
                // `poll` waits in whole milliseconds: the last fraction is waited in rabbitmq-c, under `lock`
                // (an acknowledgement waits at most that long), rather than spun or stretched to a millisecond.
                return try lock.withLock { try openConnection().nextDelivery(timeout: remaining) }
            }
            _ = AMQPConnection.waitForInput(socket: socket,
                                            timeout: min(remaining, usesTLS ? .milliseconds(5) : .milliseconds(200)))
        }
    }

    /// Every few seconds, the queue's depth for the metrics page (so operators see it drain).
    private func reportQueueDepth() {
        guard ContinuousClock.now - lastDepthCheck > .seconds(5) else { return }
        lastDepthCheck = .now
        if let depth = lock.withLock({ try? connection?.queueDepth(settings.queue) }) {
            queueDepthGauge.record(depth.messages)
            consumersGauge.record(depth.consumers)
        }
    }

    // MARK: Under `lock`

    private static let closed = AMQPError(code: .notConnected, message: "the AMQP connection is closed")

    private func openConnection() throws -> AMQPConnection {
        guard let connection else { throw Self.closed }
        return connection
    }

    private func closeConnection(graceful: Bool) {
        if graceful, let connection, !connection.isBroken {
            do { try connection.cancelConsuming() } catch {
                logger.debug("basic.cancel failed", metadata: ["error": "\(error)"])
            }
        }
        if connection != nil {
            order.abandonAll()
            generation += 1
        }
        connection?.close()
        connection = nil
        ledger.reset()
    }
}
