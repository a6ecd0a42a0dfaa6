/* The purge job: what has expired is of no use to anyone (login requests,
 * the OAuth server's codes and tokens), and events are kept for a
 * retention. Rows go in batches, one short statement each, so that no
 * statement holds SQLite's writer lock (or PostgreSQL's row locks) long
 * while requests wait. */
#include <apr_strings.h>

#include "cn_jobs.h"


typedef struct purge_step_t {
    const char *label; /* DELETE ... WHERE key IN (SELECT ... < %lld LIMIT %d) */
    const char *what;
    apr_size_t count_offset;
    int retained; /* 1: kept for the retention; 0: gone when expired */
} purge_step_t;

static const purge_step_t steps[] = {
    {"cn_job_purge_logins", "login requests", APR_OFFSETOF(cn_purge_counts_t, logins), 0},
    {"cn_job_purge_codes", "codes", APR_OFFSETOF(cn_purge_counts_t, codes), 0},
    {"cn_job_purge_tokens", "tokens", APR_OFFSETOF(cn_purge_counts_t, tokens), 0},
    {"cn_job_purge_events", "events", APR_OFFSETOF(cn_purge_counts_t, events), 1},
    {"cn_job_purge_connect_tokens", "connect tokens",
     APR_OFFSETOF(cn_purge_counts_t, connect_tokens), 0},
    {NULL, NULL, 0, 0}
};

/* Delete the rows of STEP below BEFORE, batch by batch, into *COUNT; with
 * LEASE, kept before each batch (*HELD 0: lost, stop). */
static apr_status_t purge_step(cn_ctx_t *ctx, const purge_step_t *step, apr_int64_t before,
                               int batch, cn_job_lease_t *lease, int *held, int *count)
{
    const char *args[2];
    int n;
    args[0] = apr_psprintf(ctx->pool, "%" APR_INT64_T_FMT, before);
    args[1] = apr_itoa(ctx->pool, batch);
    do {
        n = 0;
        if (lease) {
            ctx->now = apr_time_sec(cn_ctx_time(ctx));
            if (cn_job_lease_keep(ctx, lease, held) == APR_SUCCESS && !*held) {
                return APR_SUCCESS;
            }
        }
        /* A section per batch: the handle goes back between batches. */
        if (cn_ctx_db_open(ctx) != APR_SUCCESS) {
            return APR_EGENERAL;
        }
        if (cn_db_exec(ctx->pool, ctx->db, step->label, 2, args, &n) != APR_SUCCESS) {
            apr_status_t rv = cn_fail_db(ctx);
            cn_ctx_db_close(ctx);
            return rv;
        }
        cn_ctx_db_close(ctx);
        *count += n;
    } while (n >= batch);
    return APR_SUCCESS;
}

apr_status_t cn_job_purge(cn_ctx_t *ctx, int retention_days, cn_purge_counts_t *counts)
{
    return cn_job_purge_leased(ctx, retention_days, CN_PURGE_BATCH, NULL, counts);
}

apr_status_t cn_job_purge_batch(cn_ctx_t *ctx, int retention_days, int batch,
                                cn_purge_counts_t *counts)
{
    return cn_job_purge_leased(ctx, retention_days, batch, NULL, counts);
}

apr_status_t cn_job_purge_leased(cn_ctx_t *ctx, int retention_days, int batch,
                                 cn_job_lease_t *lease, cn_purge_counts_t *counts)
{
    cn_purge_counts_t c = {0, 0, 0, 0, 0};
    const purge_step_t *step;
    apr_status_t rv = APR_SUCCESS;
    apr_int64_t start = ctx->now;
    apr_int64_t events_before = start - (apr_int64_t)retention_days * 86400;
    int held = 1;
    for (step = steps; step->label && held; ++step) {
        int *count = (int *)((char *)&c + step->count_offset);
        apr_int64_t before = step->retained ? events_before : start;
        if ((rv = purge_step(ctx, step, before, batch > 0 ? batch : CN_PURGE_BATCH, lease, &held,
                             count)) != APR_SUCCESS) {
            cn_log(ctx, CN_LOG_ERR, CNLOGNO(01501) "purge: deleting %s failed after %d",
                   step->what, *count);
            break;
        }
    }
    if (rv == APR_SUCCESS) {
        cn_log(ctx, c.logins + c.codes + c.tokens + c.events + c.connect_tokens ? CN_LOG_NOTICE
                                                                                : CN_LOG_INFO,
               CNLOGNO(01502) "purge: %d expired login requests, %d codes, %d tokens and "
               "%d events older than %d days deleted; %d unused connect tokens%s",
               c.logins, c.codes, c.tokens, c.events, retention_days, c.connect_tokens,
               held ? "" : "; stopped: the lease was lost");
    }
    if (counts) {
        *counts = c;
    }
    return rv;
}
