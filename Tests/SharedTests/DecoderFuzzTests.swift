import Foundation
import TestSupport
import Testing

@testable import Shared

/// A seeded mutation fuzzer over the decoder (``IncomingMessage/classify(exchange:routingKey:rawID:body:limits:)``),
/// bounded in time, and the regression corpus it starts from (`Tests/TestSupport/Corpus`, ``DecoderCorpus``).
///
/// Corpus files are named `<expected>--<routing key>--<what>.json`: `expected` is `accepted` or the first rejection
/// code. Add a file for every input the fuzzer (or anyone) finds wrong. `SCHOOLICT_FUZZ_SECONDS` (default 2) and
/// `SCHOOLICT_FUZZ_SEED` (default fixed) run it longer or elsewhere; a failure prints the input in base64.
@Suite("Decoder fuzzing")
struct DecoderFuzzTests {
    typealias CorpusEntry = DecoderCorpus.Entry
    static let corpus = DecoderCorpus.entries

    @Test("the corpus is there")
    func corpusIsThere() {
        #expect(Self.corpus.count >= 20)
        #expect(Set(Self.corpus.map(\.expected)).isSuperset(of: ["accepted", "malformed", "invalid_field", "too_large"]))
    }

    @Test("every corpus entry gets its expected answer", arguments: corpus)
    func corpusEntry(_ entry: CorpusEntry) throws {
        let message = IncomingMessage.classify(exchange: entry.exchange, routingKey: entry.routingKey,
                                               messageID: "corpus-1", body: entry.body)
        let answer: String
        switch message {
        case .submission, .command: answer = "accepted"
        case .invalid(let outcome):
            guard case .rejected(let errors) = outcome.result else { answer = "?"; break }
            answer = errors.first?.code.rawValue ?? "-"
        }
        #expect(answer == entry.expected)
        try Self.checkInvariants(message, entry: entry, rawID: Array("corpus-1".utf8))
    }

    @Test("mutated corpus entries: one bounded, deterministic answer each; accepted text has no control characters")
    func mutationFuzz() throws {
        let environment = ProcessInfo.processInfo.environment
        let seconds = environment["SCHOOLICT_FUZZ_SECONDS"].flatMap(Double.init) ?? 2
        let seed = environment["SCHOOLICT_FUZZ_SEED"].flatMap(UInt64.init) ?? 0x5C400_1C7
        var random = SplitMix64(seed: seed)
        let corpus = Self.corpus
        try #require(!corpus.isEmpty)
        let deadline = ContinuousClock.now + .seconds(seconds)
        var iterations = 0
        var answers: [String: Int] = [:]
        while ContinuousClock.now < deadline {
            iterations += 1
            let entry = DecoderCorpus.mutated(random: &random)
            let rawID = random.next() % 8 == 0 ? DecoderCorpus.mutate(Array("portal-\(iterations)".utf8), donor: [], random: &random)
                                               : Array("fuzz-\(iterations)".utf8)
            let message = IncomingMessage.classify(exchange: entry.exchange, routingKey: entry.routingKey, rawID: rawID,
                                                   body: entry.body)
            switch message {
            case .submission, .command: answers["accepted", default: 0] += 1
            case .invalid(let outcome):
                if case .rejected(let errors) = outcome.result { answers[errors.first?.code.rawValue ?? "-", default: 0] += 1 }
            }
            do {
                try Self.checkInvariants(message, entry: entry, rawID: rawID)
            } catch {
                Issue.record("""
                    \(error) for a mutation of \(entry.name) (seed \(seed), iteration \(iterations));
                    body (base64): \(Data(entry.body).base64EncodedString()); id (base64): \(Data(rawID).base64EncodedString())
                    """)
                return
            }
        }
        print("decoder fuzz: \(iterations) inputs in \(seconds) s (seed \(seed)): \(answers.sorted { $0.key < $1.key })")
        #expect(iterations > 100)
        // The mutations reach past the parser: some inputs still decode, some fail the rules.
        #expect(answers["accepted", default: 0] > 0)
        #expect(answers["invalid_field", default: 0] > 0)
    }

    struct Violation: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    /// What must hold for every input.
    static func checkInvariants(_ message: IncomingMessage, entry: CorpusEntry, rawID: [UInt8]) throws {
        // The id is the one sent, or derived: never a cut or re-decoded one.
        if rawID.isEmpty {
            guard message.messageID == MessageID.derivedForMissing(body: entry.body) else { throw Violation("missing id not derived") }
        } else if let valid = MessageID.validated(rawID) {
            guard message.messageID == valid, Array(valid.utf8) == rawID else { throw Violation("id changed") }
        } else {
            guard message.messageID == MessageID.derivedForInvalid(rawID: rawID, body: entry.body) else {
                throw Violation("invalid id not derived")
            }
        }
        // Deterministic: the same input gives the same answer.
        let again = IncomingMessage.classify(exchange: entry.exchange, routingKey: entry.routingKey, rawID: rawID, body: entry.body)
        guard again.messageID == message.messageID else { throw Violation("not deterministic") }
        switch message {
        case .invalid(let outcome):
            let published = outcome.message
            guard published.body.count <= MessageLimits.maximumOutgoingBytes else { throw Violation("outcome too large") }
            guard published.correlationID == message.messageID, published.messageID.utf8.count <= 255 else {
                throw Violation("outcome ids wrong")
            }
            let body = try JSONParser.parse(published.body)
            guard (body["errors"]?.arrayValue?.count ?? 0) <= MessageLimits.maximumErrors else { throw Violation("too many errors") }
            for key in ["campaign", "school_code"] {
                if let echoed = body[key]?.stringValue, !Identifier.isValid(echoed) { throw Violation("\(key) echoed unchecked") }
            }
            guard case .invalid(let second) = again, second.message.body == published.body else {
                throw Violation("different outcome the second time")
            }
        case .submission(_, let submission):
            try Self.checkText(in: submission)
        case .command(_, let command):
            try Self.checkText(in: command)
        }
    }

    /// Every string inside a decoded value: no control characters.
    static func checkText(in value: Any) throws {
        if let text = value as? String {
            guard !text.unicodeScalars.contains(where: \.isControl) else { throw Violation("control character accepted") }
            return
        }
        for child in Mirror(reflecting: value).children { try checkText(in: child.value) }
    }
}
