import Foundation
import Shared

// The servers integration tests run against, and the scratch database and virtual host each harness works in
// (removed afterwards), so suites never consume each other's messages nor see each other's rows. Used by the
// IntegrationTests and NotificationWorkerTests targets.

// MARK: - Environment

/// Where the servers are: `AMQP_URL`, `DATABASE_URL` and `RABBITMQ_MGMT_URL` (`scripts/servers.sh start` writes
/// them to `.data/env.sh`).
///
/// Unset variables make the tests fail with a message saying how to set them; `SCHOOLICT_SKIP_INTEGRATION=1`
/// disables the suites instead (see ``Trait/integration``).
public struct TestEnvironment: Sendable {
    public static let skipVariable = "SCHOOLICT_SKIP_INTEGRATION"

    public static var isSkipped: Bool { ProcessInfo.processInfo.environment[skipVariable] == "1" }

    /// The broker as configured (its vhost is replaced by each harness's scratch vhost).
    public var amqpURL: AMQPURL
    public var databaseURL: String
    /// The RabbitMQ management API, e.g. `http://127.0.0.1:15672` (no trailing slash).
    public var managementURL: String

    public static func load(from environment: [String: String] = ProcessInfo.processInfo.environment) throws -> TestEnvironment {
        func required(_ name: String) throws -> String {
            guard let value = environment[name]?.trimmingCharacters(in: .whitespaces), !value.isEmpty else {
                throw HarnessError("\(name) is not set: run `scripts/servers.sh start` and `source .data/env.sh` "
                                   + "before the integration tests, or set \(skipVariable)=1 to skip them")
            }
            return value
        }
        let amqp = try required("AMQP_URL")
        let database = try required("DATABASE_URL")
        var management = try required("RABBITMQ_MGMT_URL")
        while management.hasSuffix("/") { management.removeLast() }
        return TestEnvironment(amqpURL: try AMQPURL(parsing: amqp), databaseURL: database, managementURL: management)
    }
}


/// A setup step or a wait that did not work out; its description says what and, for waits, shows the
/// worker's log.
public struct HarnessError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

extension TestEnvironment {
    /// A short random lowercase hex name part, safe in SQL identifiers and vhost names.
    public static func randomSuffix() -> String {
        String(UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(12))
    }
}

// MARK: - Scratch database

/// A PostgreSQL database created for one harness and dropped (with `FORCE`) when it is done.
public final class ScratchDatabase {
    public let name: String
    /// `DATABASE_URL` with this database's name as its path.
    public let url: String
    private let maintenanceURL: String
    private var dropped = false

    public init(environment: TestEnvironment) throws {
        name = "it_" + TestEnvironment.randomSuffix()
        maintenanceURL = try Self.url(environment.databaseURL, database: "postgres")
        url = try Self.url(environment.databaseURL, database: name)
        let maintenance = try PostgresConnection(url: maintenanceURL, applicationName: "schoolict-tests")
        defer { maintenance.close() }
        // Identifiers cannot be parameters; this one is generated here from hex digits only.
        try maintenance.execute("CREATE DATABASE \(name)")
    }

    /// A new connection to this database.
    public func connect(applicationName: String = "schoolict-tests") throws -> PostgresConnection {
        try PostgresConnection(url: url, applicationName: applicationName)
    }

    /// Drops the database, ending any session still connected to it (a killed worker's, say).
    public func drop() {
        guard !dropped else { return }
        dropped = true
        do {
            let maintenance = try PostgresConnection(url: maintenanceURL, applicationName: "schoolict-tests")
            defer { maintenance.close() }
            try maintenance.execute("DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
        } catch {
            print("warning: could not drop scratch database \(name): \(error)")
        }
    }

    deinit { drop() }

    /// A libpq URI naming another database on the same server, with the same user and parameters.
    public static func url(_ base: String, database: String) throws -> String {
        guard base.contains("://"), var components = URLComponents(string: base) else {
            throw HarnessError("DATABASE_URL must be a postgresql:// URI for the integration tests")
        }
        components.path = "/" + database
        guard let url = components.string else {
            throw HarnessError("DATABASE_URL could not be rewritten to name database \(database)")
        }
        return url
    }
}

// MARK: - Scratch virtual host

/// A RabbitMQ virtual host created through the management API for one harness, deleted when it is done.
public final class ScratchVirtualHost {
    public let name: String
    /// `AMQP_URL` pointing at this vhost.
    public let amqpURL: AMQPURL
    private let managementURL: String
    private let credentials: String
    private var deleted = false

    public init(environment: TestEnvironment) throws {
        name = "it-" + TestEnvironment.randomSuffix()
        var url = environment.amqpURL
        url.virtualHost = name
        amqpURL = url
        managementURL = environment.managementURL
        credentials = "\(environment.amqpURL.user):\(environment.amqpURL.password)"
        try request("PUT", "/api/vhosts/\(name)", body: #"{"description":"schoolict integration test"}"#,
                    expecting: [201, 204])
        do {
            try request("PUT", "/api/permissions/\(name)/\(environment.amqpURL.user)",
                        body: #"{"configure":".*","write":".*","read":".*"}"#, expecting: [201, 204])
        } catch {
            delete()
            throw error
        }
    }

    /// The `amqp://` URL a worker process gets in `AMQP_URL`.
    public var amqpURLString: String {
        let scheme = amqpURL.useTLS ? "amqps" : "amqp"
        return "\(scheme)://\(Self.encode(amqpURL.user)):\(Self.encode(amqpURL.password))@\(amqpURL.host):\(amqpURL.port)/\(name)"
    }

    public func delete() {
        guard !deleted else { return }
        deleted = true
        do {
            try request("DELETE", "/api/vhosts/\(name)", expecting: [204, 404])
        } catch {
            print("warning: could not delete scratch vhost \(name): \(error)")
        }
    }

    deinit { delete() }

    /// This vhost's connections as the management API lists them (a connection shows a few seconds after it
    /// opens): `name`, `ssl`, `client_properties.connection_name`, ….
    public func connections() throws -> [JSONValue] {
        let output = try Self.run("/usr/bin/env", ["curl", "-fsS", "--max-time", "20", "-u", credentials,
                                                   managementURL + "/api/vhosts/\(name)/connections"])
        guard case .array(let connections) = try JSONParser.parse(Array(output.utf8)) else {
            throw HarnessError("the management API did not list the connections of \(name)")
        }
        return connections
    }

    /// Closes a connection as an operator (or a broker restart) would; false when it was already gone.
    public func closeConnection(named connection: String) throws -> Bool {
        let path = "/api/connections/" + Self.encode(connection)
        let output = try Self.run("/usr/bin/env", [
            "curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "20", "-u", credentials,
            "-X", "DELETE", "-H", "X-Reason: integration test: the broker drops the connection", managementURL + path,
        ])
        switch output.trimmingCharacters(in: .whitespacesAndNewlines) {
        case "204", "200": return true
        case "404": return false
        default: throw HarnessError("RabbitMQ management API DELETE \(path) answered '\(output)'")
        }
    }

    /// One management API call through `curl` (installed with the servers; simpler and sturdier here than
    /// URLSession, whose Linux implementation varies between toolchains).
    private func request(_ method: String, _ path: String, body: String? = nil, expecting statuses: Set<Int>) throws {
        var arguments = ["-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "20", "-u", credentials,
                         "-X", method, "-H", "content-type: application/json"]
        if let body { arguments += ["--data", body] }
        arguments.append(managementURL + path)
        let output = try Self.run("/usr/bin/env", ["curl"] + arguments)
        guard let status = Int(output.trimmingCharacters(in: .whitespacesAndNewlines)), statuses.contains(status) else {
            throw HarnessError("RabbitMQ management API \(method) \(path) answered '\(output)' (is RABBITMQ_MGMT_URL right?)")
        }
    }

    private static func encode(_ part: String) -> String {
        part.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? part
    }

    /// Runs a tool to completion and returns its standard output; a non-zero exit status is an error.
    private static func run(_ executable: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let outputData = output.fileHandleForReading.readDataToEndOfFile()
        let errorData = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: outputData, as: UTF8.self)
        guard process.terminationStatus == 0 else {
            throw HarnessError("\(arguments.first ?? executable) exited with \(process.terminationStatus): "
                               + String(decoding: errorData, as: UTF8.self) + text)
        }
        return text
    }
}

