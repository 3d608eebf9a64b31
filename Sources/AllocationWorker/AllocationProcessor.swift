import Foundation
import Logging
import Shared
import Tracing

/// Processes the `allocations` queue: `allocation.run` and `procurement.plan` commands, and the accepted
/// donations and needs reports that trigger runs. A batch's triggers coalesce into one run per campaign.
final class AllocationProcessor: BatchHandler {
    static let queue = Topology.QueueName.allocations

    private let clock: SchoolClock
    private let limits: MessageLimits
    private let logger: Logger
    private var lastDeadlineCheck = Date.distantPast

    init(clock: SchoolClock, limits: MessageLimits = .default, logger: Logger) {
        self.clock = clock
        self.limits = limits
        self.logger = logger
    }

    func handle(_ deliveries: [AMQPDelivery], database: PostgresConnection) throws -> BatchResult {
        var commands: [AMQPDelivery] = []
        var triggered = Set<String>()
        var ignoredEvents = 0
        for delivery in deliveries {
            if delivery.exchange == Topology.Exchange.events {
                // Accepted donations and needs reports: a run for their campaign (their own outcome is published).
                // Only the campaign is read, and only a bounded body with a well-formed campaign name triggers.
                switch TriggerEvent.campaign(in: delivery, limits: limits) {
                case .success(let campaign):
                    triggered.insert(campaign)
                case .failure(let problem):
                    logger.warning("ignoring an event that triggers no run",
                                   metadata: ["event.routing_key": "\(delivery.routingKey.prefix(100))",
                                              "event.problem": "\(problem)"])
                    ignoredEvents += 1
                }
                continue
            }
            commands.append(delivery)
        }
        let messages = commands.map { IncomingMessage.classify($0, limits: limits) }
        var result = try Inbox.retrying(logger: logger) {
            try database.transaction { database in
                try process(commands: commands, messages: messages, triggered: triggered, database: database)
            }
        }
        if ignoredEvents > 0 { result.counts["ignored", default: 0] += ignoredEvents }
        return result
    }

    /// A delivery seen too often, or refused by the database on its own: a command processed before gets its
    /// stored outcome again; any other is dead-lettered with a `processing_failed` outcome (an event with none).
    /// The body is not parsed: it may be what crashes the worker.
    func poisonVerdict(for delivery: AMQPDelivery, database: PostgresConnection) throws -> PoisonVerdict {
        guard delivery.exchange != Topology.Exchange.events else { return .deadLetter(outcome: nil) }
        return try .forMessage(delivery, queue: Self.queue, database: database)
    }

    /// Starts the first run of a campaign whose needs-report deadline has passed (events before the deadline do
    /// not allocate: a student reported later but on time could outrank one served early, and allocations are
    /// never moved). Returns whether a run stored events.
    func idle(database: PostgresConnection) throws -> Bool {
        var stored = false
        if Date().timeIntervalSince(lastDeadlineCheck) > 10 {
            lastDeadlineCheck = Date()
            let due = try database.query("""
                SELECT c.campaign FROM campaigns c WHERE c.kind = 'device_support' AND c.deadline < $1
                AND NOT EXISTS (SELECT 1 FROM allocation_runs r WHERE r.campaign = c.campaign AND r.trigger = 'deadline'
                                AND r.started_at >= c.updated_at)
                """, [clock.now()]).map { row throws(PostgresError) in try row.string(0) }
            for campaign in due {
                let events = try database.transaction { database in
                    try self.run(campaign: campaign, trigger: "deadline", database: database)
                }
                stored = stored || events > 0
            }
        }
        return stored
    }

    /// A run the worker starts itself; returns how many events it stored for the relay.
    private func run(campaign: String, trigger: String, database: PostgresConnection) throws -> Int {
        guard let record = try database.campaigns([campaign])[campaign], record.kind == .deviceSupport else {
            return 0
        }
        let result = try Self.traced(campaign: campaign, trigger: trigger) {
            try AllocationRun(campaign: record, scope: .campaign, runID: Self.newRunID(), now: clock.now())
                .perform(trigger: trigger, triggerMessageID: nil, database: database)
        }
        logger.info("allocation run", metadata: ["allocation.run_id": "\(result.runID)", "allocation.campaign": "\(campaign)",
                                                 "allocation.allocated": "\(result.figures.allocated)",
                                                 "allocation.waiting": "\(result.figures.waiting)",
                                                 "allocation.trigger": "\(trigger)"])
        // A run nobody asked for that found nothing to allocate stays in `allocation_runs` but says nothing.
        guard result.figures.allocated > 0 else { return 0 }
        let events = result.events()
        try Outbox.store(events, database: database)
        return events.count
    }

    static func newRunID() -> String { "run-" + UUID().uuidString.lowercased() }

    /// An allocation run in an `allocation run` span (a child of the command's trace, if any) with its figures
    /// (campaign, trigger, run id, allocated, waiting: no student), when spans are exported.
    static func traced(campaign: String, trigger: String, parent: TraceContext? = nil,
                       _ run: () throws -> AllocationRun.Result) throws -> AllocationRun.Result {
        try WorkerTracing.withSpan("allocation run", parent: parent) { span in
            span?.attributes["allocation.campaign"] = campaign
            span?.attributes["allocation.trigger"] = trigger
            let result = try run()
            span?.updateAttributes { attributes in
                attributes["allocation.run_id"] = result.runID
                attributes["allocation.allocated"] = result.figures.allocated
                attributes["allocation.waiting"] = result.figures.waiting
            }
            return result
        }
    }

    /// Events a command caused carry its trace, each with a span of its own.
    static func traced(_ events: [AMQPMessage], _ trace: TraceContext?) -> [AMQPMessage] {
        guard let trace else { return events }
        return events.map { event in
            var event = event
            event.trace = trace.child()
            return event
        }
    }

    private func process(commands: [AMQPDelivery], messages: [IncomingMessage], triggered: Set<String>,
                         database: PostgresConnection) throws -> BatchResult {
        // Commands processed before are answered with their stored outcome; the others are recorded with theirs at
        // the end (``InboxBatch``): a concurrent worker running the same command waits on the campaign lock below,
        // and one of the two is retried and finds the claim.
        let inbox = try InboxBatch(commands, messages: messages, queue: Self.queue, database: database)
        // Every campaign this batch may run, locked up front in one order: two workers with the same campaigns
        // in different orders would otherwise deadlock. (The locks are re-entrant; `perform` takes them again.)
        var campaigns = triggered
        for entry in inbox.fresh {
            if case .command(_, .allocationRun(let run)) = entry.message { campaigns.insert(run.campaign) }
        }
        for campaign in campaigns.sorted() {
            try AllocationStore.lockCampaign(campaign, database: database)
        }
        var outcomes: [String: Outcome] = [:]
        var events: [AMQPMessage] = []
        var fullRunDone = Set<String>()
        for entry in inbox.fresh {
            let id = entry.message.messageID
            let trace = entry.delivery.trace
            switch entry.message {
            case .invalid(let rejected):
                outcomes[entry.key] = rejected
            case .submission(_, let submission):
                outcomes[entry.key] = .rejected(id, .submission(submission.type.rawValue), campaign: submission.header.campaign,
                                                [FieldError(.unknownType, field: "routing_key", "submissions go to the submissions queue")])
            case .command(_, .allocationRun(let command)):
                let (commandOutcome, runEvents) = try allocate(command, id: id, trace: trace, database: database)
                outcomes[entry.key] = commandOutcome
                events += Self.traced(runEvents, trace)
                if command.region == nil, command.schoolCode == nil, commandOutcome.isAccepted { fullRunDone.insert(command.campaign) }
            case .command(_, .procurementPlan(let command)):
                let (planOutcome, planEvents) = try plan(command, id: id, database: database)
                outcomes[entry.key] = planOutcome
                events += Self.traced(planEvents, trace)
            case .command(_, let other):
                outcomes[entry.key] = .rejected(id, .command(other.key.rawValue), campaign: other.campaign,
                                                [FieldError(.unknownType, field: "routing_key", "this command belongs to the submissions queue")])
            }
        }
        // Outcomes first, then the runs' and plans' events: the relay publishes in the order they are stored.
        // Redelivered commands get their stored outcome again.
        var result = BatchResult(counts: try inbox.record(outcomes, events: events, database: database))

        let now = clock.now()
        for campaign in triggered.subtracting(fullRunDone).sorted() {
            guard let record = try database.campaigns([campaign])[campaign], record.kind == .deviceSupport else { continue }
            guard record.deadline < now else {
                logger.debug("allocation waits for the needs-report deadline", metadata: ["allocation.campaign": "\(campaign)"])
                continue
            }
            _ = try self.run(campaign: campaign, trigger: "event", database: database)
            result.counts["triggered_run", default: 0] += 1
        }
        return result
    }

    private func allocate(_ command: AllocationRunCommand, id: String, trace: TraceContext?,
                          database: PostgresConnection) throws -> (Outcome, [AMQPMessage]) {
        let subject = Outcome.Subject.command(CommandKey.allocationRun.rawValue)
        guard let campaign = try database.campaigns([command.campaign])[command.campaign] else {
            return (.rejected(id, subject, campaign: command.campaign,
                              [FieldError(.unknownCampaign, field: "campaign", "no campaign with this name")]), [])
        }
        guard campaign.kind == .deviceSupport else {
            return (.rejected(id, subject, campaign: command.campaign,
                              [FieldError(.wrongCampaignKind, field: "campaign", "allocation runs need a device_support campaign")]), [])
        }
        if let code = command.schoolCode, try database.schools([code])[code] == nil {
            return (.rejected(id, subject, campaign: command.campaign, schoolCode: code,
                              [FieldError(.unknownSchool, field: "school_code", "no school with this code")]), [])
        }
        let run = try Self.traced(campaign: command.campaign, trigger: "command", parent: trace) {
            try AllocationRun(campaign: campaign, scope: .init(region: command.region, schoolCode: command.schoolCode),
                              runID: MessageID.fitting("run-" + id), now: clock.now())
                .perform(trigger: "command", triggerMessageID: id, database: database)
        }
        logger.info("allocation run", metadata: ["allocation.run_id": "\(run.runID)", "allocation.campaign": "\(command.campaign)",
                                                 "allocation.allocated": "\(run.figures.allocated)",
                                                 "allocation.waiting": "\(run.figures.waiting)"])
        var phases = run.phases
        let events = run.events()
        phases.mark("events")
        logger.debug("allocation run phases", metadata: phases.metadata)
        return (Outcome(messageID: id, subject: subject, campaign: command.campaign, schoolCode: command.schoolCode,
                        result: .accepted(status: .onTime, summary: run.summary)), events)
    }

    private func plan(_ command: ProcurementPlanCommand, id: String,
                      database: PostgresConnection) throws -> (Outcome, [AMQPMessage]) {
        let subject = Outcome.Subject.command(CommandKey.procurementPlan.rawValue)
        guard let campaign = try database.campaigns([command.campaign])[command.campaign] else {
            return (.rejected(id, subject, campaign: command.campaign,
                              [FieldError(.unknownCampaign, field: "campaign", "no campaign with this name")]), [])
        }
        guard campaign.kind == .equipmentInventory else {
            return (.rejected(id, subject, campaign: command.campaign,
                              [FieldError(.wrongCampaignKind, field: "campaign", "procurement plans need an equipment_inventory campaign")]), [])
        }
        let plan = ProcurementPlan.compute(campaign: campaign.campaign, target: command.targetStudentsPerComputer,
                                           schools: try ProcurementPlan.load(campaign, database: database))
        let planID = MessageID.fitting("plan-" + id)
        try database.query("""
            INSERT INTO procurement_plans (plan_id, campaign, target_students_per_computer, body) VALUES ($1, $2, $3, $4::jsonb)
            """, [planID, campaign.campaign, command.targetStudentsPerComputer, plan.body.jsonString])
        let event = AMQPMessage(exchange: Topology.Exchange.events, routingKey: "procurement.planned",
                                messageID: MessageID.fitting("procurement-planned-\(id)"), correlationID: id, body: plan.body.serialized())
        var summary = plan.summary
        if case .object(var fields) = summary { fields["plan_id"] = .string(planID); summary = .object(fields) }
        return (Outcome(messageID: id, subject: subject, campaign: campaign.campaign, schoolCode: nil,
                        result: .accepted(status: .onTime, summary: summary)), [event])
    }
}
