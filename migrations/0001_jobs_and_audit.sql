-- 0001_jobs_and_audit.sql — the durable job queue and the audit log.
-- Applied once, in a transaction, by core/db/migrate.c. Never edit this file
-- after it has been applied anywhere: add 0002_….sql instead (the migrator
-- refuses a changed file by its checksum).

-- jobs: one row per unit of background work (core/jobs/queue.c owns the SQL).
-- Life of a row:
--   queued    — waiting until run_at (new, or waiting to be retried; then
--               attempts > 0 and last_error says why the last try failed)
--   running   — claimed by lease_owner until lease_expires_at; a lease that
--               expires (its node died) is claimed again by another node
--   succeeded — done (finished_at set)
--   failed    — gave up: max_attempts reached or a permanent error
--               (finished_at and last_error set)
-- lease_owner is kept after a job leaves 'running', as a record of who ran it.
CREATE TABLE jobs (
    id               uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    kind             text        NOT NULL CHECK (kind ~ '^[a-z][a-z0-9_.]{0,63}$'),
    payload          jsonb       NOT NULL DEFAULT '{}'::jsonb
                                 CHECK (jsonb_typeof(payload) = 'object'),
    status           text        NOT NULL DEFAULT 'queued'
                                 CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
    attempts         integer     NOT NULL DEFAULT 0,
    max_attempts     integer     NOT NULL DEFAULT 5 CHECK (max_attempts BETWEEN 1 AND 100),
    run_at           timestamptz NOT NULL DEFAULT now(),
    lease_owner      text        CHECK (char_length(lease_owner) BETWEEN 1 AND 200),
    lease_expires_at timestamptz,
    last_error       text        CHECK (char_length(last_error) <= 4000),
    unique_key       text        CHECK (char_length(unique_key) BETWEEN 1 AND 200),
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz,
    CONSTRAINT jobs_attempts_range CHECK (attempts BETWEEN 0 AND max_attempts),
    -- a lease exists exactly while running, and a running job has an owner
    CONSTRAINT jobs_lease_iff_running
        CHECK ((status = 'running') = (lease_expires_at IS NOT NULL)),
    CONSTRAINT jobs_running_has_owner
        CHECK (status <> 'running' OR (lease_owner IS NOT NULL AND attempts >= 1)),
    CONSTRAINT jobs_finished_iff_final
        CHECK ((status IN ('succeeded', 'failed')) = (finished_at IS NOT NULL)),
    CONSTRAINT jobs_failed_has_error
        CHECK (status <> 'failed' OR last_error IS NOT NULL)
);

-- Claiming: the next due queued job, and running jobs whose lease expired.
-- Partial indexes stay small however much finished history accumulates.
CREATE INDEX jobs_ready_idx ON jobs (run_at) WHERE status = 'queued';
CREATE INDEX jobs_lease_idx ON jobs (lease_expires_at) WHERE status = 'running';
-- At most one live job per unique_key (periodic tasks, de-duplicated work);
-- once it finishes the key is free again.
CREATE UNIQUE INDEX jobs_unique_key_active_idx ON jobs (unique_key)
    WHERE unique_key IS NOT NULL AND status IN ('queued', 'running');
-- Pruning finished history.
CREATE INDEX jobs_finished_idx ON jobs (finished_at) WHERE finished_at IS NOT NULL;

-- audit_log: who changed what, when and why (core/jobs/audit.c writes it,
-- in the same transaction as the change it describes). Append-only by
-- convention: nothing in Dermaga updates or deletes these rows.
CREATE TABLE audit_log (
    id          uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    actor_id    uuid,                                  -- the acting user, NULL for the system
    actor       text        NOT NULL CHECK (char_length(actor) BETWEEN 1 AND 320),
    action      text        NOT NULL CHECK (action ~ '^[a-z][a-z0-9_.]{0,63}$'),
    target_type text        NOT NULL CHECK (target_type ~ '^[a-z][a-z0-9_]{0,31}$'),
    target_id   text        CHECK (char_length(target_id) BETWEEN 1 AND 200),
    reason      text        CHECK (char_length(reason) <= 2000),
    request_id  text        CHECK (char_length(request_id) BETWEEN 1 AND 128),
    ip          inet,
    before      jsonb,
    after       jsonb,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX audit_log_created_idx ON audit_log (created_at DESC);
CREATE INDEX audit_log_actor_idx ON audit_log (actor_id, created_at DESC)
    WHERE actor_id IS NOT NULL;
CREATE INDEX audit_log_target_idx ON audit_log (target_type, target_id, created_at DESC);
