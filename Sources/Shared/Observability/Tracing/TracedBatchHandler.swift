import Tracing

/// A consumer's handler with spans, when spans are exported (``WorkerTracing``):
///
/// - one span per batch, `process <queue>` (a root: a batch mixes messages of many traces), linked to its
///   messages' spans;
/// - one span per message that carries a `traceparent`, `process <queue>`, child of that traceparent, so the
///   sender's trace shows the worker's part; the handler sees the message with this span as its parent, so what
///   the message causes (its outcome and events, each a new span id; an allocation run's span) continues from it;
/// - one span per message settled alone (delivered too often, or refused by the database on its own).
///
/// A message the batch dead-letters, or a batch that fails, marks its spans failed.
final class TracedBatchHandler: BatchHandler {
    /// A batch's span links to at most this many messages.
    static let maximumLinks = 128

    private let inner: any BatchHandler
    private let queue: String
    private let tracer: any Tracer

    /// `handler` with spans when they are exported; `handler` itself otherwise (tracing off costs nothing).
    static func wrapping(_ handler: any BatchHandler, queue: String) -> any BatchHandler {
        guard let tracer = WorkerTracing.tracer else { return handler }
        return TracedBatchHandler(handler, queue: queue, tracer: tracer)
    }

    init(_ inner: any BatchHandler, queue: String, tracer: any Tracer) {
        self.inner = inner
        self.queue = queue
        self.tracer = tracer
    }

    func orderKeys(of deliveries: [AMQPDelivery]) -> [BatchKeys] {
        inner.orderKeys(of: deliveries)
    }

    func handle(_ deliveries: [AMQPDelivery], database: PostgresConnection) throws -> BatchResult {
        let batch = tracer.startSpan("process \(queue)", context: .topLevel, ofKind: .consumer)
        batch.updateAttributes { attributes in
            attributes["messaging.system"] = "rabbitmq"
            attributes["messaging.operation.type"] = "process"
            attributes["messaging.destination.name"] = queue
            attributes["messaging.batch.message_count"] = deliveries.count
        }
        var traced = deliveries
        var messageSpans: [(tag: UInt64, span: any Span)] = []
        for index in traced.indices {
            guard let span = startMessageSpan(for: &traced[index]) else { continue }
            span.addLink(SpanLink(context: batch.context, attributes: [:]))
            if messageSpans.count < Self.maximumLinks { batch.addLink(SpanLink(context: span.context, attributes: [:])) }
            messageSpans.append((traced[index].deliveryTag, span))
        }
        defer {
            for (_, span) in messageSpans { span.end() }
            batch.end()
        }
        let result: BatchResult
        do {
            result = try InstrumentationContext.$current.withValue(batch.context) {
                try inner.handle(traced, database: database)
            }
        } catch {
            batch.recordFailure(error)
            for (_, span) in messageSpans { span.recordFailure(error) }
            throw error
        }
        batch.updateAttributes { attributes in
            for (outcome, count) in result.counts { attributes["schoolict.messages.\(outcome)"] = count }
        }
        for (tag, span) in messageSpans where result.deadLetter.contains(tag) {
            span.attributes["schoolict.dead_lettered"] = true
            span.setStatus(SpanStatus(code: .error, message: "dead-lettered"))
        }
        return result
    }

    func idle(database: PostgresConnection) throws -> Bool {
        try inner.idle(database: database)
    }

    func poisonVerdict(for delivery: AMQPDelivery, database: PostgresConnection) throws -> PoisonVerdict {
        var traced = delivery
        let span = startMessageSpan(for: &traced, operation: "settle")
            ?? tracer.startSpan("settle \(queue)", context: .topLevel, ofKind: .consumer)
        defer { span.end() }
        span.attributes["messaging.rabbitmq.delivery_count"] = delivery.deliveryCount
        do {
            let verdict = try InstrumentationContext.$current.withValue(span.context) {
                try inner.poisonVerdict(for: traced, database: database)
            }
            if case .deadLetter = verdict {
                span.attributes["schoolict.dead_lettered"] = true
                span.setStatus(SpanStatus(code: .error, message: "dead-lettered"))
            }
            return verdict
        } catch {
            span.recordFailure(error)
            throw error
        }
    }

    /// A span for one message, child of its `traceparent` (none without one); the delivery is given this span as
    /// its parent.
    private func startMessageSpan(for delivery: inout AMQPDelivery, operation: String = "process") -> (any Span)? {
        guard let trace = delivery.trace else { return nil }
        let span = tracer.startSpan("\(operation) \(queue)", context: trace.instrumentationContext(using: tracer),
                                    ofKind: .consumer)
        span.updateAttributes { attributes in
            attributes["messaging.system"] = "rabbitmq"
            attributes["messaging.operation.type"] = operation
            attributes["messaging.destination.name"] = queue
            attributes["messaging.rabbitmq.destination.routing_key"] = delivery.routingKey
            if let id = delivery.messageID { attributes["messaging.message.id"] = id }
        }
        delivery.trace = TraceContext(injecting: span.context, keeping: trace.state, using: tracer) ?? trace
        return span
    }
}
