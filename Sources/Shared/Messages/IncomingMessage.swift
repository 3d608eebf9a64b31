/// A delivery on a worker's queue, classified: a submission, a command, or something rejected outright.
public enum IncomingMessage: Sendable {
    case submission(id: String, Submission)
    case command(id: String, Command)
    /// Not processable: the outcome says why.
    case invalid(Outcome)

    public var messageID: String {
        switch self {
        case .submission(let id, _), .command(let id, _): id
        case .invalid(let outcome): outcome.messageID
        }
    }

    /// The message id and subject of a delivery, from its properties and routing alone: the body is only
    /// hashed, never parsed (safe for a message that may crash the parser).
    ///
    /// `rawID` is the `message_id` property's bytes as sent (`nil` = absent). A valid id (``MessageID/validated(_:)``)
    /// is kept exactly: outcomes carry it back as their correlation id. A missing one is derived from the body, an
    /// invalid one from its bytes and the body, so the same delivery always gets the same outcome.
    public static func identify(exchange: String, routingKey: String, rawID: [UInt8]?,
                                body: [UInt8]) -> (id: String, subject: Outcome.Subject, idProblem: FieldError?) {
        let subject: Outcome.Subject
        if exchange == Topology.Exchange.commands, let key = CommandKey(rawValue: routingKey) {
            subject = .command(key.rawValue)
        } else if exchange != Topology.Exchange.commands, let type = SubmissionType(rawValue: routingKey) {
            subject = .submission(type.rawValue)
        } else {
            subject = exchange == Topology.Exchange.commands ? .command("unknown") : .submission("unknown")
        }
        guard let rawID, !rawID.isEmpty else {
            return (MessageID.derivedForMissing(body: body), subject,
                    FieldError(.malformed, field: "message_id", "the AMQP message_id property is required"))
        }
        guard let id = MessageID.validated(rawID) else {
            return (MessageID.derivedForInvalid(rawID: rawID, body: body), subject,
                    FieldError(.malformed, field: "message_id",
                               "the AMQP message_id property must be 1-255 bytes of UTF-8 text in NFC without control characters"))
        }
        return (id, subject, nil)
    }

    /// ``identify(exchange:routingKey:rawID:body:)`` for a delivery.
    public static func identify(_ delivery: AMQPDelivery) -> (id: String, subject: Outcome.Subject, idProblem: FieldError?) {
        identify(exchange: delivery.exchange, routingKey: delivery.routingKey, rawID: delivery.rawMessageID,
                 body: delivery.body)
    }

    /// Classifies and decodes a delivery under `limits`. Never throws: every failure becomes a rejection outcome.
    public static func classify(_ delivery: AMQPDelivery, limits: MessageLimits) -> IncomingMessage {
        classify(exchange: delivery.exchange, routingKey: delivery.routingKey, rawID: delivery.rawMessageID,
                 body: delivery.body, limits: limits)
    }

    /// ``classify(exchange:routingKey:rawID:body:limits:)`` with the id as text (tools and tests).
    public static func classify(exchange: String, routingKey: String, messageID: String?,
                                body: [UInt8], limits: MessageLimits = .default) -> IncomingMessage {
        classify(exchange: exchange, routingKey: routingKey, rawID: messageID.map { Array($0.utf8) }, body: body,
                 limits: limits)
    }

    /// Classifies and decodes a message. Never throws: every failure becomes a rejection outcome, bounded in size.
    ///
    /// The message type comes from the exchange and routing key: submissions on `schools.submissions`
    /// (key = type), commands on `schools.commands` (key = command). The body is checked against `limits` before
    /// it is parsed; a rejection echoes `campaign` and `school_code` only when they meet the identifier rules.
    public static func classify(exchange: String, routingKey: String, rawID: [UInt8]?,
                                body: [UInt8], limits: MessageLimits = .default) -> IncomingMessage {
        let (id, subject, idProblem) = identify(exchange: exchange, routingKey: routingKey, rawID: rawID, body: body)
        let commandKey = exchange == Topology.Exchange.commands ? CommandKey(rawValue: routingKey) : nil
        let submissionType = exchange != Topology.Exchange.commands ? SubmissionType(rawValue: routingKey) : nil

        guard body.count <= limits.maximumBodyBytes else {
            var errors = [FieldError(.tooLarge, field: "",
                                     "the body is larger than \(limits.maximumBodyBytes) bytes (MAX_MESSAGE_BYTES)")]
            if let idProblem { errors.append(idProblem) }
            return .invalid(.rejected(id, subject, errors))
        }
        let object: JSONObject
        do {
            guard case .object(let fields) = try JSONParser.parse(body, maximumValues: MessageLimits.maximumJSONValues) else {
                return .invalid(.rejected(id, subject, [FieldError(.malformed, field: "", "the body must be a JSON object")]
                                          + (idProblem.map { [$0] } ?? [])))
            }
            object = fields
        } catch {
            let problem = error.isTooLarge
                ? FieldError(.tooLarge, field: "", "the body has more than \(MessageLimits.maximumJSONValues) JSON values")
                : FieldError(.malformed, field: "", "the body is not valid JSON (\(error.reason) at byte \(error.offset))")
            return .invalid(.rejected(id, subject, [problem] + (idProblem.map { [$0] } ?? [])))
        }
        let campaign = FieldReader.echoedIdentifier(object["campaign"])
        let school = FieldReader.echoedIdentifier(object["school_code"]) ?? FieldReader.echoedIdentifier(object["target_school_code"])

        if let idProblem {
            return .invalid(.rejected(id, subject, campaign: campaign, schoolCode: school, [idProblem]))
        }
        if let submissionType {
            switch Submission.decode(type: submissionType, from: object) {
            case .success(let submission): return .submission(id: id, submission)
            case .failure(let failure):
                return .invalid(.rejected(id, subject, campaign: campaign, schoolCode: school, failure.errors,
                                          omitted: failure.omitted))
            }
        }
        if let commandKey {
            switch Command.decode(key: commandKey, from: object) {
            case .success(let command): return .command(id: id, command)
            case .failure(let failure):
                return .invalid(.rejected(id, subject, campaign: campaign, schoolCode: school, failure.errors,
                                          omitted: failure.omitted))
            }
        }
        return .invalid(.rejected(id, subject, campaign: campaign, schoolCode: school,
                                  [FieldError(.unknownType, field: "routing_key",
                                              "no message type is published with this routing key on this exchange")]))
    }
}
