-- 0008_supervision.sql — what the reconciler and the health checks
-- (core/jobs/reconciler.c, core/jobs/instance_health.c) need.
-- Applied once, in a transaction, by core/db/migrate.c. Never edit this file
-- after it has been applied anywhere: add a new numbered file instead.

-- installation: one row naming this database's Dermaga installation. Its id
-- is the owner label every workload carries, so that several installations
-- (or test suites) sharing one container engine never take each other's
-- containers for orphans.
CREATE TABLE installation (
    singleton  boolean     PRIMARY KEY DEFAULT true CHECK (singleton),
    id         uuid        NOT NULL DEFAULT gen_random_uuid(),
    created_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO installation DEFAULT VALUES;

-- instances.supervision: how to watch the workload, written with RUNNING by
-- the instance jobs from the service plugin's spec:
--   {"probe": {"type": "http"|"tcp", "port": "<port name>", "path": "/"},
--    "restart": "on-failure"|"never"}
-- (a probe whose port is not published, or of type exec, is left out: the
-- runtime's own status is then the whole health check).
ALTER TABLE instances
    ADD COLUMN supervision jsonb NOT NULL DEFAULT '{}'::jsonb
        CHECK (jsonb_typeof(supervision) = 'object');

-- instance_health: the health history, one row per change of
-- instances.health_status (and the first check), newest first by id.
CREATE TABLE instance_health (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    instance_id uuid        NOT NULL REFERENCES instances (id),
    status      text        NOT NULL CHECK (status IN ('HEALTHY', 'UNHEALTHY', 'UNKNOWN')),
    message     text        CHECK (char_length(message) <= 2000),
    checked_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX instance_health_instance_idx ON instance_health (instance_id, id DESC);

-- The live instance job of an instance, which the reconciler looks for
-- before it declares an instance's work lost.
CREATE INDEX jobs_instance_live_idx ON jobs ((payload ->> 'instanceId'))
    WHERE status IN ('queued', 'running') AND kind LIKE 'instance.%';
