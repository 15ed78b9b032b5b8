-- GET /api/v1/audit/events?service=X lists one service's events, newest first.
CREATE INDEX IF NOT EXISTS audit_events_service_created_at_idx
    ON audit_events (service, created_at DESC, id DESC);
