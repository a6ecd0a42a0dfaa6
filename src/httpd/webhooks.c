/* Webhooks in the glue: the application options (webhook_url=,
 * webhook_secret=), the directives of delivery, the delivery itself in a
 * mod_watchdog thread of its own (so that a slow receiver delays neither
 * requests nor the purge), and the routes where an application sees its
 * deliveries. The work is the core's (src/core/jobs/webhook.c). */
#include <stdlib.h>
#include <unistd.h>
#include <apr_optional.h>
#include <apr_network_io.h>
#include <apr_uri.h>

#include "cn_request.h"
#include "cn_jobs.h"

#include <ap_mpm.h>
#include <http_core.h>
#include <mod_watchdog.h>

#define CN_WEBHOOK_WATCHDOG "connect-webhooks"
#define CN_LEASE_WEBHOOKS "webhooks"
#define CN_DEFAULT_WEBHOOK_INTERVAL 5      /* seconds */
#define CN_DEFAULT_WEBHOOK_BACKOFF_MIN 10  /* seconds */
#define CN_DEFAULT_WEBHOOK_BACKOFF_MAX 3600
#define CN_DEFAULT_WEBHOOK_RETRY_FOR 86400 /* a day */
#define CN_DEFAULT_WEBHOOK_TIMEOUT 10      /* seconds */
#define CN_WEBHOOK_BATCH 50                /* due rows read at once */
#define CN_WEBHOOK_BUDGET 30               /* seconds a run goes on starting attempts */
#define CN_WEBHOOK_URL_MAX 2048
#define CN_WEBHOOK_SECRET_MIN 16           /* bytes */

static APR_OPTIONAL_FN_TYPE(ap_watchdog_get_instance) *wd_get_instance;
static APR_OPTIONAL_FN_TYPE(ap_watchdog_register_callback) *wd_register_callback;

/* ---- directives (main server only) ------------------------------------ */

static cn_webhook_policy_t *policy_of(cmd_parms *cmd)
{
    cn_server_conf_t *sc = ap_get_module_config(cmd->server->module_config, &connect_module);
    sc->configured = 1;
    if (!sc->webhook_policy) {
        sc->webhook_policy = apr_pcalloc(cmd->pool, sizeof(*sc->webhook_policy));
        sc->webhook_policy->backoff_min = -1;
        sc->webhook_policy->backoff_max = -1;
        sc->webhook_policy->retry_for = -1;
        sc->webhook_policy->timeout_ms = -1;
    }
    return sc->webhook_policy;
}

/* V as a number from LO to HI into *OUT, or an error naming the directive. */
static const char *number(cmd_parms *cmd, const char *v, long lo, long hi, long *out,
                          const char *what)
{
    char *end;
    long n = strtol(v, &end, 10);
    if (!*v || *end || n < lo || n > hi) {
        return apr_psprintf(cmd->pool, "%s: %s must be a number of seconds from %ld to %ld, "
                            "got '%s'", cmd->directive->directive, what, lo, hi, v);
    }
    *out = n;
    return NULL;
}

const char *cn_webhooks_set_interval(cmd_parms *cmd, void *dc, const char *v)
{
    cn_server_conf_t *sc = ap_get_module_config(cmd->server->module_config, &connect_module);
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    long n;
    if (err || (err = number(cmd, v, 1, 3600, &n, "the interval"))) {
        return err;
    }
    sc->configured = 1;
    sc->webhook_interval = (int)n;
    return NULL;
}

const char *cn_webhooks_set_backoff(cmd_parms *cmd, void *dc, int argc, char *const argv[])
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    cn_webhook_policy_t *p;
    long lo, hi, retry_for = CN_DEFAULT_WEBHOOK_RETRY_FOR;
    if (err) {
        return err;
    }
    if (argc < 2 || argc > 3) {
        return CN_DIR_WEBHOOK_BACKOFF " takes MIN MAX [RETRY_FOR] (seconds)";
    }
    if ((err = number(cmd, argv[0], 1, 86400, &lo, "MIN"))
        || (err = number(cmd, argv[1], 1, 86400, &hi, "MAX"))
        || (argc == 3 && (err = number(cmd, argv[2], 1, 7 * 86400, &retry_for, "RETRY_FOR")))) {
        return err;
    }
    if (hi < lo) {
        return apr_psprintf(cmd->pool, "%s: MAX (%ld) must not be less than MIN (%ld)",
                            CN_DIR_WEBHOOK_BACKOFF, hi, lo);
    }
    p = policy_of(cmd);
    p->backoff_min = (int)lo;
    p->backoff_max = (int)hi;
    p->retry_for = (int)retry_for;
    return NULL;
}

const char *cn_webhooks_set_timeout(cmd_parms *cmd, void *dc, const char *v)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    long n;
    if (err || (err = number(cmd, v, 1, 60, &n, "the timeout"))) {
        return err;
    }
    policy_of(cmd)->timeout_ms = n * 1000L;
    return NULL;
}

/* ---- the application options ------------------------------------------ */

/* URL as a webhook target: http or https, a host, no user or fragment. */
static const char *check_url(apr_pool_t *ptemp, const char *url, const char *what)
{
    apr_uri_t uri;
    if (strlen(url) > CN_WEBHOOK_URL_MAX || apr_uri_parse(ptemp, url, &uri) != APR_SUCCESS
        || !uri.scheme || !uri.hostname || !*uri.hostname
        || (strcasecmp(uri.scheme, "http") && strcasecmp(uri.scheme, "https")) || uri.user
        || uri.password || uri.fragment || strpbrk(url, " \t\r\n")) {
        return apr_psprintf(ptemp, "%s must be an http or https URL of at most %d bytes, "
                            "without user or fragment; got '%s'", what, CN_WEBHOOK_URL_MAX, url);
    }
    return NULL;
}

/* The signing key of SOURCE (file:PATH or env:VAR), kept in PCONF for as
 * long as the configuration lives. */
static const char *read_secret(apr_pool_t *pconf, apr_pool_t *ptemp, const char *source,
                               const char *what, const char **secret, apr_size_t *len)
{
    const char *err;
    if (strncmp(source, "file:", 5) && strncmp(source, "env:", 4)) {
        return apr_psprintf(ptemp, "%s must be file:PATH or env:VAR", what);
    }
    if ((err = cn_config_read_source(pconf, source, secret, len))) {
        return apr_psprintf(ptemp, "%s: %s", what, err);
    }
    while (*len && ((*secret)[*len - 1] == '\n' || (*secret)[*len - 1] == '\r')) {
        --*len;
    }
    if (*len < CN_WEBHOOK_SECRET_MIN) {
        return apr_psprintf(ptemp, "%s must be at least %d bytes", what, CN_WEBHOOK_SECRET_MIN);
    }
    return NULL;
}

const char *cn_webhooks_app_options(apr_pool_t *pconf, apr_pool_t *ptemp, cn_app_t *app)
{
    const char *url = apr_table_get(app->options, "webhook_url");
    const char *source = apr_table_get(app->options, "webhook_secret");
    const char *secret = NULL, *err;
    apr_size_t len = 0;
    app->webhook = NULL;
    if (!url && !source) {
        return NULL;
    }
    if (!url || !source) {
        return "webhook_url= and webhook_secret= go together";
    }
    if ((err = check_url(ptemp, url, "webhook_url="))
        || (err = read_secret(pconf, ptemp, source, "webhook_secret=", &secret, &len))) {
        return err;
    }
    app->webhook = apr_pcalloc(pconf, sizeof(*app->webhook));
    app->webhook->url = apr_pstrdup(pconf, url);
    app->webhook->secret = (const unsigned char *)secret;
    app->webhook->secret_len = len;
    return NULL;
}

/* ConnectWebhookURL URL [file:PATH|env:VAR]: where the events of the
 * applications without a webhook_url= of their own go. */
const char *cn_webhooks_set_url(cmd_parms *cmd, void *dc, int argc, char *const argv[])
{
    cn_server_conf_t *sc = ap_get_module_config(cmd->server->module_config, &connect_module);
    const char *err;
    if (argc < 1 || argc > 2) {
        return CN_DIR_WEBHOOK_URL " takes URL [file:PATH|env:VAR]";
    }
    if ((err = check_url(cmd->temp_pool, argv[0], CN_DIR_WEBHOOK_URL))) {
        return err;
    }
    if (argc == 2 && strncmp(argv[1], "file:", 5) && strncmp(argv[1], "env:", 4)) {
        return CN_DIR_WEBHOOK_URL ": the signing secret must be file:PATH or env:VAR";
    }
    sc->configured = 1;
    sc->webhook_url = argv[0];
    sc->webhook_url_secret = argc == 2 ? argv[1] : NULL;
    return NULL;
}

const char *cn_webhooks_default_target(apr_pool_t *pconf, apr_pool_t *ptemp,
                                       cn_server_conf_t *sc, cn_app_t *app)
{
    if (app->webhook || !sc->webhook_url) {
        return NULL;
    }
    if (!sc->webhook_default_secret) {
        const char *secret = NULL, *err;
        apr_size_t len = 0;
        if (sc->webhook_url_secret) {
            if ((err = read_secret(pconf, ptemp, sc->webhook_url_secret,
                                   CN_DIR_WEBHOOK_URL "'s secret", &secret, &len))) {
                return err;
            }
            sc->webhook_default_secret = secret;
            sc->webhook_default_secret_len = len;
        }
    }
    app->webhook = apr_pcalloc(pconf, sizeof(*app->webhook));
    app->webhook->url = sc->webhook_url;
    if (sc->webhook_default_secret) {
        app->webhook->secret = (const unsigned char *)sc->webhook_default_secret;
        app->webhook->secret_len = sc->webhook_default_secret_len;
    }
    else {
        /* Signed with the application's own secret: each application's
         * events can be checked by the application alone. */
        app->webhook->secret = (const unsigned char *)app->oauth1_secret;
        app->webhook->secret_len = strlen(app->oauth1_secret);
    }
    return NULL;
}

/* ---- delivery in the watchdog -------------------------------------------- */

typedef struct cn_webhook_job_t {
    server_rec *s;           /* the main server: its log, its mod_dbd */
    const char *host;        /* this node's name, for the lease's holder */
    cn_webhook_run_t run;
    int interval;            /* seconds */
    int lease_ttl;           /* seconds: longer than a run can take */
    int purge_interval;      /* seconds between purges of old rows */
    int retention_days;      /* ConnectEventRetention */
    const char *ca_file;     /* ConnectCAFile */
    cn_http_t *http;         /* this process's client (child_init) */
    apr_thread_mutex_t *lock; /* held by a run; taken by the child's exit to wait for it */
    volatile int closed;     /* the child is exiting: no run starts, the run under way ends */
    apr_int64_t last_purge;
} cn_webhook_job_t;

/* This generation's delivery (post_config), NULL when there is none. */
static cn_webhook_job_t *current_job;

static void log_write(void *baton, int level, const char *line)
{
    ap_log_error(APLOG_MARK, level, 0, (server_rec *)baton, "%s", line);
}

static int log_enabled(void *baton, int level)
{
    return APLOG_MODULE_IS_LEVEL((server_rec *)baton, APLOG_MODULE_INDEX, level);
}

/* The child is on its way out (graceful restart or stop): the run ends
 * after the attempt under way; what is not delivered stays in the outbox. */
static int child_stopping(void *baton)
{
    const cn_webhook_job_t *job = baton;
    int state = AP_MPMQ_STARTING;
    return job->closed || ap_mpm_query(AP_MPMQ_MPM_STATE, &state) != APR_SUCCESS
           || state == AP_MPMQ_STOPPING;
}

static void job_ctx(cn_ctx_t *ctx, const cn_webhook_job_t *job, apr_pool_t *pool)
{
    memset(ctx, 0, sizeof(*ctx));
    ctx->pool = pool;
    ctx->log.write = log_write;
    ctx->log.enabled = log_enabled;
    ctx->log.baton = job->s;
    ctx->dbs = cn_dbd_server_seam(job->s);
    ctx->http = job->http;
    ctx->metrics = cn_metrics_shared();
    ctx->now = (apr_int64_t)apr_time_sec(apr_time_now());
}

/* The child's pool goes (the child exits): mod_watchdog's thread may still
 * be in a run, which ends after its attempt; the client goes after it. */
static apr_status_t job_close(void *data)
{
    cn_webhook_job_t *job = data;
    job->closed = 1;
    apr_thread_mutex_lock(job->lock);
    job->http = NULL;
    apr_thread_mutex_unlock(job->lock);
    return APR_SUCCESS;
}

/* This process's HTTP client for receivers: the attempt's timeout, the
 * operator's CA file, no redirects, http and https only (cn_http_curl_make). */
static void make_client(cn_webhook_job_t *job, apr_pool_t *pool)
{
    cn_http_options_t opts = {0};
    opts.ca_file = job->ca_file;
    opts.timeout_ms = job->run.policy.timeout_ms;
    opts.connect_timeout_ms = opts.timeout_ms < 5000L ? opts.timeout_ms : 5000L;
    opts.max_response = 64 * 1024;
    if (cn_http_curl_make(pool, &opts, &job->http) != APR_SUCCESS) {
        job->http = NULL;
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, job->s, CNLOGNO(02020) "webhook: cannot set up "
                     "libcurl in process %" APR_PID_T_FMT "; deliveries wait for another",
                     getpid());
    }
}

/* One look (webhook_callback), with the run's lock held. */
static void run(cn_webhook_job_t *job, cn_ctx_t *ctx, apr_pool_t *pool)
{
    const char *holder;
    apr_int64_t pending = 0;
    int due = 0, taken = 0;
    if (ctx->now - job->last_purge >= job->purge_interval) {
        job->last_purge = ctx->now;
        (void)cn_webhook_purge(ctx, ctx->now - (apr_int64_t)job->retention_days * 86400, NULL);
    }
    (void)cn_webhook_backlog(ctx, &pending);
    if (cn_webhook_any_due(ctx, ctx->now, &due) != APR_SUCCESS || !due) {
        return;
    }
    holder = apr_psprintf(pool, "%s:%" APR_PID_T_FMT, job->host, getpid());
    if (cn_job_lease_take(ctx, CN_LEASE_WEBHOOKS, holder, job->lease_ttl, &taken)
        != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, job->s, CNLOGNO(02021) "webhook: the lease "
                     "cannot be taken; next try in %d s", job->interval);
        return;
    }
    if (!taken) {
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, job->s,
                     CNLOGNO(02022) "webhook: another process or node is delivering");
        return;
    }
    (void)cn_webhook_deliver(ctx, &job->run, NULL);
    ctx->now = (apr_int64_t)apr_time_sec(apr_time_now());
    (void)cn_job_lease_release(ctx, CN_LEASE_WEBHOOKS, holder);
}

/* Every ConnectWebhookInterval: when something is due, take the lease (one
 * node, one process delivers at a time), deliver for up to a budget, give
 * the lease back at once so that the next look, here or on another node,
 * goes on. Now and then, delete old delivered and failed rows. */
static apr_status_t webhook_callback(int state, void *data, apr_pool_t *pool)
{
    cn_webhook_job_t *job = data;
    cn_ctx_t ctx;
    if (state != AP_WATCHDOG_STATE_RUNNING || !job->lock) {
        return APR_SUCCESS;
    }
    apr_thread_mutex_lock(job->lock);
    if (job->closed || !job->http) {
        apr_thread_mutex_unlock(job->lock);
        return APR_SUCCESS;
    }
    job_ctx(&ctx, job, pool);
    run(job, &ctx, pool);
    apr_thread_mutex_unlock(job->lock);
    return APR_SUCCESS; /* keep being called */
}

void cn_webhooks_child_init(apr_pool_t *pchild, server_rec *s)
{
    cn_webhook_job_t *job = current_job;
    if (!job) {
        return;
    }
    /* The lock outlives the child's pool: mod_watchdog's thread, joined only
     * when the process pool goes, may still ask for it after pchild is gone. */
    if (apr_thread_mutex_create(&job->lock, APR_THREAD_MUTEX_DEFAULT, s->process->pool)
        != APR_SUCCESS) {
        job->lock = NULL; /* no delivery from this process */
        return;
    }
    make_client(job, pchild);
    apr_pool_pre_cleanup_register(pchild, job, job_close);
}

int cn_webhooks_post_config(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s)
{
    cn_server_conf_t *sc = ap_get_module_config(s->module_config, &connect_module);
    cn_webhook_policy_t *p = sc->webhook_policy;
    cn_webhook_job_t *job;
    ap_watchdog_t *wd = NULL;
    apr_hash_t *targets = apr_hash_make(pconf);
    char host[APRMAXHOSTLEN + 1];
    server_rec *vs;
    apr_status_t rv;

    if (!p) {
        p = sc->webhook_policy = apr_pcalloc(pconf, sizeof(*p));
        p->backoff_min = p->backoff_max = p->retry_for = -1;
        p->timeout_ms = -1;
    }
    if (p->backoff_min == -1) {
        p->backoff_min = CN_DEFAULT_WEBHOOK_BACKOFF_MIN;
        p->backoff_max = CN_DEFAULT_WEBHOOK_BACKOFF_MAX;
        p->retry_for = CN_DEFAULT_WEBHOOK_RETRY_FOR;
    }
    if (p->timeout_ms == -1) {
        p->timeout_ms = CN_DEFAULT_WEBHOOK_TIMEOUT * 1000L;
    }
    p->batch = CN_WEBHOOK_BATCH;
    p->budget = CN_WEBHOOK_BUDGET;
    if (sc->webhook_interval == -1) {
        sc->webhook_interval = CN_DEFAULT_WEBHOOK_INTERVAL;
    }
    /* The applications of every virtual host (the first of a client id wins). */
    for (vs = s; vs; vs = vs->next) {
        cn_server_conf_t *vsc = ap_get_module_config(vs->module_config, &connect_module);
        apr_hash_index_t *hi;
        for (hi = vsc->webhooks ? apr_hash_first(ptemp, vsc->webhooks) : NULL; hi;
             hi = apr_hash_next(hi)) {
            const void *k;
            void *v;
            apr_hash_this(hi, &k, NULL, &v);
            if (!apr_hash_get(targets, k, APR_HASH_KEY_STRING)) {
                apr_hash_set(targets, k, APR_HASH_KEY_STRING, v);
            }
        }
    }
    current_job = NULL;
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return OK;
    }
    if (!apr_hash_count(targets)) {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, CNLOGNO(02023) "webhooks: no application "
                     "has a webhook_url; delivery is off");
        return OK;
    }
    wd_get_instance = APR_RETRIEVE_OPTIONAL_FN(ap_watchdog_get_instance);
    wd_register_callback = APR_RETRIEVE_OPTIONAL_FN(ap_watchdog_register_callback);
    if (!wd_get_instance || !wd_register_callback) {
        /* Events would pile up in the outbox, never sent. */
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, CNLOGNO(02024) "%s: webhook_url= needs "
                     "mod_watchdog, which is not loaded", CN_DIR_APPLICATION);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    job = apr_pcalloc(pconf, sizeof(*job));
    job->s = s;
    job->run.policy = *p;
    job->run.targets = targets;
    job->run.stopping = child_stopping;
    job->run.baton = job;
    job->interval = sc->webhook_interval;
    job->lease_ttl = p->budget + (int)(p->timeout_ms / 1000) + 30;
    job->purge_interval = sc->purge_interval > 0 ? sc->purge_interval : 3600;
    job->retention_days = sc->event_retention > 0 ? sc->event_retention : 30;
    job->ca_file = sc->ca_file;
    if (apr_gethostname(host, sizeof(host), ptemp) != APR_SUCCESS) {
        apr_cpystrn(host, "localhost", sizeof(host));
    }
    job->host = apr_pstrdup(pconf, host);
    if ((rv = wd_get_instance(&wd, CN_WEBHOOK_WATCHDOG, 0, 1, pconf)) != APR_SUCCESS
        || (rv = wd_register_callback(wd, apr_time_from_sec(job->interval), job,
                                      webhook_callback)) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s,
                     CNLOGNO(02025) "cannot register webhook delivery with mod_watchdog");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    current_job = job;
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, CNLOGNO(02026) "webhooks of %u application(s): "
                 "a look every %d s, retries after %d to %d s for %d s, %ld s per attempt",
                 apr_hash_count(targets), job->interval, p->backoff_min, p->backoff_max,
                 p->retry_for, p->timeout_ms / 1000);
    return OK;
}

/* ---- the routes ---------------------------------------------------------- */

int cn_route_webhook_deliveries(cn_req_t *req)
{
    int limit, offset;
    json_t *out = NULL;
    apr_status_t rv;
    if (cn_paging_parse(&req->ctx, apr_table_get(req->query, "limit"),
                        apr_table_get(req->query, "offset"), &limit, &offset) != APR_SUCCESS) {
        return cn_reply_result(req);
    }
    rv = cn_webhook_list(&req->ctx, apr_table_get(req->query, "status"), limit, offset, &out);
    return ANSWER(req, rv, cn_reply_list(req, out, limit, offset));
}

int cn_route_webhook_retry(cn_req_t *req)
{
    json_t *out = NULL;
    apr_status_t rv = cn_webhook_retry(&req->ctx, req->params[0], &out);
    return ANSWER(req, rv, cn_reply_success(req, HTTP_OK, out));
}
