import Tracing

/// A message's W3C trace context as swift-distributed-tracing sees it, through the tracer's own propagator: the
/// parent of the spans a worker starts for the message, and, back, the context a span gives the message's
/// outcome and events.
extension TraceContext {
    /// A context whose span is this message's sender's (the parent of the spans started for the message).
    public func instrumentationContext(using tracer: any Tracer) -> InstrumentationContext {
        var context = InstrumentationContext.topLevel
        var carrier = ["traceparent": traceparent]
        if let state { carrier["tracestate"] = state }
        tracer.extract(carrier, into: &context, using: HeaderCarrier())
        return context
    }

    /// The trace context of `context`'s span as the tracer injects it, keeping `state` when the tracer writes none;
    /// `nil` when the context holds no span the tracer knows.
    public init?(injecting context: InstrumentationContext, keeping state: String?, using tracer: any Tracer) {
        var carrier: [String: String] = [:]
        tracer.inject(context, into: &carrier, using: HeaderCarrier())
        self.init(traceparent: carrier["traceparent"], tracestate: carrier["tracestate"] ?? state)
    }
}

/// W3C trace headers as a dictionary, for the tracer's propagator.
private struct HeaderCarrier: Extractor, Injector {
    func extract(key: String, from carrier: [String: String]) -> String? {
        carrier[key]
    }

    func inject(_ value: String, forKey key: String, into carrier: inout [String: String]) {
        carrier[key] = value
    }
}
