import Crypto

/// SHA-256 (swift-crypto), for reproducible lotteries and content-derived ids.
///
/// ``hexDigest(of:)`` hashes its input and returns the digest as 64 lowercase hex digits; ``hex(encoding:)`` only
/// encodes bytes. (The earlier hand-written `hex(_:)` hashed its input too, which made `hex(hash(x))` a double hash
/// without saying so.)
public enum SHA256 {
    /// The 32-byte digest of `bytes`.
    public static func hash(_ bytes: some Collection<UInt8>) -> [UInt8] {
        Array(Crypto.SHA256.hash(data: Array(bytes)))
    }

    /// The digest of `bytes` as 64 lowercase hex digits.
    public static func hexDigest(of bytes: some Collection<UInt8>) -> String {
        hex(encoding: hash(bytes))
    }

    /// `bytes` as lowercase hex digits (no hashing).
    public static func hex(encoding bytes: some Collection<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
