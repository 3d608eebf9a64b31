/// A JSON object's members in the order they were first set, each key once.
///
/// Messages' objects have a handful of keys: a linear search over them is several times cheaper than hashing
/// every key into a `Dictionary`, which was the largest cost of parsing a message. An object that grows past
/// ``indexThreshold`` keys (only a hostile body has one) also keeps a hash index, so lookups and the parser's
/// duplicate-key check stay O(1) whatever the body holds.
///
/// Equality ignores order, as for a dictionary; ``JSONValue/serialized()`` writes keys in sorted order.
public struct JSONObject: Sendable {
    public typealias Member = (key: String, value: JSONValue)

    /// The members in the order their keys were first set.
    public private(set) var members: [Member] = []
    /// Each key's position in `members`, once there are more than ``indexThreshold``.
    private var index: [String: Int]?

    static let indexThreshold = 16

    public init() {}

    /// `members`, whose keys the caller has checked are distinct (the parser).
    init(uniqueMembers members: [Member]) {
        self.members = members
        if members.count > Self.indexThreshold { rebuildIndex() }
    }

    /// The members of `dictionary`, in sorted key order.
    public init(_ dictionary: [String: JSONValue]) {
        members.reserveCapacity(dictionary.count)
        for key in dictionary.keys.sorted() { append(key, dictionary[key]!) }
    }

    public var count: Int { members.count }
    public var isEmpty: Bool { members.isEmpty }
    public var keys: [String] { members.map(\.key) }
    public var values: [JSONValue] { members.map(\.value) }

    private func position(of key: String) -> Int? {
        if let index { return index[key] }
        for position in members.indices where members[position].key == key { return position }
        return nil
    }

    public subscript(key: String) -> JSONValue? {
        get { position(of: key).map { members[$0].value } }
        set {
            if let newValue { updateValue(newValue, forKey: key) } else { removeValue(forKey: key) }
        }
    }

    /// Sets the value at `key`, returning the value it replaces (`nil` when the key is new).
    @discardableResult
    public mutating func updateValue(_ value: JSONValue, forKey key: String) -> JSONValue? {
        if let position = position(of: key) {
            let old = members[position].value
            members[position].value = value
            return old
        }
        append(key, value)
        return nil
    }

    @discardableResult
    public mutating func removeValue(forKey key: String) -> JSONValue? {
        guard let position = position(of: key) else { return nil }
        let old = members.remove(at: position).value
        if index != nil { rebuildIndex() }
        return old
    }

    /// Appends a member whose key is not in the object yet.
    private mutating func append(_ key: String, _ value: JSONValue) {
        members.append((key, value))
        if index != nil {
            index![key] = members.count - 1
        } else if members.count > Self.indexThreshold {
            rebuildIndex()
        }
    }

    private mutating func rebuildIndex() {
        guard members.count > Self.indexThreshold else { index = nil; return }
        var positions = [String: Int](minimumCapacity: members.count)
        for (position, member) in members.enumerated() { positions[member.key] = position }
        index = positions
    }

    public func mapValues(_ transform: (JSONValue) throws -> JSONValue) rethrows -> JSONObject {
        var result = self
        for position in result.members.indices { result.members[position].value = try transform(members[position].value) }
        return result
    }

    /// The members in sorted key order (how ``JSONValue/serialized()`` writes them).
    var sortedMembers: [Member] {
        var isSorted = true
        for position in members.indices.dropFirst() where !(members[position - 1].key < members[position].key) {
            isSorted = false
            break
        }
        return isSorted ? members : members.sorted { $0.key < $1.key }
    }
}

extension JSONObject: Equatable {
    /// The same keys with equal values, in any order.
    public static func == (lhs: JSONObject, rhs: JSONObject) -> Bool {
        guard lhs.count == rhs.count else { return false }
        return lhs.members.allSatisfy { member in rhs[member.key] == member.value }
    }
}

extension JSONObject: Sequence {
    public func makeIterator() -> IndexingIterator<[Member]> { members.makeIterator() }
    public var underestimatedCount: Int { members.count }
}

extension JSONObject: ExpressibleByDictionaryLiteral {
    /// A repeated key keeps its last value, at its first position.
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        members.reserveCapacity(elements.count)
        for (key, value) in elements { updateValue(value, forKey: key) }
    }
}
