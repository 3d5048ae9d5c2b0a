-- 0007_instance_runtime.sql — what the instance jobs (core/jobs/instance_jobs.c)
-- keep per instance beyond its status: the service plugin's generated
-- `stored` object (secrets; saved before the runtime runs, so a retried
-- provision reuses them; never shown by the API) and the runtime's last
-- known `endpoints` ({"<port name>": {"host", "port"}}).
-- Applied once, in a transaction, by core/db/migrate.c. Never edit this file
-- after it has been applied anywhere: add a new numbered file instead.
ALTER TABLE instances
    ADD COLUMN stored    jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(stored) = 'object'),
    ADD COLUMN endpoints jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(endpoints) = 'object');
