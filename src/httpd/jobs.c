/* Background jobs: mod_watchdog runs them in its singleton thread, in one
 * child process of this server at a time; a database lease makes one node of
 * several run each job per period. The jobs themselves are the core's
 * (src/core/jobs); this file gives them a context: the server's log, short
 * database sections from mod_dbd, the time. */
#include <stdlib.h>
#include <unistd.h>
#include <apr_optional.h>
#include <apr_network_io.h>

#include "cn_httpd.h"
#include "cn_jobs.h"

#include <http_core.h>
#include <mod_watchdog.h>

/* A watchdog of our own (not httpd's shared _singleton_), so that a slow
 * purge delays no other module's callbacks. */
#define CN_WATCHDOG "connect-jobs"
#define CN_LEASE_PURGE "purge"
/* SQLite's log checkpoint: a watchdog of its own, every second, so that no
 * job delays it. */
#define CN_WATCHDOG_WAL "connect-wal"
#define CN_WAL_INTERVAL 1 /* second */
/* The refresh job asks providers, which may be slow: a watchdog (thread) of
 * its own, so that it never delays the purge. */
#define CN_WATCHDOG_REFRESH "connect-refresh"
#define CN_LEASE_REFRESH "refresh"
/* Grants per database section of the refresh job. */
#define CN_REFRESH_BATCH 50

static APR_OPTIONAL_FN_TYPE(ap_watchdog_get_instance) *wd_get_instance;
static APR_OPTIONAL_FN_TYPE(ap_watchdog_register_callback) *wd_register_callback;

typedef struct cn_jobs_t {
    server_rec *s;      /* the main server: its log, its mod_dbd */
    const char *host;   /* this node's name, for the lease's holder */
    int purge_interval; /* seconds */
    int event_retention; /* days */
    int refresh_interval; /* seconds */
    int refresh_unused_days;
    int job_lease;      /* seconds a job's lease lasts while it runs */
    int purge_batch;    /* rows per statement */
} cn_jobs_t;

static const char *set_range(cmd_parms *cmd, const char *v, long lo, long hi, int *out,
                             const char *unit)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    char *end;
    long n;
    if (err) {
        return err;
    }
    n = strtol(v, &end, 10);
    if (!*v || *end || n < lo || n > hi) {
        return apr_psprintf(cmd->pool, "%s must be a number of %s from %ld to %ld",
                            cmd->directive->directive, unit, lo, hi);
    }
    *out = (int)n;
    return NULL;
}

/* The jobs' numeric directives: one setter, the field and range in the
 * command's data. */
cn_jobs_setting_t cn_jobs_purge_interval = {APR_OFFSETOF(cn_server_conf_t, purge_interval),
                                            1, 86400, "seconds"};
cn_jobs_setting_t cn_jobs_event_retention = {APR_OFFSETOF(cn_server_conf_t, event_retention),
                                             1, 3650, "days"};
cn_jobs_setting_t cn_jobs_refresh_interval = {APR_OFFSETOF(cn_server_conf_t, refresh_interval),
                                              1, 86400, "seconds"};
cn_jobs_setting_t cn_jobs_refresh_unused_days = {
    APR_OFFSETOF(cn_server_conf_t, refresh_unused_days), 1, 150, "days"};
cn_jobs_setting_t cn_jobs_job_lease = {APR_OFFSETOF(cn_server_conf_t, job_lease), 2, 86400,
                                       "seconds"};
cn_jobs_setting_t cn_jobs_purge_batch = {APR_OFFSETOF(cn_server_conf_t, purge_batch), 1, 100000,
                                         "rows"};

const char *cn_jobs_set(cmd_parms *cmd, void *dc, const char *v)
{
    cn_server_conf_t *sc = ap_get_module_config(cmd->server->module_config, &connect_module);
    const cn_jobs_setting_t *st = cmd->info;
    sc->configured = 1;
    return set_range(cmd, v, st->lo, st->hi, (int *)((char *)sc + st->offset), st->unit);
}

/* The core's log lines go to the server's error log. */
static void log_write(void *baton, int level, const char *line)
{
    ap_log_error(APLOG_MARK, level, 0, (server_rec *)baton, "%s", line);
}

static int log_enabled(void *baton, int level)
{
    return APLOG_MODULE_IS_LEVEL((server_rec *)baton, APLOG_MODULE_INDEX, level);
}

static void job_ctx(cn_ctx_t *ctx, const cn_jobs_t *jobs, apr_pool_t *pool)
{
    memset(ctx, 0, sizeof(*ctx));
    ctx->pool = pool;
    ctx->log.write = log_write;
    ctx->log.enabled = log_enabled;
    ctx->log.baton = jobs->s;
    ctx->dbs = cn_dbd_server_seam(jobs->s);
    /* events a job records go to the applications' webhooks too */
    ctx->webhooks = ((cn_server_conf_t *)ap_get_module_config(jobs->s->module_config,
                                                              &connect_module))->webhooks;
    ctx->now = (apr_int64_t)apr_time_sec(apr_time_now());
    ctx->metrics = cn_metrics_shared();
}

/* A context that may ask providers too: the main server's keys, HTTP
 * client (made per process in child_init) and endpoints. */
static void job_provider_ctx(cn_ctx_t *ctx, const cn_jobs_t *jobs, apr_pool_t *pool)
{
    const cn_server_conf_t *sc = ap_get_module_config(jobs->s->module_config, &connect_module);
    job_ctx(ctx, jobs, pool);
    ctx->ring = sc->ring;
    ctx->http = sc->http;
    ctx->endpoints = sc->endpoints;
    ctx->base_url = sc->base_url;
    ctx->discover = sc->discover;
}

/* The end of a run of the job of LEASE (RV its outcome): a run that is done
 * keeps the lease until PERIOD_END (its start plus the job's interval), so
 * that the other nodes, whose timers tick at other moments, find it held
 * until the period ends: the job runs once per period. A run that failed
 * gives the lease back at once, for another node to try. */
static void job_done(cn_ctx_t *ctx, const cn_jobs_t *jobs, const cn_job_lease_t *lease,
                     apr_status_t rv, apr_int64_t period_end)
{
    ctx->now = (apr_int64_t)apr_time_sec(apr_time_now());
    if (rv == APR_SUCCESS && period_end > ctx->now) {
        ctx->now = period_end; /* "given back" at the end of the period */
    }
    if (cn_job_lease_release(ctx, lease->name, lease->holder) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, jobs->s,
                     CNLOGNO(02311) "job %s: the lease cannot be shortened; it runs out at %"
                     APR_INT64_T_FMT, lease->name, lease->until);
    }
}

/* Every ConnectPurgeInterval: the purge, on the node that takes its lease.
 * While the purge runs the lease lasts ConnectJobLease, renewed between
 * batches, so that a node that dies mid-job (nothing gives the lease back)
 * holds the job up no longer than that; then another node's next tick takes
 * it over. Then job_done. */
static apr_status_t purge_callback(int state, void *data, apr_pool_t *pool)
{
    const cn_jobs_t *jobs = data;
    const char *holder;
    cn_job_lease_t lease;
    cn_ctx_t ctx;
    apr_int64_t started;
    apr_status_t rv;
    int taken = 0;
    if (state != AP_WATCHDOG_STATE_RUNNING) {
        return APR_SUCCESS;
    }
    job_ctx(&ctx, jobs, pool);
    holder = apr_psprintf(pool, "%s:%" APR_PID_T_FMT, jobs->host, getpid());
    if (cn_job_lease_take(&ctx, CN_LEASE_PURGE, holder, jobs->job_lease, &taken)
        != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, jobs->s,
                     CNLOGNO(01510) "purge: the lease cannot be taken; next try in %d s",
                     jobs->purge_interval);
        return APR_SUCCESS; /* keep being called */
    }
    if (!taken) {
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, jobs->s,
                     CNLOGNO(01511) "purge: another node holds the lease");
        return APR_SUCCESS;
    }
    started = ctx.now;
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, jobs->s,
                 CNLOGNO(02310) "purge: lease taken as %s until %" APR_INT64_T_FMT, holder,
                 started + jobs->job_lease);
    lease.name = CN_LEASE_PURGE;
    lease.holder = holder;
    lease.ttl = jobs->job_lease;
    lease.until = started + lease.ttl;
    rv = cn_job_purge_leased(&ctx, jobs->event_retention, jobs->purge_batch, &lease, NULL);
    job_done(&ctx, jobs, &lease, rv, started + jobs->purge_interval);
    return APR_SUCCESS;
}

/* Every second, on SQLite: the log's frames copied into the database outside
 * any request's write section (cn_store_checkpoint). One server's children
 * share the database file; mod_watchdog runs this in one of them. */
static apr_status_t wal_callback(int state, void *data, apr_pool_t *pool)
{
    const cn_jobs_t *jobs = data;
    cn_db_seam_t dbs;
    cn_db_t *db = NULL;
    const char *err = NULL;
    int log_pages = -1, done_pages = -1;
    if (state != AP_WATCHDOG_STATE_RUNNING) {
        return APR_SUCCESS;
    }
    dbs = cn_dbd_server_seam(jobs->s);
    if (dbs.open(dbs.baton, pool, &db) != APR_SUCCESS || !db) {
        return APR_SUCCESS; /* the next second tries again */
    }
    if (cn_store_checkpoint(pool, db, &log_pages, &done_pages, &err) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, jobs->s,
                     CNLOGNO(01515) "the database log checkpoint failed: %s",
                     err ? err : "database error");
    }
    else if (log_pages > 0) {
        ap_log_error(APLOG_MARK, APLOG_TRACE1, 0, jobs->s,
                     CNLOGNO(01516) "database log checkpoint: %d of %d pages in the database",
                     done_pages, log_pages);
    }
    dbs.close(dbs.baton, db);
    return APR_SUCCESS;
}

/* Every ConnectRefreshInterval: the refresh of unused grants, on the node
 * that takes its lease. As the purge's, the lease lasts ConnectJobLease while
 * the job runs, renewed between batches (the job stops when another node
 * took it), then job_done. */
static apr_status_t refresh_callback(int state, void *data, apr_pool_t *pool)
{
    const cn_jobs_t *jobs = data;
    cn_job_lease_t lease;
    cn_ctx_t ctx;
    apr_int64_t started;
    apr_status_t rv;
    int taken = 0;
    if (state != AP_WATCHDOG_STATE_RUNNING) {
        return APR_SUCCESS;
    }
    job_provider_ctx(&ctx, jobs, pool);
    lease.name = CN_LEASE_REFRESH;
    lease.holder = apr_psprintf(pool, "%s:%" APR_PID_T_FMT, jobs->host, getpid());
    lease.ttl = jobs->job_lease;
    if (cn_job_lease_take(&ctx, lease.name, lease.holder, lease.ttl, &taken) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, jobs->s,
                     CNLOGNO(02230) "refresh job: the lease cannot be taken; next try in %d s",
                     jobs->refresh_interval);
        return APR_SUCCESS;
    }
    if (!taken) {
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, jobs->s,
                     CNLOGNO(02231) "refresh job: another node holds the lease");
        return APR_SUCCESS;
    }
    started = ctx.now;
    lease.until = started + lease.ttl;
    rv = cn_job_refresh(&ctx, jobs->refresh_unused_days, CN_REFRESH_BATCH, &lease, NULL);
    job_done(&ctx, jobs, &lease, rv, started + jobs->refresh_interval);
    return APR_SUCCESS;
}

int cn_jobs_post_config(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s)
{
    cn_server_conf_t *sc = ap_get_module_config(s->module_config, &connect_module);
    cn_jobs_t *jobs;
    ap_watchdog_t *wd = NULL;
    char host[APRMAXHOSTLEN + 1];
    apr_status_t rv;

    if (sc->purge_interval == -1) {
        sc->purge_interval = CN_DEFAULT_PURGE_INTERVAL;
    }
    if (sc->event_retention == -1) {
        sc->event_retention = CN_DEFAULT_EVENT_RETENTION;
    }
    if (sc->refresh_interval == -1) {
        sc->refresh_interval = CN_DEFAULT_REFRESH_INTERVAL;
    }
    if (sc->refresh_unused_days == -1) {
        sc->refresh_unused_days = CN_DEFAULT_REFRESH_UNUSED_DAYS;
    }
    if (sc->job_lease == -1) {
        sc->job_lease = CN_DEFAULT_JOB_LEASE;
    }
    if (sc->purge_batch == -1) {
        sc->purge_batch = CN_PURGE_BATCH;
    }
    /* httpd reads its configuration twice at start; mod_watchdog starts its
     * threads after the second reading only. */
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return OK;
    }
    wd_get_instance = APR_RETRIEVE_OPTIONAL_FN(ap_watchdog_get_instance);
    wd_register_callback = APR_RETRIEVE_OPTIONAL_FN(ap_watchdog_register_callback);
    if (!wd_get_instance || !wd_register_callback) {
        /* Requests are served all the same; only the tables grow. */
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     CNLOGNO(01512) "mod_watchdog is not loaded: background jobs (the purge "
                     "of expired rows and old events, the refresh of unused grants) are off");
        return OK;
    }
    jobs = apr_pcalloc(pconf, sizeof(*jobs));
    jobs->s = s;
    jobs->purge_interval = sc->purge_interval;
    jobs->event_retention = sc->event_retention;
    jobs->refresh_interval = sc->refresh_interval;
    jobs->refresh_unused_days = sc->refresh_unused_days;
    jobs->job_lease = sc->job_lease;
    jobs->purge_batch = sc->purge_batch;
    if (apr_gethostname(host, sizeof(host), ptemp) != APR_SUCCESS) {
        apr_cpystrn(host, "localhost", sizeof(host));
    }
    jobs->host = apr_pstrdup(pconf, host);
    if ((rv = wd_get_instance(&wd, CN_WATCHDOG, 0, 1, pconf)) != APR_SUCCESS
        || (rv = wd_register_callback(wd, apr_time_from_sec(jobs->purge_interval), jobs,
                                      purge_callback)) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s,
                     CNLOGNO(01513) "cannot register the purge with mod_watchdog");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    wd = NULL;
    if (sc->sqlite
        && ((rv = wd_get_instance(&wd, CN_WATCHDOG_WAL, 0, 1, pconf)) != APR_SUCCESS
            || (rv = wd_register_callback(wd, apr_time_from_sec(CN_WAL_INTERVAL), jobs,
                                          wal_callback)) != APR_SUCCESS)) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s,
                     CNLOGNO(01517) "cannot register the database log checkpoint with "
                     "mod_watchdog");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    wd = NULL;
    if ((rv = wd_get_instance(&wd, CN_WATCHDOG_REFRESH, 0, 1, pconf)) != APR_SUCCESS
        || (rv = wd_register_callback(wd, apr_time_from_sec(jobs->refresh_interval), jobs,
                                      refresh_callback)) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s,
                     CNLOGNO(02232) "cannot register the refresh job with mod_watchdog");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, s,
                 CNLOGNO(01514) "purge every %d s, events kept %d days", jobs->purge_interval,
                 jobs->event_retention);
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, s,
                 CNLOGNO(02233) "refresh job every %d s: grants unused for %d days",
                 jobs->refresh_interval, jobs->refresh_unused_days);
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, s,
                 CNLOGNO(02312) "jobs hold their lease up to %d s while they run; the purge "
                 "deletes %d rows per statement", jobs->job_lease, jobs->purge_batch);
    return OK;
}
