-- 0004_wallet.sql — the ledger, gateway notifications and idempotency keys.
-- Applied once, in a transaction, by core/db/migrate.c. Never edit this file
-- after it has been applied anywhere: add a new numbered file instead.

-- Readable transaction ids: TXMP-101, TXMP-102, … (the Node system's
-- numbering, which support staff and gateway dashboards already show).
CREATE SEQUENCE transactions_custom_id_seq START WITH 101;

-- transactions: the ledger. amount is signed Rupiah: what the row does to
-- the balance once it is SUCCESS (a top-up is positive, a subscription
-- charge negative). Only SUCCESS rows have moved money, and each of them
-- records the balance before and after, written in the same SQL
-- transaction as the guarded UPDATE of users.credit_balance (core/domain/
-- ledger.c owns that code). Hence, always: a user's credit_balance equals
-- the sum of their SUCCESS amounts — ledger_violations() below checks it.
--
-- Status only moves forward: PENDING → SUCCESS | FAILED | CANCELLED |
-- EXPIRED, and a final status never changes again (ledger.c guards the
-- UPDATE with status = 'PENDING').
CREATE TABLE transactions (
    id             uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    custom_id      text        NOT NULL UNIQUE
                               DEFAULT ('TXMP-' || nextval('transactions_custom_id_seq')),
    user_id        uuid        NOT NULL REFERENCES users (id),
    type           text        NOT NULL CHECK (type IN ('TOPUP', 'SUBSCRIPTION', 'UPGRADE',
                                                        'RENEWAL', 'REFUND', 'ADJUSTMENT',
                                                        'BONUS')),
    status         text        NOT NULL CHECK (status IN ('PENDING', 'SUCCESS', 'FAILED',
                                                          'CANCELLED', 'EXPIRED')),
    amount         bigint      NOT NULL,
    balance_before bigint      CHECK (balance_before >= 0),
    balance_after  bigint      CHECK (balance_after >= 0),
    gateway        text        CHECK (gateway ~ '^[a-z0-9][a-z0-9_-]{0,63}$'),
    gateway_ref    text        CHECK (char_length(gateway_ref) BETWEEN 1 AND 128),
    payment_method text        CHECK (char_length(payment_method) BETWEEN 1 AND 64),
    description    text        NOT NULL DEFAULT '' CHECK (char_length(description) <= 2000),
    metadata       jsonb       NOT NULL DEFAULT '{}'::jsonb
                               CHECK (jsonb_typeof(metadata) = 'object'),
    -- what the gateway gave for a top-up: {token, redirectUrl, instructions}
    payment        jsonb       CHECK (jsonb_typeof(payment) = 'object'),
    expires_at     timestamptz,
    settled_at     timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT transactions_success_moves_balance CHECK (
        (status = 'SUCCESS') = (balance_before IS NOT NULL AND balance_after IS NOT NULL)
        AND (status <> 'SUCCESS' OR balance_after = balance_before + amount)),
    CONSTRAINT transactions_settled_iff_final CHECK ((status <> 'PENDING') = (settled_at IS NOT NULL)),
    -- the sign each type may carry
    CONSTRAINT transactions_amount_sign CHECK (
        CASE type
            WHEN 'TOPUP' THEN amount > 0
            WHEN 'REFUND' THEN amount > 0
            WHEN 'BONUS' THEN amount >= 0
            WHEN 'ADJUSTMENT' THEN amount <> 0
            ELSE amount <= 0 -- SUBSCRIPTION, UPGRADE, RENEWAL
        END),
    -- only top-ups wait for a gateway
    CONSTRAINT transactions_pending_is_topup CHECK (status <> 'PENDING' OR type = 'TOPUP'),
    CONSTRAINT transactions_topup_has_gateway CHECK (type <> 'TOPUP' OR gateway IS NOT NULL)
);
CREATE INDEX transactions_user_idx ON transactions (user_id, created_at DESC);
CREATE INDEX transactions_created_idx ON transactions (created_at DESC);
CREATE INDEX transactions_pending_expiry_idx ON transactions (expires_at)
    WHERE status = 'PENDING';

-- The ledger invariant, for tests and operators: every user whose balance
-- differs from the sum of their SUCCESS amounts. Empty means consistent.
CREATE FUNCTION ledger_violations()
RETURNS TABLE (user_id uuid, credit_balance bigint, ledger_sum numeric)
LANGUAGE sql STABLE AS $$
    SELECT u.id, u.credit_balance, coalesce(s.total, 0)
      FROM users u
      LEFT JOIN (SELECT t.user_id, sum(t.amount) AS total
                   FROM transactions t
                  WHERE t.status = 'SUCCESS'
                  GROUP BY t.user_id) s ON s.user_id = u.id
     WHERE u.credit_balance <> coalesce(s.total, 0)
$$;

-- payment_notifications: every request that reached a gateway webhook,
-- stored raw with what Dermaga decided about it, whether or not it was
-- genuine — the record support needs when a gateway and the ledger
-- disagree. Append-only.
CREATE TABLE payment_notifications (
    id             bigserial   PRIMARY KEY,
    gateway        text        NOT NULL CHECK (gateway ~ '^[a-z0-9][a-z0-9_-]{0,63}$'),
    order_id       text        CHECK (char_length(order_id) BETWEEN 1 AND 128),
    transaction_id uuid        REFERENCES transactions (id),
    gateway_status text        CHECK (char_length(gateway_status) <= 64),
    body           text        NOT NULL CHECK (octet_length(body) <= 1048576),
    body_sha256    text        NOT NULL CHECK (body_sha256 ~ '^[0-9a-f]{64}$'),
    verdict        text        NOT NULL CHECK (verdict IN (
                                   'applied',         -- moved the transaction forward
                                   'duplicate',       -- the transaction already had that status
                                   'stale',           -- older than what is recorded: ignored
                                   'bad_signature',   -- 401
                                   'malformed',       -- 400
                                   'unknown_order',   -- 404
                                   'amount_mismatch', -- verified, but not our amount: not applied
                                   'gateway_error')), -- the status re-read failed: 503, retried
    detail         text        CHECK (char_length(detail) <= 1000),
    received_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX payment_notifications_order_idx ON payment_notifications (gateway, order_id);
CREATE INDEX payment_notifications_tx_idx ON payment_notifications (transaction_id);

-- idempotency_keys: the first response to a POST carrying an
-- Idempotency-Key, replayed for 24 h to the same user sending the same key
-- with the same request (core/http/idempotency.c). state 'running' marks a
-- request still in progress (a second one gets 409) until locked_until,
-- after which a crashed node's claim may be taken over.
CREATE TABLE idempotency_keys (
    user_id         uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    key             text        NOT NULL CHECK (char_length(key) BETWEEN 1 AND 255),
    request_hash    text        NOT NULL CHECK (request_hash ~ '^[0-9a-f]{64}$'),
    state           text        NOT NULL CHECK (state IN ('running', 'done')),
    response_status integer     CHECK (response_status BETWEEN 100 AND 599),
    response_body   text        CHECK (octet_length(response_body) <= 1048576),
    locked_until    timestamptz NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    PRIMARY KEY (user_id, key),
    CONSTRAINT idempotency_done_has_response
        CHECK ((state = 'done') = (response_status IS NOT NULL AND response_body IS NOT NULL))
);
CREATE INDEX idempotency_keys_expiry_idx ON idempotency_keys (expires_at);
