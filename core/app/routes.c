/*
 * routes.c — the list of route groups (routes.h). A new resource adds its
 * registration here, and test_openapi_routes then insists it is documented.
 */
#include "app/routes.h"

#include <stddef.h>

#include "accounts/accounts_routes.h"
#include "audit/audit_routes.h"
#include "catalog/catalog_routes.h"
#include "instances/instances_routes.h"
#include "instances/logs_socket.h"
#include "ops/admin_plugins.h"
#include "ops/ops_routes.h"
#include "subscriptions/subscriptions_routes.h"
#include "wallet/wallet_routes.h"
#include "web/web_routes.h"

int dm__routes_add_all(dm_router *rt)
{
    int (*const groups[])(dm_router *) = {
        dm__ops_routes_add,    dm__auth_routes_add,   dm__admin_users_routes_add, dm__audit_routes_add,
        dm__catalog_routes_add, dm__wallet_routes_add, dm__admin_wallet_routes_add,
        dm__subscriptions_routes_add, dm__admin_subscriptions_routes_add, dm__instances_routes_add,
        dm__instance_observe_routes_add, dm__logs_socket_routes_add, dm__web_routes_add,
        dm__admin_plugins_routes_add,
    };
    for (size_t i = 0; i < sizeof groups / sizeof groups[0]; i++) {
        int rc = groups[i](rt);
        if (rc != 0)
            return rc;
    }
    return 0;
}
