import Foundation
import Logging
import Metrics
import ServiceLifecycle

/// The common start of every worker: configuration, logging and metrics bootstrapped once, then the
/// worker's services under a `ServiceGroup` that shuts down gracefully on SIGTERM and SIGINT.
public enum WorkerMain {
    /// Answers `--help` and `--version` (and refuses any other argument, status 64) without starting.
    public static func handleArguments(name: String, summary: String,
                                       arguments: [String] = Array(CommandLine.arguments.dropFirst())) {
        guard let first = arguments.first else { return }
        switch first {
        case "--version":
            print("\(name) \(SchoolICT.version)")
            exit(0)
        case "--help", "-h":
            print("""
                \(name) \(SchoolICT.version): \(summary)

                Usage: \(name) [--help | --version]
                Runs until SIGTERM or SIGINT (graceful: finishes and acknowledges the batch in flight).
                Configuration comes from the environment (docs/asyncapi.yaml, "Configuration"): AMQP_URL,
                DATABASE_URL, SCHOOLICT_NOW, METRICS_PORT, METRICS_HOST, LOG_LEVEL, BATCH_SIZE, BATCH_MAX_BYTES,
                BATCH_MAX_WAIT_MS, PREFETCH, CONSUMERS, MAX_MESSAGE_BYTES, RETENTION_DAYS; any of them may be read
                from a file named by NAME_FILE. With METRICS_PORT: /metrics, /healthz (liveness), /readyz (readiness).
                With OTEL_EXPORTER_OTLP_ENDPOINT: spans exported over OTLP/HTTP (OTEL_SERVICE_NAME, OTEL_* as usual).
                """)
            exit(0)
        default:
            FileHandle.standardError.write(Data("\(name): unknown argument '\(first.prefix(64))' (try --help)\n".utf8))
            exit(64)
        }
    }

    /// Runs until a signal stops it. Exits with status 78 (EX_CONFIG) on a configuration error.
    public static func run(name: String, services makeServices: @Sendable (Configuration, Logger) throws -> [any Service]) async {
        let configuration: Configuration
        do {
            configuration = try Configuration()
        } catch {
            FileHandle.standardError.write(Data("\(name): \(error)\n".utf8))
            exit(78)
        }
        _ = LogSetup.bootstrap(configuration)
        let registry = MetricsSetup.bootstrap()
        Gauge(label: "schoolict_build_info", dimensions: [("version", SchoolICT.version), ("worker", name)]).record(1)
        let logger = Logger(label: "schoolict.\(name)")
        logger.info("starting", metadata: ["config": "\(configuration.redactedDescription)"])
        let tracing: (any Service)?
        do {
            tracing = try WorkerTracing.bootstrap(serviceName: name, logger: Logger(label: "schoolict.otel"))
        } catch {
            FileHandle.standardError.write(Data("\(name): OpenTelemetry configuration: \(error)\n".utf8))
            exit(78)
        }
        do {
            // The span exporter first: services stop in reverse order, so it exports what the others did last.
            var services = [tracing].compactMap { $0 } + (try makeServices(configuration, logger))
            if let port = configuration.metricsPort, port > 0 {
                services.append(MetricsServer(registry: registry, port: port, logger: logger))
            }
            let group = ServiceGroup(configuration: .init(
                services: services.map { .init(service: $0) },
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
            try await group.run()
        } catch {
            logger.critical("stopped by an error", metadata: ["error": "\(error)"])
            exit(1)
        }
    }

    /// Runs a worker that is `CONSUMERS` consumer loops on one queue (`defaultConsumers` when unset), each with its
    /// own handler.
    public static func runConsumers(name: String, queue: String, defaultConsumers: Int = 1,
                                    handler makeHandler: @escaping @Sendable (SchoolClock, MessageLimits, Logger) -> any BatchHandler) async {
        await run(name: name) { configuration, logger in
            let clock = SchoolClock.from(configuration)
            let settings = ConsumerService.Settings(queue: queue, batchSize: configuration.batchSize,
                                                    prefetch: configuration.prefetch,
                                                    batchMaximumBytes: configuration.batchMaximumBytes,
                                                    batchMaximumWaitMilliseconds: configuration.batchMaximumWaitMilliseconds)
            let limits = configuration.messageLimits
            let relay = RelaySignal()
            // The relay first: services stop in reverse order, so it publishes what the consumers committed last.
            return [
                RelayService(configuration: configuration, signal: relay, name: queue, logger: logger),
                ConsumerService(configuration: configuration, settings: settings,
                                loops: configuration.consumers ?? defaultConsumers, relay: relay, logger: logger) {
                    makeHandler(clock, limits, logger)
                },
            ]
        }
    }
}
