import Testing

@testable import Shared

@Suite("Several broker addresses")
struct BrokerEndpointsTests {
    struct Refused: Error {}

    @Test("a comma-separated AMQP_URL lists the nodes; each must be a usable URL")
    func parsing() throws {
        let endpoints = try BrokerEndpoints("amqp://a:5672/%2f, amqp://u:p@b:5673/vh ,amqps://c/%2f", shuffle: false)
        #expect(endpoints.urls.map(\.host) == ["a", "b", "c"])
        #expect(endpoints.urls[1].virtualHost == "vh")
        #expect(throws: AMQPError.self) { try BrokerEndpoints("amqp://a/%2f,http://b/", shuffle: false) }
        #expect(throws: AMQPError.self) { try BrokerEndpoints(" , ", shuffle: false) }
        #expect(throws: ConfigurationError.self) { try Configuration(environment: ["AMQP_URL": "amqp://a/%2f,ftp://b"]) }
        #expect(try Configuration(environment: ["AMQP_URL": "amqp://a/%2f,amqp://b/%2f"]).amqpURL.contains(","))
    }

    @Test("the first node that answers is used, and kept while it answers; when it goes away, the next")
    func failover() throws {
        let endpoints = try BrokerEndpoints("amqp://a/%2f,amqp://b/%2f,amqp://c/%2f", shuffle: false)
        var down: Set<String> = ["a"]
        var tried: [String] = []
        func open(_ url: AMQPURL) throws -> String {
            tried.append(url.host)
            if down.contains(url.host) { throw Refused() }
            return url.host
        }
        #expect(try endpoints.connect(open) == "b")
        #expect(tried == ["a", "b"])
        tried = []
        #expect(try endpoints.connect(open) == "b", "the node that answered is tried first")
        #expect(tried == ["b"])
        down = ["b"]
        tried = []
        #expect(try endpoints.connect(open) == "c")
        down = ["a", "b", "c"]
        #expect(throws: Refused.self) { try endpoints.connect(open) }
    }

    @Test("processes spread over the nodes: the order is shuffled, every node kept")
    func shuffled() throws {
        let text = (0..<8).map { "amqp://n\($0)/%2f" }.joined(separator: ",")
        let orders = try (0..<20).map { _ in try BrokerEndpoints(text).urls.map(\.host) }
        #expect(Set(orders).count > 1)
        #expect(orders.allSatisfy { Set($0).count == 8 })
    }
}
