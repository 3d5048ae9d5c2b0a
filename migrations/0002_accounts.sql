-- 0002_accounts.sql — users, refresh-token families and login throttling.
-- Applied once, in a transaction, by core/db/migrate.c. Never edit this file
-- after it has been applied anywhere: add a new numbered file instead.

-- users: one row per account, whichever auth provider proved who they are.
-- email is stored normalised (trimmed, lower-case) by the auth plugin, and
-- the CHECK keeps anything else out, so equality is enough for lookups.
-- credit_balance is the wallet (integer Rupiah); only ledger code changes it,
-- in the same transaction as its ledger row, and it never goes below zero.
CREATE TABLE users (
    id                  uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    email               text        NOT NULL,
    name                text        NOT NULL DEFAULT '' CHECK (char_length(name) <= 100),
    role                text        NOT NULL DEFAULT 'USER'
                                    CHECK (role IN ('USER', 'ADMINISTRATOR')),
    auth_provider       text        NOT NULL DEFAULT 'local'
                                    CHECK (auth_provider ~ '^[a-z0-9][a-z0-9_-]{0,63}$'),
    -- the provider's stored secret (argon2id PHC string, or a legacy bcrypt
    -- hash until the first login rehashes it); NULL for providers that
    -- keep no secret here
    password_hash       text        CHECK (char_length(password_hash) BETWEEN 1 AND 512),
    credit_balance      bigint      NOT NULL DEFAULT 0 CHECK (credit_balance >= 0),
    is_active           boolean     NOT NULL DEFAULT true,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT users_email_normalised CHECK (
        email = lower(btrim(email))
        AND char_length(email) BETWEEN 3 AND 254
        AND email ~ '^[^@[:space:]]+@[^@[:space:]]+$')
);
CREATE UNIQUE INDEX users_email_key ON users (email);
CREATE INDEX users_created_idx ON users (created_at);

-- refresh_tokens: opaque 256-bit tokens, stored only as SHA-256 hex. Each
-- login starts a family; /refresh spends a token (spent_at) and issues its
-- child in the same family. Presenting a spent token is reuse: the whole
-- family is revoked (revoked_at on every row), which also kills the newer
-- token a thief or the owner holds.
CREATE TABLE refresh_tokens (
    id             uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id        uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    family_id      uuid        NOT NULL,
    parent_id      uuid        REFERENCES refresh_tokens (id) ON DELETE SET NULL,
    token_hash     text        NOT NULL UNIQUE CHECK (token_hash ~ '^[0-9a-f]{64}$'),
    created_at     timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz NOT NULL,
    spent_at       timestamptz,
    revoked_at     timestamptz,
    revoked_reason text        CHECK (revoked_reason IN
                                      ('reuse', 'logout', 'password_change', 'deactivated',
                                       'admin')),
    ip             text        CHECK (char_length(ip) <= 64),
    user_agent     text        CHECK (char_length(user_agent) <= 512),
    CONSTRAINT refresh_tokens_expiry_after_creation CHECK (expires_at > created_at),
    CONSTRAINT refresh_tokens_reason_iff_revoked
        CHECK ((revoked_at IS NULL) = (revoked_reason IS NULL))
);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user_live_idx ON refresh_tokens (user_id)
    WHERE revoked_at IS NULL AND spent_at IS NULL;
CREATE INDEX refresh_tokens_expiry_idx ON refresh_tokens (expires_at);

-- auth_failures: failed logins, counted per client address and per account
-- over a sliding window to answer 429; old rows are pruned by a periodic job.
CREATE TABLE auth_failures (
    id         bigserial   PRIMARY KEY,
    scope      text        NOT NULL CHECK (scope IN ('ip', 'account')),
    key        text        NOT NULL CHECK (char_length(key) BETWEEN 1 AND 254),
    failed_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX auth_failures_lookup_idx ON auth_failures (scope, key, failed_at);
CREATE INDEX auth_failures_age_idx ON auth_failures (failed_at);
