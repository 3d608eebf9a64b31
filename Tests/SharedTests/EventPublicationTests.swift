import Testing

@testable import Shared

/// A broker that refuses some events for good (406) and others for a while (nack): what gets published.
@Suite("Event publication with refusals")
struct EventPublicationTests {
    static func outcome(_ id: String, size: Int = 10) -> AMQPMessage {
        Outcome(messageID: id, subject: .submission("equipment_inventory"), campaign: nil, schoolCode: nil,
                result: .accepted(status: .onTime, summary: .string(String(repeating: "x", count: size)))).message
    }

    static let refusal = AMQPError(code: .serverClosed, replyCode: 406, message: "message size is larger than max size")

    /// A broker taking messages up to `maximumSize` bytes, confirming everything it takes.
    final class Broker {
        let maximumSize: Int
        var transientFailures: Int
        private(set) var confirmed: [AMQPMessage] = []
        private(set) var calls = 0

        init(maximumSize: Int, transientFailures: Int = 0) {
            self.maximumSize = maximumSize
            self.transientFailures = transientFailures
        }

        func publish(_ messages: [AMQPMessage]) throws {
            calls += 1
            if transientFailures > 0 {
                transientFailures -= 1
                throw AMQPError(code: .publishNacked, message: "nack")
            }
            // Like a real channel: messages before the refused one are taken, the channel then closes.
            for message in messages {
                guard message.body.count <= maximumSize else { throw EventPublicationTests.refusal }
                confirmed.append(message)
            }
        }
    }

    @Test("nothing refused: one publish of the whole batch")
    func allTaken() throws {
        let broker = Broker(maximumSize: 1000)
        var publication = EventPublication((1...5).map { Self.outcome("m-\($0)") })
        try publication.run(publish: broker.publish) { _ in Issue.record("nothing should be refused") }
        #expect(broker.calls == 1)
        #expect(broker.confirmed.map(\.correlationID) == ["m-1", "m-2", "m-3", "m-4", "m-5"])
    }

    @Test("an outcome refused for good is replaced by processing_failed once; the others go through, in order")
    func refusedOutcomeReplaced() throws {
        let broker = Broker(maximumSize: 500)
        var publication = EventPublication([Self.outcome("m-1"), Self.outcome("m-2", size: 5000), Self.outcome("m-3")])
        var refusals: [EventPublication.Refusal] = []
        try publication.run(publish: broker.publish) { refusals.append($0) }
        #expect(publication.isDone)
        #expect(refusals.count == 1)
        #expect(refusals.first?.event.correlationID == "m-2")
        let ids = broker.confirmed.map(\.correlationID)
        // m-1 went with the first (refused) attempt and again one by one: a duplicate by message id, harmless.
        #expect(ids.filter { $0 == "m-2" }.count == 1)
        #expect(ids.last == "m-3")
        let replacement = try #require(broker.confirmed.first { $0.correlationID == "m-2" })
        #expect(replacement.messageID == "outcome-m-2")
        #expect(replacement.routingKey == "submission.rejected.equipment_inventory")
        #expect(try JSONParser.parse(replacement.body)["errors"]?.arrayValue?.first?["code"]?.stringValue == "processing_failed")
    }

    @Test("a replacement refused too, and an event that is no outcome, are dropped: never retried forever")
    func refusedForGoodIsDropped() throws {
        let broker = Broker(maximumSize: 10)
        let event = AMQPMessage(exchange: Topology.Exchange.events, routingKey: "allocation.completed",
                                messageID: "allocation-completed-run-1", correlationID: "run-1",
                                body: Array(repeating: 0x20, count: 100))
        var publication = EventPublication([Self.outcome("m-1"), event])
        var refusals: [EventPublication.Refusal] = []
        try publication.run(publish: broker.publish) { refusals.append($0) }
        #expect(publication.isDone)
        #expect(broker.confirmed.isEmpty)
        // The outcome, its replacement, the event.
        #expect(refusals.map(\.event.messageID) == ["outcome-m-1", "outcome-m-1", "allocation-completed-run-1"])
        #expect(refusals.map { $0.replacement != nil } == [true, false, false])
        #expect(broker.calls < 10)
    }

    @Test("a transient failure is thrown to the caller, and the next run goes on with what is pending")
    func transientFailureResumes() throws {
        let broker = Broker(maximumSize: 1000, transientFailures: 1)
        var publication = EventPublication([Self.outcome("m-1"), Self.outcome("m-2")])
        #expect(throws: AMQPError.self) { try publication.run(publish: broker.publish) { _ in } }
        #expect(!publication.isDone)
        try publication.run(publish: broker.publish) { _ in }
        #expect(publication.isDone)
        #expect(broker.confirmed.map(\.correlationID) == ["m-1", "m-2"])
    }
}
