-- 0011_service_runtime.sql — which runtime plugin runs a service's new
-- instances (core/instances/instance_runtime.h): a plugin name, or NULL for
-- instances.defaultRuntime (else the first enabled runtime plugin). An
-- instance records the runtime it was created on in instances.runtime
-- (0005) before its first runtime call; changing this column later moves
-- no existing instance.
-- Applied once, in a transaction, by core/db/migrate.c. Never edit this file
-- after it has been applied anywhere: add a new numbered file instead.
ALTER TABLE services
    ADD COLUMN runtime text CHECK (runtime ~ '^[a-z0-9][a-z0-9_-]{0,63}$');
