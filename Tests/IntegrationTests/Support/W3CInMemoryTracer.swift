import InMemoryTracing
import Tracing

/// swift-distributed-tracing's in-memory tracer, propagating W3C `traceparent` as the workers' OTLP tracer does (the
/// in-memory one uses keys of its own), with ids of W3C's sizes: spans a test can read back.
struct W3CInMemoryTracer: Tracer {
    typealias Span = InMemorySpan

    let recorder = InMemoryTracer(idGenerator: .init(nextTraceID: { randomHex(bytes: 16) },
                                                     nextSpanID: { randomHex(bytes: 8) }))

    var finishedSpans: [FinishedInMemorySpan] { recorder.finishedSpans }

    func startSpan<Instant: TracerInstant>(
        _ operationName: String, context: @autoclosure () -> InstrumentationContext, ofKind kind: SpanKind,
        at instant: @autoclosure () -> Instant, function: String, file fileID: String, line: UInt
    ) -> InMemorySpan {
        recorder.startSpan(operationName, context: context(), ofKind: kind, at: instant(), function: function,
                           file: fileID, line: line)
    }

    func forceFlush() {}

    func extract<Carrier, Extract: Extractor>(_ carrier: Carrier, into context: inout InstrumentationContext,
                                              using extractor: Extract) where Extract.Carrier == Carrier {
        guard let header = extractor.extract(key: "traceparent", from: carrier) else { return }
        let parts = header.split(separator: "-")
        guard parts.count == 4 else { return }
        context.inMemorySpanContext = InMemorySpanContext(traceID: String(parts[1]), spanID: String(parts[2]),
                                                          parentSpanID: nil)
    }

    func inject<Carrier, Inject: Injector>(_ context: InstrumentationContext, into carrier: inout Carrier,
                                           using injector: Inject) where Inject.Carrier == Carrier {
        guard let span = context.inMemorySpanContext else { return }
        injector.inject("00-\(span.traceID)-\(span.spanID)-01", forKey: "traceparent", into: &carrier)
    }
}

private func randomHex(bytes: Int) -> String {
    (0..<bytes).map { _ in
        let byte = UInt8.random(in: 0...255)
        return (byte < 16 ? "0" : "") + String(byte, radix: 16)
    }.joined()
}
