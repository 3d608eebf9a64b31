import CurlHTTP
import Foundation
import Testing
import TestSupport

@testable import Shared

/// `schoolict provision` against the project's own servers (issue 8): every principal gets only what it needs, the
/// broker and the database refuse the rest, and the three workers run end to end under their own identities.
@Suite("Provisioning integration", .serialized, .integration)
struct ProvisioningIntegrationTests {
    typealias F = Fixtures

    /// A scratch vhost and database provisioned into a secrets folder of the test's own. The folder starts with
    /// the passwords `scripts/servers.sh` provisioned (`SCHOOLICT_SECRETS_DIR`), so the broker users it shares
    /// with the local servers keep working.
    final class Provisioned {
        let environment: TestEnvironment
        let vhost: ScratchVirtualHost
        let database: ScratchDatabase
        let secrets: URL

        init() throws {
            environment = try TestEnvironment.load()
            vhost = try ScratchVirtualHost(environment: environment)
            database = try ScratchDatabase(environment: environment)
            secrets = FileManager.default.temporaryDirectory.appendingPathComponent("schoolict-secrets-" + TestEnvironment.randomSuffix())
            try FileManager.default.createDirectory(at: secrets, withIntermediateDirectories: true)
            if let shared = ProcessInfo.processInfo.environment["SCHOOLICT_SECRETS_DIR"],
               let names = try? FileManager.default.contentsOfDirectory(atPath: shared) {
                for name in names where name.hasSuffix(".url") {
                    try? FileManager.default.copyItem(atPath: shared + "/" + name, toPath: secrets.appendingPathComponent(name).path)
                }
            }
        }

        func shutDown() {
            vhost.delete()
            database.drop()
            try? FileManager.default.removeItem(at: secrets)
        }

        /// Runs `schoolict provision` for the scratch vhost and database.
        func provision() throws -> String {
            var management = URLComponents(string: environment.managementURL)!
            management.user = environment.amqpURL.user
            management.password = environment.amqpURL.password
            return try CLI.run(["provision", "--amqp-url", vhost.amqpURLString, "--management-url", management.string!,
                                "--database-url", database.url, "--secrets", secrets.path])
        }

        func url(_ name: String) throws -> String {
            try String(contentsOf: secrets.appendingPathComponent(name + ".url"), encoding: .utf8)
                .trimmingCharacters(in: .whitespacesAndNewlines)
        }

        func amqp(_ user: String) throws -> AMQPConnection {
            try AMQPConnection(url: try AMQPURL(parsing: try url("amqp-\(user)")))
        }

        /// Runs `body` on a new connection of `user`, closed afterwards.
        func attempt(_ user: String, _ body: (AMQPConnection) throws -> Void) throws {
            let connection = try amqp(user)
            defer { connection.close() }
            try body(connection)
        }

        func postgres(_ role: String) throws -> PostgresConnection {
            try PostgresConnection(url: try url("db-\(role)"), applicationName: "schoolict-tests")
        }
    }

    enum CLI {
        /// Runs the `schoolict` executable; throws with its output when it fails.
        static func run(_ arguments: [String], environment: [String: String] = ProcessInfo.processInfo.environment) throws -> String {
            let process = Process()
            process.executableURL = try WorkerProcess.locate("schoolict")
            process.arguments = arguments
            process.environment = environment
            let pipe = Pipe()
            process.standardOutput = pipe
            process.standardError = pipe
            try process.run()
            let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            guard process.terminationStatus == 0 else {
                throw HarnessError("schoolict \(arguments.first ?? "") failed (\(process.terminationStatus)): \(output)")
            }
            return output
        }
    }

    static func expectRefused(_ what: String, code: UInt16 = 403, sourceLocation: SourceLocation = #_sourceLocation,
                              _ body: () throws -> Void) {
        do {
            try body()
            Issue.record("\(what) was allowed", sourceLocation: sourceLocation)
        } catch let error as AMQPError {
            #expect(error.replyCode == code, "\(what): \(error)", sourceLocation: sourceLocation)
        } catch let error as PostgresError {
            // 25006: the operator's sessions are read-only before its privileges are even looked at.
            #expect(["42501", "25006"].contains(error.sqlState ?? ""), "\(what): \(error)", sourceLocation: sourceLocation)
        } catch {
            Issue.record("\(what): \(error)", sourceLocation: sourceLocation)
        }
    }

    @Test func provisioningIsIdempotentAndKeepsSecretsToTheOwner() throws {
        let setup = try Provisioned()
        defer { setup.shutDown() }
        _ = try setup.provision()
        let files = try FileManager.default.contentsOfDirectory(atPath: setup.secrets.path).filter { $0.hasSuffix(".url") }.sorted()
        #expect(files == ["amqp-allocation-worker.url", "amqp-monitor.url", "amqp-notification-worker.url", "amqp-operator.url",
                          "amqp-portal.url", "amqp-submission-worker.url", "db-allocation.url", "db-notification.url",
                          "db-operator.url", "db-owner.url", "db-submission.url"])
        var before: [String: String] = [:]
        for file in files {
            let attributes = try FileManager.default.attributesOfItem(atPath: setup.secrets.appendingPathComponent(file).path)
            #expect((attributes[.posixPermissions] as? Int) == 0o600, "\(file)")
            before[file] = try setup.url(String(file.dropLast(4)))
        }
        let folder = try FileManager.default.attributesOfItem(atPath: setup.secrets.path)
        #expect((folder[.posixPermissions] as? Int) == 0o700)
        // Again: the same passwords, nothing broken.
        _ = try setup.provision()
        for file in files { #expect(try setup.url(String(file.dropLast(4))) == before[file], "\(file) changed") }
        let database = try setup.postgres("owner")
        defer { database.close() }
        #expect(try Migrator.missingVersions(database).isEmpty)
        // Dead letters expire (they may hold personal data): the policy reaches every dead-letter queue.
        var management = URLComponents(string: setup.environment.managementURL)!
        management.user = setup.environment.amqpURL.user
        management.password = setup.environment.amqpURL.password
        let api = try HTTPClient(baseURL: management.string!)
        defer { api.close() }
        let policy = try JSONParser.parse(try api.expectSuccess("GET", "/api/policies/\(setup.vhost.name)/schoolict-dead-letter-ttl").body)
        #expect(policy["definition"]?["message-ttl"]?.intValue == 14 * 86_400_000)
        let pattern = try #require(policy["pattern"]?.stringValue)
        for queue in ["submissions.dead", "allocations.dead", "notifications.dead"] {
            #expect(queue.range(of: pattern, options: .regularExpression) != nil, "\(queue) not matched by \(pattern)")
        }
        #expect("submissions".range(of: pattern, options: .regularExpression) == nil)
        // No role is a superuser or may create roles or databases.
        let powerful = try database.query("""
            SELECT count(*)::int FROM pg_roles WHERE rolname LIKE 'schoolict\\_%' AND (rolsuper OR rolcreaterole OR rolcreatedb)
            """)[0].int(0)
        #expect(powerful == 0)
    }

    @Test func eachPrincipalIsRefusedWhatItDoesNotNeed() throws {
        let setup = try Provisioned()
        defer { setup.shutDown() }
        _ = try setup.provision()
        let submission = F.inventory(id: "p-1", items: [F.item("desktop", quantity: 1, year: 2015)])
        let command = F.greekCampaignUpsert(id: "p-2")

        // The portal publishes submissions, and nothing else.
        let portal = try setup.amqp("portal")
        try portal.publishConfirmed([submission])
        portal.close()
        Self.expectRefused("the portal publishing a command") { try setup.attempt("portal") { c in try c.publishConfirmed([command]) } }
        Self.expectRefused("the portal reading a queue") {
            try setup.attempt("portal") { c in try c.startConsuming(queue: "submissions", prefetch: 1) }
        }
        Self.expectRefused("the portal binding a queue") {
            try setup.attempt("portal") { c in try c.bindQueue("submissions", exchange: Topology.Exchange.commands, routingKey: "#") }
        }
        Self.expectRefused("the portal declaring a queue") {
            try setup.attempt("portal") { c in try c.declareQueue("portal-own") }
        }
        // The operator publishes commands and reads nothing.
        let operatorConnection = try setup.amqp("operator")
        try operatorConnection.publishConfirmed([command])
        operatorConnection.close()
        Self.expectRefused("the operator publishing a submission") {
            try setup.attempt("operator") { c in try c.publishConfirmed([submission]) }
        }
        Self.expectRefused("the operator reading a queue") {
            try setup.attempt("operator") { c in try c.startConsuming(queue: "submissions", prefetch: 1) }
        }
        // Workers consume their own queue and publish events; they cannot declare, nor read another's queue.
        for user in ["submission-worker", "allocation-worker", "notification-worker"] {
            Self.expectRefused("\(user) declaring an exchange") {
                try setup.attempt(user) { c in try c.declareExchange("rogue") }
            }
            Self.expectRefused("\(user) publishing a command") {
                try setup.attempt(user) { c in try c.publishConfirmed([command]) }
            }
        }
        Self.expectRefused("the allocation worker reading the submissions queue") {
            try setup.attempt("allocation-worker") { c in try c.startConsuming(queue: "submissions", prefetch: 1) }
        }

        // Database: no worker role may create or drop tables; the notification role cannot read names.
        for role in ["submission", "allocation", "notification", "operator"] {
            let database = try setup.postgres(role)
            defer { database.close() }
            Self.expectRefused("\(role) creating a table") { try database.execute("CREATE TABLE rogue (x int)") }
            Self.expectRefused("\(role) dropping a table") { try database.execute("DROP TABLE outbox") }
        }
        let notification = try setup.postgres("notification")
        defer { notification.close() }
        Self.expectRefused("the notification role reading names") { _ = try notification.query("SELECT full_name FROM students") }
        Self.expectRefused("the notification role reading any student") { _ = try notification.query("SELECT student_ref FROM students") }
        let allocation = try setup.postgres("allocation")
        defer { allocation.close() }
        Self.expectRefused("the allocation role reading names") { _ = try allocation.query("SELECT full_name FROM students") }
        _ = try allocation.query("SELECT student_ref, category FROM students")
        Self.expectRefused("the allocation role writing names") {
            try allocation.execute("UPDATE students SET full_name = 'x'")
        }
        let operatorDatabase = try setup.postgres("operator")
        defer { operatorDatabase.close() }
        Self.expectRefused("the operator reading names") { _ = try operatorDatabase.query("SELECT full_name FROM students") }
        Self.expectRefused("the operator reading donor names") { _ = try operatorDatabase.query("SELECT donor_name FROM donations") }
        do {
            try operatorDatabase.execute("INSERT INTO schema_migrations (version, name) VALUES (999, 'x')")
            Issue.record("the operator wrote")
        } catch {
            #expect(["42501", "25006"].contains(error.sqlState ?? ""), "\(error)")
        }
    }

    @Test func allThreeWorkersRunEndToEndUnderTheirOwnRoles() throws {
        let setup = try Provisioned()
        defer { setup.shutDown() }
        _ = try setup.provision()
        var base = ProcessInfo.processInfo.environment
        base["METRICS_PORT"] = nil
        base["LOG_LEVEL"] = "warning"
        base["SCHOOLICT_NOW"] = IntegrationHarness.defaultNow
        let logs = setup.secrets.appendingPathComponent("logs")
        try FileManager.default.createDirectory(at: logs, withIntermediateDirectories: true)
        var workers: [WorkerProcess] = []
        defer { workers.forEach { $0.crash() } }
        for (executable, user, role) in [("SubmissionWorker", "submission-worker", "submission"),
                                         ("AllocationWorker", "allocation-worker", "allocation"),
                                         ("NotificationWorker", "notification-worker", "notification")] {
            var environment = base
            environment["AMQP_URL"] = try setup.url("amqp-\(user)")
            environment["DATABASE_URL"] = try setup.url("db-\(role)")
            workers.append(try WorkerProcess(executable: executable, environment: environment,
                                             logFile: logs.appendingPathComponent(executable + ".log")))
        }
        // Outcomes and events, read as the monitor.
        let monitor = try OutcomeCollector(url: try AMQPURL(parsing: try setup.url("amqp-monitor")))
        defer { monitor.close() }
        let operatorConnection = try setup.amqp("operator")
        defer { operatorConnection.close() }
        let portal = try setup.amqp("portal")
        defer { portal.close() }
        func check() throws {
            if let dead = workers.first(where: \.exitedUnexpectedly) {
                throw HarnessError("\(dead.name) exited: \(dead.logTail())")
            }
        }

        try operatorConnection.publishConfirmed(F.registry)
        let registered = try monitor.awaitAnswers(to: F.registry.map(\.messageID), timeout: .seconds(30), abort: check)
        #expect(registered.isEmpty, "registry outcomes missing: \(registered)")
        let report = F.needsReport(id: "needs-1", students: [F.student("HS-0001", "Nguyễn Văn An", grade: 4, "covid_orphan")])
        let donation = F.donation(id: "donation-1", ref: "DN-1", devices: [F.device("LT-000123")])
        try portal.publishConfirmed([report, donation])
        #expect(try monitor.awaitAnswers(to: ["needs-1", "donation-1"], timeout: .seconds(30), abort: check).isEmpty)
        #expect(monitor.outcomes(of: "needs-1").first?.routingKey == "submission.accepted.device_need_report")
        try operatorConnection.publishConfirmed([F.allocationRun(id: "run-cmd-1", campaign: F.vietnameseCampaign)])
        #expect(try monitor.awaitAnswers(to: ["run-cmd-1"], timeout: .seconds(30), abort: check).isEmpty)
        #expect(monitor.outcomes(of: "run-cmd-1").first?.routingKey == "command.accepted.allocation.run")

        // The NotificationWorker plans the school's allocation notice under its role (it reads no name to do so).
        let owner = try setup.postgres("owner")
        defer { owner.close() }
        let deadline = ContinuousClock.now + .seconds(30)
        var notices = 0
        while ContinuousClock.now < deadline {
            notices = try owner.query("SELECT count(*)::int FROM notifications WHERE kind = 'allocation_notice'")[0].int(0)
            if notices > 0 { break }
            try check()
            Thread.sleep(forTimeInterval: 0.2)
        }
        #expect(notices == 1)
        #expect(try owner.query("SELECT count(*)::int FROM allocations")[0].int(0) == 1)
        try check()
    }
}
