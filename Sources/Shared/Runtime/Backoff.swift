/// Exponential backoff with jitter, for reconnecting to a broker or database that went away.
public struct Backoff: Sendable {
    public var base: Double
    public var maximum: Double
    private var attempt = 0

    public init(base: Double = 0.2, maximum: Double = 15) {
        self.base = base
        self.maximum = maximum
    }

    /// The next delay in seconds: random in [c/2, c] where c = min(maximum, base·2^attempt) ("equal jitter").
    public mutating func next() -> Double {
        let ceiling = min(maximum, base * Double(1 << min(attempt, 20)))
        attempt += 1
        return Double.random(in: (ceiling / 2)...ceiling)
    }

    public mutating func reset() { attempt = 0 }
}
