/*
 * app.c — the little the application context does itself (app.h).
 */
#include "app/app.h"

#include "jobs/jobs.h"

void dm__app_wake_jobs(const dm_app *app)
{
    if (app != NULL && app->jobs != NULL)
        dm__jobs_runner_wake(app->jobs);
}
