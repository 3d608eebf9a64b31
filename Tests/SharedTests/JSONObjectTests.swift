import Testing

@testable import Shared

@Suite("JSONObject")
struct JSONObjectTests {
    @Test("setting, replacing and removing keep document order; a repeated literal key keeps its last value")
    func members() {
        var object: JSONObject = ["b": 1, "a": 2, "b": 3]
        #expect(object.keys == ["b", "a"])
        #expect(object["b"] == 3)
        #expect(object.updateValue("x", forKey: "a") == 2)
        #expect(object.updateValue(true, forKey: "c") == nil)
        object["b"] = nil
        #expect(object.keys == ["a", "c"])
        #expect(object.values == ["x", true])
        #expect(object.removeValue(forKey: "missing") == nil)
        #expect(object.count == 2 && !object.isEmpty)
        #expect(JSONObject().isEmpty)
    }

    @Test("equality ignores order, as a dictionary's")
    func equality() {
        #expect(JSONObject(["a": 1, "b": [true]]) == ["b": [true], "a": 1])
        #expect(JSONObject(["a": 1]) != ["a": 2])
        #expect(JSONObject(["a": 1]) != ["b": 1])
        #expect(JSONObject(["a": 1]) != ["a": 1, "b": 1])
        // Keys compare as strings do: canonically equivalent spellings are one key.
        #expect(JSONObject(["\u{e9}": 1]) == ["e\u{301}": 1])
    }

    @Test("past the index threshold, lookups, replacements and removals stay right")
    func indexed() {
        var object = JSONObject()
        let count = JSONObject.indexThreshold * 3
        for number in 0..<count { object["k\(number)"] = .int(number) }
        for number in 0..<count { #expect(object["k\(number)"] == .int(number)) }
        object["k5"] = "five"
        #expect(object["k5"] == "five" && object.count == count)
        for number in stride(from: 0, to: count, by: 2) { object["k\(number)"] = nil }
        #expect(object.count == count / 2)
        for number in 0..<count { #expect((object["k\(number)"] == nil) == number.isMultiple(of: 2)) }
        // Back under the threshold: linear lookups again.
        for number in stride(from: 1, to: count - 8, by: 2) { object["k\(number)"] = nil }
        #expect(object.keys == ["k41", "k43", "k45", "k47"])
        #expect(object["k43"] == 43 && object["k3"] == nil)
        object["e\u{301}"] = 1
        #expect(object["\u{e9}"] == 1)
    }

    @Test("sorted members and mapValues")
    func sortedAndMapped() {
        let object: JSONObject = ["b": 1, "a": 2, "_": 3]
        #expect(object.sortedMembers.map(\.key) == ["_", "a", "b"])
        #expect(object.mapValues { .int(($0.intValue ?? 0) * 10) } == ["a": 20, "b": 10, "_": 30])
        #expect(Array(object).map(\.key) == ["b", "a", "_"])
    }
}
