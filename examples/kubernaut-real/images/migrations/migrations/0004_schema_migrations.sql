-- Last on purpose: the marker DataStorage's /health looks for. Its row
-- appears only once every file before it has been committed, so a service
-- that sees version 4 sees the whole schema.
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer     PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO schema_migrations (version) VALUES (4) ON CONFLICT DO NOTHING;
