-- 0005_subscriptions.sql — subscriptions, the service instance each one
-- runs, and the link from ledger rows to the subscription they paid for.
-- Applied once, in a transaction, by core/db/migrate.c. Never edit this file
-- after it has been applied anywhere: add a new numbered file instead.

-- subscriptions: one user's paid (or bonus) use of one plan. The price and
-- period are copied from the plan when bought or upgraded, so a later
-- catalog change does not re-price it. A subscription is "live" while it
-- is ACTIVE or SUSPENDED: it then holds one slot of its plan's quota
-- (plans.used_quota counts exactly the live ones; quota_violations()
-- below checks it). core/domain/subscriptions.c owns the SQL.
--
--   ACTIVE    — paid up to current_period_end
--   SUSPENDED — the period ended unpaid; the instance is stopped and the
--               subscription waits until grace_until for a renewal
--   EXPIRED   — grace over, or expired by an administrator (slot freed)
--   CANCELLED — cancelled by the user or an administrator (slot freed)
CREATE TABLE subscriptions (
    id                   uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id              uuid        NOT NULL REFERENCES users (id),
    plan_id              uuid        NOT NULL REFERENCES plans (id),
    service_id           uuid        NOT NULL REFERENCES services (id),
    status               text        NOT NULL CHECK (status IN ('ACTIVE', 'SUSPENDED', 'EXPIRED',
                                                                 'CANCELLED')),
    price                bigint      NOT NULL CHECK (price >= 0),
    billing_period_days  integer     NOT NULL CHECK (billing_period_days BETWEEN 1 AND 3660),
    start_date           timestamptz NOT NULL,
    current_period_start timestamptz NOT NULL,
    current_period_end   timestamptz NOT NULL,
    auto_renew           boolean     NOT NULL DEFAULT true,
    is_bonus             boolean     NOT NULL DEFAULT false,
    grace_until          timestamptz,
    cancel_at_period_end boolean     NOT NULL DEFAULT false,
    ended_at             timestamptz,
    end_reason           text        CHECK (char_length(end_reason) <= 2000),
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT subscriptions_period_order CHECK (current_period_end > current_period_start
                                                 AND current_period_start >= start_date),
    CONSTRAINT subscriptions_grace_iff_suspended CHECK ((status = 'SUSPENDED') = (grace_until IS NOT NULL)),
    CONSTRAINT subscriptions_ended_iff_final CHECK ((status IN ('EXPIRED', 'CANCELLED')) = (ended_at IS NOT NULL))
);
-- At most one live subscription per user and service (409 ALREADY_SUBSCRIBED).
CREATE UNIQUE INDEX subscriptions_one_live_per_service ON subscriptions (user_id, service_id)
    WHERE status IN ('ACTIVE', 'SUSPENDED');
CREATE INDEX subscriptions_user_idx ON subscriptions (user_id, created_at DESC);
CREATE INDEX subscriptions_plan_live_idx ON subscriptions (plan_id) WHERE status IN ('ACTIVE', 'SUSPENDED');
-- The period-end job's work list.
CREATE INDEX subscriptions_period_end_idx ON subscriptions (current_period_end) WHERE status = 'ACTIVE';
CREATE INDEX subscriptions_grace_idx ON subscriptions (grace_until) WHERE status = 'SUSPENDED';

-- instances: what runs for a subscription (one each). This issue writes
-- the row PENDING and enqueues its provision job; the provisioning code
-- (runtime plugins, job handlers, the reconciler) moves it on.
CREATE TABLE instances (
    id                uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    subscription_id   uuid        NOT NULL UNIQUE REFERENCES subscriptions (id),
    user_id           uuid        NOT NULL REFERENCES users (id),
    status            text        NOT NULL DEFAULT 'PENDING'
                                  CHECK (status IN ('PENDING', 'PROVISIONING', 'RUNNING', 'STOPPING',
                                                    'STOPPED', 'STARTING', 'RESTARTING', 'ERROR',
                                                    'TERMINATING', 'TERMINATED')),
    runtime           text        CHECK (runtime ~ '^[a-z0-9][a-z0-9_-]{0,63}$'),
    unit_name         text        CHECK (char_length(unit_name) <= 253),
    urls              jsonb       NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(urls) = 'object'),
    health_status     text        NOT NULL DEFAULT 'UNKNOWN'
                                  CHECK (health_status IN ('HEALTHY', 'UNHEALTHY', 'UNKNOWN')),
    last_health_check timestamptz,
    message           text        CHECK (char_length(message) <= 2000),
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX instances_user_idx ON instances (user_id);

-- Ledger rows that paid for (or refunded) a subscription point at it.
ALTER TABLE transactions ADD COLUMN subscription_id uuid REFERENCES subscriptions (id);
CREATE INDEX transactions_subscription_idx ON transactions (subscription_id)
    WHERE subscription_id IS NOT NULL;

-- The quota invariant, for tests and operators: every plan whose
-- used_quota differs from its number of live subscriptions.
CREATE FUNCTION quota_violations()
RETURNS TABLE (plan_id uuid, used_quota integer, live bigint)
LANGUAGE sql STABLE AS $$
    SELECT p.id, p.used_quota, count(s.id)
      FROM plans p
      LEFT JOIN subscriptions s ON s.plan_id = p.id AND s.status IN ('ACTIVE', 'SUSPENDED')
     GROUP BY p.id, p.used_quota
    HAVING p.used_quota <> count(s.id)
$$;
