-- 0009_notice_lookup.sql — the index the webhook's duplicate check uses.
-- core/domain/wallet_gateway.c (dm__wallet_notice_seen) looks a delivery up
-- by (gateway, body_sha256) among the applied ones on every webhook call;
-- applied notifications are kept for good, so without this the check
-- scans a table that only grows. The (gateway, order_id) index of 0004 is
-- read by no query and goes.
-- Applied once, in a transaction, by core/db/migrate.c. Never edit this file
-- after it has been applied anywhere: add a new numbered file instead.
CREATE INDEX payment_notifications_seen_idx ON payment_notifications (gateway, body_sha256)
    WHERE verdict IN ('applied', 'duplicate');
DROP INDEX payment_notifications_order_idx;
