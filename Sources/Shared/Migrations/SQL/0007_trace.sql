-- W3C trace context of the message an event answers or was caused by, published with the event.
ALTER TABLE outbox ADD COLUMN traceparent text;
ALTER TABLE outbox ADD COLUMN tracestate text;
