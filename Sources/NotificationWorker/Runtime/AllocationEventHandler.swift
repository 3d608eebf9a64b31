import Foundation
import Logging
import Shared

/// Consumes the `notifications` queue: `allocation.school` becomes an e-mail to the school, `allocation.completed`
/// a summary to the campaign's staff. An event only says which run to look at: what is mailed is read from the
/// database (the run, its allocations and figures), so anyone who can publish to `schools.events` can at most make
/// the worker mail, once, what it would have mailed anyway.
///
/// Each delivery is claimed in `processed_messages` in the transaction that stores its e-mails, and every e-mail
/// has its unique key on top: a delivery seen twice plans nothing twice.
final class AllocationEventHandler: BatchHandler {
    static let queue = Topology.QueueName.notifications

    private let schoolNow: @Sendable () -> Date
    private let messageIDDomain: String
    private let limits: MessageLimits
    /// `NOTIFY_SUMMARIES_PER_HOUR`: allocation runs summarised to a campaign's staff in any hour.
    private let summariesPerHour: Int
    private let logger: Logger

    init(schoolNow: @escaping @Sendable () -> Date, messageIDDomain: String, limits: MessageLimits = .default,
         summariesPerHour: Int = 6, logger: Logger) {
        self.schoolNow = schoolNow
        self.messageIDDomain = messageIDDomain
        self.limits = limits
        self.summariesPerHour = summariesPerHour
        self.logger = logger
    }

    func handle(_ deliveries: [AMQPDelivery], database: PostgresConnection) throws -> BatchResult {
        try Inbox.retrying(logger: logger) {
            try database.transaction { database throws in try process(deliveries, database: database) }
        }
    }

    private func process(_ deliveries: [AMQPDelivery], database: PostgresConnection) throws -> BatchResult {
        let ids = deliveries.map(Self.messageID(of:))
        let keys = zip(deliveries, ids).map { Inbox.claimKey(queue: Self.queue, stream: $0.exchange, id: $1) }
        var publishers: [String: String?] = [:]
        for (key, delivery) in zip(keys, deliveries) where publishers[key] == nil { publishers[key] = delivery.userID }
        let fresh = try Inbox.claim(publishers.map { ($0.key, $0.value) }, queue: Self.queue,
                                     database: database)
        var result = BatchResult()
        var seen = Set<String>()
        for ((delivery, id), key) in zip(zip(deliveries, ids), keys) {
            guard fresh.contains(key), seen.insert(key).inserted else {
                result.counts["duplicate", default: 0] += 1
                continue
            }
            // Events are a stranger's like any message: bounded before parsing, parsed strictly. One that is not
            // is rejected (dead-lettered, for an operator to look at) and never blocks the queue.
            let body: JSONValue
            do throws(JSONParser.Failure) {
                guard delivery.body.count <= limits.maximumBodyBytes else {
                    throw JSONParser.Failure(offset: 0, reason: "over MAX_MESSAGE_BYTES", isTooLarge: true)
                }
                body = try JSONParser.parse(delivery.body, maximumValues: MessageLimits.maximumJSONValues)
            } catch {
                logger.error("event body is too large or not JSON; dead-lettering it",
                             metadata: ["message.id": "\(id)", "event.bytes": "\(delivery.body.count)",
                                        "event.problem": "\(error.reason)"])
                // For `schoolict dead list`, with the batch: the parser's reasons name a rule, never the content.
                try Failures.record(delivery, queue: Self.queue, outcome: nil,
                                    reason: Failures.Reason("\(error.reason) at byte \(error.offset)"),
                                    code: error.isTooLarge ? .tooLarge : .malformed, database: database)
                result.deadLetter.insert(delivery.deliveryTag)
                result.counts["malformed", default: 0] += 1
                continue
            }
            let outcome: String
            switch delivery.routingKey {
            case "allocation.school": outcome = try planAllocationNotice(body, messageID: id, database: database)
            case "allocation.completed": outcome = try planAllocationSummary(body, messageID: id, database: database)
            default: outcome = "ignored"
            }
            result.counts[outcome, default: 0] += 1
        }
        return result
    }

    /// The contract requires `message_id`; a publisher that forgot it still gets its event handled once per body.
    /// An id that breaks the rules (``MessageID``) is replaced by one derived from its bytes and the body.
    static func messageID(of delivery: AMQPDelivery) -> String {
        if let id = delivery.messageID, !id.isEmpty { return id }
        if let raw = delivery.rawMessageID, !raw.isEmpty { return MessageID.derivedForInvalid(rawID: raw, body: delivery.body) }
        return "body-sha256-" + SHA256.hexDigest(of: SHA256.hash(delivery.body))
    }

    /// A run id as the AllocationWorker makes them (`run-…`, at most 255 bytes of text); anything else is forged.
    static func runID(_ value: JSONValue?) -> String? {
        guard case .string(let text)? = value, text.hasPrefix("run-"), text.utf8.count <= MessageID.maximumBytes,
              MessageID.validated(Array(text.utf8)) != nil else { return nil }
        return text
    }

    /// `allocation.school`: an e-mail to the school listing what the run allocated to it. Only the event's campaign,
    /// run and school are read; the allocations come from the database, so a forged or replayed event mails nobody
    /// anything the database does not hold.
    private func planAllocationNotice(_ body: JSONValue, messageID: String, database: PostgresConnection) throws -> String {
        guard let campaignName = Identifier.echoed(body["campaign"]), let runID = Self.runID(body["run_id"]),
              let code = Identifier.echoed(body["school_code"]) else {
            logger.warning("allocation.school lacks a valid campaign, run_id or school_code", metadata: ["message.id": "\(messageID)"])
            return "malformed"
        }
        guard let campaign = try PlanningStore.campaigns([campaignName], database: database)[campaignName],
              let school = try PlanningStore.school(code, database: database),
              try PlanningStore.recordedRun(runID, campaign: campaignName, database: database) != nil else {
            logger.warning("allocation.school names a campaign, school or run the database does not hold; no e-mail",
                           metadata: ["message.id": "\(messageID)", "campaign": "\(campaignName)", "school.code": "\(code)"])
            return "unknown"
        }
        let stored = try PlanningStore.allocations(runID: runID, campaign: campaignName, schoolCode: code, database: database)
        guard !stored.items.isEmpty else {
            logger.warning("allocation.school for a school the run allocated nothing to; no e-mail",
                           metadata: ["message.id": "\(messageID)", "campaign": "\(campaignName)", "school.code": "\(code)"])
            return "unknown"
        }
        guard try !alreadyPlanned(.allocationNotice, campaign: campaignName, runID: runID, recipient: school.officialEmail,
                                  database: database) else { return "duplicate" }
        let now = schoolNow()
        let allocatedAt = stored.allocatedAt ?? now
        let payload = AllocationNoticePayload(
            school: school.ref, runID: runID, handoverDays: campaign.handoverDays,
            handoverDueAt: ReminderSchedule.handoverOverdue(allocatedAt: allocatedAt, handoverDays: campaign.handoverDays),
            allocations: stored.items)
        let key = NotificationKey(kind: .allocationNotice, campaign: campaignName, series: runID,
                                  day: campaign.calendar.day(of: now), recipient: school.officialEmail)
        try NotificationStore.insert([PlannedNotification(key: key, messageIDDomain: messageIDDomain, schoolCode: code,
                                                          language: school.language, payload: payload.json, dueAt: now)],
                                     database: database)
        return "planned"
    }

    /// `allocation.completed`: a summary to the campaign's staff, with the figures the database recorded for the
    /// run (never the event's), at most ``summariesPerHour`` runs' summaries per campaign in an hour.
    private func planAllocationSummary(_ body: JSONValue, messageID: String, database: PostgresConnection) throws -> String {
        guard let campaignName = Identifier.echoed(body["campaign"]), let runID = Self.runID(body["run_id"]) else {
            logger.warning("allocation.completed lacks a valid campaign or run_id", metadata: ["message.id": "\(messageID)"])
            return "malformed"
        }
        guard let campaign = try PlanningStore.campaigns([campaignName], database: database)[campaignName],
              let run = try PlanningStore.recordedRun(runID, campaign: campaignName, database: database) else {
            logger.warning("allocation.completed names a campaign or run the database does not hold; no e-mail",
                           metadata: ["message.id": "\(messageID)", "campaign": "\(campaignName)"])
            return "unknown"
        }
        let recent = try PlanningStore.summariesPlanned(campaign: campaignName, since: Date().addingTimeInterval(-3600),
                                                        database: database)
        guard recent < summariesPerHour else {
            logger.warning("allocation summaries for this campaign are over their hourly limit; no e-mail for this run",
                           metadata: ["message.id": "\(messageID)", "campaign": "\(campaignName)",
                                      "notify.summaries_per_hour": "\(summariesPerHour)"])
            return "rate_limited"
        }
        let payload = AllocationSummaryPayload(
            runID: runID, allocated: run.allocated, waiting: run.waiting,
            schools: try PlanningStore.devicesPerSchool(runID: runID, campaign: campaignName, database: database))
        let language = try PlanningStore.staffLanguage(of: campaign, database: database)
        let now = schoolNow()
        var planned: [PlannedNotification] = []
        var seen = Set<String>()
        for address in campaign.staffEmails where seen.insert(address.lowercased()).inserted {
            guard try !alreadyPlanned(.allocationSummary, campaign: campaignName, runID: runID, recipient: address,
                                      database: database) else { continue }
            let key = NotificationKey(kind: .allocationSummary, campaign: campaignName, series: runID,
                                      day: campaign.calendar.day(of: now), recipient: address)
            planned.append(PlannedNotification(key: key, messageIDDomain: messageIDDomain, language: language,
                                               payload: payload.json, dueAt: now))
        }
        try NotificationStore.insert(planned, database: database)
        return planned.isEmpty ? "duplicate" : "planned"
    }

    /// An allocation e-mail is once per run and recipient, whatever day the event is (re)delivered on.
    private func alreadyPlanned(_ kind: NotificationKind, campaign: String, runID: String, recipient: String,
                                database: PostgresConnection) throws -> Bool {
        try !database.query("""
            SELECT 1 FROM notifications WHERE kind = $1 AND campaign = $2 AND series = $3 AND recipient = $4
            """, [kind.rawValue, campaign, runID, recipient.lowercased()]).isEmpty
    }
}
