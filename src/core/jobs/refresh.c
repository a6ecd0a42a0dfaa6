/* The refresh job: a provider drops a refresh token nobody used for long
 * (Google after six months), and the mailbox is lost until its user signs
 * in again. Grants whose refresh token went unused for a number of days
 * are refreshed, a batch at a time, each under the per-grant lease of
 * POST /grants/{id}/access_token (so never twice at once), with no
 * database handle held while a provider is asked. */
#include <stdlib.h>
#include <apr_strings.h>

#include "cn_jobs.h"
#include "cn_flow.h"

/* One batch after (LAST_AT, LAST_ID): the rows (id, app_id, refreshed_at). */
static apr_status_t next_batch(cn_ctx_t *ctx, apr_int64_t unused_before, const char *last_at,
                               const char *last_id, int batch, apr_array_header_t **rows)
{
    const char *args[7];
    apr_status_t rv = APR_SUCCESS;
    if (cn_ctx_db_open(ctx) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    args[0] = apr_psprintf(ctx->pool, "%" APR_INT64_T_FMT, unused_before);
    args[1] = apr_psprintf(ctx->pool, "%" APR_INT64_T_FMT, ctx->now);
    args[2] = args[1];
    args[3] = last_at;
    args[4] = last_at;
    args[5] = last_id;
    args[6] = apr_itoa(ctx->pool, batch);
    if (cn_db_select(ctx->pool, ctx->db, "cn_job_refresh_unused", 7, args, rows) != APR_SUCCESS) {
        rv = cn_fail_db(ctx);
    }
    cn_ctx_db_close(ctx);
    return rv;
}

apr_status_t cn_job_refresh(cn_ctx_t *ctx, int unused_days, int batch, cn_job_lease_t *lease,
                            cn_refresh_counts_t *counts)
{
    cn_refresh_counts_t c = {0, 0, 0, 0};
    apr_int64_t unused_before = ctx->now - (apr_int64_t)unused_days * 86400;
    const char *last_at = "-1", *last_id = "";
    const char *app_id = ctx->app_id;
    apr_status_t rv = APR_SUCCESS;
    int held = 1, i;
    for (;;) {
        apr_array_header_t *rows = NULL;
        ctx->now = apr_time_sec(cn_ctx_time(ctx));
        if (lease && cn_job_lease_keep(ctx, lease, &held) == APR_SUCCESS && !held) {
            break;
        }
        if ((rv = next_batch(ctx, unused_before, last_at, last_id, batch, &rows)) != APR_SUCCESS) {
            cn_log(ctx, CN_LOG_ERR, CNLOGNO(02211) "refresh job: the grants to refresh cannot "
                   "be read: %s", ctx->res.description ? ctx->res.description : "?");
            break;
        }
        for (i = 0; i < rows->nelts; ++i) {
            const cn_row_t *r = APR_ARRAY_IDX(rows, i, cn_row_t *);
            cn_refresh_outcome_t outcome = CN_REFRESH_SKIPPED;
            memset(&ctx->res, 0, sizeof(ctx->res));
            ctx->app_id = r->cols[1];
            if ((rv = cn_grant_refresh_unused(ctx, r->cols[0], unused_before, &outcome))
                != APR_SUCCESS) {
                cn_log(ctx, CN_LOG_ERR, CNLOGNO(02212) "refresh job: grant %s: %s", r->cols[0],
                       ctx->res.description ? ctx->res.description : "a database failure");
                break;
            }
            switch (outcome) {
            case CN_REFRESH_DONE:
                c.refreshed++;
                break;
            case CN_REFRESH_INVALID:
                c.invalid++;
                break;
            case CN_REFRESH_FAILED:
                c.failed++;
                break;
            default:
                c.skipped++;
                break;
            }
            last_at = r->cols[2];
            last_id = r->cols[0];
        }
        if (rv != APR_SUCCESS || rows->nelts < batch) {
            break;
        }
    }
    ctx->app_id = app_id;
    cn_log(ctx, c.refreshed + c.invalid + c.failed ? CN_LOG_NOTICE : CN_LOG_INFO,
           CNLOGNO(02210) "refresh job: %d grants unused for %d days refreshed, %d invalid, "
           "%d failed (cooling down), %d skipped%s", c.refreshed, unused_days, c.invalid,
           c.failed, c.skipped, held ? "" : "; stopped: the lease was lost");
    if (counts) {
        *counts = c;
    }
    return rv;
}
