/*
 * instance_job.c — instance jobs' kinds and payloads, written and read in
 * one place (instance_job.h).
 */
#include "instances/instance_job.h"

#include <stdio.h>
#include <string.h>

#include "accounts/users.h"

static const char *const kinds[DM_INSTANCE_JOB_NKINDS] = {
    "instance.provision", "instance.update",  "instance.stop",
    "instance.start",     "instance.restart", "instance.terminate",
};

const char *dm__instance_job_kind_name(dm_instance_job_kind k)
{
    return (unsigned)k < DM_INSTANCE_JOB_NKINDS ? kinds[k] : "instance.unknown";
}

int dm__instance_job_kind_of_op(const char *op, dm_instance_job_kind *out)
{
    static const struct {
        const char          *op;
        dm_instance_job_kind kind;
    } ops[] = {
        { "retry-provision", DM_INSTANCE_JOB_PROVISION }, { "stop", DM_INSTANCE_JOB_STOP },
        { "start", DM_INSTANCE_JOB_START },               { "restart", DM_INSTANCE_JOB_RESTART },
    };
    for (size_t i = 0; op != NULL && i < sizeof ops / sizeof ops[0]; i++) {
        if (strcmp(op, ops[i].op) == 0) {
            *out = ops[i].kind;
            return 0;
        }
    }
    return DM_EINVAL;
}

int dm__instance_job_enqueue(dm_db *db, dm_instance_job_kind k, const char *instance_id,
                             const char *subscription_id, const char *reason, int deferred,
                             const dm_job_opts *opts, dm_err_t *err)
{
    if ((unsigned)k >= DM_INSTANCE_JOB_NKINDS || instance_id == NULL || instance_id[0] == '\0')
        return dm_err_set(err, DM_EINVAL, "instance job: no instance or no kind");
    json_t *payload = json_pack("{s:s,s:s?,s:s?}", "instanceId", instance_id, "subscriptionId",
                                subscription_id != NULL && subscription_id[0] != '\0' ? subscription_id : NULL,
                                "reason", reason);
    if (payload != NULL && deferred > 0 && json_object_set_new(payload, "deferred", json_integer(deferred)) != 0) {
        json_decref(payload);
        payload = NULL;
    }
    if (payload == NULL)
        return dm_err_set(err, DM_ENOMEM, "out of memory");
    int rc = dm__job_enqueue(db, kinds[k], payload, opts, NULL, err);
    json_decref(payload);
    return rc;
}

int dm__instance_job_parse(const dm_job *job, dm_instance_job_args *out, dm_err_t *err)
{
    memset(out, 0, sizeof *out);
    const char *id = json_string_value(json_object_get(job->payload, "instanceId"));
    if (id == NULL || !dm__users_valid_id(id))
        return dm_err_set(err, DM_EINVAL, "%s: payload has no valid instanceId", job->kind);
    snprintf(out->instance_id, sizeof out->instance_id, "%s", id);
    const char *sub = json_string_value(json_object_get(job->payload, "subscriptionId"));
    if (sub != NULL && dm__users_valid_id(sub))
        snprintf(out->subscription_id, sizeof out->subscription_id, "%s", sub);
    const char *reason = json_string_value(json_object_get(job->payload, "reason"));
    out->reason = reason != NULL ? reason : job->kind;
    json_int_t n = json_integer_value(json_object_get(job->payload, "deferred"));
    out->deferred = n > 0 && n < 1000000 ? (int)n : 0;
    return 0;
}
