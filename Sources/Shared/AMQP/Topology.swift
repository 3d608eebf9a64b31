/// Exchanges, queues and bindings of the message contract (`docs/asyncapi.yaml`, "Topology").
extension Topology {
    public enum Exchange {
        public static let submissions = "schools.submissions"
        public static let commands = "schools.commands"
        public static let events = "schools.events"
        public static let dead = "schools.dead"
    }

    public enum QueueName {
        public static let submissions = "submissions"
        public static let allocations = "allocations"
        public static let notifications = "notifications"
    }

    /// A durable quorum queue that dead-letters to `schools.dead` with its own name as the key, plus its
    /// `<name>.dead` queue.
    static func workQueue(_ name: String, bindings: [Binding]) -> [Queue] {
        [
            Queue(name: name, arguments: [
                ("x-queue-type", .string("quorum")),
                ("x-dead-letter-exchange", .string(Exchange.dead)),
                ("x-dead-letter-routing-key", .string(name)),
            ], bindings: bindings),
            Queue(name: name + ".dead", arguments: [("x-queue-type", .string("quorum"))],
                  bindings: [Binding(exchange: Exchange.dead, routingKey: name)]),
        ]
    }

    /// The whole contract topology; every worker and tool declares it (idempotent).
    public static let contract = Topology(
        exchanges: [Exchange.submissions, Exchange.commands, Exchange.events, Exchange.dead],
        queues: workQueue(QueueName.submissions, bindings: [
            Binding(exchange: Exchange.submissions, routingKey: "#"),
            Binding(exchange: Exchange.commands, routingKey: "campaign.upsert"),
            Binding(exchange: Exchange.commands, routingKey: "school.upsert"),
            Binding(exchange: Exchange.commands, routingKey: "student.erase"),
        ]) + workQueue(QueueName.allocations, bindings: [
            Binding(exchange: Exchange.commands, routingKey: "allocation.run"),
            Binding(exchange: Exchange.commands, routingKey: "procurement.plan"),
            Binding(exchange: Exchange.events, routingKey: "submission.accepted.donation_record"),
            Binding(exchange: Exchange.events, routingKey: "submission.accepted.device_need_report"),
        ]) + workQueue(QueueName.notifications, bindings: [
            Binding(exchange: Exchange.events, routingKey: "allocation.school"),
            Binding(exchange: Exchange.events, routingKey: "allocation.completed"),
        ])
    )
}
