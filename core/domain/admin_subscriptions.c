/*
 * admin_subscriptions.c — placeholder until the admin subscription routes land.
 */
#include "domain/admin_subscriptions.h"

int dm__admin_subscriptions_routes_add(dm_router *rt)
{
    (void)rt;
    return 0;
}
