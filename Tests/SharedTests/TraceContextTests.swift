import Testing

@testable import Shared

@Suite("Trace context")
struct TraceContextTests {
    static let valid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

    @Test("a valid traceparent is taken with its tracestate; a child keeps the trace and flags, with a new span")
    func validAndChild() throws {
        let trace = try #require(TraceContext(traceparent: Self.valid, tracestate: "congo=t61rcWkgMzE"))
        #expect(trace.traceparent == Self.valid)
        #expect(trace.state == "congo=t61rcWkgMzE")
        let child = trace.child()
        #expect(child.traceID == trace.traceID && child.flags == "01" && child.state == trace.state)
        #expect(child.parentID != trace.parentID && child.parentID.count == 16)
        #expect(TraceContext(traceparent: child.traceparent, tracestate: nil) != nil)
    }

    @Test("anything else is ignored", arguments: [
        "", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7", "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01", "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\u{0}",
        "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
    ])
    func invalid(traceparent: String) {
        #expect(TraceContext(traceparent: traceparent, tracestate: nil) == nil)
    }

    @Test("a tracestate too long or with control characters is dropped, the trace kept")
    func hostileState() throws {
        let long = try #require(TraceContext(traceparent: Self.valid, tracestate: String(repeating: "a", count: 513)))
        #expect(long.state == nil)
        let control = try #require(TraceContext(traceparent: Self.valid, tracestate: "a=b\nc=d"))
        #expect(control.state == nil)
    }

    @Test("an outcome carries its message's trace as a child span")
    func outcomeCarriesTrace() throws {
        var outcome = Outcome.rejected("m-1", .submission("equipment_inventory"), [FieldError(.malformed, field: "", "x")])
        outcome.trace = TraceContext(traceparent: Self.valid, tracestate: nil)
        let trace = try #require(outcome.message.trace)
        #expect(trace.traceID == "4bf92f3577b34da6a3ce929d0e0e4736")
        #expect(trace.parentID != "00f067aa0ba902b7")
    }
}
