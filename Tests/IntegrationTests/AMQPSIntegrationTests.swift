import Foundation
import Shared
import TestSupport
import Testing

/// `amqps://` against the local broker's TLS listener (`scripts/servers.sh` makes a local certificate authority
/// and gives `SCHOOLICT_AMQPS_URL` and `SCHOOLICT_AMQP_CA_CERT` in `.data/env.sh`): the wrapper verifies the
/// broker's certificate and host name, and a worker given an `amqps` URL works end to end.
@Suite("amqps", .integration, .serialized)
struct AMQPSIntegrationTests {
    private struct TLSBroker {
        var url: AMQPURL
        var caFile: String

        init() throws {
            let environment = ProcessInfo.processInfo.environment
            guard let text = environment["SCHOOLICT_AMQPS_URL"], !text.isEmpty,
                  let caFile = environment["SCHOOLICT_AMQP_CA_CERT"], !caFile.isEmpty else {
                throw HarnessError("SCHOOLICT_AMQPS_URL / SCHOOLICT_AMQP_CA_CERT are not set: restart the servers "
                                   + "with `scripts/servers.sh stop && scripts/servers.sh start`, then `source .data/env.sh`")
            }
            url = try AMQPURL(parsing: text)
            self.caFile = caFile
        }

        /// The TLS URL for a harness's scratch vhost.
        func url(virtualHost: String) -> AMQPURL {
            var url = url
            url.virtualHost = virtualHost
            return url
        }
    }

    @Test func publishAndConsumeOverTLSWithTheLocalCertificateAuthority() throws {
        let broker = try TLSBroker()
        #expect(broker.url.useTLS)
        let connection = try AMQPConnection(url: broker.url, name: "schoolict-tests amqps", caCertificates: broker.caFile)
        defer { connection.close() }
        try connection.declare(.contract)
        let queue = try connection.declareTemporaryQueue(bindingTo: Topology.Exchange.events, routingKeys: ["tls.test"])
        try connection.startConsuming(queue: queue, prefetch: 10)

        let publisher = try AMQPConnection(url: broker.url, caCertificates: broker.caFile)
        defer { publisher.close() }
        try publisher.enableConfirms()
        let body = Array(#"{"over":"tls","text":"Εισαγωγή"}"#.utf8)
        try publisher.publishConfirmed([AMQPMessage(exchange: Topology.Exchange.events, routingKey: "tls.test",
                                                    messageID: "tls-1", body: body)])
        let delivery = try #require(try connection.nextDelivery(timeout: .seconds(10)))
        #expect(delivery.messageID == "tls-1")
        #expect(delivery.body == body)
        try connection.ack(delivery.deliveryTag)
    }

    @Test func aBrokerCertificateNotSignedByATrustedAuthorityIsRefused() throws {
        let broker = try TLSBroker()
        // The system's bundle does not hold the local test authority.
        let error = #expect(throws: AMQPError.self) {
            let connection = try AMQPConnection(url: broker.url, connectTimeout: .seconds(5),
                                                caCertificates: "/etc/ssl/certs/ca-certificates.crt")
            connection.close()
        }
        #expect("\(error.map { "\($0)" } ?? "")".localizedCaseInsensitiveContains("verif"), "\(String(describing: error))")
    }

    @Test func aHostNameTheCertificateDoesNotNameIsRefused() throws {
        let broker = try TLSBroker()
        // The certificate names only `localhost`: the same listener reached as 127.0.0.1 must be refused.
        var url = broker.url
        #expect(url.host == "localhost")
        url.host = "127.0.0.1"
        let error = #expect(throws: AMQPError.self) {
            let connection = try AMQPConnection(url: url, connectTimeout: .seconds(5), caCertificates: broker.caFile)
            connection.close()
        }
        #expect("\(error.map { "\($0)" } ?? "")".localizedCaseInsensitiveContains("hostname"), "\(String(describing: error))")
    }

    @Test func submissionWorkerRunsOverTLS() throws {
        let broker = try TLSBroker()
        let harness = try IntegrationHarness()
        defer { harness.shutDown() }
        let tlsURL = broker.url(virtualHost: harness.virtualHost.name)
        try harness.startWorker(extra: [
            "AMQP_URL": "amqps://\(tlsURL.user):\(tlsURL.password)@\(tlsURL.host):\(tlsURL.port)/\(tlsURL.virtualHost)",
            "AMQP_CA_CERT": broker.caFile,
        ])
        let outcome = try harness.send(Fixtures.greekCampaignUpsert(id: "tls-campaign"))
        #expect(outcome.routingKey == "command.accepted.campaign.upsert", "\(outcome.body.jsonString)")
        #expect(try harness.scalar("SELECT count(*) FROM campaigns") == 1)
        // The broker says the worker's connections use TLS (the management API lists them after a few seconds).
        var tlsFlags: [Bool] = []
        let deadline = ContinuousClock.now + .seconds(20)
        while tlsFlags.isEmpty, ContinuousClock.now < deadline {
            tlsFlags = try workerConnectionsTLS(harness)
            if tlsFlags.isEmpty { Thread.sleep(forTimeInterval: 0.5) }
        }
        #expect(!tlsFlags.isEmpty && tlsFlags.allSatisfy { $0 }, "worker connections' ssl flags: \(tlsFlags)")
    }

    /// The `ssl` flag of each SubmissionWorker connection of the harness's vhost, from the management API.
    private func workerConnectionsTLS(_ harness: IntegrationHarness) throws -> [Bool] {
        try harness.virtualHost.connections().compactMap { connection in
            guard connection["client_properties"]?["connection_name"]?.stringValue?.hasPrefix("schoolict-submissions@") == true
            else { return nil }
            return connection["ssl"]?.boolValue ?? false
        }
    }
}
