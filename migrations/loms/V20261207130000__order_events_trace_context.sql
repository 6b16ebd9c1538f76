-- loms: each outbox event keeps the W3C trace context of the change that wrote it (crates/telemetry's
-- trace_context), so that the relay's publishing and the notifier's handling join the trace of the call
-- that made the change (README's "Traces"). NULL when no trace was exported (no OTLP endpoint) or the
-- change had none (the auto-cancel's rounds). Written by the service from the propagator's own output,
-- never from a caller's text: no format check is paid on the orders' path.
ALTER TABLE order_events
    ADD COLUMN traceparent text,
    ADD COLUMN tracestate text;
