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

#endif
