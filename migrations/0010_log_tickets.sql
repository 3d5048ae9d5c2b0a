-- 0010_log_tickets.sql — single-use tickets for a browser's live log stream
-- (core/instances/log_ticket.c; docs/logs.md). EventSource cannot send an
-- Authorization header and access tokens never go in URLs, so the owner or
-- an administrator asks POST /api/instances/:id/logs/ticket for a ticket and
-- passes it as ?ticket= to GET /api/instances/:id/logs/stream. Only the
-- SHA-256 of a ticket is stored; one guarded UPDATE spends it, so two nodes
-- sharing this database cannot both accept it. It names the session it came
-- from: a logout or a revocation before it is used refuses it too.
-- Applied once, in a transaction, by core/db/migrate.c. Never edit this file
-- after it has been applied anywhere: add a new numbered file instead.
CREATE TABLE log_tickets (
    token_hash  text        PRIMARY KEY CHECK (token_hash ~ '^[0-9a-f]{64}$'),
    instance_id uuid        NOT NULL REFERENCES instances (id) ON DELETE CASCADE,
    user_id     uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    session_id  uuid        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    CONSTRAINT log_tickets_expiry_after_creation CHECK (expires_at > created_at)
);
-- Expired tickets are pruned as new ones are made.
CREATE INDEX log_tickets_expires_idx ON log_tickets (expires_at);
