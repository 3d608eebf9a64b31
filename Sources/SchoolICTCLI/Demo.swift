import ArgumentParser
import Foundation
import Shared

/// Loads the demo through the broker, as portals would, and prints a report built from the outcome events.
struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Publish the demo load (a Greek inventory and a Vietnamese device campaign) and report the outcomes.")

    @Option(help: "Seconds to wait for e-mails after the load (reminders are due at 09:00 campaign time).")
    var mailWait: Double = 45

    @Option(help: "Directory of the local SMTP sink, to count the e-mails that arrived (default: SCHOOLICT_MAIL_DIR).")
    var mailDir: String?

    @Option(help: "Folder `schoolict provision` wrote: submit as the portal, command as the operator, read as the monitor (default: everything as AMQP_URL).")
    var secrets: String?

    func run() throws {
        let configuration = try Configuration()
        let clock = SchoolClock.from(configuration)
        let identities = try secrets.map(DemoSession.Identities.init(secrets:))
            ?? DemoSession.Identities(single: try AMQPURL(parsing: configuration.amqpURL))
        let session = try DemoSession(identities)
        defer { session.close() }
        var data = DemoData()
        let started = Date()
        print("schoolict demo — the workers' clock reads \(ISO8601.format(clock.now(), offsetSeconds: 7_200)) (Athens)\n")

        step("Registering \(data.greekSchools.count) Greek and \(data.vietnamSchools.count) Vietnamese schools and two campaigns")
        try session.publishAndWait(data.schoolCommands().map { ("school.upsert", Broker.contentID("school.upsert", $0.serialized()), $0) })
        try session.publishAndWait([
            ("campaign.upsert", "demo-campaign-gr-v1", data.greekCampaign(extended: false)),
            ("campaign.upsert", "demo-campaign-vn-v1", data.vietnamCampaign()),
        ])

        step("Greek schools submit their ICT inventories (deadline Friday 21 January 2022)")
        try session.publishAndWait(data.greekInventories(.beforeExtension).map { ("equipment_inventory", $0.id, $0.body) })
        step("The ministry extends the deadline to Monday 31 January 2022 (circular 4108/ΓΔ4)")
        try session.publishAndWait([("campaign.upsert", "demo-campaign-gr-v2", data.greekCampaign(extended: true))])
        step("More Greek schools submit before the new deadline")
        try session.publishAndWait(data.greekInventories(.afterExtension).map { ("equipment_inventory", $0.id, $0.body) })

        step("Vietnamese schools report the students who need a computer (due before 20 November 2021)")
        try session.publishAndWait(data.needsReports().map { ("device_need_report", $0.id, $0.body) })
        step("Donations arrive: the ministry's programme pool and other donors")
        try session.publishAndWait(data.donations().map { ("donation_record", $0.id, $0.body) })
        step("Two donations break the rules: a serial already given, and a sender who is not campaign staff")
        try session.publishAndWait(data.invalidDonations().map { ("donation_record", $0.id, $0.body) })

        step("Allocating computers to the students who need them most")
        try session.publishAndWait([("allocation.run", "demo-allocation-run-1", ["campaign": .string(DemoData.vietnamCampaign)])],
                                   timeout: 120)
        let completed = session.waitForEvent("allocation.completed", timeout: 120)
        if completed == nil {
            print("   (no allocation.completed event within 120 s: is the AllocationWorker running?)")
        }

        let handovers = makeHandovers(session.events(prefix: "allocation.school"), now: clock.now())
        if !handovers.isEmpty {
            step("Schools record \(handovers.count) handovers")
            try session.publishAndWait(handovers.map { ("handover_record", $0.id, $0.body) })
        }

        if mailWait > 0 {
            step("Waiting \(Int(mailWait)) s for e-mails (reminders fall due at 09:00 in each campaign's time zone)")
            session.drain(seconds: mailWait)
        }
        print("")
        print(DemoReport(session: session, data: data,
                         mailDir: mailDir ?? ProcessInfo.processInfo.environment["SCHOOLICT_MAIL_DIR"],
                         elapsed: Date().timeIntervalSince(started)).render())
    }

    private func step(_ text: String) {
        print("▸ \(text)")
    }

    /// Handovers for the first allocated devices: most recorded within a day, a few late, a few naming the
    /// wrong student (rejected).
    private func makeHandovers(_ events: [JSONValue], now: Date) -> [(id: String, body: JSONValue)] {
        var result: [(String, JSONValue)] = []
        var count = 0
        for event in events {
            guard let school = event["school_code"]?.stringValue, let allocations = event["allocations"]?.arrayValue else { continue }
            for (index, allocation) in allocations.prefix(6).enumerated() {
                guard let serial = allocation["device_serial"]?.stringValue,
                      var student = allocation["student_ref"]?.stringValue else { continue }
                count += 1
                let late = count % 15 == 0
                if count % 40 == 0, let other = allocations[(index + 1) % allocations.count]["student_ref"]?.stringValue {
                    student = other == student ? student + "-X" : other
                }
                let handedOver = now.addingTimeInterval(late ? -3 * 86_400 : -3 * 3_600)
                result.append(("demo-vn-handover-\(serial)", [
                    "campaign": .string(DemoData.vietnamCampaign), "school_code": .string(school),
                    "submitted_by": .string("\(school.lowercased())@tdm.edu.vn"),
                    "submitted_at": .string(ISO8601.format(now.addingTimeInterval(-60), offsetSeconds: 25_200)),
                    "device_serial": .string(serial), "student_ref": .string(student),
                    "handed_over_at": .string(ISO8601.format(handedOver, offsetSeconds: 25_200)),
                ]))
            }
        }
        return result
    }
}

/// The demo's broker session: publishes with confirms and collects every event on `schools.events`.
final class DemoSession {
    /// Who the demo speaks as: portals submit, the operator commands, the monitor reads events. One URL for all
    /// three works too (a deployment that keeps one all-powerful user).
    struct Identities {
        var portal: AMQPURL
        var `operator`: AMQPURL
        var monitor: AMQPURL

        init(single url: AMQPURL) {
            portal = url
            self.operator = url
            monitor = url
        }

        /// The URLs `schoolict provision` wrote to `folder`.
        init(secrets folder: String) throws {
            func url(_ user: String) throws -> AMQPURL {
                let path = (folder as NSString).appendingPathComponent("amqp-\(user).url")
                let text = try String(contentsOfFile: path, encoding: .utf8)
                return try AMQPURL(parsing: text.trimmingCharacters(in: .whitespacesAndNewlines))
            }
            portal = try url("portal")
            self.operator = try url("operator")
            monitor = try url("monitor")
        }
    }

    private let portal: AMQPConnection
    private let operatorConnection: AMQPConnection
    private let watcher: AMQPConnection
    private(set) var outcomes: [String: (routingKey: String, body: JSONValue)] = [:]
    private(set) var allEvents: [(routingKey: String, body: JSONValue)] = []
    /// Events are delivered at least once: like any consumer, the demo drops repeats by message id.
    private var seenEventIDs = Set<String>()

    init(_ identities: Identities) throws {
        watcher = try AMQPConnection.withContractTopology(url: identities.monitor)
        let queue = try watcher.declareTemporaryQueue(bindingTo: Topology.Exchange.events, routingKeys: ["#"])
        try watcher.startConsuming(queue: queue, prefetch: 1_000)
        portal = try AMQPConnection.withContractTopology(url: identities.portal)
        try portal.enableConfirms()
        operatorConnection = try AMQPConnection.withContractTopology(url: identities.operator)
        try operatorConnection.enableConfirms()
    }

    func close() {
        portal.close()
        operatorConnection.close()
        watcher.close()
    }

    /// Publishes and waits until every message has its outcome event.
    func publishAndWait(_ messages: [(key: String, id: String, body: JSONValue)], timeout: Double = 90) throws {
        let all = messages.map {
            AMQPMessage(exchange: Broker.exchange(for: $0.key), routingKey: $0.key, messageID: $0.id, body: $0.body.serialized())
        }
        let commands = all.filter { $0.exchange == Topology.Exchange.commands }
        if !commands.isEmpty { try operatorConnection.publishConfirmed(commands) }
        let submissions = all.filter { $0.exchange != Topology.Exchange.commands }
        if !submissions.isEmpty { try portal.publishConfirmed(submissions) }
        let wanted = Set(messages.map(\.id))
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline, !wanted.isSubset(of: outcomes.keys) {
            poll(timeout: .milliseconds(200))
        }
        let missing = wanted.subtracting(outcomes.keys).count
        if missing > 0 {
            print("   (\(missing) messages without an outcome after \(Int(timeout)) s: is the SubmissionWorker running?)")
        }
    }

    func waitForEvent(_ routingKey: String, timeout: Double) -> JSONValue? {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let event = allEvents.last(where: { $0.routingKey == routingKey }) { return event.body }
            poll(timeout: .milliseconds(200))
        }
        return nil
    }

    func drain(seconds: Double) {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline { poll(timeout: .milliseconds(200)) }
    }

    func events(prefix: String) -> [JSONValue] {
        allEvents.filter { $0.routingKey.hasPrefix(prefix) }.map(\.body)
    }

    private func poll(timeout: Duration) {
        do {
            guard let delivery = try watcher.nextDelivery(timeout: timeout) else { return }
            try watcher.ack(delivery.deliveryTag)
            guard let body = try? JSONParser.parse(delivery.body) else { return }
            if let id = delivery.messageID, !seenEventIDs.insert(id).inserted { return }
            allEvents.append((delivery.routingKey, body))
            if delivery.routingKey.hasPrefix("submission.") || delivery.routingKey.hasPrefix("command."),
               let id = delivery.correlationID, outcomes[id] == nil {
                outcomes[id] = (delivery.routingKey, body)
            }
        } catch {
            print("   (event watcher: \(error))")
        }
    }
}
