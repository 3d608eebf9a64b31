import Foundation

/// `AMQP_URL` as a list: `amqp://a:5672/vh,amqp://b:5672/vh,…` (each its own credentials and vhost, or the same), the
/// nodes of one RabbitMQ cluster. A process takes them in an order shuffled once (so instances spread over the
/// nodes), connects to the first that answers and, when its node goes away, to the next one; the loops around it
/// retry with backoff and jitter when none answers.
public final class BrokerEndpoints: @unchecked Sendable {  // @unchecked: `current` is confined to its one loop thread.
    public let urls: [AMQPURL]
    private var current = 0

    public init(_ text: String, shuffle: Bool = true) throws(AMQPError) {
        let parts = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !parts.isEmpty else { throw AMQPError(code: .invalidURL, message: "AMQP_URL lists no broker") }
        var parsed: [AMQPURL] = []
        for part in parts { parsed.append(try AMQPURL(parsing: part)) }
        if shuffle { parsed.shuffle() }
        urls = parsed
    }

    /// The URL the last successful connection used (the first to try next time).
    public var preferred: AMQPURL { urls[current] }

    /// Opens a connection with `open`, trying each URL once, from the preferred one on; throws the last failure.
    public func connect<T>(_ open: (AMQPURL) throws -> T) throws -> T {
        var lastError: (any Error)?
        for offset in 0..<urls.count {
            let index = (current + offset) % urls.count
            do {
                let connection = try open(urls[index])
                current = index
                return connection
            } catch {
                lastError = error
            }
        }
        current = (current + 1) % urls.count
        throw lastError!
    }
}
