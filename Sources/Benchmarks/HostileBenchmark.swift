import ArgumentParser
import Foundation
import Shared

/// Publishes hostile messages of the maximum size (just under `MAX_MESSAGE_BYTES`) to a running SubmissionWorker
/// and prints how it copes: every message answered once, the largest outcome, the drain rate, and the worker's
/// peak RSS, the figure that shows memory per batch is bounded in bytes (issue 7).
struct HostileBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hostile",
        abstract: "Maximum-size hostile submissions through a running SubmissionWorker: outcomes, rate, peak RSS.")

    @Option(help: "Messages to publish (each close to MAX_MESSAGE_BYTES).") var count = 100
    @Option(help: "PID of the SubmissionWorker, for its peak RSS and CPU time.") var workerPid: Int32?

    /// The kinds of message, in turn.
    enum Kind: String, CaseIterable {
        /// 10,000 students whose names hold control characters: 10,000 field errors, 100 listed.
        case controlCharacterNames = "names-with-controls"
        /// 1,000 items of 20 serial numbers of the wrong type: 21,000 field errors.
        case wrongTypedSerials = "wrong-typed-serials"
        /// More JSON values than allowed: the parser stops at the limit.
        case tooManyValues = "too-many-values"
        /// A valid inventory carrying one unknown field of megabytes: accepted (unknown fields are ignored).
        case hugeUnknownField = "huge-unknown-field"
        /// A school code of megabytes: rejected, never echoed.
        case hugeSchoolCode = "huge-school-code"
    }

    func run() throws {
        let configuration = try Configuration()
        let limit = configuration.messageLimits.maximumBodyBytes
        let url = try BrokerEndpoints(configuration.amqpURL, shuffle: false).urls[0]  // the first node of a list
        let publisher = try AMQPConnection(url: url)
        try publisher.declare(.contract)
        try publisher.enableConfirms()
        let watcher = try AMQPConnection(url: url)
        let queue = try watcher.declareTemporaryQueue(bindingTo: Topology.Exchange.events,
                                                      routingKeys: ["submission.#", "command.#"])
        try watcher.startConsuming(queue: queue, prefetch: 200)
        let runID = String(UUID().uuidString.prefix(8)).lowercased()
        let campaign = try BenchRegistry.register(runID: runID, schools: 1, publisher: publisher, watcher: watcher)

        let messages = (0..<count).map { index in
            message(Kind.allCases[index % Kind.allCases.count], index: index, campaign: campaign, runID: runID, limit: limit)
        }
        let bytes = messages.reduce(0) { $0 + $1.body.count }
        let cpuBefore = workerPid.flatMap { cpuSeconds(pid: $0) }
        let started = ContinuousClock.now
        try publisher.publishConfirmed(messages, window: 10, timeout: .seconds(120))
        let published = ContinuousClock.now - started

        var answers: [String: Int] = [:]
        var seen = Set<String>()
        var duplicates = 0
        var largestOutcome = 0
        var idle = 0
        let wanted = Set(messages.map(\.messageID))
        while seen.count < count, idle < 60 {
            guard let delivery = try watcher.nextDelivery(timeout: .seconds(1)) else {
                idle += 1
                continue
            }
            idle = 0
            try watcher.ack(delivery.deliveryTag)
            guard let id = delivery.correlationID, wanted.contains(id) else { continue }
            guard seen.insert(id).inserted else { duplicates += 1; continue }
            largestOutcome = max(largestOutcome, delivery.body.count)
            let body = try? JSONParser.parse(delivery.body)
            let answer = delivery.routingKey.contains(".accepted.") ? "accepted"
                : body?["errors"]?.arrayValue?.first?["code"]?.stringValue ?? "?"
            answers[answer, default: 0] += 1
        }
        let drained = ContinuousClock.now - started
        let seconds = Double(drained.components.seconds) + Double(drained.components.attoseconds) / 1e18
        let cpu = workerPid.flatMap { pid in cpuBefore.flatMap { before in cpuSeconds(pid: pid).map { $0 - before } } }
        let dead = try publisher.queueDepth(Topology.QueueName.submissions + ".dead").messages
        publisher.close()
        watcher.close()
        print("""
            hostile benchmark: \(count) messages of up to \(limit) bytes (MAX_MESSAGE_BYTES), \(bytes / 1_048_576) MiB in all
              kinds                  \(Kind.allCases.map(\.rawValue).joined(separator: ", "))
              published in           \(published) (with confirms)
              outcomes               \(seen.count) of \(count), \(duplicates) duplicates: \(answers.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
              largest outcome        \(largestOutcome) bytes
              drained in             \(String(format: "%.1f s: %.1f msg/s, %.1f MiB/s", seconds, Double(seen.count) / seconds, Double(bytes) / 1_048_576 / seconds))
              submissions.dead       \(dead)
              worker CPU time        \(cpu.map { String(format: "%.2f s (%.0f ms per message)", $0, 1000 * $0 / Double(count)) } ?? "n/a")
              worker peak RSS        \(workerPid.flatMap { peakRSS(pid: $0) }.map { String(format: "%.1f MiB", $0) } ?? "n/a (pass --worker-pid)")
            """)
        if seen.count < count || dead > 0 { throw ExitCode(1) }
    }

    private func message(_ kind: Kind, index: Int, campaign: String, runID: String, limit: Int) -> AMQPMessage {
        let school = "B\(runID)-0"
        var fields: JSONObject = [
            "campaign": .string(campaign), "school_code": .string(school), "submitted_by": "s0@bench.invalid",
            "submitted_at": "2022-03-01T10:00:00+02:00",
        ]
        let type: SubmissionType
        // Room for the padding field, counted in bytes of serialized JSON.
        let room = limit - 1_024
        switch kind {
        case .controlCharacterNames:
            type = .deviceNeedReport
            let nameLength = max(1, room / MessageLimits.maximumStudents - 90)
            let name = String(repeating: "A", count: nameLength / 2) + "\u{7}" + String(repeating: "B", count: nameLength / 2)
            fields["students"] = .array((0..<MessageLimits.maximumStudents).map { student in
                ["student_ref": .string("HS-\(student)"), "full_name": .string(name), "grade": 10, "category": "poor_household"]
            })
        case .wrongTypedSerials:
            type = .equipmentInventory
            fields["procedure"] = "insert"
            fields["items"] = .array((0..<MessageLimits.maximumItems).map { _ in
                ["category": "laptop", "quantity": 20, "acquired_year": 2020, "condition": "working",
                 "serial_numbers": .array(Array(repeating: .bool(false), count: 20))]
            })
        case .tooManyValues:
            type = .equipmentInventory
            fields["procedure"] = "insert"
            fields["items"] = .array(Array(repeating: .number(0), count: MessageLimits.maximumJSONValues + 1))
        case .hugeUnknownField:
            type = .equipmentInventory
            fields["procedure"] = "insert"
            fields["items"] = [["category": "desktop", "quantity": 1, "acquired_year": 2015, "condition": "working"]]
        case .hugeSchoolCode:
            type = .equipmentInventory
            fields["procedure"] = "insert"
            fields["items"] = [["category": "desktop", "quantity": 1, "acquired_year": 2015, "condition": "working"]]
            fields["school_code"] = .string(String(repeating: "S", count: room - 200))
        }
        // Pad to just under the limit with an unknown field (ignored by the contract).
        let unpadded = JSONValue.object(fields).serialized().count
        if unpadded < room { fields["padding"] = .string(String(repeating: "x", count: room - unpadded)) }
        return AMQPMessage(exchange: Topology.Exchange.submissions, routingKey: type.rawValue,
                           messageID: "hostile-\(runID)-\(kind.rawValue)-\(index)", body: JSONValue.object(fields).serialized())
    }
}
