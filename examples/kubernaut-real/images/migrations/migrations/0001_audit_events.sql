-- Audit events: one row per action a kubernaut service reports.
CREATE TABLE IF NOT EXISTS audit_events (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    service    text        NOT NULL CHECK (service <> ''),
    action     text        NOT NULL CHECK (action <> ''),
    created_at timestamptz NOT NULL DEFAULT now()
);
