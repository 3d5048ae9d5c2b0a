-- 0003_catalog.sql — what can be bought: categories, services, plans.
-- Applied once, in a transaction, by core/db/migrate.c. Never edit this file
-- after it has been applied anywhere: add a new numbered file instead.
--
-- Nothing here is ever deleted by Dermaga: "delete" in the admin API sets
-- is_active = false, which hides the row from the public catalog while live
-- subscriptions keep pointing at it. Slugs are the stable keys `dermaga seed`
-- upserts by.

CREATE TABLE categories (
    id          uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    slug        text        NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    name        text        NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
    description text        NOT NULL DEFAULT '' CHECK (char_length(description) <= 2000),
    sort_order  integer     NOT NULL DEFAULT 0,
    is_active   boolean     NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- services: one open-source product. service_type names the service plugin
-- that turns a subscription into a workload (e.g. "service-template") and
-- template which of its templates (e.g. "redis").
CREATE TABLE services (
    id           uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    category_id  uuid        NOT NULL REFERENCES categories (id),
    slug         text        NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    name         text        NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
    description  text        NOT NULL DEFAULT '' CHECK (char_length(description) <= 4000),
    service_type text        NOT NULL CHECK (service_type ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
    template     text        NOT NULL CHECK (template ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
    icon_url     text        CHECK (char_length(icon_url) <= 2048),
    sort_order   integer     NOT NULL DEFAULT 0,
    is_active    boolean     NOT NULL DEFAULT true,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX services_category_idx ON services (category_id);

-- plans: a size and price of one service. price is integer Rupiah per
-- billing period. total_quota is how many live subscriptions the plan may
-- have; used_quota counts them and is changed only with a guarded UPDATE in
-- the same transaction as the subscription change, so the CHECK below is
-- the last line of defence, never the mechanism.
CREATE TABLE plans (
    id                  uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    service_id          uuid        NOT NULL REFERENCES services (id),
    slug                text        NOT NULL CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    name                text        NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
    description         text        NOT NULL DEFAULT '' CHECK (char_length(description) <= 2000),
    price               bigint      NOT NULL CHECK (price BETWEEN 0 AND 1000000000000),
    billing_period_days integer     NOT NULL DEFAULT 30 CHECK (billing_period_days BETWEEN 1 AND 3660),
    cpu_millicores      integer     NOT NULL CHECK (cpu_millicores BETWEEN 1 AND 1024000),
    memory_mb           integer     NOT NULL CHECK (memory_mb BETWEEN 1 AND 4194304),
    storage_gb          integer     NOT NULL DEFAULT 0 CHECK (storage_gb BETWEEN 0 AND 1048576),
    total_quota         integer     NOT NULL CHECK (total_quota BETWEEN 0 AND 1000000),
    used_quota          integer     NOT NULL DEFAULT 0,
    features            jsonb       NOT NULL DEFAULT '[]'::jsonb
                                    CHECK (jsonb_typeof(features) = 'array'),
    sort_order          integer     NOT NULL DEFAULT 0,
    is_active           boolean     NOT NULL DEFAULT true,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT plans_slug_per_service UNIQUE (service_id, slug),
    CONSTRAINT plans_quota_in_range CHECK (used_quota BETWEEN 0 AND total_quota)
);
CREATE INDEX plans_service_idx ON plans (service_id);
