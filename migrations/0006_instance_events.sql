-- 0006_instance_events.sql — the status history of every instance: one row
-- per change of instances.status, written by core/domain/instance_state.c in
-- the same transaction as the change (GET /api/instances/:id/events).
-- Applied once, in a transaction, by core/db/migrate.c. Never edit this file
-- after it has been applied anywhere: add a new numbered file instead.

-- seq orders events written in the same transaction (created_at can tie);
-- actor is the user who asked, or 'system' for job outcomes and timers.
CREATE TABLE instance_events (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    instance_id uuid        NOT NULL REFERENCES instances (id),
    operation   text        NOT NULL CHECK (operation ~ '^[a-z][a-z-]{0,31}$'),
    from_status text        NOT NULL CHECK (from_status IN ('PENDING', 'PROVISIONING', 'RUNNING', 'STOPPING',
                                                            'STOPPED', 'STARTING', 'RESTARTING', 'ERROR',
                                                            'TERMINATING', 'TERMINATED')),
    to_status   text        NOT NULL CHECK (to_status IN ('PENDING', 'PROVISIONING', 'RUNNING', 'STOPPING',
                                                          'STOPPED', 'STARTING', 'RESTARTING', 'ERROR',
                                                          'TERMINATING', 'TERMINATED')),
    reason      text        CHECK (char_length(reason) <= 2000),
    actor       text        NOT NULL CHECK (actor = 'system'
                                            OR actor ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'),
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);
-- The history of one instance, newest first.
CREATE INDEX instance_events_instance_idx ON instance_events (instance_id, id DESC);
