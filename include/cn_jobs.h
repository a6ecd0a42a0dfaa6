/* Background work (run by the glue from mod_watchdog): leases that let one
 * node of several run a job per period, and the jobs themselves. */
#ifndef CN_JOBS_H
#define CN_JOBS_H

#include "cn_core.h"

/* Take the lease NAME for HOLDER until ctx->now + TTL seconds: only when
 * no one holds it, its holder's time ran out, or HOLDER holds it already.
 * *TAKEN is 1 when HOLDER now holds it, 0 when another does. Safe when
 * nodes race: one row per name, taken by one conditional statement. */
apr_status_t cn_job_lease_take(cn_ctx_t *ctx, const char *name, const char *holder,
                               apr_int64_t ttl, int *taken);

/* Give the lease NAME back early (its expiry becomes ctx->now), if HOLDER
 * holds it; the row stays, naming its last holder. */
apr_status_t cn_job_lease_release(cn_ctx_t *ctx, const char *name, const char *holder);

/* A job's hold on its lease, for a job that may outlast it. */
typedef struct cn_job_lease_t {
    const char *name, *holder;
    apr_int64_t ttl;   /* seconds a renewal lasts from its time */
    apr_int64_t until; /* when the lease runs out, as taken or last renewed */
} cn_job_lease_t;

/* Between two batches of a job: when less than half of L's ttl is left at
 * ctx->now, renew it to ctx->now + ttl, if HOLDER still holds it. *HELD is
 * 0 when another took it meanwhile (the job stops: it runs elsewhere now);
 * on a database failure the job goes on until its lease runs out. */
apr_status_t cn_job_lease_keep(cn_ctx_t *ctx, cn_job_lease_t *l, int *held);

/* What a purge deleted. */
typedef struct cn_purge_counts_t {
    int logins; /* login requests past their expiry */
    int codes;  /* the OAuth server's authorization codes */
    int tokens; /* the OAuth server's access and refresh tokens */
    int events; /* events older than the retention */
    int connect_tokens; /* Context.IO connect tokens unused past their 24 hours */
} cn_purge_counts_t;

/* Delete what has expired by ctx->now and the events older than
 * RETENTION_DAYS, in short statements (a batch of rows each), and log the
 * counts. *COUNTS (may be NULL) gets what was deleted, also on failure. */
apr_status_t cn_job_purge(cn_ctx_t *ctx, int retention_days, cn_purge_counts_t *counts);
/* The same with BATCH rows per statement (cn_job_purge: CN_PURGE_BATCH). */
#define CN_PURGE_BATCH 500
apr_status_t cn_job_purge_batch(cn_ctx_t *ctx, int retention_days, int batch,
                                cn_purge_counts_t *counts);
/* The same under the job's LEASE, kept before each batch (ctx->now follows
 * the clock then); the purge stops where it is when another took it. */
apr_status_t cn_job_purge_leased(cn_ctx_t *ctx, int retention_days, int batch,
                                 cn_job_lease_t *lease, cn_purge_counts_t *counts);

/* What a run of the refresh job did. */
typedef struct cn_refresh_counts_t {
    int refreshed; /* the provider gave new tokens, stored */
    int invalid;   /* the provider refused the refresh token: grant invalid, grant_expired */
    int failed;    /* other failures: the grant cools down */
    int skipped;   /* refreshed, cooling down or leased by a caller meanwhile */
} cn_refresh_counts_t;

/* Refresh the provider tokens of the valid OAuth grants whose refresh token
 * went unused (no refresh, no sign-in) for UNUSED_DAYS before ctx->now, so
 * that they do not lapse at the provider: BATCH grants per database
 * section, each under its per-grant lease (cn_grant_refresh_unused), with
 * ctx->app_id set to the grant's application. LEASE (may be NULL): the
 * job's lease, kept between batches; the job stops when it is lost.
 * ctx->now advances with the clock between batches. *COUNTS (may be NULL)
 * gets what was done, also on failure. */
apr_status_t cn_job_refresh(cn_ctx_t *ctx, int unused_days, int batch, cn_job_lease_t *lease,
                            cn_refresh_counts_t *counts);

#endif
