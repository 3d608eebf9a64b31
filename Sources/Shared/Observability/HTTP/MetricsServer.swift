import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOPosix
import Prometheus
import ServiceLifecycle
import Synchronization

/// The endpoint for Prometheus and the orchestrator, served by Hummingbird: `GET /metrics` (text exposition of
/// the registry), `GET /healthz` (liveness: `200 ok`, or `503` naming the loops that stopped making progress) and
/// `GET /readyz` (readiness: `200 ready`, or `503` naming what is not connected), from ``Health``
/// (``MetricsResponder``).
///
/// Every connection is a stranger's and every answer is bounded (``Limits``): one request per connection
/// (`Connection: close`), a request of at most 8 KiB (else `431`), arriving within 2 seconds of the connection
/// (else it is closed), the answer taken within 10 seconds, at most 32 connections at once (more wait in the
/// listen backlog). A misbehaving client costs at most that and never stops the server. Scrapes run on a SwiftNIO
/// event loop thread (``EventLoopTaskExecutor``), never on the concurrency pool or the workers' consumer threads.
///
/// Run it as a `Service` in the worker's `ServiceGroup`; graceful shutdown stops accepting and closes once the
/// connections in flight are answered; cancellation stops it at once.
public struct MetricsServer: Service {
    /// The address listened on: `0.0.0.0` (all interfaces), `127.0.0.1`, or another IPv4 or IPv6 literal.
    public let host: String
    /// The port asked for; `0` = any free port (see ``listeningPort()``).
    public let port: Int
    /// The bounds every connection is held to.
    public let limits: Limits
    private let registry: PrometheusCollectorRegistry
    private let health: Health
    private let logger: Logger
    private let listening = ListeningState()

    /// `METRICS_HOST` when set, else `127.0.0.1`: metrics and health are not served to the network unless asked
    /// (containers set `METRICS_HOST=0.0.0.0` so that Prometheus and the orchestrator's probes reach them).
    public static var defaultHost: String {
        let configured = ProcessInfo.processInfo.environment["METRICS_HOST"]?
            .trimmingCharacters(in: .whitespaces)
        return configured.flatMap { $0.isEmpty ? nil : $0 } ?? "127.0.0.1"
    }

    /// A server for `registry` (normally ``MetricsSetup/bootstrap()``'s) on `host`:`port`.
    public init(
        registry: PrometheusCollectorRegistry,
        host: String = MetricsServer.defaultHost,
        port: Int,
        limits: Limits = Limits(),
        health: Health = .shared,
        logger: Logger = Logger(label: "schoolict.metrics")
    ) {
        self.registry = registry
        self.health = health
        self.host = host
        self.port = port
        self.limits = limits
        self.logger = logger
    }

    /// The port actually bound while ``run()`` is listening, else `nil`.
    public var boundPort: Int? { listening.port }

    /// Waits until ``run()`` is listening and returns the bound port.
    ///
    /// - Throws: the error `run()` failed with, a ``ServerError`` with code `notListening` if it stopped first,
    ///   or `CancellationError`.
    public func listeningPort() async throws -> Int {
        try await listening.waitForPort()
    }

    /// Binds and serves until graceful shutdown or cancellation.
    ///
    /// - Throws: ``ServerError`` when the address is not usable or cannot be bound.
    public func run() async throws {
        let address: String
        do {
            address = try Self.addressLiteral(host, port: port)
        } catch {
            listening.fail(error)
            throw error
        }
        var hostLogger = self.logger
        hostLogger[metadataKey: "metrics.host"] = "\(host)"
        let logger = hostLogger
        let listening = self.listening
        let application = Application(
            responder: MetricsResponder(registry: registry, health: health),
            server: .bounded(limits),
            configuration: ApplicationConfiguration(
                address: .hostname(address, port: port),
                backlog: 64,
                availableConnectionsDelegate: MaximumAvailableConnections(limits.maximumConnections, logger: logger)),
            onServerRunning: { channel in
                let bound = channel.localAddress?.port ?? 0
                listening.listen(on: bound)
                logger.info("metrics server listening", metadata: ["metrics.port": "\(bound)"])
            },
            logger: logger)
        defer { listening.stop() }
        do {
            // Child tasks inherit the preference: every connection is served on the event loop's thread.
            try await withTaskExecutorPreference(EventLoopTaskExecutor(MultiThreadedEventLoopGroup.singleton.any())) {
                try await application.run()
            }
        } catch let error as IOError {
            let failure = ServerError(code: .cannotListen, errnoCode: error.errnoCode,
                                      message: String(cString: strerror(error.errnoCode)))
            listening.fail(failure)
            throw failure
        }
        logger.info("metrics server stopped")
    }

    /// The host as the address literal to bind: IPv4, IPv6 (brackets allowed) or `localhost` (127.0.0.1). Names are
    /// refused: the server must not depend on a resolver to start.
    static func addressLiteral(_ host: String, port: Int) throws(ServerError) -> String {
        guard (0...65535).contains(port) else {
            throw ServerError(code: .invalidAddress, message: "port \(port) is outside 0...65535")
        }
        let literal = host == "localhost" ? "127.0.0.1" : host
        let unbracketed = literal.hasPrefix("[") && literal.hasSuffix("]") ? String(literal.dropFirst().dropLast()) : literal
        guard (try? SocketAddress(ipAddress: unbracketed, port: port)) != nil else {
            throw ServerError(code: .invalidAddress, message: "'\(host.prefix(64))' is not an IPv4 or IPv6 address")
        }
        return unbracketed
    }
}

// MARK: - Limits

extension MetricsServer {
    /// The bounds every connection is held to, whatever the client does.
    public struct Limits: Sendable {
        /// The most bytes a client may send on a connection (the request line and headers: a `GET` has no body).
        public var maximumRequestBytes: Int
        /// The request must have arrived this long after the connection was accepted (slow clients are closed).
        public var requestTimeout: Duration
        /// The connection is closed this long after it was accepted, answered or not (a client that does not read).
        public var connectionTimeout: Duration
        /// Connections served at once; more wait in the listen backlog.
        public var maximumConnections: Int

        public init(maximumRequestBytes: Int = 8 * 1024, requestTimeout: Duration = .seconds(2),
                    connectionTimeout: Duration = .seconds(10), maximumConnections: Int = 32) {
            self.maximumRequestBytes = maximumRequestBytes
            self.requestTimeout = requestTimeout
            self.connectionTimeout = connectionTimeout
            self.maximumConnections = maximumConnections
        }
    }
}

// MARK: - Errors

extension MetricsServer {
    /// The server could not start, with the `errno` that explains it when there is one.
    public struct ServerError: Error, CustomStringConvertible, Sendable {
        /// What kind of failure this is.
        public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
            public var rawValue: String
            public init(rawValue: String) { self.rawValue = rawValue }
            public var description: String { rawValue }

            /// The host is not an IPv4 or IPv6 address literal, or the port is outside 0–65535.
            public static let invalidAddress = Code(rawValue: "invalid_address")
            /// The address could not be bound (in use, not ours, no permission: see `errnoCode`).
            public static let cannotListen = Code(rawValue: "cannot_listen")
            /// The server stopped (or never started) before it was listening.
            public static let notListening = Code(rawValue: "not_listening")
        }

        public var code: Code
        /// The `errno` the failing system call left, if any.
        public var errnoCode: Int32?
        public var message: String

        init(code: Code, errnoCode: Int32? = nil, message: String) {
            self.code = code
            self.errnoCode = errnoCode
            self.message = message
        }

        public var description: String {
            var text = "MetricsServer.ServerError(\(code)"
            if let errnoCode { text += ", errno \(errnoCode)" }
            return text + "): \(message)"
        }
    }
}

// MARK: - Listening state

/// Whether ``MetricsServer/run()`` is listening, for ``MetricsServer/listeningPort()`` and
/// ``MetricsServer/boundPort``.
private final class ListeningState: Sendable {
    private enum Phase {
        case idle
        case listening(Int)
        case failed(MetricsServer.ServerError)
        case stopped
    }

    private struct State {
        var phase = Phase.idle
        var waiters: [Int: CheckedContinuation<Int, any Error>] = [:]
        var nextWaiter = 0
    }

    private let state = Mutex(State())

    var port: Int? {
        state.withLock { state in
            if case .listening(let port) = state.phase { return port }
            return nil
        }
    }

    func listen(on port: Int) { settle(.listening(port)) }
    func fail(_ error: MetricsServer.ServerError) { settle(.failed(error)) }

    /// Stopped: a failure already recorded stays the answer.
    func stop() {
        let failed = state.withLock { state in
            if case .failed = state.phase { return true }
            return false
        }
        if !failed { settle(.stopped) }
    }

    private func settle(_ phase: Phase) {
        let waiters = state.withLock { state in
            state.phase = phase
            defer { state.waiters = [:] }
            return state.waiters
        }
        guard let result = Self.result(of: phase) else { return }
        for waiter in waiters.values { waiter.resume(with: result) }
    }

    private static func result(of phase: Phase) -> Result<Int, any Error>? {
        switch phase {
        case .idle: nil
        case .listening(let port): .success(port)
        case .failed(let error): .failure(error)
        case .stopped:
            .failure(MetricsServer.ServerError(code: .notListening, message: "the metrics server stopped"))
        }
    }

    func waitForPort() async throws -> Int {
        let id = state.withLock { state in
            defer { state.nextWaiter += 1 }
            return state.nextWaiter
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Int, any Error>) in
                let immediate: Result<Int, any Error>? = state.withLock { state in
                    if Task.isCancelled { return .failure(CancellationError()) }
                    if let settled = Self.result(of: state.phase) { return settled }
                    state.waiters[id] = continuation
                    return nil
                }
                if let immediate { continuation.resume(with: immediate) }
            }
        } onCancel: {
            let waiter = state.withLock { $0.waiters.removeValue(forKey: id) }
            waiter?.resume(throwing: CancellationError())
        }
    }
}
