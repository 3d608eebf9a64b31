import Foundation
import Testing

@testable import Shared

/// A seeded mutation fuzzer over the decoder (``IncomingMessage/classify(exchange:routingKey:rawID:body:limits:)``),
/// bounded in time, and the regression corpus it starts from (`Tests/SharedTests/Corpus`).
///
/// Corpus files are named `<expected>--<routing key>--<what>.json`: `expected` is `accepted` or the first rejection
/// code. Add a file for every input the fuzzer (or anyone) finds wrong. `SCHOOLICT_FUZZ_SECONDS` (default 2) and
/// `SCHOOLICT_FUZZ_SEED` (default fixed) run it longer or elsewhere; a failure prints the input in base64.
@Suite("Decoder fuzzing")
struct DecoderFuzzTests {
    struct CorpusEntry: Sendable, CustomTestStringConvertible {
        var name: String
        var expected: String
        var routingKey: String
        var body: [UInt8]
        var testDescription: String { name }

        var exchange: String {
            CommandKey(rawValue: routingKey) == nil ? Topology.Exchange.submissions : Topology.Exchange.commands
        }
    }

    static let corpusDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Corpus")

    static let corpus: [CorpusEntry] = {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: corpusDirectory.path)) ?? []
        return names.filter { $0.hasSuffix(".json") }.sorted().compactMap { name in
            let parts = name.dropLast(5).components(separatedBy: "--")
            guard parts.count == 3, let data = FileManager.default.contents(atPath: corpusDirectory.appendingPathComponent(name).path)
            else { return nil }
            return CorpusEntry(name: name, expected: parts[0], routingKey: parts[1], body: Array(data))
        }
    }()

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
            var entry = corpus[Int(random.next() % UInt64(corpus.count))]
            let donor = corpus[Int(random.next() % UInt64(corpus.count))]
            if random.next() % 2 == 0, let tree = try? JSONParser.parse(entry.body) {
                // Structure-aware: valid JSON with hostile values where fields are, so the rules are reached.
                var mutated = tree
                for _ in 0..<(1 + Int(random.next() % 3)) { mutated = Self.mutateTree(mutated, random: &random) }
                entry.body = mutated.serialized()
            } else {
                for _ in 0..<(1 + Int(random.next() % 4)) {
                    entry.body = Self.mutate(entry.body, donor: donor.body, random: &random)
                }
            }
            let rawID = random.next() % 8 == 0 ? Self.mutate(Array("portal-\(iterations)".utf8), donor: [], random: &random)
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

    static let hostileValues: [JSONValue] = [
        .string("A\u{0}B"), .string("\u{1B}[31m"), .string("x\u{85}"), .string(String(repeating: "é", count: 300)),
        .string("x y"), .string("<script>"), .string(""), .string("   "), .string("e\u{301}"), .string("2022-13-45T99:99:99Z"),
        .number(1e300), .number(-1), .number(1.5), .number(0), .number(1e15), .null, .bool(true), .array([]), .object([:]),
        .array([.string("PJ-77"), .string("PJ-77")]), .string("mail@0551010.sch.gr"), .string("covid_orphan"),
    ]

    /// One mutation of a parsed body: a value somewhere replaced by a hostile one, or an array element repeated.
    static func mutateTree(_ value: JSONValue, random: inout SplitMix64) -> JSONValue {
        switch value {
        case .object(var fields) where !fields.isEmpty && random.next() % 4 != 0:
            let keys = fields.keys.sorted()
            let key = keys[Int(random.next() % UInt64(keys.count))]
            fields[key] = mutateTree(fields[key]!, random: &random)
            return .object(fields)
        case .array(var elements) where !elements.isEmpty && random.next() % 4 != 0:
            let index = Int(random.next() % UInt64(elements.count))
            if random.next() % 4 == 0 {
                elements.append(elements[index])
            } else {
                elements[index] = mutateTree(elements[index], random: &random)
            }
            return .array(elements)
        default:
            return hostileValues[Int(random.next() % UInt64(hostileValues.count))]
        }
    }

    static let tokens: [[UInt8]] = [
        "\\u0000", "\\u001b", "\\u0085", "\\ud800", "\\udc00", "\"", "\\", "{", "}", "[", "]", ",", ":", "null", "true",
        "1e999", "-0", "1.5", "99999999999999999999", "\"campaign\":\"x\",", "\"items\":[],", " ", "\u{0}", "é", "e\u{301}",
        "\"serial_numbers\":[1,2],", "\"students\":[{}],",
    ].map { Array($0.utf8) } + [[0xFF], [0xC3], [0xED, 0xA0, 0x80], [0x0A]]

    /// One mutation: flip, insert a token, delete or repeat a range, splice from the donor, or truncate.
    static func mutate(_ input: [UInt8], donor: [UInt8], random: inout SplitMix64) -> [UInt8] {
        var bytes = input
        func position() -> Int { bytes.isEmpty ? 0 : Int(random.next() % UInt64(bytes.count + 1)) }
        switch random.next() % 7 {
        case 0 where !bytes.isEmpty:
            let index = Int(random.next() % UInt64(bytes.count))
            bytes[index] ^= UInt8(1 << (random.next() % 8))
        case 1:
            bytes.insert(contentsOf: tokens[Int(random.next() % UInt64(tokens.count))], at: position())
        case 2 where !bytes.isEmpty:
            let start = position() % bytes.count
            let end = min(bytes.count, start + 1 + Int(random.next() % 16))
            bytes.removeSubrange(start..<end)
        case 3 where !bytes.isEmpty:
            let start = position() % bytes.count
            let end = min(bytes.count, start + 1 + Int(random.next() % 64))
            bytes.insert(contentsOf: bytes[start..<end], at: position())
        case 4 where !donor.isEmpty:
            let start = Int(random.next() % UInt64(donor.count))
            let end = min(donor.count, start + 1 + Int(random.next() % 128))
            bytes.insert(contentsOf: donor[start..<end], at: position())
        case 5 where !bytes.isEmpty:
            bytes.removeSubrange(position()...)
        default:
            // Replace a digit run with a hostile number, or a string's first letter with a control escape.
            if let index = bytes.indices.dropFirst(position() % max(1, bytes.count)).first(where: { bytes[$0] == UInt8(ascii: "\"") }),
               index + 1 < bytes.count {
                bytes.insert(contentsOf: tokens[Int(random.next() % 3)], at: index + 1)
            }
        }
        return bytes
    }
}
