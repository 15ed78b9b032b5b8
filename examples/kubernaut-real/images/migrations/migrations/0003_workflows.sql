-- The workflow catalogue: named, versioned remediation workflows.
CREATE TABLE IF NOT EXISTS workflows (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       text        NOT NULL CHECK (name <> ''),
    version    text        NOT NULL CHECK (version <> ''),
    definition jsonb       NOT NULL DEFAULT '{}'::jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (name, version)
);
