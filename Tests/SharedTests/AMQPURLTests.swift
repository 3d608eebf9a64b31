import Testing

@testable import Shared

@Suite("AMQPURL")
struct AMQPURLTests {
    struct ValidCase: Sendable, CustomTestStringConvertible {
        var text: String
        var expected: AMQPURL
        var testDescription: String { text }
    }

    static let validCases: [ValidCase] = [
        .init(text: "amqp://guest:guest@127.0.0.1:5672/%2f", expected: AMQPURL()),
        .init(text: "amqp://guest:guest@127.0.0.1:5672/%2F", expected: AMQPURL()),
        .init(text: "amqp://127.0.0.1", expected: AMQPURL()),
        .init(text: "amqp://127.0.0.1/", expected: AMQPURL()),
        .init(text: "amqp://", expected: AMQPURL(host: "localhost")),
        .init(text: "amqp://worker:pw@rabbit.example.org/",
              expected: AMQPURL(user: "worker", password: "pw", host: "rabbit.example.org", port: 5672)),
        .init(text: "amqp://worker:pw@rabbit.example.org:5673/schools",
              expected: AMQPURL(user: "worker", password: "pw", host: "rabbit.example.org", port: 5673,
                                virtualHost: "schools")),
        .init(text: "amqps://worker:pw@mq.example.org",
              expected: AMQPURL(user: "worker", password: "pw", host: "mq.example.org", port: 5671, useTLS: true)),
        .init(text: "AMQPS://worker:pw@mq.example.org:6000/prod",
              expected: AMQPURL(user: "worker", password: "pw", host: "mq.example.org", port: 6000,
                                virtualHost: "prod", useTLS: true)),
        .init(text: "amqp://us%40er:p%3Aa%2Fss%40w%25rd@h.example:1234/v%2Fh",
              expected: AMQPURL(user: "us@er", password: "p:a/ss@w%rd", host: "h.example", port: 1234,
                                virtualHost: "v/h")),
        .init(text: "amqp://user:p@ss@h.example/", expected: AMQPURL(user: "user", password: "p@ss", host: "h.example")),
        .init(text: "amqp://alice@h.example", expected: AMQPURL(user: "alice", password: "", host: "h.example")),
        .init(text: "amqp://h.example/prod?heartbeat=10",
              expected: AMQPURL(host: "h.example", virtualHost: "prod")),
        .init(text: "amqp://[::1]:5673/", expected: AMQPURL(host: "::1", port: 5673)),
        .init(text: "amqps://[::1]", expected: AMQPURL(host: "::1", useTLS: true)),
        .init(text: "amqp://h.example:65535", expected: AMQPURL(host: "h.example", port: 65535)),
    ]

    @Test("parses", arguments: validCases)
    func parses(_ testCase: ValidCase) throws {
        #expect(try AMQPURL(parsing: testCase.text) == testCase.expected)
    }

    @Test("defaults: guest on 127.0.0.1, vhost /, port 5672 or 5671 with TLS")
    func defaults() {
        let plain = AMQPURL()
        #expect(plain.user == "guest")
        #expect(plain.password == "guest")
        #expect(plain.host == "127.0.0.1")
        #expect(plain.port == 5672)
        #expect(plain.virtualHost == "/")
        #expect(plain.useTLS == false)
        #expect(AMQPURL(useTLS: true).port == 5671)
        #expect(AMQPURL(port: 1, useTLS: true).port == 1)
    }

    static let invalid: [String] = [
        "http://guest:guest@127.0.0.1:5672/",
        "127.0.0.1:5672",
        "amqp:/127.0.0.1",
        "amqp://h.example:abc/",
        "amqp://h.example:/",
        "amqp://h.example:0/",
        "amqp://h.example:65536/",
        "amqp://h.example:-1/",
        "amqp://[::1:5672/",
        "amqp://[::1]:x/",
        "amqp://user:p%zzw@h.example/",
        "amqp://user:pw%4@h.example/",
        "amqp://h.example/v%2",
    ]

    @Test("invalid URLs throw invalid_url", arguments: invalid)
    func invalidURL(_ text: String) {
        let error = #expect(throws: AMQPError.self) { try AMQPURL(parsing: text) }
        #expect(error?.code == .invalidURL)
    }

    @Test("errors never show the password")
    func errorHidesPassword() {
        let error = #expect(throws: AMQPError.self) { try AMQPURL(parsing: "amqp://worker:s3cr3t@h.example:99999/") }
        #expect(error?.description.contains("s3cr3t") == false)
        #expect(error?.message.contains("s3cr3t") == false)
    }

    @Test("description masks the password")
    func description() throws {
        let url = try AMQPURL(parsing: "amqp://worker:s3cr3t@mq.example.org:5672/%2f")
        #expect(url.password == "s3cr3t")
        #expect(url.description == "amqp://worker:***@mq.example.org:5672/%2f")
        #expect(!url.description.contains("s3cr3t"))
        let tls = try AMQPURL(parsing: "amqps://worker:s3cr3t@mq.example.org/prod")
        #expect(tls.description == "amqps://worker:***@mq.example.org:5671/prod")
        #expect("\(tls)".contains("s3cr3t") == false)
    }
}

@Suite("Backoff")
struct BackoffTests {
    @Test("delays grow exponentially with jitter, up to the maximum")
    func grows() {
        var backoff = Backoff(base: 0.2, maximum: 15)
        var ceiling = 0.2
        for _ in 0..<12 {
            let delay = backoff.next()
            #expect(delay >= ceiling / 2 && delay <= ceiling, "delay \(delay) for ceiling \(ceiling)")
            ceiling = min(15, ceiling * 2)
        }
        #expect(ceiling == 15)
        for _ in 0..<50 {
            #expect(backoff.next() <= 15)
        }
    }

    @Test("reset starts again from the base delay")
    func reset() {
        var backoff = Backoff(base: 1, maximum: 100)
        for _ in 0..<6 { _ = backoff.next() }
        #expect(backoff.next() >= 32)
        backoff.reset()
        let first = backoff.next()
        #expect(first >= 0.5 && first <= 1)
    }

    @Test("a huge attempt count does not overflow")
    func noOverflow() {
        var backoff = Backoff(base: 0.001, maximum: 2)
        for _ in 0..<200 {
            let delay = backoff.next()
            #expect(delay.isFinite && delay <= 2)
        }
    }
}
