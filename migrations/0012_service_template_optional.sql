-- 0012_service_template_optional.sql — a service's serviceType names the
-- service plugin that renders it (core/instances/instance_service.h). Only
-- service-template services pick one of its templates; other service
-- plugins are given the service's slug, so their services need no
-- template. The admin routes and `dermaga seed` refuse the missing
-- template first with a message naming the field; this CHECK is the last
-- line of defence.
-- Applied once, in a transaction, by core/db/migrate.c. Never edit this file
-- after it has been applied anywhere: add a new numbered file instead.
ALTER TABLE services ALTER COLUMN template DROP NOT NULL;
ALTER TABLE services
    ADD CONSTRAINT services_template_needed
    CHECK (service_type <> 'service-template' OR template IS NOT NULL);
