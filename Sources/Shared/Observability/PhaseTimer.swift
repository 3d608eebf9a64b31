import Logging

/// Times the phases of a batch for debug logs: `mark` closes the phase that began at the previous mark.
public struct PhaseTimer: Sendable {
    private var last = ContinuousClock.now
    public private(set) var phases: [(String, Duration)] = []

    public init() {}

    public mutating func mark(_ name: String) {
        let now = ContinuousClock.now
        phases.append((name, now - last))
        last = now
    }

    /// `phase.<name>_ms` for each phase.
    public var metadata: Logger.Metadata {
        var metadata: Logger.Metadata = [:]
        for (name, duration) in phases {
            let (seconds, attoseconds) = duration.components
            metadata["phase.\(name)_ms"] = "\(seconds * 1000 + attoseconds / 1_000_000_000_000_000)"
        }
        return metadata
    }
}
