import Foundation
import Shared
import TestSupport
import Testing

// Integration harness: a scratch PostgreSQL database, a scratch RabbitMQ virtual host and an SMTP sink of the
// test's own (scripts/smtp_sink.py on a free port, writing to a temporary folder), so these tests never see other
// engineers' workers, queues, rows or mail.

extension TestEnvironment {
    /// The package's root folder (for `scripts/` and `.build/`).
    static let packageRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
}

extension Trait where Self == ConditionTrait {
    /// Off with `SCHOOLICT_SKIP_INTEGRATION=1`; otherwise missing servers fail the tests with a clear message.
    static var notificationIntegration: Self {
        .enabled(if: !TestEnvironment.isSkipped,
                 "\(TestEnvironment.skipVariable)=1 disables the tests that need PostgreSQL, RabbitMQ and SMTP")
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
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("notify-sink-" + TestEnvironment.randomSuffix())
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    func start() throws {
        guard process == nil else { return }
        let process = Run.unmasked("/usr/bin/python3", [
            TestEnvironment.packageRoot.appendingPathComponent("scripts/smtp_sink.py").path,
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
        throw HarnessError("the SMTP sink did not start on port \(port)")
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

    static func freePort() throws -> Int { try FreePort.next() }

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
