import Foundation

/// The time every decision (deadlines, reminders, the skew check) is made against.
///
/// With a start date (`SCHOOLICT_NOW`), the clock reads that date at the moment it is created (process
/// start) and then runs on at normal speed, so tests, demos and dry runs can replay a campaign. Without one
/// it is the real clock. The elapsed part is measured on `ContinuousClock`, so wall-clock adjustments
/// (NTP steps, manual changes) do not move a simulated clock.
public struct SchoolClock: Sendable {
    /// The date the clock started at, or `nil` for the real clock.
    public let start: Date?
    private let origin: ContinuousClock.Instant

    /// A clock reading `start` now and running on from there; `nil` = the real clock.
    public init(start: Date? = nil) {
        self.start = start
        self.origin = ContinuousClock.now
    }

    /// The real clock.
    public static var system: SchoolClock { SchoolClock() }

    /// The clock `SCHOOLICT_NOW` asks for (or the real one).
    public static func from(_ configuration: Configuration) -> SchoolClock {
        SchoolClock(start: configuration.clockStart)
    }

    /// Whether this clock was started at a configured date rather than following the real clock.
    public var isSimulated: Bool { start != nil }

    /// The current time.
    public func now() -> Date {
        guard let start else { return Date() }
        let elapsed = (ContinuousClock.now - origin).components
        return start.addingTimeInterval(Double(elapsed.seconds) + Double(elapsed.attoseconds) * 1e-18)
    }
}
