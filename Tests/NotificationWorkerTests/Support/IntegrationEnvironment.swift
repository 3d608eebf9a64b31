import Foundation
import Shared
import Testing

// Integration harness: a scratch PostgreSQL database, a scratch RabbitMQ virtual host and an SMTP sink of the
// test's own (scripts/smtp_sink.py on a free port, writing to a temporary folder), so these tests never see other
// engineers' workers, queues, rows or mail.

/// Where the servers are: `DATABASE_URL`, `AMQP_URL`, `RABBITMQ_MGMT_URL` (`source .data/env.sh`).
struct IntegrationEnvironment: Sendable {
    static let skipVariable = "SCHOOLICT_SKIP_INTEGRATION"
    static var isSkipped: Bool { ProcessInfo.processInfo.environment[skipVariable] == "1" }

    var databaseURL: String
    var amqpURL: AMQPURL
    var managementURL: String

    static func load(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Self {
        func required(_ name: String) throws -> String {
            guard let value = environment[name]?.trimmingCharacters(in: .whitespaces), !value.isEmpty else {
                throw HarnessFailure("\(name) is not set: run `scripts/servers.sh start` and `source .data/env.sh` "
                                     + "before the NotificationWorker integration tests, or set \(skipVariable)=1 to skip them")
            }
            return value
        }
        var management = try required("RABBITMQ_MGMT_URL")
        while management.hasSuffix("/") { management.removeLast() }
        return Self(databaseURL: try required("DATABASE_URL"), amqpURL: try AMQPURL(parsing: try required("AMQP_URL")),
                    managementURL: management)
    }

    /// The package's root folder (for `scripts/` and `.build/`).
    static let packageRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func suffix() -> String {
        String(UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(12))
    }
}

extension Trait where Self == ConditionTrait {
    /// Off with `SCHOOLICT_SKIP_INTEGRATION=1`; otherwise missing servers fail the tests with a clear message.
    static var notificationIntegration: Self {
        .enabled(if: !IntegrationEnvironment.isSkipped,
                 "\(IntegrationEnvironment.skipVariable)=1 disables the tests that need PostgreSQL, RabbitMQ and SMTP")
    }
}

struct HarnessFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

// MARK: - Scratch database

/// A database created for one test from a connection to `postgres`, migrated, and dropped afterwards.
final class ScratchDatabase {
    let url: String
    let name: String
    private let maintenanceURL: String

    init(_ environment: IntegrationEnvironment) throws {
        name = "notify_" + IntegrationEnvironment.suffix()
        guard var components = URLComponents(string: environment.databaseURL) else {
            throw HarnessFailure("DATABASE_URL is not a URL")
        }
        components.path = "/postgres"
        maintenanceURL = components.string!
        components.path = "/" + name
        url = components.string!
        let maintenance = try PostgresConnection(url: maintenanceURL)
        defer { maintenance.close() }
        try maintenance.execute("CREATE DATABASE \(name)")
    }

    func connect() throws -> PostgresConnection {
        try PostgresConnection(url: url, applicationName: "notification-tests")
    }

    func drop() {
        guard let maintenance = try? PostgresConnection(url: maintenanceURL) else { return }
        defer { maintenance.close() }
        try? maintenance.execute("DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
    }
}

// MARK: - Scratch vhost

/// A RabbitMQ virtual host for one test, through the management API.
final class ScratchVirtualHost {
    let name: String
    let amqpURL: AMQPURL
    private let managementURL: String

    init(_ environment: IntegrationEnvironment) throws {
        name = "notify-" + IntegrationEnvironment.suffix()
        managementURL = environment.managementURL
        var url = environment.amqpURL
        url.virtualHost = name
        amqpURL = url
        try Self.management("PUT", managementURL + "/api/vhosts/" + name, body: nil,
                            user: url.user, password: url.password)
        try Self.management("PUT", managementURL + "/api/permissions/\(name)/\(url.user)",
                            body: #"{"configure":".*","write":".*","read":".*"}"#, user: url.user, password: url.password)
    }

    func delete() {
        try? Self.management("DELETE", managementURL + "/api/vhosts/" + name, body: nil,
                             user: amqpURL.user, password: amqpURL.password)
    }

    /// `curl` is on every machine that runs these tests (scripts/install-deps.sh installs it).
    private static func management(_ method: String, _ url: String, body: String?, user: String, password: String) throws {
        var arguments = ["-sS", "-f", "-u", "\(user):\(password)", "-X", method, "-H", "content-type: application/json"]
        if let body { arguments += ["-d", body] }
        arguments.append(url)
        let result = try Run.capture("/usr/bin/curl", arguments)
        guard result.status == 0 else {
            throw HarnessFailure("management API \(method) \(url) failed: \(result.output)")
        }
    }
}

// MARK: - SMTP sink

/// `scripts/smtp_sink.py` on a free loopback port, writing one `.eml` per message to a folder of its own.
final class SMTPSink {
    let port: Int
    let directory: URL
    private var process: Process?

    var url: String { "smtp://127.0.0.1:\(port)" }

    /// Picks a free port; `start()` launches the sink on it (tests may leave it stopped to simulate a dead server).
    init() throws {
        port = try Self.freePort()
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("notify-sink-" + IntegrationEnvironment.suffix())
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    func start() throws {
        guard process == nil else { return }
        let process = Run.unmasked("/usr/bin/python3", [
            IntegrationEnvironment.packageRoot.appendingPathComponent("scripts/smtp_sink.py").path,
            "--host", "127.0.0.1", "--port", "\(port)", "--dir", directory.path,
        ])
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        self.process = process
        let deadline = Date().addingTimeInterval(15)
        while Date() < deadline {
            if Self.accepts(port: port) { return }
            Thread.sleep(forTimeInterval: 0.05)
        }
        throw HarnessFailure("the SMTP sink did not start on port \(port)")
    }

    func stop() {
        guard let process else { return }
        Run.stop(process)
        self.process = nil
    }

    /// `ok`, `4xx` or `5xx` (read by the sink on every DATA command).
    func setMode(_ mode: String) throws {
        try Data(mode.utf8).write(to: directory.appendingPathComponent(".mode"))
    }

    /// The stored messages, oldest first.
    func messages() throws -> [[UInt8]] {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
            .filter { $0.hasSuffix(".eml") && !$0.hasPrefix(".") }
            .sorted { lhs, rhs in
                // `<timestamp>-<n>.eml`: order by the counter, which is strictly increasing.
                Self.counter(lhs) < Self.counter(rhs)
            }
        return try names.map { Array(try Data(contentsOf: directory.appendingPathComponent($0))) }
    }

    func removeAll() throws {
        for name in try FileManager.default.contentsOfDirectory(atPath: directory.path) where name.hasSuffix(".eml") {
            try FileManager.default.removeItem(at: directory.appendingPathComponent(name))
        }
    }

    func cleanUp() {
        stop()
        try? FileManager.default.removeItem(at: directory)
    }

    private static func counter(_ name: String) -> Int {
        Int(name.split(separator: "-").last?.split(separator: ".").first ?? "") ?? 0
    }

    static func freePort() throws -> Int {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw HarnessFailure("socket() failed") }
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { throw HarnessFailure("bind() failed") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    static func accepts(port: Int) -> Bool {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }
}

// MARK: - Processes

enum Run {
    /// A process for `executable` whose signal mask is cleared first: threads of the test runner block signals, and
    /// a child would inherit that mask and never see SIGTERM.
    static func unmasked(_ executable: String, _ arguments: [String]) -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = ["-c", "import os, signal, sys; signal.pthread_sigmask(signal.SIG_SETMASK, []); "
                                 + "os.execv(sys.argv[1], sys.argv[1:])", executable] + arguments
        return process
    }

    /// SIGTERM, then SIGKILL if the process has not exited within `grace` seconds.
    static func stop(_ process: Process, grace: Double = 10) {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGTERM)
        let deadline = Date().addingTimeInterval(grace)
        while process.isRunning, Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    static func capture(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
