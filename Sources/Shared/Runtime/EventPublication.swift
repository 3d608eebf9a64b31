import Tracing

/// Publishing a batch's events when the broker may refuse some of them for good.
///
/// A transient failure (a `basic.nack`, a lost connection) is thrown to the caller, who retries with backoff by
/// calling ``run(publish:refused:)`` again: it goes on from the first event not yet confirmed. A permanent refusal
/// (the channel closed with 406 PRECONDITION_FAILED: a message larger than the broker's `max_message_size`, say)
/// is never retried: the batch is then published one event at a time, and an event refused on its own is replaced
/// once by ``AMQPMessage/replacementForRefusedOutcome()`` (a small `processing_failed` outcome with the same ids)
/// or, for any other event or a refused replacement, dropped.
struct EventPublication {
    /// What happened to an event the broker refused for good.
    struct Refusal {
        var event: AMQPMessage
        /// Published in its place, if anything.
        var replacement: AMQPMessage?
        var error: AMQPError
    }

    private(set) var pending: ArraySlice<AMQPMessage>
    private(set) var oneByOne = false
    private var replaced = Set<String>()

    init(_ events: [AMQPMessage]) {
        pending = events[...]
    }

    var isDone: Bool { pending.isEmpty }

    /// Publishes what is pending with `publish` (which returns once the broker confirmed what it was given).
    ///
    /// When spans are exported (``WorkerTracing``), in a `publish <exchange>` span linked to the traces of the
    /// events it carries; a refusal is an event of that span, a failure its status.
    mutating func run(publish: ([AMQPMessage]) throws -> Void, refused: (Refusal) -> Void) throws {
        guard let tracer = WorkerTracing.tracer, !pending.isEmpty else {
            return try publishPending(publish: publish, refused: refused)
        }
        let exchanges = Set(pending.map(\.exchange))
        let span = tracer.startSpan(exchanges.count == 1 ? "publish \(exchanges.first!)" : "publish",
                                    context: .topLevel, ofKind: .producer)
        defer { span.end() }
        span.updateAttributes { attributes in
            attributes["messaging.system"] = "rabbitmq"
            attributes["messaging.operation.type"] = "publish"
            if exchanges.count == 1 { attributes["messaging.destination.name"] = exchanges.first! }
            attributes["messaging.batch.message_count"] = pending.count
        }
        for trace in pending.lazy.compactMap(\.trace).prefix(TracedBatchHandler.maximumLinks) {
            span.addLink(SpanLink(context: trace.instrumentationContext(using: tracer), attributes: [:]))
        }
        do {
            try publishPending(publish: publish) { refusal in
                span.addEvent(SpanEvent(name: "refused", attributes: [
                    "messaging.rabbitmq.destination.routing_key": "\(refusal.event.routingKey)",
                    "schoolict.replaced": .bool(refusal.replacement != nil),
                ]))
                refused(refusal)
            }
        } catch {
            span.recordFailure(error)
            throw error
        }
    }

    private mutating func publishPending(publish: ([AMQPMessage]) throws -> Void, refused: (Refusal) -> Void) throws {
        while let first = pending.first {
            do {
                if oneByOne {
                    try publish([first])
                    pending.removeFirst()
                } else {
                    try publish(Array(pending))
                    pending.removeAll()
                }
            } catch let error as AMQPError where error.replyCode == 406 {
                guard oneByOne else {
                    oneByOne = true
                    continue
                }
                pending.removeFirst()
                var replacement: AMQPMessage?
                if !replaced.contains(first.messageID), let candidate = first.replacementForRefusedOutcome() {
                    replaced.insert(first.messageID)
                    replacement = candidate
                    pending.insert(candidate, at: pending.startIndex)
                }
                refused(Refusal(event: first, replacement: replacement, error: error))
            }
        }
    }
}
