import Foundation
import InMemoryTracing
import Testing
import TestSupport
import Tracing

@testable import Shared

/// Spans (issue 9): the consumer's spans continue the `traceparent` a message carries, and a worker with
/// `OTEL_EXPORTER_OTLP_ENDPOINT` exports them over OTLP/HTTP, in the submission's trace.
@Suite("Tracing integration", .serialized, .integration)
struct TracingIntegrationTests {
    typealias F = Fixtures
    static let traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
    static let parentID = "00f067aa0ba902b7"
    static let traceparent = "00-\(traceID)-\(parentID)-01"

    /// What the consumer loop would hand a worker's handler: records what it was given, answers as told.
    final class RecordingHandler: BatchHandler {
        var seen: [AMQPDelivery] = []
        var deadLetter: Set<UInt64> = []
        var failure: PostgresError?

        func handle(_ deliveries: [AMQPDelivery], database: PostgresConnection) throws -> BatchResult {
            seen = deliveries
            if let failure { throw failure }
            return BatchResult(deadLetter: deadLetter, counts: ["accepted": deliveries.count - deadLetter.count])
        }
    }

    static func delivery(_ tag: UInt64, traceparent: String?) -> AMQPDelivery {
        var delivery = AMQPDelivery(deliveryTag: tag, exchange: Topology.Exchange.submissions,
                                    routingKey: "equipment_inventory", messageID: "m-\(tag)", body: Array("{}".utf8))
        delivery.trace = TraceContext(traceparent: traceparent, tracestate: traceparent == nil ? nil : "portal=1")
        return delivery
    }

    @Test func aBatchHasASpanAndEachTracedMessageOneUnderItsTraceparent() throws {
        let environment = try TestEnvironment.load()
        let database = try PostgresConnection(url: environment.databaseURL)
        defer { database.close() }
        let tracer = W3CInMemoryTracer()
        let inner = RecordingHandler()
        inner.deadLetter = [3]
        let handler = TracedBatchHandler(inner, queue: "submissions", tracer: tracer)
        let other = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
        let result = try handler.handle([Self.delivery(1, traceparent: Self.traceparent), Self.delivery(2, traceparent: nil),
                                         Self.delivery(3, traceparent: other)], database: database)
        #expect(result.deadLetter == [3])

        let spans = tracer.finishedSpans
        #expect(spans.count == 3, "\(spans.map(\.operationName))")
        let batch = try #require(spans.first { $0.parentSpanID == nil })
        #expect(batch.operationName == "process submissions")
        #expect(batch.kind == .consumer)
        #expect(batch.attributes.get("messaging.batch.message_count") == .int64(3))
        #expect(batch.attributes.get("schoolict.messages.accepted") == .int64(2))
        #expect(batch.links.count == 2)

        let first = try #require(spans.first { $0.traceID == Self.traceID })
        #expect(first.parentSpanID == Self.parentID, "a message's span is a child of its traceparent")
        #expect(first.attributes.get("messaging.message.id") == .string("m-1"))
        #expect(first.status == nil)
        let third = try #require(spans.first { $0.traceID == "0af7651916cd43dd8448eb211c80319c" })
        #expect(third.parentSpanID == "b7ad6b7169203331")
        #expect(third.status?.code == .error, "a dead-lettered message's span is failed")

        // The handler sees each traced message under its span (what it causes continues from there), the
        // tracestate kept; an untraced one stays untraced.
        #expect(inner.seen.map(\.deliveryTag) == [1, 2, 3])
        #expect(inner.seen[0].trace?.traceID == Self.traceID)
        #expect(inner.seen[0].trace?.parentID == first.spanID)
        #expect(inner.seen[0].trace?.state == "portal=1")
        #expect(inner.seen[1].trace == nil)
        #expect(inner.seen[2].trace?.parentID == third.spanID)
    }

    @Test func aFailedBatchMarksItsSpansFailedWithoutPersonalData() throws {
        let environment = try TestEnvironment.load()
        let database = try PostgresConnection(url: environment.databaseURL)
        defer { database.close() }
        let tracer = W3CInMemoryTracer()
        let inner = RecordingHandler()
        inner.failure = PostgresError(code: .queryFailed, sqlState: "23505",
                                      reason: "duplicate key value violates unique constraint \"students_pkey\"")
        let handler = TracedBatchHandler(inner, queue: "submissions", tracer: tracer)
        #expect(throws: PostgresError.self) {
            _ = try handler.handle([Self.delivery(1, traceparent: Self.traceparent)], database: database)
        }
        let spans = tracer.finishedSpans
        #expect(spans.count == 2)
        #expect(spans.allSatisfy { $0.status?.code == .error })
        #expect(spans.allSatisfy { $0.attributes.get("db.response.status_code") == .string("23505") })
    }

    @Test func aMessageSettledAloneHasASpanUnderItsTraceparent() throws {
        let environment = try TestEnvironment.load()
        let database = try PostgresConnection(url: environment.databaseURL)
        defer { database.close() }
        let tracer = W3CInMemoryTracer()
        let handler = TracedBatchHandler(RecordingHandler(), queue: "notifications", tracer: tracer)
        var delivery = Self.delivery(7, traceparent: Self.traceparent)
        delivery.deliveryCount = 5
        guard case .deadLetter = try handler.poisonVerdict(for: delivery, database: database) else {
            Issue.record("the default verdict dead-letters")
            return
        }
        let span = try #require(tracer.finishedSpans.first)
        #expect(span.operationName == "settle notifications")
        #expect(span.traceID == Self.traceID && span.parentSpanID == Self.parentID)
        #expect(span.status?.code == .error)
        #expect(span.attributes.get("messaging.rabbitmq.delivery_count") == .int64(5))
    }

    @Test func tracingIsOnlyForAnOTLPEndpoint() {
        #expect(!WorkerTracing.isRequested(by: [:]))
        #expect(!WorkerTracing.isRequested(by: ["OTEL_EXPORTER_OTLP_ENDPOINT": " "]))
        #expect(WorkerTracing.isRequested(by: ["OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"]))
        #expect(WorkerTracing.isRequested(by: ["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"]))
        #expect(!WorkerTracing.isRequested(by: ["OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318",
                                                "OTEL_SDK_DISABLED": "true"]))
        // This test process bootstrapped nothing: no span is built.
        #expect(WorkerTracing.tracer == nil)
    }

    /// The real thing: a SubmissionWorker exporting to a local OTLP/HTTP receiver. The submission's span arrives
    /// in the portal's trace, under the portal's span; the relay's publish links to the same trace.
    @Test func aWorkerExportsTheSubmissionsSpanInItsTraceOverOTLP() throws {
        let receiver = try OTLPReceiver()
        defer { receiver.stop() }
        let harness = try IntegrationHarness()
        defer { harness.shutDown() }
        try harness.startWorker(extra: ["OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, "OTEL_BSP_SCHEDULE_DELAY": "100",
                                        "OTEL_SERVICE_NAME": "submission-worker-it"])
        _ = try harness.send(F.registry)
        var traced = F.inventory(id: "otlp-1", items: [F.item("desktop", quantity: 1, year: 2015)])
        traced.headers = [("traceparent", .string(Self.traceparent)), ("tracestate", .string("portal=1"))]
        let outcome = try harness.send(traced)
        #expect(outcome.routingKey == "submission.accepted.equipment_inventory")
        #expect(outcome.trace?.traceID == Self.traceID)

        let span = try receiver.awaitSpan { $0.traceID == Self.traceID && $0.name == "process submissions" }
        let received = try receiver.received()
        let processed = try #require(span, "no span of the submission's trace arrived: \(received.spans)")
        #expect(processed.parentSpanID == Self.parentID)
        #expect(processed.serviceName == "submission-worker-it")
        #expect(processed.attributes["messaging.message.id"] == "otlp-1")
        #expect(processed.attributes["messaging.destination.name"] == "submissions")
        #expect(outcome.trace?.parentID != processed.spanID && outcome.trace?.parentID != Self.parentID,
                "the outcome is a new span of the trace")
        let publish = try receiver.awaitSpan { $0.name == "publish schools.events" && $0.links.contains { $0.traceID == Self.traceID } }
        #expect(publish != nil, "the relay's publish links to the submission's trace")
        #expect(try receiver.received().paths.allSatisfy { $0 == "/v1/traces" })
        try harness.checkWorkers()
        // The exporter stops last and the worker exits 0 on SIGTERM.
        #expect(harness.workers[0].terminate(timeout: .seconds(15)) == 0, "\(harness.workerLogs())")
    }

    /// An OTLP endpoint nobody answers costs the worker nothing but dropped spans: it takes work in and stops cleanly.
    @Test func aCollectorThatIsDownChangesNothingElse() throws {
        let harness = try IntegrationHarness()
        defer { harness.shutDown() }
        try harness.startWorker(extra: ["OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:\(try FreePort.next())",
                                        "OTEL_BSP_SCHEDULE_DELAY": "100", "OTEL_EXPORTER_OTLP_TIMEOUT": "500"])
        _ = try harness.send(F.registry)
        var traced = F.inventory(id: "otlp-down", items: [F.item("desktop", quantity: 1, year: 2015)])
        traced.headers = [("traceparent", .string(Self.traceparent))]
        let outcome = try harness.send(traced)
        #expect(outcome.routingKey == "submission.accepted.equipment_inventory")
        #expect(outcome.trace?.traceID == Self.traceID)
        try harness.checkWorkers()
        #expect(harness.workers[0].terminate(timeout: .seconds(15)) == 0, "\(harness.workerLogs())")
    }

    /// An `allocation.run`'s run has a span of its own under the command's span, with the run's figures.
    @Test func anAllocationRunHasASpanUnderItsCommand() throws {
        let receiver = try OTLPReceiver()
        defer { receiver.stop() }
        let harness = try IntegrationHarness(executable: "AllocationWorker")
        defer { harness.shutDown() }
        try harness.seed.deviceCampaign()
        try harness.seed.school("TDM-TH-01", region: "Bình Dương")
        try harness.seed.students([AllocationSeed.Student(school: "TDM-TH-01", ref: "HS-1", category: "covid_orphan")])
        try harness.startWorker(extra: ["OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, "OTEL_BSP_SCHEDULE_DELAY": "100"])
        try harness.awaitDeadlineRun()
        try harness.seed.devices(batch: "TR", targets: [nil])
        var run = F.allocationRun(id: "otlp-run")
        run.headers = [("traceparent", .string(Self.traceparent))]
        let outcome = try harness.send(run)
        #expect(outcome.routingKey.hasPrefix("command.accepted"))

        let command = try receiver.awaitSpan { $0.traceID == Self.traceID && $0.name == "process allocations" }
        let processed = try #require(command)
        #expect(processed.parentSpanID == Self.parentID)
        #expect(processed.serviceName == "allocation-worker")
        let allocation = try receiver.awaitSpan { $0.traceID == Self.traceID && $0.name == "allocation run" }
        let runSpan = try #require(allocation)
        #expect(runSpan.parentSpanID == processed.spanID)
        #expect(runSpan.attributes["allocation.trigger"] == "command")
        #expect(runSpan.attributes["allocation.allocated"] == "1")
        try harness.checkWorkers()
    }
}
