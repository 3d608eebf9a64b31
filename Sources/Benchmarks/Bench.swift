import ArgumentParser
import Foundation
import Shared

/// Benchmarks that print figures (never timed unit tests). See README "Performance".
@main
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schoolict-bench",
        abstract: "Measure the workers against real RabbitMQ and PostgreSQL.",
        subcommands: [SubmissionBenchmark.self, DrainBenchmark.self, ChaosLoad.self, HostileBenchmark.self, AllocationBenchmark.self, NotificationBenchmark.self]
    )
}

/// Peak resident set size of a process, from /proc (VmHWM), in MiB.
func peakRSS(pid: Int32? = nil) -> Double? {
    let path = pid.map { "/proc/\($0)/status" } ?? "/proc/self/status"
    guard let status = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
    for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
        let kilobytes = line.split(separator: " ").compactMap { Double($0) }.first ?? 0
        return kilobytes / 1024
    }
    return nil
}

func percentile(_ sorted: [Double], _ p: Double) -> Double {
    guard !sorted.isEmpty else { return .nan }
    let index = min(sorted.count - 1, max(0, Int((p / 100 * Double(sorted.count)).rounded(.up)) - 1))
    return sorted[index]
}

/// User + system CPU seconds a process has used so far, from /proc/<pid>/stat.
func cpuSeconds(pid: Int32) -> Double? {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = stat.lastIndex(of: ")") else { return nil }
    let fields = stat[stat.index(after: close)...].split(separator: " ")
    guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
    return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
}

/// The registry a submissions benchmark needs: one equipment campaign `bench-<runID>` and `schools` schools
/// `B<runID>-<n>` (official address `s<n>@bench.invalid`), registered through the worker itself.
enum BenchRegistry {
    /// The registry's commands: the campaign `bench-<runID>`, then the schools.
    static func messages(runID: String, schools: Int) -> [AMQPMessage] {
        let campaign = "bench-\(runID)"
        var registry: [AMQPMessage] = []
        let campaignBody: JSONValue = [
            "campaign": .string(campaign), "kind": "equipment_inventory", "title": "Benchmark inventory",
            "opens_at": "2022-01-01T00:00:00+02:00", "deadline": "2022-12-31T23:59:59+02:00",
            "timezone": "Europe/Athens", "staff_emails": ["bench@minedu.invalid"],
        ]
        registry.append(AMQPMessage(exchange: Topology.Exchange.commands, routingKey: "campaign.upsert",
                                    messageID: "\(campaign)-campaign", body: campaignBody.serialized()))
        for index in 0..<schools {
            let code = "B\(runID)-\(index)"
            let body: JSONValue = [
                "school_code": .string(code), "name": .string("Bench school \(index)"), "level": "secondary",
                "region": .string("Region \(index % 13)"), "official_email": .string("s\(index)@bench.invalid"),
                "language": "el", "students": .int(200 + index % 300),
            ]
            registry.append(AMQPMessage(exchange: Topology.Exchange.commands, routingKey: "school.upsert",
                                        messageID: "\(code)-upsert", body: body.serialized()))
        }
        return registry
    }

    /// Publishes the commands and waits for their outcomes on `watcher` (consuming `submission.#`/`command.#`).
    static func register(runID: String, schools: Int, publisher: AMQPConnection, watcher: AMQPConnection) throws -> String {
        let campaign = "bench-\(runID)"
        let registry = messages(runID: runID, schools: schools)
        try publisher.publishConfirmed(registry)
        var pending = Set(registry.map(\.messageID))
        let deadline = Date().addingTimeInterval(120)
        while !pending.isEmpty, Date() < deadline {
            guard let delivery = try watcher.nextDelivery(timeout: .milliseconds(500)) else { continue }
            if let id = delivery.correlationID { pending.remove(id) }
            try watcher.ack(delivery.deliveryTag)
        }
        guard pending.isEmpty else { throw ValidationError("the worker did not register the schools in time") }
        print("registered \(schools) schools and campaign \(campaign)")
        return campaign
    }
}

/// The benchmarks' inventories: 10 lines each, spread over the registry's schools, every fifth an `inventory`.
enum InventoryMessages {
    static func make(campaign: String, runID: String, range: Range<Int>, schools: Int) -> [AMQPMessage] {
        range.map { index in
            let school = index % schools
            let items: [JSONValue] = (0..<10).map { line in
                [
                    "category": .string(EquipmentCategory.allCases[(index + line) % EquipmentCategory.allCases.count].rawValue),
                    "quantity": .int(1 + (index + line) % 30), "acquired_year": .int(2010 + line),
                    "condition": .string(line % 4 == 3 ? "faulty" : "working"),
                ]
            }
            let body: JSONValue = [
                "campaign": .string(campaign), "school_code": .string("B\(runID)-\(school)"),
                "submitted_by": .string("s\(school)@bench.invalid"), "submitted_at": "2022-03-01T10:00:00+02:00",
                "procedure": .string(index % 5 == 0 ? "inventory" : "insert"), "items": .array(items),
            ]
            return AMQPMessage(exchange: Topology.Exchange.submissions, routingKey: "equipment_inventory",
                               messageID: "\(campaign)-\(index)", body: body.serialized())
        }
    }
}

/// CPU seconds of a process and all its children (PostgreSQL's backends are children of the postmaster).
func cpuSecondsWithChildren(pid: Int32) -> Double? {
    guard var total = cpuSeconds(pid: pid) else { return nil }
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    for entry in entries {
        guard let child = Int32(entry), child != pid,
              let stat = try? String(contentsOfFile: "/proc/\(child)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { continue }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        if fields.count > 1, Int32(fields[1]) == pid, let seconds = cpuSeconds(pid: child) { total += seconds }
    }
    return total
}
