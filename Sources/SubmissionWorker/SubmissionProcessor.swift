import Foundation
import Logging
import Metrics
import Shared

/// Processes batches from the `submissions` queue: decide, store the effects, the idempotency record and
/// the outcomes (in the outbox) in one transaction; the consumer loop then acknowledges and the relay publishes.
final class SubmissionProcessor: BatchHandler {
    static let queue = Topology.QueueName.submissions

    private let clock: SchoolClock
    private let limits: MessageLimits
    private let logger: Logger
    /// How long before its first receipt each accepted submission says it was submitted (`submitted_at`):
    /// backdating shows as a long tail.
    private let lagHistogram = Metrics.Timer(label: "schoolict_submission_lag_seconds", preferredDisplayUnit: .seconds)

    init(clock: SchoolClock, limits: MessageLimits = .default, logger: Logger) {
        self.clock = clock
        self.limits = limits
        self.logger = logger
    }

    /// What `orderKeys` decoded, for the `handle` calls that follow (with the body, so a stale entry after a
    /// reconnect, when delivery tags start again, is never taken for another message).
    private var decodedByTag: [UInt64: (body: [UInt8], message: IncomingMessage)] = [:]

    /// Commands (registry changes, runs) apply in queue order (`docs/asyncapi.yaml`): one waits for every earlier
    /// delivery and holds back every later one. A submission waits only for earlier ones touching the same school
    /// (an `inventory` replaces what an earlier `insert` added), device, donation or message id.
    func orderKeys(of deliveries: [AMQPDelivery]) -> [BatchKeys] {
        decodedByTag.removeAll(keepingCapacity: true)
        return deliveries.map { delivery in
            let message = IncomingMessage.classify(delivery, limits: limits)
            decodedByTag[delivery.deliveryTag] = (delivery.body, message)
            var keys: Set<Int> = [BatchKeys.key("message", message.messageID)]
            switch message {
            case .command: return .all
            case .invalid: break
            case .submission(_, let submission): Self.insertKeys(of: submission, into: &keys)
            }
            return .some(keys)
        }
    }

    private static func insertKeys(of submission: Submission, into keys: inout Set<Int>) {
        let header = submission.header
        if let school = header.schoolCode { keys.insert(BatchKeys.key("school", header.campaign, school)) }
        switch submission {
        case .equipmentInventory, .deviceNeedReport:
            break
        case .donationRecord(let donation):
            keys.insert(BatchKeys.key("donation", donation.donationRef))
            if let school = donation.targetSchoolCode { keys.insert(BatchKeys.key("school", header.campaign, school)) }
            for device in donation.devices { keys.insert(BatchKeys.key("device", device.serial)) }
        case .handoverRecord(let handover):
            keys.insert(BatchKeys.key("device", handover.deviceSerial))
        }
    }

    func handle(_ deliveries: [AMQPDelivery], database: PostgresConnection) throws -> BatchResult {
        let started = ContinuousClock.now
        let messages = deliveries.map { delivery in
            if let cached = decodedByTag.removeValue(forKey: delivery.deliveryTag), cached.body == delivery.body {
                return cached.message
            }
            return IncomingMessage.classify(delivery, limits: limits)
        }
        let decoded = ContinuousClock.now
        defer {
            logger.debug("batch processed", metadata: [
                "batch.size": "\(deliveries.count)", "batch.decode_ms": "\((decoded - started).milliseconds)",
                "batch.database_ms": "\((ContinuousClock.now - decoded).milliseconds)",
            ])
        }
        do {
            return try Inbox.retrying(logger: logger) {
                try database.transaction { database in
                    try process(messages, deliveries: deliveries, database: database)
                }
            }
        } catch let error as PostgresError where error.isConnectionError {
            throw error
        } catch let error as PostgresError where deliveries.count > 1 {
            // A concurrent worker may have stored a conflicting serial or donation between our checks
            // and our writes: process one by one, so each message is decided on committed data and
            // one bad message does not fail the others.
            logger.warning("batch failed, processing its messages one by one",
                           metadata: ["db.sqlstate": "\(error.sqlState ?? "")", "batch.size": "\(deliveries.count)"])
            return try handleOneByOne(deliveries, database: database)
        } catch let error as PostgresError {
            return try giveUp(on: deliveries[0], message: messages[0], error: error, database: database)
        }
    }

    private func handleOneByOne(_ deliveries: [AMQPDelivery], database: PostgresConnection) throws -> BatchResult {
        var result = BatchResult()
        for delivery in deliveries {
            let single = try handle([delivery], database: database)
            result.deadLetter.formUnion(single.deadLetter)
            result.counts.merge(single.counts, uniquingKeysWith: +)
        }
        return result
    }

    /// A message that fails on its own: its outcome says so and the broker keeps it in `submissions.dead`
    /// for an operator; it is not recorded as processed, so a replay after a fix takes effect (its outcome row is
    /// transient: deleted once published).
    private func giveUp(on delivery: AMQPDelivery, message: IncomingMessage, error: PostgresError,
                        database: PostgresConnection) throws -> BatchResult {
        logger.error("message failed on its own; dead-lettering it",
                     metadata: ["submission.id": "\(message.messageID)", "db.sqlstate": "\(error.sqlState ?? "")",
                                "db.constraint": "\(error.constraint ?? "")"])
        var outcome = Outcome.rejected(message.messageID, subject(of: message),
                                       [FieldError(.processingFailed, field: "",
                                                   "the message could not be stored; it is kept for an operator")])
        outcome.trace = delivery.trace
        try Failures.record(delivery, queue: Self.queue, outcome: outcome.message, reason: .database(error), database: database)
        return BatchResult(deadLetter: [delivery.deliveryTag], counts: ["failed": 1])
    }

    /// A message delivered too often: if it was processed before (redelivered by lost connections, not by
    /// crashes), its stored outcome again; otherwise rejected with `processing_failed` and kept in
    /// `submissions.dead`. The body is not parsed: it may be what crashes the worker.
    func poisonVerdict(for delivery: AMQPDelivery, database: PostgresConnection) throws -> PoisonVerdict {
        try .forMessage(delivery, queue: Self.queue, database: database)
    }

    private func subject(of message: IncomingMessage) -> Outcome.Subject {
        switch message {
        case .submission(_, let submission): .submission(submission.type.rawValue)
        case .command(_, let command): .command(command.key.rawValue)
        case .invalid(let outcome): outcome.subject
        }
    }

    /// Runs inside the batch transaction: ``InboxBatch`` sorts out what was processed before and records the
    /// decisions; this decides the new messages, in queue order.
    private func process(_ messages: [IncomingMessage], deliveries: [AMQPDelivery],
                         database: PostgresConnection) throws -> BatchResult {
        var phases = PhaseTimer()
        let inbox = try InboxBatch(deliveries, messages: messages, queue: Self.queue, database: database)
        phases.mark("claim")

        var outcomes: [String: Outcome] = [:]
        var segment: [(key: String, id: String, submission: Submission, publishedBy: String?)] = []
        func flush() throws {
            for (key, outcome) in try decideSegment(segment, database: database) { outcomes[key] = outcome }
            segment.removeAll()
        }
        for entry in inbox.fresh {
            switch entry.message {
            case .submission(let id, let submission):
                segment.append((entry.key, id, submission, entry.delivery.userID))
            case .invalid(let outcome):
                outcomes[entry.key] = outcome
            case .command(let id, let command):
                // Registry changes apply in queue order: decide what came before them first.
                try flush()
                outcomes[entry.key] = try apply(command, id: id, database: database)
            }
        }
        try flush()
        phases.mark("decide_write")
        let counts = try inbox.record(outcomes, database: database)
        phases.mark("record")
        logger.debug("batch phases", metadata: phases.metadata)
        return BatchResult(counts: counts)
    }

    private func decideSegment(_ segment: [(key: String, id: String, submission: Submission, publishedBy: String?)],
                               database: PostgresConnection) throws -> [(String, Outcome)] {
        guard !segment.isEmpty else { return [] }
        var phases = PhaseTimer()
        let now = clock.now()
        var context = try SubmissionStore.loadContext(for: segment.map(\.submission), now: now, database: database)
        phases.mark("context")
        var effects = SubmissionEffects()
        var outcomes: [(String, Outcome)] = []
        outcomes.reserveCapacity(segment.count)
        for (key, id, submission, publishedBy) in segment {
            let decision = SubmissionRules.decide(submission, in: context)
            let result: Outcome.Result
            switch decision {
            case .accepted(let status, let summary):
                let receipt = SubmissionEffects.Receipt(publishedBy: publishedBy, receivedAt: now,
                                                        maximumLag: context.maximumLag(of: submission))
                effects.add(submission, id: id, status: status, receipt: receipt, context: &context)
                lagHistogram.recordNanoseconds(Int64(max(0, receipt.lag(of: submission)) * 1e9))
                result = .accepted(status: status, summary: summary)
            case .rejected(let errors):
                result = .rejected(errors)
            }
            outcomes.append((key, Outcome(messageID: id, subject: .submission(submission.type.rawValue),
                                          campaign: submission.header.campaign, schoolCode: submission.schoolCode,
                                          result: result)))
        }
        phases.mark("rules")
        try SubmissionStore.write(effects, database: database)
        phases.mark("effects")
        logger.debug("segment phases", metadata: phases.metadata)
        return outcomes
    }

    private func apply(_ command: Command, id: String, database: PostgresConnection) throws -> Outcome {
        let summary: JSONValue
        switch command {
        case .schoolUpsert(let upsert):
            summary = try CommandStore.apply(upsert, database: database)
        case .campaignUpsert(let upsert):
            summary = try CommandStore.apply(upsert, database: database)
        case .studentErase(let erase):
            summary = try CommandStore.erase(erase, database: database)
        case .allocationRun, .procurementPlan:
            return .rejected(id, .command(command.key.rawValue), campaign: command.campaign,
                             [FieldError(.unknownType, field: "routing_key", "this command belongs to the allocations queue")])
        }
        return Outcome(messageID: id, subject: .command(command.key.rawValue), campaign: command.campaign,
                       schoolCode: command.schoolCode, result: .accepted(status: .onTime, summary: summary))
    }
}
