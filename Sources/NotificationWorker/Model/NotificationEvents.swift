import Shared

/// The `notification.sent` event (contract: `{"kind", "to", "campaign", "school_code"?, "dedup_key"}`).
enum NotificationEvents {
    static let sentRoutingKey = "notification.sent"

    static func sent(_ record: NotificationStore.SentRecord) -> AMQPMessage {
        var body: JSONObject = [
            "kind": .string(record.kind.rawValue),
            "to": .string(record.recipient),
            "campaign": .string(record.campaign),
            "dedup_key": .string(record.dedupKey),
        ]
        if let school = record.schoolCode { body["school_code"] = .string(school) }
        // One event per key: a crash that re-records the same e-mail stores (and publishes) the same message id.
        let digest = SHA256.hexDigest(of: Array(record.dedupKey.utf8))
        return AMQPMessage(exchange: Topology.Exchange.events, routingKey: sentRoutingKey,
                           messageID: "notification-sent-" + digest.prefix(40), body: JSONValue.object(body).serialized())
    }
}
