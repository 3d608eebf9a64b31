import Foundation
import Logging
import OTel
import ServiceLifecycle
import Tracing

/// Spans through swift-distributed-tracing, exported over OTLP/HTTP by swift-otel when
/// `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set; otherwise the process keeps
/// swift-distributed-tracing's `NoOpTracer` and the workers build no span at all.
///
/// swift-otel reads the rest of the standard variables itself: `OTEL_SERVICE_NAME` (default: the worker's name),
/// `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_EXPORTER_OTLP_PROTOCOL` (`http/protobuf`, default, or `http/json`),
/// `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_EXPORTER_OTLP_TIMEOUT`, `OTEL_EXPORTER_OTLP_CERTIFICATE`,
/// `OTEL_TRACES_SAMPLER`/`OTEL_TRACES_SAMPLER_ARG` (default: follow the incoming trace's sampled flag, sample new
/// traces) and `OTEL_BSP_*` (the batch span processor: delay, queue, batch size). Only traces are exported: logs
/// and metrics keep their own backends (the log handler and `/metrics`).
public enum WorkerTracing {
    /// Bootstraps tracing for the process when an OTLP endpoint is configured, and returns the service that
    /// exports spans (run it in the worker's `ServiceGroup`, first, so it stops last and flushes what the others
    /// recorded while stopping); `nil` when tracing stays off. Call once, before any span is started.
    ///
    /// - Throws: swift-otel's configuration error (an endpoint or a variable it cannot use).
    public static func bootstrap(serviceName: String, environment: [String: String] = ProcessInfo.processInfo.environment,
                                 logger: Logger) throws -> (any Service)? {
        guard isRequested(by: environment) else { return nil }
        var configuration = OTel.Configuration.default
        configuration.serviceName = serviceName
        configuration.diagnosticLogger = .custom(logger)
        configuration.propagators = [.traceContext]
        configuration.logs.enabled = false
        configuration.metrics.enabled = false
        configuration.traces.enabled = true
        configuration.traces.exporter = .otlp
        let service = try OTel.bootstrap(configuration: configuration, environment: environment)
        logger.info("exporting spans over OTLP", metadata: ["otel.service_name": "\(environment["OTEL_SERVICE_NAME"] ?? serviceName)"])
        return service
    }

    /// Whether the environment asks for span export: an OTLP endpoint set, and the SDK not disabled.
    static func isRequested(by environment: [String: String]) -> Bool {
        let endpoint = [environment["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"], environment["OTEL_EXPORTER_OTLP_ENDPOINT"]]
            .compactMap { $0?.trimmingCharacters(in: .whitespaces) }.first { !$0.isEmpty }
        let disabled = environment["OTEL_SDK_DISABLED"]?.trimmingCharacters(in: .whitespaces).lowercased() == "true"
        return endpoint != nil && !disabled
    }

    /// Runs `body` in a span named `name` when spans are exported (`nil` otherwise): a child of `trace` (a message's
    /// context) when given, else of the current span (a batch's), else a root. A thrown error marks it failed
    /// (``Tracing/Span/recordFailure(_:)``).
    public static func withSpan<T>(_ name: String, parent trace: TraceContext? = nil, ofKind kind: SpanKind = .internal,
                                   _ body: ((any Span)?) throws -> T) rethrows -> T {
        guard let tracer else { return try body(nil) }
        let context = trace.map { $0.instrumentationContext(using: tracer) } ?? InstrumentationContext.current ?? .topLevel
        let span = tracer.startSpan(name, context: context, ofKind: kind)
        defer { span.end() }
        do {
            return try InstrumentationContext.$current.withValue(span.context) { try body(span) }
        } catch {
            span.recordFailure(error)
            throw error
        }
    }

    /// The process's tracer when spans are exported; `nil` while it is swift-distributed-tracing's `NoOpTracer`,
    /// so callers skip building spans (and their attributes) altogether.
    public static var tracer: (any Tracer)? {
        let tracer = InstrumentationSystem.tracer
        return tracer is NoOpTracer ? nil : tracer
    }
}
