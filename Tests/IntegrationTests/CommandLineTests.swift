import Foundation
import Testing

@testable import Shared

/// Every executable answers `--help` and `--version` instead of starting, and refuses what it does not know.
@Suite("Command lines")
struct CommandLineTests {
    static func run(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = try WorkerProcess.locate(executable)
        process.arguments = arguments
        // No servers: a worker that started instead of answering would try to connect and never exit by itself.
        process.environment = ["AMQP_URL": "amqp://nobody:x@127.0.0.1:1/%2f", "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/x"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let deadline = Date().addingTimeInterval(10)
        while process.isRunning, Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
            return (-1, "did not exit")
        }
        return (process.terminationStatus, String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self))
    }

    @Test("--version and --help", arguments: ["SubmissionWorker", "AllocationWorker", "NotificationWorker", "schoolict"])
    func versionAndHelp(executable: String) throws {
        let version = try Self.run(executable, ["--version"])
        #expect(version.status == 0)
        #expect(version.output.contains(SchoolICT.version), "\(version.output)")
        let help = try Self.run(executable, ["--help"])
        #expect(help.status == 0)
        #expect(help.output.lowercased().contains("usage"), "\(help.output)")
    }

    @Test("an unknown argument is refused", arguments: ["SubmissionWorker", "AllocationWorker", "NotificationWorker"])
    func unknownArgument(executable: String) throws {
        let result = try Self.run(executable, ["--frobnicate"])
        #expect(result.status != 0 && result.status != -1, "\(result)")
    }
}
