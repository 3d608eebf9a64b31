import Foundation
import Logging
import TestSupport
import Testing

@testable import Shared

// Helpers for integration tests that run the real workers against the real RabbitMQ and PostgreSQL.
//
// Every harness works in a scratch PostgreSQL database and a scratch RabbitMQ virtual host of its own, both
// removed afterwards, so suites never consume each other's messages (all SubmissionWorkers share the one
// `submissions` queue of a vhost) and never see each other's rows.

extension Trait where Self == ConditionTrait {
    /// Disables a suite when `SCHOOLICT_SKIP_INTEGRATION=1`; otherwise missing servers fail its tests.
    static var integration: Self {
        .enabled(if: !TestEnvironment.isSkipped,
                 "\(TestEnvironment.skipVariable)=1 disables the tests that need RabbitMQ and PostgreSQL")
    }
}

// MARK: - Worker process

/// A worker executable (`.build/<configuration>/SubmissionWorker`, …) running as a child process.
final class WorkerProcess {
    let name: String
    let logFile: URL
    private let process: Process
    /// Set when the test stopped or killed it on purpose; an exit without it is a failure.
    private(set) var stopRequested = false

    init(executable: String, environment: [String: String], logFile: URL) throws {
        name = executable
        self.logFile = logFile
        process = Process()
        process.executableURL = try Self.locate(executable)
        process.environment = environment
        guard FileManager.default.createFile(atPath: logFile.path, contents: nil) else {
            throw HarnessError("could not create the worker log \(logFile.path)")
        }
        let log = try FileHandle(forWritingTo: logFile)
        process.standardOutput = log
        process.standardError = log
        try process.run()
        try? log.close()
    }

    var pid: Int32 { process.processIdentifier }
    var isRunning: Bool { process.isRunning }
    /// Exited without the test asking it to.
    var exitedUnexpectedly: Bool { !stopRequested && !process.isRunning }

    /// Sends SIGTERM (graceful shutdown) and waits up to `timeout` for the exit.
    /// Returns the exit status, or `nil` if it is still running.
    @discardableResult
    func terminate(timeout: Duration = .seconds(10)) -> Int32? {
        stopRequested = true
        if process.isRunning { kill(process.processIdentifier, SIGTERM) }
        return waitForExit(timeout: timeout)
    }

    /// SIGKILL: the crash case; nothing in flight is acknowledged.
    func crash() {
        stopRequested = true
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        _ = waitForExit(timeout: .seconds(10))
    }

    /// The exit status once the process has exited within `timeout` (signals count as non-zero).
    func waitForExit(timeout: Duration) -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning, ContinuousClock.now < deadline {
            Thread.sleep(forTimeInterval: 0.02)
        }
        guard !process.isRunning else { return nil }
        // Let Foundation reap it and record the status.
        process.waitUntilExit()
        return process.terminationReason == .exit ? process.terminationStatus : 128 + process.terminationStatus
    }

    /// The last lines the worker logged, for failure messages.
    func logTail(lines: Int = 30) -> String {
        guard let data = FileManager.default.contents(atPath: logFile.path) else { return "(no log)" }
        let all = String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        return all.suffix(lines).joined(separator: "\n")
    }

    /// Finds a product next to the running test binary (`.build/<triple>/debug/…`), or failing that in the
    /// package's `.build/debug`; `SCHOOLICT_BUILD_DIR` overrides both.
    static func locate(_ executable: String) throws -> URL {
        var directories: [URL] = []
        if let override = ProcessInfo.processInfo.environment["SCHOOLICT_BUILD_DIR"] {
            directories.append(URL(fileURLWithPath: override))
        }
        if let testBinary = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            directories.append(URL(fileURLWithPath: testBinary).deletingLastPathComponent())
        }
        if let bundle = Bundle.main.executableURL {
            directories.append(bundle.deletingLastPathComponent())
        }
        // Tests/IntegrationTests/Support/TestEnvironment.swift → the package root.
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        directories.append(root.appendingPathComponent(".build/debug"))
        for directory in directories {
            let candidate = directory.appendingPathComponent(executable)
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        throw HarnessError("no \(executable) executable in \(directories.map(\.path)): run `swift build` first")
    }
}

// MARK: - Outcomes

/// One event seen on `schools.events`.
struct ObservedOutcome: Sendable, Equatable {
    var routingKey: String
    var messageID: String?
    var correlationID: String?
    var body: JSONValue
    /// The W3C trace context the event carried.
    var trace: TraceContext? = nil

    var status: String? { body["status"]?.stringValue }
    var summary: JSONValue? { body["summary"] }
    var errorCodes: [String] { body["errors"]?.arrayValue?.compactMap { $0["code"]?.stringValue } ?? [] }
    var errorFields: [String] { body["errors"]?.arrayValue?.compactMap { $0["field"]?.stringValue } ?? [] }
}

/// Collects every event published to `schools.events` in a vhost: a temporary queue bound with `#`.
///
/// Owns its AMQP connection; used from the test's own thread only.
final class OutcomeCollector {
    private let connection: AMQPConnection
    private(set) var all: [ObservedOutcome] = []
    /// Events by `correlation_id` (the message id of the submission or command), in arrival order.
    private(set) var byCorrelationID: [String: [ObservedOutcome]] = [:]

    init(url: AMQPURL) throws {
        connection = try AMQPConnection.withContractTopology(url: url)
        do {
            let queue = try connection.declareTemporaryQueue(bindingTo: Topology.Exchange.events, routingKeys: ["#"])
            try connection.startConsuming(queue: queue, prefetch: 2000)
        } catch {
            connection.close()
            throw error
        }
    }

    func close() { connection.close() }

    /// Every event about `messageID`, in arrival order.
    func outcomes(of messageID: String) -> [ObservedOutcome] { byCorrelationID[messageID] ?? [] }

    /// Reads events until `done`, asked after each new event, returns true, or until `timeout` passes;
    /// `abort` is called between reads and may throw (a worker that died, say). Returns whether `done` held.
    @discardableResult
    func collect(timeout: Duration, abort: () throws -> Void = {},
                 until done: (ObservedOutcome) -> Bool) throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        var lastAbortCheck = ContinuousClock.now
        while ContinuousClock.now < deadline {
            if ContinuousClock.now - lastAbortCheck > .milliseconds(250) {
                lastAbortCheck = .now
                try abort()
            }
            guard let delivery = try connection.nextDelivery(timeout: .milliseconds(100)) else {
                try abort()
                continue
            }
            let outcome = record(delivery)
            try connection.ack(delivery.deliveryTag)
            if done(outcome) { return true }
        }
        return false
    }

    /// Waits until each of `messageIDs` has at least `count` events; returns the ids still short of that.
    func awaitAnswers(to messageIDs: some Sequence<String>, count: Int = 1, timeout: Duration,
                      abort: () throws -> Void = {}) throws -> Set<String> {
        var missing = Set(messageIDs.filter { outcomes(of: $0).count < count })
        guard !missing.isEmpty else { return [] }
        try collect(timeout: timeout, abort: abort) { outcome in
            if let id = outcome.correlationID, missing.contains(id), outcomes(of: id).count >= count {
                missing.remove(id)
            }
            return missing.isEmpty
        }
        return missing
    }

    /// Reads whatever arrives during `duration` (to catch late duplicates).
    func drain(for duration: Duration) throws {
        try collect(timeout: duration) { _ in false }
    }

    private func record(_ delivery: AMQPDelivery) -> ObservedOutcome {
        let body = (try? JSONParser.parse(delivery.body)) ?? .string(String(decoding: delivery.body, as: UTF8.self))
        let outcome = ObservedOutcome(routingKey: delivery.routingKey, messageID: delivery.messageID,
                                      correlationID: delivery.correlationID, body: body, trace: delivery.trace)
        all.append(outcome)
        byCorrelationID[delivery.correlationID ?? "", default: []].append(outcome)
        return outcome
    }
}

// MARK: - Harness

/// A scratch vhost and database, a publisher, an outcome collector and the worker processes of one test.
///
/// Call ``shutDown()`` at the end (`defer`): it kills the workers and removes the vhost and database.
final class IntegrationHarness {
    /// `SCHOOLICT_NOW` for the workers: a week after the Greek campaign's deadline, so the fixtures' 2021 and
    /// January 2022 dates lie in the past.
    static let defaultNow = "2022-02-01T10:00:00+02:00"

    let environment: TestEnvironment
    let virtualHost: ScratchVirtualHost
    let scratchDatabase: ScratchDatabase
    /// A connection to the scratch database (migrated), for the test's queries.
    let database: PostgresConnection
    let publisher: AMQPConnection
    let outcomes: OutcomeCollector
    let executable: String
    private(set) var workers: [WorkerProcess] = []
    private let logDirectory: URL
    private var isShutDown = false

    init(executable: String = "SubmissionWorker") throws {
        self.executable = executable
        environment = try TestEnvironment.load()
        _ = try WorkerProcess.locate(executable)
        logDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("schoolict-it-" + TestEnvironment.randomSuffix())
        try FileManager.default.createDirectory(at: logDirectory, withIntermediateDirectories: true)
        let virtualHost = try ScratchVirtualHost(environment: environment)
        let scratchDatabase: ScratchDatabase
        do {
            scratchDatabase = try ScratchDatabase(environment: environment)
        } catch {
            virtualHost.delete()
            throw error
        }
        self.virtualHost = virtualHost
        self.scratchDatabase = scratchDatabase
        var opened: [() -> Void] = [{ scratchDatabase.drop() }, { virtualHost.delete() }]
        do {
            let database = try PostgresConnection(url: scratchDatabase.url, applicationName: "schoolict-tests")
            opened.insert({ database.close() }, at: 0)
            var logger = Logger(label: "test.migrator")
            logger.logLevel = .warning
            try Migrator.migrate(database, logger: logger)
            let publisher = try AMQPConnection(url: virtualHost.amqpURL)
            opened.insert({ publisher.close() }, at: 0)
            try publisher.declare(.contract)
            try publisher.enableConfirms()
            outcomes = try OutcomeCollector(url: virtualHost.amqpURL)
            self.database = database
            self.publisher = publisher
        } catch {
            opened.forEach { $0() }
            throw error
        }
    }

    deinit { shutDown() }

    /// Starts a worker on the scratch vhost and database.
    @discardableResult
    func startWorker(batchSize: Int? = nil, now: String? = IntegrationHarness.defaultNow,
                     extra: [String: String] = [:]) throws -> WorkerProcess {
        var variables = workerEnvironment(now: now)
        variables["BATCH_SIZE"] = batchSize.map(String.init)
        variables.merge(extra) { _, new in new }
        let log = logDirectory.appendingPathComponent("\(executable)-\(workers.count + 1).log")
        let worker = try WorkerProcess(executable: executable, environment: variables, logFile: log)
        workers.append(worker)
        return worker
    }

    /// This process's environment pointed at the scratch vhost and database, with quiet logs, no metrics port
    /// and the school clock at `now`: what every worker started by a test runs with.
    func workerEnvironment(now: String?) -> [String: String] {
        var variables = ProcessInfo.processInfo.environment
        variables["METRICS_PORT"] = nil
        variables["AMQP_URL"] = virtualHost.amqpURLString
        variables["DATABASE_URL"] = scratchDatabase.url
        variables["LOG_LEVEL"] = "warning"
        variables["SCHOOLICT_NOW"] = now
        return variables
    }

    /// Publishes and waits for the broker's confirms.
    func publish(_ messages: [AMQPMessage]) throws {
        try publisher.publishConfirmed(messages)
    }

    func publish(_ messages: AMQPMessage...) throws {
        try publish(messages)
    }

    static let blockerQueue = "it-refuse-events"

    /// Makes the broker refuse (nack) every event published to `schools.events` from now on: a bound queue
    /// of length 0 that rejects publishes. A worker then commits its batch but never sees its outcomes
    /// confirmed, so it must not acknowledge the batch. (The other bound queues still get the events.)
    func refuseEvents() throws {
        try publisher.declareQueue(Self.blockerQueue, arguments: [("x-max-length", .int(0)),
                                                                  ("x-overflow", .string("reject-publish"))])
        try publisher.bindQueue(Self.blockerQueue, exchange: Topology.Exchange.events, routingKey: "#")
    }

    /// Ends ``refuseEvents()``.
    func acceptEvents() throws {
        try publisher.deleteQueue(Self.blockerQueue)
    }

    /// Waits until every message id has `count` outcomes; returns the first outcome of each.
    /// Fails early, with the worker's log, when a worker exits without being asked to.
    @discardableResult
    func awaitOutcomes(_ messageIDs: [String], count: Int = 1,
                       timeout: Duration = .seconds(30)) throws -> [String: ObservedOutcome] {
        let missing = try outcomes.awaitAnswers(to: messageIDs, count: count, timeout: timeout, abort: checkWorkers)
        guard missing.isEmpty else {
            throw HarnessError("timed out after \(timeout) waiting for outcomes of \(missing.count) message(s) "
                               + "(\(missing.sorted().prefix(5).joined(separator: ", "))…)\n" + workerLogs())
        }
        var first: [String: ObservedOutcome] = [:]
        for id in messageIDs { first[id] = outcomes.outcomes(of: id).first }
        return first
    }

    /// Waits for one message's outcome.
    func awaitOutcome(_ messageID: String, timeout: Duration = .seconds(30)) throws -> ObservedOutcome {
        try awaitOutcomes([messageID], timeout: timeout)[messageID]!
    }

    /// Publishes messages and waits for their outcomes.
    @discardableResult
    func send(_ messages: [AMQPMessage], timeout: Duration = .seconds(30)) throws -> [String: ObservedOutcome] {
        try publish(messages)
        return try awaitOutcomes(messages.map(\.messageID), timeout: timeout)
    }

    /// Publishes one message and waits for its outcome.
    @discardableResult
    func send(_ message: AMQPMessage, timeout: Duration = .seconds(30)) throws -> ObservedOutcome {
        try send([message], timeout: timeout)[message.messageID]!
    }

    /// Throws, with its log, when a worker exited without the test asking it to.
    func checkWorkers() throws {
        if let dead = workers.first(where: \.exitedUnexpectedly) {
            throw HarnessError("\(dead.name) (pid \(dead.pid)) exited unexpectedly\n" + workerLogs())
        }
    }

    /// The tail of every worker's log.
    func workerLogs() -> String {
        workers.enumerated().map { index, worker in
            "--- \(worker.name) #\(index + 1) log (\(worker.logFile.path)) ---\n" + worker.logTail()
        }.joined(separator: "\n")
    }

    /// `SELECT count(*)` style helper: the first column of the first row as an integer.
    func scalar(_ sql: String, _ parameters: [any PostgresBindable] = []) throws -> Int {
        guard let row = try database.query(sql, parameters).first else {
            throw HarnessError("query returned no row")
        }
        return try row.int(0)
    }

    func shutDown() {
        guard !isShutDown else { return }
        isShutDown = true
        for worker in workers where worker.isRunning { worker.crash() }
        outcomes.close()
        publisher.close()
        database.close()
        virtualHost.delete()
        scratchDatabase.drop()
        if ProcessInfo.processInfo.environment["SCHOOLICT_KEEP_LOGS"] == "1" {
            print("worker logs kept in \(logDirectory.path)")
        } else {
            try? FileManager.default.removeItem(at: logDirectory)
        }
    }
}

// MARK: - Contract messages

/// Builders for the contract's messages (`docs/asyncapi.yaml`), with a Greek equipment campaign and a Vietnamese
/// device-support campaign and their schools.
enum Fixtures {
    struct School: Sendable {
        var code: String
        var name: String
        var level: String
        var region: String
        var email: String
        var language: String
        var students: Int?
    }

    static let greekCampaign = "gr-ict-2022"
    static let greekDeadline = "2022-01-21T23:59:59+02:00"
    static let greekStaff = "ict@minedu.gov.gr"
    static let vietnameseCampaign = "vn-song-2021"
    static let vietnameseDeadline = "2021-11-20T23:59:59+07:00"
    static let vietnameseStaff = "office@tdm.edu.vn"

    static let greekLyceum = School(code: "0551010", name: "1ο Γενικό Λύκειο Καβάλας", level: "secondary",
                                    region: "Ανατολική Μακεδονία και Θράκη", email: "mail@0551010.sch.gr",
                                    language: "el", students: 320)
    static let greekPrimary = School(code: "9051020", name: "2ο Δημοτικό Σχολείο Ιωαννίνων", level: "primary",
                                     region: "Ήπειρος", email: "mail@9051020.sch.gr", language: "el", students: 180)
    static let vietnamesePrimary = School(code: "TDM-TH-01", name: "Trường Tiểu học Phú Hòa 1", level: "primary",
                                          region: "Bình Dương", email: "th01@tdm.edu.vn", language: "vi", students: 900)
    static let vietnameseLowerSecondary = School(code: "TDM-THCS-02", name: "Trường THCS Chánh Nghĩa",
                                                 level: "lower_secondary", region: "Bình Dương",
                                                 email: "thcs02@tdm.edu.vn", language: "vi", students: nil)
    static let schools = [greekLyceum, greekPrimary, vietnamesePrimary, vietnameseLowerSecondary]

    /// Every school and both campaigns, with ids prefixed `seed-`.
    static var registry: [AMQPMessage] {
        schools.map { schoolUpsert(id: "seed-school-\($0.code)", $0) }
            + [greekCampaignUpsert(id: "seed-campaign-gr"), vietnameseCampaignUpsert(id: "seed-campaign-vn")]
    }

    // MARK: Raw

    static func submission(_ type: String, id: String, body: JSONValue, correlationID: String? = nil) -> AMQPMessage {
        AMQPMessage(exchange: Topology.Exchange.submissions, routingKey: type, messageID: id,
                    correlationID: correlationID, body: body.serialized())
    }

    static func command(_ key: String, id: String, body: JSONValue) -> AMQPMessage {
        AMQPMessage(exchange: Topology.Exchange.commands, routingKey: key, messageID: id, body: body.serialized())
    }

    // MARK: Commands

    static func schoolUpsert(id: String, _ school: School) -> AMQPMessage {
        var body: JSONObject = [
            "school_code": .string(school.code), "name": .string(school.name), "level": .string(school.level),
            "region": .string(school.region), "official_email": .string(school.email),
            "language": .string(school.language),
        ]
        if let students = school.students { body["students"] = .int(students) }
        return command("school.upsert", id: id, body: .object(body))
    }

    static func greekCampaignUpsert(id: String, deadline: String = greekDeadline) -> AMQPMessage {
        command("campaign.upsert", id: id, body: [
            "campaign": .string(greekCampaign), "kind": "equipment_inventory",
            "title": "Απογραφή εξοπλισμού ΤΠΕ 2022", "opens_at": "2021-12-01T00:00:00+02:00",
            "deadline": .string(deadline), "timezone": "Europe/Athens", "staff_emails": [.string(greekStaff)],
            "reminder_days": [7, 3, 1], "handover_days": 1,
        ])
    }

    static func vietnameseCampaignUpsert(id: String, deadline: String = vietnameseDeadline) -> AMQPMessage {
        command("campaign.upsert", id: id, body: [
            "campaign": .string(vietnameseCampaign), "kind": "device_support", "title": "Sóng và máy tính cho em",
            "opens_at": "2021-10-01T00:00:00+07:00", "deadline": .string(deadline),
            "timezone": "Asia/Ho_Chi_Minh", "staff_emails": [.string(vietnameseStaff)],
            "reminder_days": [7, 3, 1], "handover_days": 1,
            "priority": ["covid_orphan", "poor_household", "near_poor_household", "other_hardship"],
        ])
    }

    // MARK: Submissions

    static func item(_ category: String, quantity: Int, year: Int, condition: String = "working",
                     serials: [String]? = nil) -> JSONValue {
        var fields: JSONObject = [
            "category": .string(category), "quantity": .int(quantity), "acquired_year": .int(year),
            "condition": .string(condition),
        ]
        if let serials { fields["serial_numbers"] = .array(serials.map { .string($0) }) }
        return .object(fields)
    }

    static func inventory(id: String, school: School = greekLyceum, sender: String? = nil,
                          submittedAt: String = "2022-01-14T09:30:00+02:00", procedure: String = "insert",
                          items: [JSONValue]) -> AMQPMessage {
        submission("equipment_inventory", id: id, body: [
            "campaign": .string(greekCampaign), "school_code": .string(school.code),
            "submitted_by": .string(sender ?? school.email), "submitted_at": .string(submittedAt),
            "procedure": .string(procedure), "items": .array(items),
        ])
    }

    static func student(_ ref: String, _ name: String, grade: Int, _ category: String) -> JSONValue {
        ["student_ref": .string(ref), "full_name": .string(name), "grade": .int(grade), "category": .string(category)]
    }

    static func needsReport(id: String, school: School = vietnamesePrimary, sender: String? = nil,
                            submittedAt: String = "2021-11-18T10:00:00+07:00", students: [JSONValue]) -> AMQPMessage {
        submission("device_need_report", id: id, body: [
            "campaign": .string(vietnameseCampaign), "school_code": .string(school.code),
            "submitted_by": .string(sender ?? school.email), "submitted_at": .string(submittedAt),
            "students": .array(students),
        ])
    }

    static func device(_ serial: String, kind: String = "laptop", specs: String = "i3, 8GB, 256GB SSD") -> JSONValue {
        ["serial": .string(serial), "kind": .string(kind), "specs": .string(specs)]
    }

    static func donation(id: String, ref: String, sender: String = vietnameseStaff,
                         submittedAt: String = "2021-11-19T08:00:00+07:00", channel: String = "other",
                         target: School? = vietnamesePrimary, devices: [JSONValue]) -> AMQPMessage {
        var body: JSONObject = [
            "campaign": .string(vietnameseCampaign), "donation_ref": .string(ref), "submitted_by": .string(sender),
            "submitted_at": .string(submittedAt), "channel": .string(channel),
            "donor": ["name": "Công ty ABC", "kind": "company"], "devices": .array(devices),
        ]
        if let target { body["target_school_code"] = .string(target.code) }
        return submission("donation_record", id: id, body: .object(body))
    }

    static func handover(id: String, school: School = vietnamesePrimary, sender: String? = nil,
                         submittedAt: String, serial: String, student: String, handedOverAt: String) -> AMQPMessage {
        submission("handover_record", id: id, body: [
            "campaign": .string(vietnameseCampaign), "school_code": .string(school.code),
            "submitted_by": .string(sender ?? school.email), "submitted_at": .string(submittedAt),
            "device_serial": .string(serial), "student_ref": .string(student), "handed_over_at": .string(handedOverAt),
        ])
    }
}
