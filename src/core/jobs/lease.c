/* Job leases: a row per job in job_leases, naming who runs it and until
 * when. Of several nodes (or processes) wanting a job at once, one takes the
 * lease; a holder that dies gives it up when its time runs out. */
#include <apr_strings.h>

#include "cn_jobs.h"

apr_status_t cn_job_lease_take(cn_ctx_t *ctx, const char *name, const char *holder,
                               apr_int64_t ttl, int *taken)
{
    const char *until = apr_psprintf(ctx->pool, "%" APR_INT64_T_FMT, ctx->now + ttl);
    const char *now = apr_psprintf(ctx->pool, "%" APR_INT64_T_FMT, ctx->now);
    apr_status_t rv = APR_SUCCESS;
    int n = 0;
    *taken = 0;
    if (cn_ctx_db_open(ctx) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    /* The first time, the row does not exist: of two inserts one makes it,
     * the other does nothing (ON CONFLICT DO NOTHING, no error). Then the
     * lease changes hands only where it is free, in one UPDATE whose WHERE
     * the database evaluates against the row as it is when written. */
    {
        const char *args[3] = {name, holder, until};
        if (cn_db_exec(ctx->pool, ctx->db, "cn_lease_insert", 3, args, &n) != APR_SUCCESS) {
            rv = cn_fail_db(ctx);
        }
    }
    if (rv == APR_SUCCESS && n == 0) {
        const char *args[5] = {holder, until, name, now, holder};
        if (cn_db_exec(ctx->pool, ctx->db, "cn_lease_take", 5, args, &n) != APR_SUCCESS) {
            rv = cn_fail_db(ctx);
        }
    }
    cn_ctx_db_close(ctx);
    if (rv == APR_SUCCESS) {
        *taken = n == 1;
    }
    return rv;
}

apr_status_t cn_job_lease_release(cn_ctx_t *ctx, const char *name, const char *holder)
{
    const char *args[3];
    apr_status_t rv = APR_SUCCESS;
    if (cn_ctx_db_open(ctx) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    args[0] = apr_psprintf(ctx->pool, "%" APR_INT64_T_FMT, ctx->now);
    args[1] = name;
    args[2] = holder;
    if (cn_db_exec(ctx->pool, ctx->db, "cn_lease_release", 3, args, NULL) != APR_SUCCESS) {
        rv = cn_fail_db(ctx);
    }
    cn_ctx_db_close(ctx);
    return rv;
}

apr_status_t cn_job_lease_keep(cn_ctx_t *ctx, cn_job_lease_t *l, int *held)
{
    const char *args[3];
    apr_status_t rv = APR_SUCCESS;
    int n = 0;
    *held = 1;
    if (l->until - ctx->now >= (l->ttl + 1) / 2) {
        return APR_SUCCESS;
    }
    if (cn_ctx_db_open(ctx) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    args[0] = apr_psprintf(ctx->pool, "%" APR_INT64_T_FMT, ctx->now + l->ttl);
    args[1] = l->name;
    args[2] = l->holder;
    if (cn_db_exec(ctx->pool, ctx->db, "cn_lease_renew", 3, args, &n) != APR_SUCCESS) {
        rv = cn_fail_db(ctx);
    }
    cn_ctx_db_close(ctx);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (n != 1) {
        *held = 0;
        cn_log(ctx, CN_LOG_WARNING, CNLOGNO(02220) "job %s: its lease went to another holder; "
               "stopping here", l->name);
        return APR_SUCCESS;
    }
    l->until = ctx->now + l->ttl;
    cn_log(ctx, CN_LOG_DEBUG, CNLOGNO(02221) "job %s: lease renewed until %" APR_INT64_T_FMT,
           l->name, l->until);
    return APR_SUCCESS;
}
