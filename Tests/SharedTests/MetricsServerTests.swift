import Foundation
import Logging
import Metrics
import ServiceLifecycle
import Testing

@testable import Shared

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

@Suite("MetricsServer")
struct MetricsServerTests {
    private static var quietLogger: Logger {
        var logger = Logger(label: "schoolict.tests.metrics")
        logger.logLevel = .error
        return logger
    }

    @Test("bootstrap is idempotent and returns one registry")
    func bootstrapOnce() {
        #expect(MetricsSetup.bootstrap() === MetricsSetup.bootstrap())
    }

    @Test("serves /metrics, /healthz and /readyz, answers 404, 405, 400 and 431, survives bad clients, shuts down")
    func servesUntilShutdown() async throws {
        let registry = MetricsSetup.bootstrap()
        let counter = Counter(label: "schoolict_tests_scrapes_total", dimensions: [("queue", "submissions")])
        counter.increment(by: 3)

        let components = Health()
        let server = MetricsServer(registry: registry, host: "127.0.0.1", port: 0, health: components,
                                   logger: Self.quietLogger)
        let group = ServiceGroup(services: [server], logger: Self.quietLogger)

        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            let port = try await server.listeningPort()
            #expect(port > 0)
            #expect(server.boundPort == port)

            let metrics = try await RawHTTP.exchange(port: port, request: "GET /metrics HTTP/1.1\r\nHost: test\r\n\r\n")
            #expect(metrics.status == 200)
            #expect(metrics.head.contains("Content-Type: text/plain; version=0.0.4"))
            #expect(metrics.head.contains("Connection: close"))
            #expect(metrics.body.contains(#"schoolict_tests_scrapes_total{queue="submissions"} 3"#))

            counter.increment()
            let again = try await RawHTTP.exchange(port: port, request: "GET /metrics?x=1 HTTP/1.0\r\n\r\n")
            #expect(again.body.contains(#"schoolict_tests_scrapes_total{queue="submissions"} 4"#))

            let health = try await RawHTTP.exchange(port: port, request: "GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
            #expect(health.status == 200)
            #expect(health.body == "ok")

            let head = try await RawHTTP.exchange(port: port, request: "HEAD /healthz HTTP/1.1\r\n\r\n")
            #expect(head.status == 200)
            #expect(head.body.isEmpty)

            let notConnected = try await RawHTTP.exchange(port: port, request: "GET /readyz HTTP/1.1\r\n\r\n")
            #expect(notConnected.status == 503)
            #expect(notConnected.body == "not ready: not connected yet\n")
            components.ready("consumer-tests", true)
            let ready = try await RawHTTP.exchange(port: port, request: "GET /readyz HTTP/1.1\r\n\r\n")
            #expect(ready.status == 200 && ready.body == "ready")
            components.ready("consumer-tests", false, reason: "database: connection_failed")
            let lost = try await RawHTTP.exchange(port: port, request: "GET /readyz HTTP/1.1\r\n\r\n")
            #expect(lost.status == 503)
            #expect(lost.body == "not ready: consumer-tests: database: connection_failed\n")

            let missing = try await RawHTTP.exchange(port: port, request: "GET /nope HTTP/1.1\r\n\r\n")
            #expect(missing.status == 404)

            let post = try await RawHTTP.exchange(port: port, request: "POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
            #expect(post.status == 405)
            #expect(post.head.contains("Allow: GET, HEAD"))

            let garbage = try await RawHTTP.exchange(port: port, request: "hello\r\n\r\n")
            #expect(garbage.status == 400)

            let huge = "GET /metrics HTTP/1.1\r\nX-Filler: " + String(repeating: "a", count: 9000) + "\r\n\r\n"
            let tooLarge = try await RawHTTP.exchange(port: port, request: huge)
            #expect(tooLarge.status == 431)

            // A client that connects and leaves without a word, and one that sends half a request and hangs
            // up, must not take the server down.
            try RawHTTP.connectAndClose(port: port, sending: "")
            try RawHTTP.connectAndClose(port: port, sending: "GET /met")
            let afterBadClients = try await RawHTTP.exchange(port: port, request: "GET /healthz HTTP/1.1\r\n\r\n")
            #expect(afterBadClients.status == 200)

            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        #expect(server.boundPort == nil)
    }

    /// Short bounds, so the hostile-client tests take a second, not the production defaults' ten.
    private static let tightLimits = MetricsServer.Limits(
        maximumRequestBytes: 8 * 1024, requestTimeout: .milliseconds(500), connectionTimeout: .seconds(3),
        maximumConnections: 2)

    /// Runs a server with `limits` for `body`, then shuts it down gracefully.
    private static func withServer(limits: MetricsServer.Limits,
                                   _ body: @Sendable (Int) async throws -> Void) async throws {
        let server = MetricsServer(registry: MetricsSetup.bootstrap(), host: "127.0.0.1", port: 0, limits: limits,
                                   logger: quietLogger)
        let group = ServiceGroup(services: [server], logger: quietLogger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            try await body(try await server.listeningPort())
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }

    @Test("a client that sends its request slowly is closed at the request deadline, byte by byte or not at all")
    func slowClientsAreClosed() async throws {
        try await Self.withServer(limits: Self.tightLimits) { port in
            // On a thread of its own, so the timing is the server's, not a busy test pool's.
            let (closedAfter, silentClosed) = try await RawHTTP.offPool { () throws -> (Duration?, Bool) in
                let silent = try RawHTTP.connect(port: port)
                defer { _ = close(silent) }
                let trickling = try RawHTTP.connect(port: port)
                defer { _ = close(trickling) }
                let started = ContinuousClock.now
                // One byte every 100 ms: a reset-on-read idle timer would never fire.
                for byte in Array("GET /metrics HTTP/1.1\r\nX-Slow: ".utf8) + Array(repeating: UInt8(ascii: "a"), count: 40) {
                    guard (try? RawHTTP.sendAll(trickling, [byte])) != nil, !RawHTTP.isClosedByPeer(trickling) else {
                        let closedAfter = ContinuousClock.now - started
                        // The silent one has the same deadline, but its close may reach us a little later on a busy
                        // machine: allow 2 s, still well before the connection deadline (3 s) would close it.
                        let until = ContinuousClock.now + .seconds(2)
                        while !RawHTTP.isClosedByPeer(silent), ContinuousClock.now < until { Thread.sleep(forTimeInterval: 0.05) }
                        return (closedAfter, RawHTTP.isClosedByPeer(silent))
                    }
                    Thread.sleep(forTimeInterval: 0.1)
                }
                return (nil, RawHTTP.isClosedByPeer(silent))
            }
            let elapsed = try #require(closedAfter, "a trickling client was never closed")
            #expect(elapsed >= .milliseconds(400) && elapsed < .seconds(2), "closed after \(elapsed)")
            #expect(silentClosed, "a silent client outlived the request deadline")
        }
    }

    @Test("a request over the byte limit is answered 431 without being parsed, a megabyte request line included")
    func oversizedRequestsAreRefused() async throws {
        try await Self.withServer(limits: Self.tightLimits) { port in
            let line = "GET /" + String(repeating: "a", count: 1024 * 1024) + " HTTP/1.1\r\n\r\n"
            let refused = try await RawHTTP.exchange(port: port, request: line)
            #expect(refused.status == 431)
            #expect(refused.body == "request too large")
            let headers = "GET /healthz HTTP/1.1\r\n" + String(repeating: "X-Filler: aaaaaaaaaaaaaaaa\r\n", count: 400) + "\r\n"
            #expect(try await RawHTTP.exchange(port: port, request: headers).status == 431)
            #expect(try await RawHTTP.exchange(port: port, request: "GET /healthz HTTP/1.1\r\n\r\n").status == 200)
        }
    }

    @Test("connections beyond the cap wait in the backlog and are served once a slot is free")
    func connectionCap() async throws {
        try await Self.withServer(limits: Self.tightLimits) { port in
            let (status, waited) = try await RawHTTP.offPool { () throws -> (Int, Duration) in
                // Two silent connections take both slots until the request deadline closes them.
                let first = try RawHTTP.connect(port: port)
                defer { _ = close(first) }
                let second = try RawHTTP.connect(port: port)
                defer { _ = close(second) }
                Thread.sleep(forTimeInterval: 0.05)
                let started = ContinuousClock.now
                let answer = try RawHTTP.exchangeBlocking(port: port, request: "GET /healthz HTTP/1.1\r\n\r\n")
                return (answer.status, ContinuousClock.now - started)
            }
            #expect(status == 200)
            #expect(waited >= .milliseconds(250) && waited < .seconds(3), "answered after \(waited)")
        }
    }

    @Test("a scrape is answered while every thread of the concurrency pool is blocked")
    func answersWithoutThePool() async throws {
        try await Self.withServer(limits: MetricsServer.Limits()) { port in
            // Occupy every pool thread for a second (what blocking work on the pool would do).
            let blockers = (0..<ProcessInfo.processInfo.activeProcessorCount).map { _ in
                Task.detached { RawHTTP.blockThisThread(seconds: 1) }
            }
            let (status, took) = try await RawHTTP.offPool { () throws -> (Int, Duration) in
                Thread.sleep(forTimeInterval: 0.1)
                let started = ContinuousClock.now
                let answer = try RawHTTP.exchangeBlocking(port: port, request: "GET /metrics HTTP/1.1\r\n\r\n")
                return (answer.status, ContinuousClock.now - started)
            }
            for blocker in blockers { await blocker.value }
            #expect(status == 200)
            #expect(took < .milliseconds(500), "a scrape waited \(took) for the pool")
        }
    }

    @Test("a server run outside a service group stops on cancellation")
    func stopsOnCancellation() async throws {
        let server = MetricsServer(
            registry: MetricsSetup.bootstrap(),
            host: "127.0.0.1",
            port: 0,
            logger: Self.quietLogger
        )
        let task = Task { try await server.run() }
        let port = try await server.listeningPort()
        #expect(try await RawHTTP.exchange(port: port, request: "GET /healthz HTTP/1.1\r\n\r\n").status == 200)
        task.cancel()
        _ = await task.result
        #expect(server.boundPort == nil)
        await #expect(throws: (any Error).self) { try await RawHTTP.exchange(port: port, request: "GET /healthz HTTP/1.1\r\n\r\n") }
    }

    @Test("an unusable host fails run() and listeningPort()")
    func invalidHost() async {
        let server = MetricsServer(
            registry: MetricsSetup.bootstrap(),
            host: "not-an-address",
            port: 0,
            logger: Self.quietLogger
        )
        let error = await #expect(throws: MetricsServer.ServerError.self) { try await server.run() }
        #expect(error?.code == .invalidAddress)
        await #expect(throws: MetricsServer.ServerError.self) { try await server.listeningPort() }
    }

    @Test("a port in use is reported with errno")
    func portInUse() async throws {
        let first = MetricsServer(
            registry: MetricsSetup.bootstrap(),
            host: "127.0.0.1",
            port: 0,
            logger: Self.quietLogger
        )
        let task = Task { try await first.run() }
        let port = try await first.listeningPort()
        let second = MetricsServer(
            registry: MetricsSetup.bootstrap(),
            host: "127.0.0.1",
            port: port,
            logger: Self.quietLogger
        )
        let error = await #expect(throws: MetricsServer.ServerError.self) { try await second.run() }
        #expect(error?.code == .cannotListen)
        #expect(error?.errnoCode == EADDRINUSE)
        await #expect(throws: MetricsServer.ServerError.self) { try await second.listeningPort() }
        task.cancel()
        _ = await task.result
    }
}

/// A minimal blocking HTTP client over a raw socket (FoundationNetworking may be missing).
private enum RawHTTP {
    struct Response {
        var status: Int
        var head: String
        var body: String
    }

    struct Failure: Error {
        var function: String
        var code: Int32
    }

    /// ``exchangeBlocking(port:request:)`` on a thread of its own: a blocking call must not occupy the test's
    /// concurrency pool.
    static func exchange(port: Int, request: String) async throws -> Response {
        try await offPool { try exchangeBlocking(port: port, request: request) }
    }

    /// Blocks the calling thread (to occupy a pool thread on purpose).
    static func blockThisThread(seconds: Double) {
        Thread.sleep(forTimeInterval: seconds)
    }

    /// Runs blocking socket code on a thread of its own.
    static func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try body() }) }.start()
        }
    }

    static func exchangeBlocking(port: Int, request: String) throws -> Response {
        let descriptor = try connect(port: port)
        defer { _ = close(descriptor) }
        try sendAll(descriptor, Array(request.utf8))
        var received = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if count < 0 { throw Failure(function: "recv", code: errno) }
            if count == 0 { break }
            received.append(contentsOf: buffer[..<count])
        }
        let text = String(decoding: received, as: UTF8.self)
        guard let split = text.range(of: "\r\n\r\n") else { throw Failure(function: "parse", code: 0) }
        let head = String(text[..<split.lowerBound])
        let statusField = head.split(separator: " ").dropFirst().first.flatMap { Int($0) }
        guard let status = statusField else { throw Failure(function: "parse", code: 0) }
        return Response(status: status, head: head, body: String(text[split.upperBound...]))
    }

    static func connectAndClose(port: Int, sending text: String) throws {
        let descriptor = try connect(port: port)
        if !text.isEmpty { try sendAll(descriptor, Array(text.utf8)) }
        _ = close(descriptor)
    }

    static func connect(port: Int) throws -> Int32 {
        #if canImport(Darwin)
            let descriptor = socket(AF_INET, SOCK_STREAM, 0)
        #else
            let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #endif
        guard descriptor >= 0 else { throw Failure(function: "socket", code: errno) }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        _ = setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard result == 0 else {
            let code = errno
            _ = close(descriptor)
            throw Failure(function: "connect", code: code)
        }
        return descriptor
    }

    static func sendAll(_ descriptor: Int32, _ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes.withUnsafeBytes {
                send(descriptor, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL))
            }
            if sent < 0 { throw Failure(function: "send", code: errno) }
            offset += sent
        }
    }

    /// Whether the server has closed its side: end of stream (or a reset) waiting to be read, without blocking.
    static func isClosedByPeer(_ descriptor: Int32) -> Bool {
        var byte: UInt8 = 0
        let count = recv(descriptor, &byte, 1, Int32(MSG_DONTWAIT | MSG_PEEK))
        return count == 0 || (count < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
    }
}
