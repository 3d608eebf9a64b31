import Foundation
import Logging
import Metrics

/// The relay thread's loop: publishes committed events from the outbox with publisher confirms, in the order they
/// were stored, then deletes them, in the transaction that locked them.
///
/// Consumers acknowledge a batch as soon as its effects and events are committed; this loop alone talks to the
/// broker's publishing side. So a subscriber that refuses events (a full queue with `reject-publish`), or a broker
/// that stops confirming, only delays events: intake goes on, and the events are published, with the same message
/// ids, once the broker takes them again. One relay runs per worker process; `FOR UPDATE SKIP LOCKED` lets any
/// number run together, each row owned by one at a time, and a crashed worker's rows are taken by another.
final class RelayLoop {
    static let batchLimit = 1_000

    private let configuration: Configuration
    private let signal: RelaySignal
    private let stop: StopSignal
    private let logger: Logger
    private let name: String
    private let database: DatabaseSession
    private let brokers: BrokerEndpoints
    private var publisher: AMQPConnection?
    private var backoff = Backoff(base: 0.2, maximum: 15)

    private let published: Counter
    private let retries: Counter
    private let refused: Counter
    private let pendingGauge: Gauge
    private var lastPendingCheck = ContinuousClock.now - .seconds(60)

    init(configuration: Configuration, signal: RelaySignal, stop: StopSignal, name: String, logger: Logger) {
        self.configuration = configuration
        self.signal = signal
        self.stop = stop
        self.name = name
        var logger = logger
        logger[metadataKey: "relay"] = "\(name)"
        self.logger = logger
        database = DatabaseSession(url: configuration.databaseURL, applicationName: "schoolict-relay-\(name)", logger: logger)
        // Validated by Configuration: this parse cannot fail.
        brokers = try! BrokerEndpoints(configuration.amqpURL)
        let dimensions = [("worker", name)]
        published = Counter(label: "schoolict_events_published_total", dimensions: dimensions)
        retries = Counter(label: "schoolict_publish_retries_total", dimensions: [("queue", name)])
        refused = Counter(label: "schoolict_events_refused_total", dimensions: [("queue", name)])
        pendingGauge = Gauge(label: "schoolict_outbox_pending", dimensions: dimensions)
    }

    func run() {
        let health = Health.name("relay-\(name)")
        defer { Health.shared.remove(health) }
        while !stop.isStopped {
            Health.shared.progress(health)
            do {
                let count = try relayOnce()
                backoff.reset()
                if count < Self.batchLimit {
                    if !signal.wait(seconds: 0.2) { try publisher?.serviceHeartbeat() }
                }
            } catch {
                retries.increment()
                logger.warning("relaying events failed; they stay in the outbox, retrying",
                               metadata: ["error": "\(error)"])
                publisher?.close()
                publisher = nil
                database.closeIfDead()
                stop.sleep(seconds: backoff.next())
            }
        }
        // Shutting down: one last pass for what the consumers committed last (bounded by the broker's confirms).
        do { while try relayOnce() == Self.batchLimit {} } catch {
            logger.notice("events left in the outbox at shutdown; a relay publishes them", metadata: ["error": "\(error)"])
        }
        publisher?.close()
        database.close()
    }

    /// One batch: lock pending rows, publish them (``EventPublication``: a permanent refusal is never retried),
    /// delete them, commit. Returns how many rows it took.
    private func relayOnce() throws -> Int {
        reportPending()
        return try database.connected().transaction { database in
            // Deleting published rows need not wait for the disk: if the delete is lost in a crash, the rows are
            // published again with the same message ids, which consumers drop. The events themselves were
            // committed durably by the transaction that stored them.
            try database.execute("SET LOCAL synchronous_commit = off")
            let rows = try Outbox.pending(limit: Self.batchLimit, database: database)
            guard !rows.isEmpty else { return 0 }
            var publication = EventPublication(rows.map(\.message))
            try publication.run(publish: { try connectedPublisher().publishConfirmed($0) }) { refusal in
                refused.increment()
                logger.error("the broker refused an event for good; it is not retried", metadata: [
                    "event.id": "\(refusal.event.messageID)", "event.routing_key": "\(refusal.event.routingKey)",
                    "event.replaced_by": "\(refusal.replacement == nil ? "nothing" : "processing_failed")",
                    "error": "\(refusal.error)",
                ])
            }
            try Outbox.published(rows, database: database)
            published.increment(by: rows.count)
            return rows.count
        }
    }

    private func connectedPublisher() throws -> AMQPConnection {
        if let publisher, !publisher.isBroken { return publisher }
        publisher?.close()
        let connection = try brokers.connect { url in
            try AMQPConnection.withContractTopology(url: url, name: "schoolict-relay@\(ProcessInfo.processInfo.hostName):\(getpid())")
        }
        try connection.enableConfirms()
        publisher = connection
        return connection
    }

    /// Every few seconds, the outbox's backlog for the metrics page (an alert when it grows).
    private func reportPending() {
        guard ContinuousClock.now - lastPendingCheck > .seconds(5) else { return }
        lastPendingCheck = .now
        if let count = try? Outbox.pendingCount(database: database.connected()) {
            pendingGauge.record(count)
        }
    }
}
