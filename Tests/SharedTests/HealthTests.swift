import Testing

@testable import Shared

@Suite("Health")
struct HealthTests {
    @Test("a loop that stops reporting progress is stalled; one that reports is not")
    func stalled() {
        let health = Health()
        health.progress("consumer-a")
        health.progress("relay-a")
        #expect(health.stalled().isEmpty)
        #expect(health.stalled(now: .now + .seconds(61)) == ["consumer-a", "relay-a"])
        health.remove("relay-a")
        #expect(health.stalled(now: .now + .seconds(61)) == ["consumer-a"])
    }

    @Test("ready only when something is connected and nothing is not; reasons carry no URL")
    func readiness() {
        let health = Health()
        #expect(!health.hasReadyComponent)
        health.ready("consumer-a", false, reason: "connecting")
        #expect(health.notReady() == ["consumer-a: connecting"])
        health.ready("consumer-a", true)
        health.ready("consumer-b", true)
        #expect(health.notReady().isEmpty && health.hasReadyComponent)
        health.ready("consumer-b", false, reason: ConsumerLoopReason.of(PostgresError(code: .connectionFailed, reason: "x")))
        #expect(health.notReady().count == 1)
        #expect(health.notReady()[0].hasPrefix("consumer-b: database"))
    }
}

/// The loop's reason text, through the same function it uses.
enum ConsumerLoopReason {
    static func of(_ error: any Error) -> String { ConsumerLoop.reason(error) }
}
