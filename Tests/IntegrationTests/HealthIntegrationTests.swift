import CurlHTTP
import Foundation
import Testing
import TestSupport

@testable import Shared

/// `/healthz` and `/readyz` of a running SubmissionWorker (issue 9): ready while it has its broker and its database,
/// 503 within seconds of losing the database, ready again once it is back, alive throughout.
@Suite("Health integration", .serialized, .integration)
struct HealthIntegrationTests {
    @Test func readinessFollowsTheDatabaseAndLivenessHolds() throws {
        let harness = try IntegrationHarness()
        defer { harness.shutDown() }
        let port = try FreePort.next()
        try harness.startWorker(extra: ["METRICS_PORT": "\(port)"])
        let client = try HTTPClient(baseURL: "http://127.0.0.1:\(port)")
        defer { client.close() }
        func status(_ path: String) -> Int { (try? client.request("GET", path).status) ?? 0 }
        func waitFor(_ path: String, _ expected: Int, within seconds: Double) -> Double? {
            let started = ContinuousClock.now
            while ContinuousClock.now - started < .seconds(seconds) {
                if status(path) == expected {
                    let elapsed = ContinuousClock.now - started
                    return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
                }
                Thread.sleep(forTimeInterval: 0.1)
            }
            return nil
        }
        #expect(waitFor("/readyz", 200, within: 15) != nil, "never ready")
        #expect(status("/healthz") == 200)

        // The database goes away for this worker: new connections refused, its sessions ended.
        let maintenance = try PostgresConnection(url: try ScratchDatabase.url(harness.environment.databaseURL, database: "postgres"))
        defer { maintenance.close() }
        let name = harness.scratchDatabase.name
        try maintenance.execute("ALTER DATABASE \(name) ALLOW_CONNECTIONS false")
        try maintenance.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", [name])
        let down = waitFor("/readyz", 503, within: 10)
        #expect(down != nil, "/readyz did not notice the database going away")
        let body = (try? client.request("GET", "/readyz").text) ?? ""
        #expect(body.contains("database"), "\(body)")
        #expect(!body.contains("postgresql://"), "a URL in the readiness answer: \(body)")
        #expect(status("/healthz") == 200, "the loop still makes progress while it reconnects")

        try maintenance.execute("ALTER DATABASE \(name) ALLOW_CONNECTIONS true")
        let up = waitFor("/readyz", 200, within: 30)
        #expect(up != nil, "/readyz did not recover")
        print("readyz: 503 after \(down.map { String(format: "%.1f", $0) } ?? "-") s, 200 again after \(up.map { String(format: "%.1f", $0) } ?? "-") s")
        // And it works: a command is taken in.
        let outcome = try harness.send(Fixtures.schoolUpsert(id: "after-outage", Fixtures.greekLyceum))
        #expect(outcome.routingKey == "command.accepted.school.upsert")
        try harness.checkWorkers()
    }

    /// AMQP_URL lists a node that does not answer before the real one, DATABASE_URL a host that does not answer
    /// before the real one: the worker uses those that do.
    @Test func aWorkerSkipsABrokerAddressThatDoesNotAnswer() throws {
        let harness = try IntegrationHarness()
        defer { harness.shutDown() }
        let dead = "amqp://guest:guest@127.0.0.1:\(try FreePort.next())/\(harness.virtualHost.name)"
        // And the database in libpq's multi-host form, a host that does not answer first: libpq takes the next.
        var database = URLComponents(string: harness.scratchDatabase.url)!
        let realHost = "\(database.host!):\(database.port!)"
        database.port = nil
        database.host = nil
        let multiHost = database.string!.replacingOccurrences(
            of: "postgresql://postgres@", with: "postgresql://postgres@127.0.0.1:\(try FreePort.next()),\(realHost)")
            + "?target_session_attrs=read-write"
        try harness.startWorker(extra: ["AMQP_URL": dead + "," + harness.virtualHost.amqpURLString, "DATABASE_URL": multiHost])
        let outcome = try harness.send(Fixtures.schoolUpsert(id: "via-second-node", Fixtures.greekLyceum), timeout: .seconds(30))
        #expect(outcome.routingKey == "command.accepted.school.upsert")
        try harness.checkWorkers()
    }
}
