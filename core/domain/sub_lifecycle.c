/*
 * sub_lifecycle.c — placeholder until period-end processing lands.
 */
#include "domain/sub_lifecycle.h"

int dm__sub_period_job(dm_db *db, const dm_job *job, void *ctx, dm_err_t *err)
{
    (void)db, (void)job, (void)ctx, (void)err;
    return 0;
}
