import Foundation
import Shared

/// The decoder's regression corpus (`Tests/TestSupport/Corpus`) and the mutations the fuzzers apply to it: the
/// unit fuzzer over the decoder and the hostile load through a running worker start from the same inputs.
///
/// Corpus files are named `<expected>--<routing key>--<what>.json`: `expected` is `accepted` or the first
/// rejection code the decoder answers.
public enum DecoderCorpus {
    public struct Entry: Sendable, CustomStringConvertible {
        public var name: String
        public var expected: String
        public var routingKey: String
        public var body: [UInt8]
        public var description: String { name }

        public var exchange: String {
            CommandKey(rawValue: routingKey) == nil ? Topology.Exchange.submissions : Topology.Exchange.commands
        }
    }

    public static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Corpus")

    public static let entries: [Entry] = {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { $0.hasSuffix(".json") }.sorted().compactMap { name in
            let parts = name.dropLast(5).components(separatedBy: "--")
            guard parts.count == 3, let data = FileManager.default.contents(atPath: directory.appendingPathComponent(name).path)
            else { return nil }
            return Entry(name: name, expected: parts[0], routingKey: parts[1], body: Array(data))
        }
    }()

    /// One to four mutations of a random entry's body: structure-aware (a hostile value in place of a field) half
    /// the time when the body is JSON, byte-level otherwise.
    public static func mutated(random: inout SplitMix64) -> Entry {
        var entry = entries[Int(random.next() % UInt64(entries.count))]
        let donor = entries[Int(random.next() % UInt64(entries.count))]
        if random.next() % 2 == 0, let tree = try? JSONParser.parse(entry.body) {
            var mutated = tree
            for _ in 0..<(1 + Int(random.next() % 3)) { mutated = mutateTree(mutated, random: &random) }
            entry.body = mutated.serialized()
        } else {
            for _ in 0..<(1 + Int(random.next() % 4)) { entry.body = mutate(entry.body, donor: donor.body, random: &random) }
        }
        return entry
    }

    public static let hostileValues: [JSONValue] = [
        .string("A\u{0}B"), .string("\u{1B}[31m"), .string("x\u{85}"), .string(String(repeating: "é", count: 300)),
        .string("x y"), .string("<script>"), .string(""), .string("   "), .string("e\u{301}"), .string("2022-13-45T99:99:99Z"),
        .number(1e300), .number(-1), .number(1.5), .number(0), .number(1e15), .null, .bool(true), .array([]), .object([:]),
        .array([.string("PJ-77"), .string("PJ-77")]), .string("mail@0551010.sch.gr"), .string("covid_orphan"),
    ]

    /// One mutation of a parsed body: a value somewhere replaced by a hostile one, or an array element repeated.
    public static func mutateTree(_ value: JSONValue, random: inout SplitMix64) -> JSONValue {
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

    public static let tokens: [[UInt8]] = [
        "\\u0000", "\\u001b", "\\u0085", "\\ud800", "\\udc00", "\"", "\\", "{", "}", "[", "]", ",", ":", "null", "true",
        "1e999", "-0", "1.5", "99999999999999999999", "\"campaign\":\"x\",", "\"items\":[],", " ", "\u{0}", "é", "e\u{301}",
        "\"serial_numbers\":[1,2],", "\"students\":[{}],",
    ].map { Array($0.utf8) } + [[0xFF], [0xC3], [0xED, 0xA0, 0x80], [0x0A]]

    /// One mutation: flip, insert a token, delete or repeat a range, splice from the donor, or truncate.
    public static func mutate(_ input: [UInt8], donor: [UInt8], random: inout SplitMix64) -> [UInt8] {
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
