import ArgumentParser
import Foundation
import Shared
import Synchronization

/// A steady load of submissions and allocation runs while faults are injected (`scripts/chaos-cluster.sh`): the
/// workers run already, against a RabbitMQ cluster and a PostgreSQL primary with a standby. The load's own clients
/// fail over between nodes like the workers do, republishing what the broker did not confirm (same message ids).
///
/// At the end it checks, from the outcomes and the database: every message answered (nothing lost), exactly one
/// kind of outcome per message (never accepted and rejected), every submission stored once and every allocation
/// command run once (nothing doubled), no device or student allocated twice, the outbox empty; and it prints how
/// long outcomes stopped at each fault. Exit 1 when a check fails.
struct ChaosLoad: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chaos-load",
        abstract: "Paced submissions and allocation runs under injected faults, then checks: nothing lost, nothing doubled.")

    @Option(help: "Submissions per second (inventories, needs reports and donations, 7:2:1).") var rate = 200
    @Option(help: "Seconds of load.") var seconds = 60
    @Option(help: "Seconds between allocation.run commands.") var allocationEvery = 3.0
    @Option(help: "Schools to register.") var schools = 100
    @Option(name: .customLong("fault"), help: "SECONDS:COMMAND — run COMMAND (sh -c) that many seconds into the load. Repeatable.")
    var faults: [String] = []
    @Option(help: "Longest acceptable stall of outcomes at a fault, in seconds (longer fails the run).") var maximumStall = 60.0
    @Option(help: "Seconds to wait for the last outcomes after the load.") var settle = 120.0

    func run() throws {
        let configuration = try Configuration()
        let brokers = try BrokerEndpoints(configuration.amqpURL)
        let runID = String(UUID().uuidString.prefix(8)).lowercased()
        let watchQueue = "chaos-outcomes-\(runID)"
        let watcher = ResilientConsumer(brokers: brokers, queue: watchQueue)
        try watcher.connect()
        let publisher = ResilientPublisher(brokers: brokers)

        // The registry: schools and an equipment campaign (the benchmark's), a device-support campaign open long.
        let campaign = try ChaosRegistry.register(runID: runID, schools: schools, publisher: publisher, watcher: watcher)
        let devices = "dev-\(runID)"
        print("registered \(schools) schools, campaigns \(campaign) and \(devices)")

        let plan = try faults.map { text -> (offset: Double, command: String) in
            guard let colon = text.firstIndex(of: ":"), let offset = Double(text[..<colon]) else {
                throw ValidationError("--fault takes SECONDS:COMMAND, got \(text)")
            }
            return (offset, String(text[text.index(after: colon)...]))
        }
        let log = ChaosLog()
        let origin = ContinuousClock.now
        let messages = ChaosMessages(campaign: campaign, devices: devices, runID: runID, schools: schools)
        let total = rate * seconds
        let commands = Int(Double(seconds) / allocationEvery)

        // Publisher: paced ticks of 20 ms; every few seconds an allocation.run. Faults on their own thread.
        let pacer = Thread { [rate, allocationEvery] in
            var nextCommand = 0
            for start in stride(from: 0, to: total, by: max(1, rate / 50)) {
                let due = origin + .seconds(Double(start) / Double(rate))
                sleep(until: due)
                var tick = (start..<min(total, start + max(1, rate / 50))).map { messages.submission($0) }
                if Double(start) / Double(rate) >= Double(nextCommand) * allocationEvery, nextCommand < commands {
                    tick.append(messages.allocationRun(nextCommand))
                    nextCommand += 1
                }
                log.sent(tick.map(\.messageID), at: .now)
                publisher.publish(tick)
            }
            log.finishedPublishing()
        }
        pacer.start()
        let faulter = Thread {
            for (offset, command) in plan {
                sleep(until: origin + .seconds(offset))
                let started = ContinuousClock.now
                let status = runShell(command)
                log.fault(command, at: started, took: ContinuousClock.now - started, status: status)
            }
            log.finishedFaults()
        }
        faulter.start()

        // Outcomes until everything is answered, or nothing came for `settle` seconds after the load.
        var lastOutcome = ContinuousClock.now
        while true {
            if let delivery = watcher.next() {
                lastOutcome = .now
                if let id = delivery.correlationID { log.outcome(id, routingKey: delivery.routingKey, at: lastOutcome) }
                continue
            }
            let (published, expected, answered) = log.progress()
            if published, answered >= expected { break }
            if published, ContinuousClock.now - lastOutcome > .seconds(settle) { break }
        }
        watcher.close()
        publisher.close()

        let report = log.report(origin: origin, maximumStall: maximumStall)
        print(report.text)
        let database = try PostgresConnection(url: configuration.databaseURL, applicationName: "schoolict-chaos")
        defer { database.close() }
        let checks = try ChaosChecks.run(campaign: campaign, devices: devices, log: log, database: database)
        print(checks.text)
        if !report.passed || !checks.passed {
            print("chaos: FAIL")
            throw ExitCode(1)
        }
        print("chaos: PASS: nothing lost, nothing doubled, no message with two kinds of outcome")
    }
}

/// What was sent, what came back and when, and the faults: shared by the publisher, fault and watcher threads.
final class ChaosLog: Sendable {
    struct State {
        var sentAt: [String: ContinuousClock.Instant] = [:]
        var outcomeKinds: [String: Set<String>] = [:]
        var deliveries = 0
        var arrivals: [ContinuousClock.Instant] = []
        var faults: [(command: String, at: ContinuousClock.Instant, took: Duration, status: Int32)] = []
        var publishing = true
        var faulting = true
    }
    private let state = Mutex(State())

    func sent(_ ids: [String], at instant: ContinuousClock.Instant) {
        state.withLock { for id in ids where $0.sentAt[id] == nil { $0.sentAt[id] = instant } }
    }
    func finishedPublishing() { state.withLock { $0.publishing = false } }
    func finishedFaults() { state.withLock { $0.faulting = false } }
    func outcome(_ id: String, routingKey: String, at instant: ContinuousClock.Instant) {
        state.withLock {
            guard $0.sentAt[id] != nil else { return }  // the registry's, or another run's
            $0.deliveries += 1
            if $0.outcomeKinds[id, default: []].insert(routingKey).inserted, $0.outcomeKinds[id]!.count == 1 {
                $0.arrivals.append(instant)
            }
        }
    }
    func fault(_ command: String, at instant: ContinuousClock.Instant, took: Duration, status: Int32) {
        state.withLock { $0.faults.append((command, instant, took, status)) }
        print("fault: \(command) (exit \(status), took \(String(format: "%.1f", took.inSeconds)) s)")
        fflush(nil)
    }
    /// Whether publishing and the faults are over, how many messages were sent and how many answered.
    func progress() -> (published: Bool, expected: Int, answered: Int) {
        state.withLock { (!$0.publishing && !$0.faulting, $0.sentAt.count, $0.outcomeKinds.count) }
    }
    var snapshot: State { state.withLock { $0 } }

    /// Per fault: the longest gap between two first outcomes from one second before it to the next fault (or 60 s).
    func report(origin: ContinuousClock.Instant, maximumStall: Double) -> (text: String, passed: Bool) {
        let state = snapshot
        let arrivals = state.arrivals.sorted()
        var lines: [String] = []
        var passed = true
        for (index, fault) in state.faults.enumerated() {
            let from = fault.at - .seconds(1)
            let until = index + 1 < state.faults.count ? state.faults[index + 1].at : fault.at + .seconds(60)
            let window = arrivals.filter { $0 >= from && $0 <= until }
            var stall = 0.0
            for (earlier, later) in zip(window, window.dropFirst()) { stall = max(stall, (later - earlier).inSeconds) }
            if window.isEmpty { stall = (until - from).inSeconds }
            if stall > maximumStall || fault.status != 0 { passed = false }
            lines.append(String(format: "  at %5.1f s  %@: outcomes stalled %.2f s%@", (fault.at - origin).inSeconds,
                                fault.command, stall, fault.status == 0 ? "" : " (the fault command failed: exit \(fault.status))"))
        }
        var normal = 0.0
        if let first = arrivals.first, let firstFault = state.faults.first?.at {
            let before = arrivals.filter { $0 >= first && $0 < firstFault - .seconds(1) }
            for (earlier, later) in zip(before, before.dropFirst()) { normal = max(normal, (later - earlier).inSeconds) }
        }
        return ("""
            faults (longest gap between outcomes around each; before the first fault it was \(String(format: "%.2f", normal)) s):
            \(lines.isEmpty ? "  none" : lines.joined(separator: "\n"))
            """, passed)
    }
}

/// The database and outcome checks at the end of a run.
enum ChaosChecks {
    static func run(campaign: String, devices: String, log: ChaosLog,
                    database: PostgresConnection) throws -> (text: String, passed: Bool) {
        let state = log.snapshot
        let sent = Set(state.sentAt.keys)
        let lost = sent.subtracting(state.outcomeKinds.keys)
        let mixed = state.outcomeKinds.filter { $0.value.count > 1 }
        var kinds: [String: Int] = [:]
        for (_, set) in state.outcomeKinds where set.count == 1 { kinds[set.first!, default: 0] += 1 }
        let submissionIDs = sent.filter { !$0.contains("-run-") }
        let commandIDs = sent.filter { $0.contains("-run-") }
        let accepted = state.outcomeKinds.filter { $0.value.contains { $0.hasPrefix("submission.accepted") } }.keys

        let stored = try database.query("""
            SELECT count(*)::int, count(DISTINCT message_id)::int FROM submissions WHERE message_id = ANY($1::text[])
            """, [Array(submissionIDs)])[0]
        let storedRows = try stored.int(0), storedDistinct = try stored.int(1)
        let runs = try database.query("""
            SELECT count(*)::int, count(DISTINCT trigger_message_id)::int FROM allocation_runs
            WHERE trigger_message_id = ANY($1::text[])
            """, [Array(commandIDs)])[0]
        let runRows = try runs.int(0), runDistinct = try runs.int(1)
        let allocations = try database.query("""
            SELECT count(*)::int, count(DISTINCT device_serial)::int, count(DISTINCT (school_code, student_ref))::int
            FROM allocations WHERE campaign = $1
            """, [devices])[0]
        let pending = try Outbox.pendingCount(database: database)

        let acceptedSubmissions = accepted.filter { !$0.contains("-run-") }.count
        let acceptedRuns = state.outcomeKinds.filter { $0.key.contains("-run-") && $0.value.contains { $0.contains("accepted") } }.count
        let checks: [(String, Bool)] = [
            ("sent \(sent.count) messages (\(submissionIDs.count) submissions, \(commandIDs.count) allocation.run); answered \(state.outcomeKinds.count), lost \(lost.count)", lost.isEmpty),
            ("outcomes with two kinds (accepted and rejected): \(mixed.count)", mixed.isEmpty),
            ("accepted submissions \(acceptedSubmissions); stored \(storedRows) rows, \(storedDistinct) distinct", storedRows == acceptedSubmissions && storedDistinct == storedRows),
            ("accepted allocation runs \(acceptedRuns); runs stored \(runRows), \(runDistinct) distinct", runRows == acceptedRuns && runDistinct == runRows),
            ("allocations \(try allocations.int(0)): devices distinct \(try allocations.int(1)), students distinct \(try allocations.int(2))",
             try allocations.int(0) == allocations.int(1) && allocations.int(0) == allocations.int(2)),
            ("events left unpublished in the outbox: \(pending)", pending == 0),
        ]
        var text = "outcomes by kind: " + kinds.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        text += "\noutcome deliveries \(state.deliveries) (\(state.deliveries - state.outcomeKinds.values.map(\.count).reduce(0, +)) repeated: at-least-once, same ids)"
        for (line, passed) in checks { text += "\n  [\(passed ? "ok" : "FAIL")] " + line }
        if !lost.isEmpty { text += "\n  lost, e.g.: " + lost.sorted().prefix(5).joined(separator: ", ") }
        return (text, checks.allSatisfy(\.1))
    }
}

/// The load's messages: 7 in 10 inventories, 2 needs reports (five students each), 1 donation (two devices); and
/// allocation.run commands for the device-support campaign.
struct ChaosMessages: Sendable {
    let campaign: String
    let devices: String
    let runID: String
    let schools: Int

    func submission(_ index: Int) -> AMQPMessage {
        let school = index % schools
        let code = "B\(runID)-\(school)"
        switch index % 10 {
        case 0, 1:
            let students: [JSONValue] = (0..<5).map { number in
                ["student_ref": .string("HS-\(index)-\(number)"), "full_name": "Chaos Student", "grade": .int(10 + number % 3),
                 "category": .string(StudentCategory.allCases[(index + number) % StudentCategory.allCases.count].rawValue)]
            }
            let body: JSONValue = [
                "campaign": .string(devices), "school_code": .string(code), "submitted_by": .string("s\(school)@bench.invalid"),
                "submitted_at": "2026-01-10T10:00:00+02:00", "students": .array(students),
            ]
            return AMQPMessage(exchange: Topology.Exchange.submissions, routingKey: "device_need_report",
                               messageID: "\(campaign)-\(index)", body: body.serialized())
        case 2:
            let body: JSONValue = [
                "campaign": .string(devices), "donation_ref": .string("DN-\(index)"), "submitted_by": "chaos@minedu.invalid",
                "submitted_at": "2026-01-10T10:00:00+02:00", "channel": "ministry",
                "donor": ["name": "Chaos donor", "kind": "company"],
                "devices": [["serial": .string("CH-\(runID)-\(index)-a"), "kind": "laptop"],
                            ["serial": .string("CH-\(runID)-\(index)-b"), "kind": "tablet"]],
            ]
            return AMQPMessage(exchange: Topology.Exchange.submissions, routingKey: "donation_record",
                               messageID: "\(campaign)-\(index)", body: body.serialized())
        default:
            return InventoryMessages.make(campaign: campaign, runID: runID, range: index..<(index + 1), schools: schools)[0]
        }
    }

    func allocationRun(_ number: Int) -> AMQPMessage {
        AMQPMessage(exchange: Topology.Exchange.commands, routingKey: "allocation.run",
                    messageID: "\(campaign)-run-\(number)", body: (["campaign": .string(devices)] as JSONValue).serialized())
    }
}

enum ChaosRegistry {
    /// The benchmark registry plus a device-support campaign `dev-<runID>` open until 2099 (needs reports on time).
    static func register(runID: String, schools: Int, publisher: ResilientPublisher,
                         watcher: ResilientConsumer) throws -> String {
        let devices = "dev-\(runID)"
        let body: JSONValue = [
            "campaign": .string(devices), "kind": "device_support", "title": "Chaos devices",
            "opens_at": "2026-01-01T00:00:00+02:00", "deadline": "2099-12-31T23:59:59+02:00",
            "timezone": "Europe/Athens", "staff_emails": ["chaos@minedu.invalid"], "handover_days": 1,
        ]
        var registry = [AMQPMessage(exchange: Topology.Exchange.commands, routingKey: "campaign.upsert",
                                    messageID: "\(devices)-campaign", body: body.serialized())]
        registry += BenchRegistry.messages(runID: runID, schools: schools)
        publisher.publish(registry)
        var pending = Set(registry.map(\.messageID))
        let deadline = ContinuousClock.now + .seconds(120)
        while !pending.isEmpty, ContinuousClock.now < deadline {
            if let id = watcher.next()?.correlationID { pending.remove(id) }
        }
        guard pending.isEmpty else { throw ValidationError("the workers did not register the schools in time") }
        return "bench-\(runID)"
    }
}

/// A publisher with confirms that moves to the next broker address when its node goes away and publishes again
/// what was not confirmed (same message ids: the workers keep one effect per id).
final class ResilientPublisher: @unchecked Sendable {  // @unchecked: used by one thread at a time (setup, then the pacer).
    private let brokers: BrokerEndpoints
    private var connection: AMQPConnection?

    init(brokers: BrokerEndpoints) { self.brokers = brokers }

    /// Publishes `messages` with confirms, trying every address again until they are confirmed or `giveUp` passes
    /// (then they are reported lost by the checks; the run never hangs on a cluster that does not come back).
    func publish(_ messages: [AMQPMessage], giveUp: Duration = .seconds(120)) {
        let deadline = ContinuousClock.now + giveUp
        while ContinuousClock.now < deadline {
            do {
                let connection = try connected()
                for message in messages { try connection.publish(message) }
                try connection.waitForConfirms(timeout: .seconds(10))
                return
            } catch {
                connection?.close()
                connection = nil
                Thread.sleep(forTimeInterval: 0.2)
            }
        }
        print("publisher: gave up on \(messages.count) messages after \(giveUp) without a broker confirming them")
    }

    private func connected() throws -> AMQPConnection {
        if let connection, !connection.isBroken { return connection }
        let connection = try brokers.connect { url in try AMQPConnection(url: url, name: "schoolict-chaos-publisher") }
        try connection.enableConfirms()
        self.connection = connection
        return connection
    }

    func close() { connection?.close() }
}

/// A consumer of a quorum queue (it survives a node) that reconnects to the next address when its node goes away.
final class ResilientConsumer: @unchecked Sendable {  // @unchecked: used by the main thread only.
    private let brokers: BrokerEndpoints
    private let queue: String
    private var connection: AMQPConnection?

    init(brokers: BrokerEndpoints, queue: String) {
        self.brokers = brokers
        self.queue = queue
    }

    func connect() throws {
        let queue = self.queue
        connection = try brokers.connect { url in
            let connection = try AMQPConnection(url: url, name: "schoolict-chaos-watcher")
            try connection.declare(.contract)
            try connection.declareQueue(queue, arguments: [("x-queue-type", .string("quorum"))])
            for key in ["submission.#", "command.#"] {
                try connection.bindQueue(queue, exchange: Topology.Exchange.events, routingKey: key)
            }
            try connection.startConsuming(queue: queue, prefetch: 1_000)
            return connection
        }
    }

    /// The next delivery (acknowledged), or nil after a quiet half second or a lost connection (then reconnected).
    func next() -> AMQPDelivery? {
        do {
            if connection == nil || connection?.isBroken == true { try connect() }
            guard let delivery = try connection?.nextDelivery(timeout: .milliseconds(500)) else { return nil }
            try connection?.ack(delivery.deliveryTag)
            return delivery
        } catch {
            connection?.close()
            connection = nil
            Thread.sleep(forTimeInterval: 0.2)
            return nil
        }
    }

    func close() { connection?.close() }
}

private func sleep(until instant: ContinuousClock.Instant) {
    let wait = instant - ContinuousClock.now
    if wait > .zero { Thread.sleep(forTimeInterval: wait.inSeconds) }
}

/// Runs a shell command with this process's environment and waits; its output goes to ours. posix_spawn and waitpid
/// rather than Foundation's Process, whose waitUntilExit was seen to miss the exit of a longer command (left a zombie).
/// The child starts with no blocked signals, whatever this process inherited.
private func runShell(_ command: String) -> Int32 {
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    var none = sigset_t()
    sigemptyset(&none)
    posix_spawnattr_setsigmask(&attributes, &none)
    posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK))
    let words: [String] = ["/bin/sh", "-c", command]
    let arguments = words.map { strdup($0) } + [nil]
    defer { for argument in arguments { free(argument) } }
    var pid = pid_t()
    guard posix_spawn(&pid, "/bin/sh", nil, &attributes, arguments, environ) == 0 else { return 127 }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) == -1 {
        guard errno == EINTR else { return 127 }
    }
    // WIFEXITED / WEXITSTATUS, or 128 + the signal that ended it.
    return status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
}

extension Duration {
    var inSeconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
