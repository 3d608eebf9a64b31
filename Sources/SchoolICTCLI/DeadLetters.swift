import ArgumentParser
import Foundation
import Shared

/// `schoolict dead list|show|replay|purge`: the dead-letter queues, for an operator (with `AMQP_URL` of a user that
/// may read `<queue>.dead` and publish where messages died from, e.g. the administrator).
///
/// Messages are read with manual acknowledgements and left unacknowledged unless replayed (after the broker
/// confirmed the copy) or purged: closing the connection gives every other one back to the queue, unchanged.
struct Dead: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List, show, replay or purge dead letters (<queue>.dead).",
        subcommands: [List.self, Show.self, Replay.self, Purge.self])

    struct Selection: ParsableArguments {
        @Option(help: "The work queue (submissions, allocations, notifications) or its dead-letter queue.")
        var queue: String
        @Option(help: "Only the message with this message_id.") var id: String?
        @Option(help: "Only messages dead-lettered for this reason (x-death: rejected, expired, maxlen, delivery_limit).")
        var code: String?
        @Flag(help: "Every message (replay and purge need --id, --code or --all).") var all = false
        @Option(help: "Read at most this many messages.") var limit = 10_000

        var deadQueue: String { queue.hasSuffix(".dead") ? queue : queue + ".dead" }
        var workQueue: String { queue.hasSuffix(".dead") ? String(queue.dropLast(5)) : queue }

        func matches(_ delivery: AMQPDelivery) -> Bool {
            if let id, delivery.messageID != id { return false }
            if let code, delivery.death?.reason != code { return false }
            return true
        }

        func requireFilter() throws {
            guard id != nil || code != nil || all else { throw ValidationError("say which: --id, --code or --all") }
        }
    }

    /// The dead letters of a queue, read and held unacknowledged on one connection.
    final class Session {
        let connection: AMQPConnection
        let deliveries: [AMQPDelivery]

        init(_ selection: Selection) throws {
            let url = try AMQPURL(parsing: try Configuration().amqpURL)
            connection = try AMQPConnection(url: url, name: "schoolict dead")
            let depth = try connection.queueDepth(selection.deadQueue).messages
            let wanted = min(depth, selection.limit)
            var read: [AMQPDelivery] = []
            if wanted > 0 {
                try connection.startConsuming(queue: selection.deadQueue, prefetch: UInt16(clamping: min(wanted, 1_000)))
                while read.count < wanted, let delivery = try connection.nextDelivery(timeout: .milliseconds(500)) {
                    read.append(delivery)
                }
            }
            deliveries = read
        }

        /// Closes the connection: every message not acknowledged goes back to the queue.
        func close() { connection.close() }
    }

    /// The stored failure column of each of `deliveries`, in order: `code (reason)` as the worker stored it when the
    /// message failed on its own (``Failures``, read through `DATABASE_URL`, e.g. the operator role), `-` when none
    /// was stored, `?` when the database cannot be read (then with a note saying why).
    static func storedColumns(of deliveries: [AMQPDelivery], queue: String) -> (columns: [String], note: String?) {
        let keys = deliveries.map(failureKey)
        guard !keys.isEmpty else { return ([], nil) }
        let failures: [Failures.Key: Failures.Record]
        do {
            let database = try PostgresConnection(url: try Configuration().databaseURL, applicationName: "schoolict dead")
            defer { database.close() }
            failures = try Failures.latest(queue: queue, messageIDs: Array(Set(keys.map(\.messageID))), database: database)
        } catch let error as PostgresError {
            return (keys.map { _ in "?" }, "stored failures not shown (database: \(error.code))")
        } catch {
            return (keys.map { _ in "?" }, "stored failures not shown (\(error))")
        }
        return (keys.map { key in failures[key].map { "\($0.code) (\($0.reason))" } ?? "-" }, nil)
    }

    /// The key a worker stored a dead letter's failure under: the exchange it was published to and its id as the
    /// worker identified it (a derived id for a missing or invalid one).
    static func failureKey(_ delivery: AMQPDelivery) -> Failures.Key {
        let exchange = delivery.death?.exchange ?? delivery.exchange
        let id = IncomingMessage.identify(exchange: exchange, routingKey: delivery.death?.routingKey ?? delivery.routingKey,
                                          rawID: delivery.rawMessageID, body: delivery.body).id
        return Failures.Key(stream: exchange, messageID: id)
    }

    /// One line per dead letter: id, where it died, reason×count (`x-death`), time, size, and with `stored` the
    /// stored failure column.
    static func line(_ delivery: AMQPDelivery, stored: String? = nil) -> String {
        let death = delivery.death
        let time = death?.time.map { ISO8601.format(Date(timeIntervalSince1970: TimeInterval($0))) } ?? "-"
        return ([delivery.messageID ?? "(invalid or missing id)", death.map { "\($0.exchange) \($0.routingKey)" } ?? "-",
                 death.map { "\($0.reason)×\($0.count)" } ?? "-", time, "\(delivery.body.count) bytes"] + (stored.map { [$0] } ?? []))
            .joined(separator: "  ")
    }

    /// Confirms a bulk action on a terminal; refuses without one unless `--yes`.
    static func confirm(_ action: String, count: Int, yes: Bool) throws -> Bool {
        if yes || count <= 1 { return true }
        guard isatty(STDIN_FILENO) == 1 else { throw ValidationError("\(action) \(count) messages: add --yes") }
        print("\(action) \(count) messages? Type yes: ", terminator: "")
        return readLine() == "yes"
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: """
                One line per dead letter: message id, where it died, reason×count, time, size, and the code and reason \
                the worker stored when it failed on its own (processing_failed; - if none). Consumes nothing.
                """)
        @OptionGroup var selection: Selection

        func run() throws {
            let session = try Session(selection)
            defer { session.close() }
            let matching = session.deliveries.filter(selection.matches)
            let (stored, note) = Dead.storedColumns(of: matching, queue: selection.workQueue)
            for (delivery, column) in zip(matching, stored) { print(Dead.line(delivery, stored: column)) }
            if let note { FileHandle.standardError.write(Data((note + "\n").utf8)) }
            print("\(matching.count) of \(session.deliveries.count) dead letters in \(selection.deadQueue)")
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Properties and body of dead letters, personal fields (names) masked. Consumes nothing.")
        @OptionGroup var selection: Selection

        func run() throws {
            let session = try Session(selection)
            defer { session.close() }
            let matching = session.deliveries.filter(selection.matches)
            let (stored, note) = Dead.storedColumns(of: matching, queue: selection.workQueue)
            if let note { FileHandle.standardError.write(Data((note + "\n").utf8)) }
            for (delivery, column) in zip(matching, stored) {
                print("--- " + Dead.line(delivery, stored: column))
                print("exchange: \(delivery.exchange)  routing key: \(delivery.routingKey)")
                if let correlation = delivery.correlationID { print("correlation_id: \(correlation)") }
                if let user = delivery.userID { print("user_id: \(user)") }
                if let body = try? JSONParser.parse(delivery.body) {
                    print(String(decoding: Dead.masked(body).serialized(), as: UTF8.self))
                } else {
                    print("(\(delivery.body.count) bytes, not JSON)")
                }
            }
        }
    }

    /// A body with every name replaced by `***` (students' `full_name`, a donor's or anyone's `name`).
    static func masked(_ value: JSONValue) -> JSONValue {
        switch value {
        case .object(let fields):
            var result: JSONObject = [:]
            for (key, field) in fields {
                result[key] = ["full_name", "name"].contains(key) && field.stringValue != nil ? .string("***") : masked(field)
            }
            return .object(result)
        case .array(let elements): return .array(elements.map(masked))
        default: return value
        }
    }

    struct Replay: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Publish dead letters again where they died from (same message id, with confirms), then remove them.")
        @OptionGroup var selection: Selection
        @Flag(help: "Print what would be replayed, change nothing.") var dryRun = false
        @Flag(help: "Do not ask before replaying more than one message.") var yes = false

        func run() throws {
            try selection.requireFilter()
            let session = try Session(selection)
            defer { session.close() }
            let matching = session.deliveries.filter(selection.matches)
            let replayable = matching.filter { $0.death != nil }
            for delivery in matching where delivery.death == nil {
                print("skipped (no x-death: not dead-lettered by the broker): " + Dead.line(delivery))
            }
            if dryRun {
                for delivery in replayable { print("would replay: " + Dead.line(delivery)) }
                return
            }
            guard try Dead.confirm("replay", count: replayable.count, yes: yes) else { return }
            let publisher = try AMQPConnection(url: try AMQPURL(parsing: try Configuration().amqpURL), name: "schoolict dead replay")
            defer { publisher.close() }
            try publisher.enableConfirms()
            for delivery in replayable {
                guard let death = delivery.death else { continue }
                // The same id, as sent; no user_id (the replaying user is not the original publisher).
                let copy = AMQPMessage(exchange: death.exchange, routingKey: death.routingKey,
                                       messageID: delivery.messageID ?? "", correlationID: delivery.correlationID,
                                       body: delivery.body, contentType: delivery.contentType ?? "application/json",
                                       rawMessageID: delivery.rawMessageID)
                try publisher.publishConfirmed([copy])
                try session.connection.ack(delivery.deliveryTag)
                print("replayed: " + Dead.line(delivery))
            }
            // Acks sent before the close are applied (basic.cancel first, as the workers do).
            try? session.connection.cancelConsuming()
            print("\(replayable.count) replayed from \(selection.deadQueue)")
        }
    }

    struct Purge: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove dead letters for good.")
        @OptionGroup var selection: Selection
        @Flag(help: "Print what would be removed, change nothing.") var dryRun = false
        @Flag(help: "Do not ask before removing more than one message.") var yes = false

        func run() throws {
            try selection.requireFilter()
            let session = try Session(selection)
            defer { session.close() }
            let matching = session.deliveries.filter(selection.matches)
            if dryRun {
                for delivery in matching { print("would purge: " + Dead.line(delivery)) }
                return
            }
            guard try Dead.confirm("purge", count: matching.count, yes: yes) else { return }
            for delivery in matching { try session.connection.ack(delivery.deliveryTag) }
            // Acks sent before the close are applied (basic.cancel first, as the workers do).
            try? session.connection.cancelConsuming()
            print("\(matching.count) purged from \(selection.deadQueue)")
        }
    }
}
