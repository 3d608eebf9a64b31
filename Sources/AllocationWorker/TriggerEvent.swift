import Shared

/// An accepted donation or needs report on the `allocations` queue: all the AllocationWorker takes from it is the
/// campaign to run. The body is a stranger's like any other: bounded, parsed strictly, the campaign a valid
/// identifier; anything else triggers nothing (and is logged and acknowledged: there is no outcome to give).
enum TriggerEvent {
    enum Problem: Error, CustomStringConvertible {
        case tooLarge(Int)
        case notJSON
        case noCampaign

        var description: String {
            switch self {
            case .tooLarge(let bytes): "body of \(bytes) bytes is over MAX_MESSAGE_BYTES"
            case .notJSON: "body is not a bounded JSON object"
            case .noCampaign: "no valid campaign"
            }
        }
    }

    static func campaign(in delivery: AMQPDelivery, limits: MessageLimits) -> Result<String, Problem> {
        guard delivery.body.count <= limits.maximumBodyBytes else { return .failure(.tooLarge(delivery.body.count)) }
        guard case .object(let fields)? = try? JSONParser.parse(delivery.body, maximumValues: MessageLimits.maximumJSONValues)
        else { return .failure(.notJSON) }
        guard let campaign = Identifier.echoed(fields["campaign"]) else { return .failure(.noCampaign) }
        return .success(campaign)
    }
}
