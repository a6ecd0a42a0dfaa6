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

static APR_OPTIONAL_FN_TYPE(ap_watchdog_get_instance) *wd_get_instance;
static APR_OPTIONAL_FN_TYPE(ap_watchdog_register_callback) *wd_register_callback;

typedef struct cn_jobs_t {
    server_rec *s;      /* the main server: its log, its mod_dbd */
    const char *host;   /* this node's name, for the lease's holder */
    int purge_interval; /* seconds */
    int event_retention; /* days */
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

const char *cn_jobs_set_purge_interval(cmd_parms *cmd, void *dc, const char *v)
{
    cn_server_conf_t *sc = ap_get_module_config(cmd->server->module_config, &connect_module);
    sc->configured = 1;
    return set_range(cmd, v, 1, 86400, &sc->purge_interval, "seconds");
}

const char *cn_jobs_set_event_retention(cmd_parms *cmd, void *dc, const char *v)
{
    cn_server_conf_t *sc = ap_get_module_config(cmd->server->module_config, &connect_module);
    sc->configured = 1;
    return set_range(cmd, v, 1, 3650, &sc->event_retention, "days");
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
}

/* Every ConnectPurgeInterval: the purge, on the node that takes its lease.
 * The lease lasts one interval and is kept when the purge is done, so that
 * the other nodes, whose timers tick at other moments, find it held until the
 * period ends: the purge runs once per period. A purge that failed gives the
 * lease back at once, for another node to try. */
static apr_status_t purge_callback(int state, void *data, apr_pool_t *pool)
{
    const cn_jobs_t *jobs = data;
    const char *holder;
    cn_ctx_t ctx;
    int taken = 0;
    if (state != AP_WATCHDOG_STATE_RUNNING) {
        return APR_SUCCESS;
    }
    job_ctx(&ctx, jobs, pool);
    holder = apr_psprintf(pool, "%s:%" APR_PID_T_FMT, jobs->host, getpid());
    if (cn_job_lease_take(&ctx, CN_LEASE_PURGE, holder, jobs->purge_interval, &taken)
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
    if (cn_job_purge(&ctx, jobs->event_retention, NULL) != APR_SUCCESS) {
        ctx.now = (apr_int64_t)apr_time_sec(apr_time_now());
        (void)cn_job_lease_release(&ctx, CN_LEASE_PURGE, holder);
    }
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
                     "of expired rows and old events) are off");
        return OK;
    }
    jobs = apr_pcalloc(pconf, sizeof(*jobs));
    jobs->s = s;
    jobs->purge_interval = sc->purge_interval;
    jobs->event_retention = sc->event_retention;
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
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, s,
                 CNLOGNO(01514) "purge every %d s, events kept %d days", jobs->purge_interval,
                 jobs->event_retention);
    return OK;
}
