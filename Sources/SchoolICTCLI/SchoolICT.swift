import ArgumentParser
import Foundation
import Shared

/// The operator's tool: publishes commands and submissions, loads schools from CSV, watches outcomes and
/// runs the demo.
@main
struct SchoolICTCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schoolict",
        abstract: "Operate a schoolict deployment (reads AMQP_URL and DATABASE_URL like the workers).",
        version: SchoolICT.version,
        subcommands: [Publish.self, ImportSchools.self, AllocationRun.self, ProcurementPlan.self, Watch.self,
                      Demo.self, Status.self, PlanCSV.self, Provision.self, Migrate.self, Probe.self, Dead.self, Report.self]
    )
}

/// Connection and publishing shared by the subcommands.
enum Broker {
    static func connect() throws -> AMQPConnection {
        let configuration = try Configuration()
        let connection = try AMQPConnection.withContractTopology(url: try AMQPURL(parsing: configuration.amqpURL))
        try connection.enableConfirms()
        return connection
    }

    /// The exchange for a routing key: commands go to `schools.commands`, everything else is a submission.
    static func exchange(for routingKey: String) -> String {
        CommandKey(rawValue: routingKey) != nil ? Topology.Exchange.commands : Topology.Exchange.submissions
    }

    /// A message id derived from the content, so publishing the same thing twice has its effect once.
    static func contentID(_ routingKey: String, _ body: [UInt8]) -> String {
        "\(routingKey)-" + String(SHA256.hexDigest(of: body).prefix(32))
    }
}

struct Publish: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Publish one JSON message (a submission type or a command key) with a message id.")

    @Argument(help: "Routing key: equipment_inventory, device_need_report, donation_record, handover_record, school.upsert, campaign.upsert, allocation.run, procurement.plan.")
    var routingKey: String

    @Option(name: .shortAndLong, help: "JSON file with the body ('-' or absent: standard input).")
    var file: String?

    @Option(name: .long, help: "The message id (default: derived from the body, so a re-publish is idempotent).")
    var id: String?

    func run() throws {
        let data: Data
        if let file, file != "-" {
            data = try Data(contentsOf: URL(fileURLWithPath: file))
        } else {
            data = FileHandle.standardInput.readDataToEndOfFile()
        }
        let body = Array(data)
        let messageID = id ?? Broker.contentID(routingKey, body)
        let connection = try Broker.connect()
        defer { connection.close() }
        try connection.publishConfirmed([AMQPMessage(exchange: Broker.exchange(for: routingKey), routingKey: routingKey,
                                                     messageID: messageID, body: body)])
        print("published \(routingKey) message_id=\(messageID)")
    }
}

struct AllocationRun: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "allocate", abstract: "Publish allocation.run.")
    @Option var campaign: String
    @Option var region: String?
    @Option var school: String?

    func run() throws {
        var fields: JSONObject = ["campaign": .string(campaign)]
        if let region { fields["region"] = .string(region) }
        if let school { fields["school_code"] = .string(school) }
        let connection = try Broker.connect()
        defer { connection.close() }
        let id = "allocation-run-\(UUID().uuidString.lowercased())"
        try connection.publishConfirmed([AMQPMessage(exchange: Topology.Exchange.commands, routingKey: "allocation.run",
                                                     messageID: id, body: JSONValue.object(fields).serialized())])
        print("published allocation.run message_id=\(id)")
    }
}

struct ProcurementPlan: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "plan", abstract: "Publish procurement.plan.")
    @Option var campaign: String
    @Option(name: .customLong("target"), help: "Target students per working computer.") var target: Double

    func run() throws {
        let connection = try Broker.connect()
        defer { connection.close() }
        let id = "procurement-plan-\(UUID().uuidString.lowercased())"
        let body: JSONValue = ["campaign": .string(campaign), "target_students_per_computer": .number(target)]
        try connection.publishConfirmed([AMQPMessage(exchange: Topology.Exchange.commands, routingKey: "procurement.plan",
                                                     messageID: id, body: body.serialized())])
        print("published procurement.plan message_id=\(id)")
    }
}

struct Watch: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print events from schools.events as they arrive.")
    @Option(help: "Routing-key pattern.") var pattern = "#"
    @Option(help: "Stop after this many seconds.") var seconds: Double?

    func run() throws {
        let connection = try Broker.connect()
        defer { connection.close() }
        let queue = try connection.declareTemporaryQueue(bindingTo: Topology.Exchange.events, routingKeys: [pattern])
        try connection.startConsuming(queue: queue, prefetch: 500)
        let deadline = seconds.map { Date().addingTimeInterval($0) }
        while deadline.map({ Date() < $0 }) ?? true {
            guard let delivery = try connection.nextDelivery(timeout: .milliseconds(500)) else { continue }
            print("\(delivery.routingKey) \(String(decoding: delivery.body, as: UTF8.self))")
            try connection.ack(delivery.deliveryTag)
        }
    }
}

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show each queue's depth and consumers.")

    func run() throws {
        let connection = try Broker.connect()
        defer { connection.close() }
        for queue in Topology.contract.queues {
            let depth = try connection.queueDepth(queue.name)
            print("\(queue.name.padding(toLength: 24, withPad: " ", startingAt: 0)) ready=\(depth.messages) consumers=\(depth.consumers)")
        }
    }
}
