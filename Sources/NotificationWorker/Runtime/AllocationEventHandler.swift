import Foundation
import Logging
import Shared

/// Consumes the `notifications` queue: `allocation.school` becomes an e-mail to the school, `allocation.completed`
/// a summary to the campaign's staff.
///
/// Each delivery is claimed in `processed_messages` in the transaction that stores its e-mails, and every e-mail
/// has its unique key on top: a delivery seen twice plans nothing twice.
final class AllocationEventHandler: BatchHandler {
    static let queue = Topology.QueueName.notifications

    private let schoolNow: @Sendable () -> Date
    private let messageIDDomain: String
    private let limits: MessageLimits
    private let logger: Logger

    init(schoolNow: @escaping @Sendable () -> Date, messageIDDomain: String, limits: MessageLimits = .default,
         logger: Logger) {
        self.schoolNow = schoolNow
        self.messageIDDomain = messageIDDomain
        self.limits = limits
        self.logger = logger
    }

    func handle(_ deliveries: [AMQPDelivery], database: PostgresConnection) throws -> BatchResult {
        var attempt = 0
        while true {
            attempt += 1
            do {
                return try database.transaction { database throws in try process(deliveries, database: database) }
            } catch let error as PostgresError where error.isSerializationFailure && attempt < 4 {
                logger.info("batch hit a deadlock or serialization failure, retrying",
                            metadata: ["db.sqlstate": "\(error.sqlState ?? "")"])
            }
        }
    }

    private func process(_ deliveries: [AMQPDelivery], database: PostgresConnection) throws -> BatchResult {
        let ids = deliveries.map(Self.messageID(of:))
        let fresh = try Outbox.claim(messageIDs: Array(Set(ids)).sorted(), queue: Self.queue, database: database)
        var result = BatchResult()
        var seen = Set<String>()
        for (delivery, id) in zip(deliveries, ids) {
            guard fresh.contains(id), seen.insert(id).inserted else {
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
        return "body-sha256-" + SHA256.hex(SHA256.hash(delivery.body))
    }

    /// A run id as the AllocationWorker makes them (`run-…`, at most 255 bytes of text); anything else is forged.
    static func runID(_ value: JSONValue?) -> String? {
        guard case .string(let text)? = value, text.hasPrefix("run-"), text.utf8.count <= MessageID.maximumBytes,
              MessageID.validated(Array(text.utf8)) != nil else { return nil }
        return text
    }

    private func planAllocationNotice(_ body: JSONValue, messageID: String, database: PostgresConnection) throws -> String {
        guard let campaignName = Identifier.echoed(body["campaign"]), let runID = Self.runID(body["run_id"]),
              let code = Identifier.echoed(body["school_code"]), let items = body["allocations"]?.arrayValue,
              items.count <= MessageLimits.maximumStudents else {
            logger.warning("allocation.school lacks campaign, run_id, school_code or allocations",
                           metadata: ["message.id": "\(messageID)"])
            return "malformed"
        }
        let allocations = items.compactMap { item -> AllocationNoticePayload.Item? in
            guard let student = Identifier.echoed(item["student_ref"]), let serial = Identifier.echoed(item["device_serial"]) else {
                return nil
            }
            return AllocationNoticePayload.Item(studentRef: student, deviceSerial: serial)
        }.sorted { ($0.studentRef, $0.deviceSerial) < ($1.studentRef, $1.deviceSerial) }
        guard !allocations.isEmpty else { return "empty" }
        guard let campaign = try PlanningStore.campaigns([campaignName], database: database)[campaignName],
              let school = try PlanningStore.school(code, database: database) else {
            logger.warning("allocation.school for an unknown campaign or school; no e-mail",
                           metadata: ["message.id": "\(messageID)", "campaign": "\(campaignName)", "school.code": "\(code)"])
            return "unknown"
        }
        guard try !alreadyPlanned(.allocationNotice, campaign: campaignName, runID: runID, recipient: school.officialEmail,
                                  database: database) else { return "duplicate" }
        let now = schoolNow()
        let allocatedAt = try PlanningStore.allocatedAt(runID: runID, schoolCode: code, database: database) ?? now
        let payload = AllocationNoticePayload(
            school: school.ref, runID: runID, handoverDays: campaign.handoverDays,
            handoverDueAt: ReminderSchedule.handoverOverdue(allocatedAt: allocatedAt, handoverDays: campaign.handoverDays),
            allocations: allocations)
        let key = NotificationKey(kind: .allocationNotice, campaign: campaignName, series: runID,
                                  day: campaign.calendar.day(of: now), recipient: school.officialEmail)
        try NotificationStore.insert([PlannedNotification(key: key, messageIDDomain: messageIDDomain, schoolCode: code,
                                                          language: school.language, payload: payload.json, dueAt: now)],
                                     database: database)
        return "planned"
    }

    private func planAllocationSummary(_ body: JSONValue, messageID: String, database: PostgresConnection) throws -> String {
        guard let campaignName = Identifier.echoed(body["campaign"]), let runID = Self.runID(body["run_id"]) else {
            logger.warning("allocation.completed lacks campaign or run_id", metadata: ["message.id": "\(messageID)"])
            return "malformed"
        }
        guard let campaign = try PlanningStore.campaigns([campaignName], database: database)[campaignName] else {
            logger.warning("allocation.completed for an unknown campaign; no e-mail",
                           metadata: ["message.id": "\(messageID)", "campaign": "\(campaignName)"])
            return "unknown"
        }
        let schools = (body["schools"]?.arrayValue ?? []).prefix(100_000).compactMap { item -> AllocationSummaryPayload.School? in
            guard let code = Identifier.echoed(item["school_code"]) else { return nil }
            return AllocationSummaryPayload.School(code: code, devices: item["devices"]?.intValue ?? 0)
        }.sorted { $0.code < $1.code }
        let payload = AllocationSummaryPayload(runID: runID, allocated: body["allocated"]?.intValue ?? 0,
                                               waiting: body["waiting"]?.intValue ?? 0, schools: schools)
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
