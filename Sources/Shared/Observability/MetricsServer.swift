import Foundation
import Logging
import Prometheus
import ServiceLifecycle
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A tiny HTTP endpoint for Prometheus and the orchestrator: `GET /metrics` (text exposition of the registry),
/// `GET /healthz` (liveness: `200 ok`, or `503` naming the loops that stopped making progress) and `GET /readyz`
/// (readiness: `200 ready`, or `503` naming what is not connected), from ``Health``.
///
/// It runs on a dedicated thread with plain non-blocking POSIX sockets and `poll`, so scrapes never occupy the Swift
/// concurrency pool the workers' consumers run on, and a busy pool never delays a scrape. Each request is
/// read up to its blank line (at most 8 KiB, at most 2 seconds), answered and closed (`Connection: close`);
/// a misbehaving client costs at most that and never stops the server.
///
/// Run it as a `Service` in the worker's `ServiceGroup`; graceful shutdown (or cancellation) stops it
/// within about 200 ms.
public struct MetricsServer: Service {
    /// The address listened on: `0.0.0.0` (all interfaces), `127.0.0.1`, or another IPv4 or IPv6 literal.
    public let host: String
    /// The port asked for; `0` = any free port (see ``listeningPort()``).
    public let port: Int
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
        health: Health = .shared,
        logger: Logger = Logger(label: "schoolict.metrics")
    ) {
        self.registry = registry
        self.health = health
        self.host = host
        self.port = port
        self.logger = logger
    }

    /// The port actually bound while ``run()`` is listening, else `nil`.
    public var boundPort: Int? { listening.port }

    /// Waits until ``run()`` is listening and returns the bound port.
    ///
    /// - Throws: the error `run()` failed with, a ``SocketError`` with code `notListening` if it stopped
    ///   first, or `CancellationError`.
    public func listeningPort() async throws -> Int {
        try await listening.waitForPort()
    }

    /// Binds, serves on a dedicated thread until graceful shutdown or cancellation, then stops the thread
    /// and closes the socket.
    ///
    /// - Throws: ``SocketError`` when the socket cannot be set up, or the accept loop fails for good.
    public func run() async throws {
        let listener: ListeningSocket
        do {
            listener = try ListeningSocket(host: host, port: port)
        } catch {
            listening.fail(error)
            throw error
        }
        defer {
            listener.close()
            listening.stop()
        }
        let bound = listener.port
        var logger = self.logger
        logger[metadataKey: "metrics.host"] = "\(host)"
        logger[metadataKey: "metrics.port"] = "\(bound)"

        let loop = AcceptLoop(listener: listener, registry: registry, health: health, logger: logger)
        let thread = Thread { loop.run() }
        thread.name = "schoolict-metrics"
        thread.start()
        listening.listen(on: bound)
        logger.info("metrics server listening")

        try await withTaskCancellationOrGracefulShutdownHandler {
            try await loop.waitUntilFinished()
        } onCancelOrGracefulShutdown: {
            loop.requestStop()
        }
        logger.info("metrics server stopped")
    }
}

// MARK: - Errors

extension MetricsServer {
    /// A socket operation failed, with the `errno` that explains it.
    public struct SocketError: Error, CustomStringConvertible, Sendable {
        /// What kind of failure this is.
        public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
            public var rawValue: String
            public init(rawValue: String) { self.rawValue = rawValue }
            public var description: String { rawValue }

            /// A system call failed (see `function` and `errnoCode`).
            public static let systemCall = Code(rawValue: "system_call")
            /// The host is not an IPv4 or IPv6 address literal, or the port is outside 0–65535.
            public static let invalidAddress = Code(rawValue: "invalid_address")
            /// The server stopped (or never started) before it was listening.
            public static let notListening = Code(rawValue: "not_listening")
            /// A client did not finish its request, or take its response, in time (logged, never thrown).
            static let clientTimedOut = Code(rawValue: "client_timed_out")
            /// A client hung up before finishing its request (logged, never thrown).
            static let clientClosedEarly = Code(rawValue: "client_closed_early")
        }

        public var code: Code
        /// The failing system call, e.g. `bind`.
        public var function: String?
        /// The `errno` it left.
        public var errnoCode: Int32?
        public var message: String

        init(code: Code, function: String? = nil, errnoCode: Int32? = nil, message: String) {
            self.code = code
            self.function = function
            self.errnoCode = errnoCode
            self.message = message
        }

        init(function: StaticString, errnoCode: Int32) {
            self.init(
                code: .systemCall,
                function: "\(function)",
                errnoCode: errnoCode,
                message: String(cString: strerror(errnoCode))
            )
        }

        public var description: String {
            var text = "SocketError(\(code)"
            if let function { text += ", \(function)" }
            if let errnoCode { text += ", errno \(errnoCode)" }
            return text + "): \(message)"
        }
    }
}

/// Runs a system call, retrying on `EINTR`, and turns `-1` into a ``MetricsServer/SocketError``.
@inline(__always)
private func syscall<Result: FixedWidthInteger>(
    _ function: StaticString,
    _ body: () -> Result
) throws(MetricsServer.SocketError) -> Result {
    while true {
        let result = body()
        guard result == -1 else { return result }
        let code = errno
        if code == EINTR { continue }
        throw MetricsServer.SocketError(function: function, errnoCode: code)
    }
}

/// Like ``syscall(_:_:)`` for a non-blocking descriptor: `nil` when the call would block.
@inline(__always)
private func nonBlockingSyscall<Result: FixedWidthInteger>(
    _ function: StaticString,
    _ body: () -> Result
) throws(MetricsServer.SocketError) -> Result? {
    while true {
        let result = body()
        guard result == -1 else { return result }
        let code = errno
        if code == EINTR { continue }
        if code == EAGAIN || code == EWOULDBLOCK { return nil }
        throw MetricsServer.SocketError(function: function, errnoCode: code)
    }
}

// MARK: - Sockets

/// How long one client may take to send its request and receive the response.
private let clientDeadline = Duration.seconds(2)
/// How often a waiting thread looks at the stop flag.
private let pollSliceMilliseconds: Int32 = 200
private let maximumRequestHeadBytes = 8 * 1024

#if canImport(Darwin)
    private let streamSocketType = SOCK_STREAM
    private let sendFlags: Int32 = 0
#else
    private let streamSocketType = Int32(SOCK_STREAM.rawValue)
    private let sendFlags = Int32(MSG_NOSIGNAL)
#endif

/// Owns one socket descriptor; `close()` is explicit, `deinit` is only the last guard.
private final class Socket: Sendable {
    let descriptor: Int32
    private let isClosed = Atomic(false)

    init(descriptor: Int32) throws(MetricsServer.SocketError) {
        self.descriptor = descriptor
        do {
            try configure()
        } catch {
            close()
            throw error
        }
    }

    /// Non-blocking (every wait is a `poll` that also watches the stop flag), close-on-exec, and on Darwin no
    /// `SIGPIPE` (Linux uses `MSG_NOSIGNAL` per send).
    private func configure() throws(MetricsServer.SocketError) {
        let descriptor = self.descriptor
        let flags = try syscall("fcntl") { fcntl(descriptor, F_GETFL) }
        _ = try syscall("fcntl") { fcntl(descriptor, F_SETFL, flags | O_NONBLOCK) }
        _ = try syscall("fcntl") { fcntl(descriptor, F_SETFD, FD_CLOEXEC) }
        #if canImport(Darwin)
            try setOption(SO_NOSIGPIPE, 1)
        #endif
    }

    func setOption(_ option: Int32, _ value: Int32) throws(MetricsServer.SocketError) {
        var value = value
        _ = try syscall("setsockopt") {
            setsockopt(descriptor, SOL_SOCKET, option, &value, socklen_t(MemoryLayout<Int32>.size))
        }
    }

    /// Waits until the socket is ready for `events`, the deadline passes (`false`) or `shouldStop` says so
    /// (`false`).
    func wait(
        for events: Int32,
        until deadline: ContinuousClock.Instant?,
        shouldStop: () -> Bool
    ) throws(MetricsServer.SocketError) -> Bool {
        while !shouldStop() {
            var slice = pollSliceMilliseconds
            if let deadline {
                let remaining = deadline - .now
                guard remaining > .zero else { return false }
                let milliseconds =
                    remaining.components.seconds * 1000 + remaining.components.attoseconds / 1_000_000_000_000_000
                slice = Int32(min(Int64(slice), max(milliseconds, 1)))
            }
            var request = pollfd(fd: descriptor, events: Int16(events), revents: 0)
            let ready = try syscall("poll") { poll(&request, 1, slice) }
            if ready > 0 { return true }
        }
        return false
    }

    /// Closes the descriptor once; later calls do nothing.
    func close() {
        guard !isClosed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        // Not retried on EINTR: on Linux the descriptor is released even then, and a retry could close a
        // descriptor another thread has just been given.
        #if canImport(Darwin)
            _ = Darwin.close(descriptor)
        #elseif canImport(Musl)
            _ = Musl.close(descriptor)
        #else
            _ = Glibc.close(descriptor)
        #endif
    }

    deinit {
        close()
    }
}

/// The bound, listening server socket.
private final class ListeningSocket: Sendable {
    private let handle: Socket
    let port: Int

    init(host: String, port: Int) throws(MetricsServer.SocketError) {
        guard (0...65535).contains(port) else {
            throw MetricsServer.SocketError(code: .invalidAddress, message: "port \(port) is outside 0...65535")
        }
        let address = try SocketAddress(host: host, port: UInt16(port))
        let family = address.family
        let descriptor = try syscall("socket") { socket(family, streamSocketType, 0) }
        handle = try Socket(descriptor: descriptor)
        do {
            try handle.setOption(SO_REUSEADDR, 1)
            _ = try syscall("bind") { address.withSockaddr { bind(descriptor, $0, $1) } }
            _ = try syscall("listen") { listen(descriptor, 64) }
            self.port = try Self.localPort(of: descriptor)
        } catch {
            handle.close()
            throw error
        }
    }

    var descriptor: Int32 { handle.descriptor }

    /// Waits up to one poll slice for a connection; `false` on timeout or when asked to stop.
    func waitForConnection(shouldStop: () -> Bool) throws(MetricsServer.SocketError) -> Bool {
        guard !shouldStop() else { return false }
        var request = pollfd(fd: handle.descriptor, events: Int16(POLLIN), revents: 0)
        return try syscall("poll") { poll(&request, 1, pollSliceMilliseconds) } > 0
    }

    /// The next connection, or `nil` if it went away before it could be accepted.
    func accept() throws(MetricsServer.SocketError) -> Socket? {
        let descriptor = handle.descriptor
        let accepted: Int32?
        do {
            accepted = try nonBlockingSyscall("accept") { systemAccept(descriptor, nil, nil) }
        } catch  where error.errnoCode == ECONNABORTED || error.errnoCode == EPROTO {
            return nil
        }
        guard let accepted else { return nil }
        return try Socket(descriptor: accepted)
    }

    func close() {
        handle.close()
    }

    private static func localPort(of descriptor: Int32) throws(MetricsServer.SocketError) -> Int {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = try syscall("getsockname") {
            withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
            }
        }
        return withUnsafePointer(to: &storage) { pointer in
            if Int32(pointer.pointee.ss_family) == AF_INET6 {
                return pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) {
                    Int(UInt16(bigEndian: $0.pointee.sin6_port))
                }
            }
            return pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
                Int(UInt16(bigEndian: $0.pointee.sin_port))
            }
        }
    }
}

/// `accept(2)`, under a name ``ListeningSocket/accept()`` does not shadow.
@inline(__always)
private func systemAccept(
    _ descriptor: Int32,
    _ address: UnsafeMutablePointer<sockaddr>?,
    _ length: UnsafeMutablePointer<socklen_t>?
) -> Int32 {
    accept(descriptor, address, length)
}

/// An IPv4 or IPv6 address literal and a port.
private enum SocketAddress {
    case v4(sockaddr_in)
    case v6(sockaddr_in6)

    init(host: String, port: UInt16) throws(MetricsServer.SocketError) {
        let literal = host == "localhost" ? "127.0.0.1" : host
        var v4 = sockaddr_in()
        if inet_pton(AF_INET, literal, &v4.sin_addr) == 1 {
            v4.sin_family = sa_family_t(AF_INET)
            v4.sin_port = port.bigEndian
            #if canImport(Darwin)
                v4.sin_len = UInt8(MemoryLayout<sockaddr_in>.size)
            #endif
            self = .v4(v4)
            return
        }
        var v6 = sockaddr_in6()
        let unbracketed =
            literal.hasPrefix("[") && literal.hasSuffix("]") ? String(literal.dropFirst().dropLast()) : literal
        if inet_pton(AF_INET6, unbracketed, &v6.sin6_addr) == 1 {
            v6.sin6_family = sa_family_t(AF_INET6)
            v6.sin6_port = port.bigEndian
            #if canImport(Darwin)
                v6.sin6_len = UInt8(MemoryLayout<sockaddr_in6>.size)
            #endif
            self = .v6(v6)
            return
        }
        throw MetricsServer.SocketError(
            code: .invalidAddress,
            message: "'\(host.prefix(64))' is not an IPv4 or IPv6 address"
        )
    }

    var family: Int32 {
        switch self {
        case .v4: AF_INET
        case .v6: AF_INET6
        }
    }

    func withSockaddr<Result>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> Result) -> Result {
        switch self {
        case .v4(var address):
            withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    body($0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        case .v6(var address):
            withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    body($0, socklen_t(MemoryLayout<sockaddr_in6>.size))
                }
            }
        }
    }
}

// MARK: - Serving

/// The accept loop on the server thread, and how the async side stops it and waits for it.
private final class AcceptLoop: Sendable {
    private let listener: ListeningSocket
    private let registry: PrometheusCollectorRegistry
    private let health: Health
    private let logger: Logger
    private let stopRequested = Atomic(false)
    private let completion = Mutex<Completion>(Completion())

    private struct Completion {
        var result: Result<Void, MetricsServer.SocketError>?
        var waiter: CheckedContinuation<Void, any Error>?
    }

    init(listener: ListeningSocket, registry: PrometheusCollectorRegistry, health: Health, logger: Logger) {
        self.listener = listener
        self.registry = registry
        self.health = health
        self.logger = logger
    }

    func requestStop() {
        stopRequested.store(true, ordering: .releasing)
    }

    private var shouldStop: Bool { stopRequested.load(ordering: .acquiring) }

    /// Resumes when the thread has left ``run()``; throws if the loop failed for good.
    func waitUntilFinished() async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let finished = completion.withLock { state in
                if state.result == nil { state.waiter = continuation }
                return state.result
            }
            if let finished { continuation.resume(with: finished) }
        }
    }

    /// The thread's body: accept, serve one client at a time, until asked to stop.
    func run() {
        var result = Result<Void, MetricsServer.SocketError>.success(())
        while !shouldStop {
            do {
                guard try listener.waitForConnection(shouldStop: { shouldStop }) else { continue }
            } catch {
                logger.error("metrics server cannot poll its socket", metadata: ["error": "\(error)"])
                result = .failure(error)
                break
            }
            do {
                guard let client = try listener.accept() else { continue }
                serve(client)
            } catch {
                // Out of descriptors or memory, most likely: back off and carry on.
                logger.warning("metrics server cannot accept a connection", metadata: ["error": "\(error)"])
                Thread.sleep(forTimeInterval: 0.1)
            }
        }
        let waiter = completion.withLock { state in
            state.result = result
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(with: result)
    }

    private func serve(_ client: Socket) {
        defer { client.close() }
        let deadline = ContinuousClock.now + clientDeadline
        do {
            guard let head = try readRequestHead(from: client, until: deadline) else {
                try send(HTTPResponse.headersTooLarge.encoded(includingBody: true), to: client, until: deadline)
                return
            }
            let (response, includeBody) = respond(to: head)
            try send(response.encoded(includingBody: includeBody), to: client, until: deadline)
            _ = shutdown(client.descriptor, Int32(SHUT_WR))
        } catch {
            logger.debug("metrics client dropped", metadata: ["error": "\(error)"])
        }
    }

    /// The request up to its blank line; `nil` when it exceeds the size cap.
    private func readRequestHead(
        from client: Socket,
        until deadline: ContinuousClock.Instant
    ) throws(MetricsServer.SocketError) -> [UInt8]? {
        var head = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 2048)
        while head.count <= maximumRequestHeadBytes {
            if let end = Self.endOfHead(in: head) { return Array(head[..<end]) }
            guard try client.wait(for: Int32(POLLIN), until: deadline, shouldStop: { shouldStop }) else {
                throw MetricsServer.SocketError(code: .clientTimedOut, message: "no complete request in time")
            }
            let descriptor = client.descriptor
            let count = chunk.count
            let received = try nonBlockingSyscall("recv") {
                chunk.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, count, 0) }
            }
            guard let received else { continue }
            guard received > 0 else {
                throw MetricsServer.SocketError(code: .clientClosedEarly, message: "connection closed mid-request")
            }
            head.append(contentsOf: chunk[..<received])
        }
        return nil
    }

    /// Where the blank line ending a request head starts (`\r\n\r\n`, or `\n\n` from lax clients).
    private static func endOfHead(in bytes: [UInt8]) -> Int? {
        guard bytes.count >= 2 else { return nil }
        for index in 1..<bytes.count where bytes[index] == 0x0A {
            if bytes[index - 1] == 0x0A { return index - 1 }
            if index >= 3, bytes[index - 1] == 0x0D, bytes[index - 2] == 0x0A, bytes[index - 3] == 0x0D {
                return index - 3
            }
        }
        return nil
    }

    private func respond(to head: [UInt8]) -> (HTTPResponse, includeBody: Bool) {
        let requestLine = head.prefix { $0 != 0x0A && $0 != 0x0D }
        let parts = requestLine.split(separator: 0x20, omittingEmptySubsequences: true)
        guard parts.count == 3, parts[2].starts(with: Array("HTTP/".utf8)) else { return (.badRequest, true) }
        let method = String(decoding: parts[0], as: UTF8.self)
        guard method == "GET" || method == "HEAD" else { return (.methodNotAllowed, true) }
        let path = String(decoding: parts[1].prefix { $0 != UInt8(ascii: "?") }, as: UTF8.self)
        let includeBody = method == "GET"
        switch path {
        case "/metrics":
            return (
                HTTPResponse(status: "200 OK", contentType: "text/plain; version=0.0.4", body: registry.emitToBuffer()),
                includeBody
            )
        case "/healthz":
            let stalled = health.stalled()
            guard stalled.isEmpty else {
                return (HTTPResponse(status: "503 Service Unavailable",
                                     body: Array(("stalled: " + stalled.joined(separator: ", ") + "\n").utf8)), includeBody)
            }
            return (HTTPResponse(status: "200 OK", body: Array("ok".utf8)), includeBody)
        case "/readyz":
            let notReady = health.notReady()
            guard notReady.isEmpty, health.hasReadyComponent else {
                let reasons = notReady.isEmpty ? ["not connected yet"] : notReady
                return (HTTPResponse(status: "503 Service Unavailable",
                                     body: Array(("not ready: " + reasons.joined(separator: "; ") + "\n").utf8)), includeBody)
            }
            return (HTTPResponse(status: "200 OK", body: Array("ready".utf8)), includeBody)
        default:
            return (.notFound, includeBody)
        }
    }

    private func send(
        _ bytes: [UInt8],
        to client: Socket,
        until deadline: ContinuousClock.Instant
    ) throws(MetricsServer.SocketError) {
        let descriptor = client.descriptor
        var offset = 0
        while offset < bytes.count {
            let start = offset
            let written = try nonBlockingSyscall("send") {
                bytes.withUnsafeBytes { systemSend(descriptor, $0.baseAddress! + start, $0.count - start, sendFlags) }
            }
            if let written {
                offset += written
            } else if try !client.wait(for: Int32(POLLOUT), until: deadline, shouldStop: { shouldStop }) {
                throw MetricsServer.SocketError(code: .clientTimedOut, message: "response not taken in time")
            }
        }
    }
}

/// `send(2)`, under a name the serving methods do not shadow.
@inline(__always)
private func systemSend(
    _ descriptor: Int32,
    _ bytes: UnsafeRawPointer,
    _ count: Int,
    _ flags: Int32
) -> Int {
    send(descriptor, bytes, count, flags)
}

/// A complete HTTP/1.1 response that closes the connection.
private struct HTTPResponse {
    var status: String
    var contentType = "text/plain; charset=utf-8"
    var body: [UInt8]
    var extraHeaders = ""

    static let notFound = HTTPResponse(status: "404 Not Found", body: Array("not found".utf8))
    static let badRequest = HTTPResponse(status: "400 Bad Request", body: Array("bad request".utf8))
    static let methodNotAllowed = HTTPResponse(
        status: "405 Method Not Allowed",
        body: Array("method not allowed".utf8),
        extraHeaders: "Allow: GET, HEAD\r\n"
    )
    static let headersTooLarge = HTTPResponse(
        status: "431 Request Header Fields Too Large",
        body: Array("request too large".utf8)
    )

    func encoded(includingBody: Bool) -> [UInt8] {
        let head =
            "HTTP/1.1 \(status)\r\nContent-Type: \(contentType)\r\nContent-Length: \(body.count)\r\n"
            + extraHeaders + "Connection: close\r\n\r\n"
        var bytes = Array(head.utf8)
        if includingBody { bytes.append(contentsOf: body) }
        return bytes
    }
}

// MARK: - Listening state

/// Whether ``MetricsServer/run()`` is listening, for ``MetricsServer/listeningPort()`` and
/// ``MetricsServer/boundPort``.
private final class ListeningState: Sendable {
    private enum Phase {
        case idle
        case listening(Int)
        case failed(MetricsServer.SocketError)
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
    func fail(_ error: MetricsServer.SocketError) { settle(.failed(error)) }
    func stop() { settle(.stopped) }

    private func settle(_ phase: Phase) {
        let waiters = state.withLock { state in
            state.phase = phase
            defer { state.waiters = [:] }
            return state.waiters
        }
        let result = Self.result(of: phase)
        for waiter in waiters.values {
            if let result { waiter.resume(with: result) }
        }
    }

    private static func result(of phase: Phase) -> Result<Int, MetricsServer.SocketError>? {
        switch phase {
        case .idle: nil
        case .listening(let port): .success(port)
        case .failed(let error): .failure(error)
        case .stopped: .failure(MetricsServer.SocketError(code: .notListening, message: "the metrics server stopped"))
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
                    if let settled = Self.result(of: state.phase) { return settled.mapError { $0 } }
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
