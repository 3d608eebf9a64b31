import Testing

@testable import Shared

@Suite("SHA256")
struct SHA256Tests {
    struct Vector: Sendable, CustomTestStringConvertible {
        var name: String
        var input: [UInt8]
        var digest: String
        var testDescription: String { name }
    }

    /// FIPS 180-4 examples, padding edge cases (55, 56 and 64 bytes) and 1000-byte inputs, with digests from
    /// `sha256sum`.
    static let vectors: [Vector] = [
        .init(name: "empty", input: [],
              digest: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        .init(name: "abc", input: Array("abc".utf8),
              digest: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        .init(name: "448 bits", input: Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8),
              digest: "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
        .init(name: "896 bits",
              input: Array(("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmno"
                            + "ijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu").utf8),
              digest: "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"),
        .init(name: "55 bytes (one block)", input: Array(repeating: UInt8(ascii: "a"), count: 55),
              digest: "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318"),
        .init(name: "56 bytes (padding spills into a second block)",
              input: Array(repeating: UInt8(ascii: "a"), count: 56),
              digest: "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a"),
        .init(name: "64 bytes", input: Array(repeating: UInt8(ascii: "a"), count: 64),
              digest: "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb"),
        .init(name: "1000 × 'a'", input: Array(repeating: UInt8(ascii: "a"), count: 1000),
              digest: "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3"),
        .init(name: "1000 bytes i % 251", input: (0..<1000).map { UInt8($0 % 251) },
              digest: "4e4c294b331f7a2099a379bec34b9f9fc03dc46ab465d998f4d683da53487e6d"),
    ]

    @Test("known digests", arguments: vectors)
    func digest(_ vector: Vector) {
        #expect(SHA256.hexDigest(of: vector.input) == vector.digest)
        let bytes = SHA256.hash(vector.input)
        #expect(bytes.count == 32)
        let hex = bytes.map { String($0, radix: 16) }.map { $0.count == 1 ? "0" + $0 : $0 }.joined()
        #expect(hex == vector.digest)
    }

    @Test("any collection of bytes: a slice or a string's UTF-8 hashes like the array")
    func collections() {
        let text = "Nguyễn Văn An"
        #expect(SHA256.hexDigest(of: text.utf8) == SHA256.hexDigest(of: Array(text.utf8)))
        let padded: [UInt8] = [0xFF] + Array("abc".utf8) + [0xFF]
        #expect(SHA256.hexDigest(of: padded[1..<4]) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hexDigest(of: Array("abd".utf8)) != SHA256.hexDigest(of: Array("abc".utf8)))
    }
}
