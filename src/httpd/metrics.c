/* Metrics glue: the block the counters live in (APR anonymous shared memory,
 * made in post_config before the children are forked, so every child of any
 * MPM maps the same pages), the `connect-metrics` handler (Prometheus text),
 * the summary on mod_status's page, and the count of every API request by
 * its route. The block lives in the process pool: a graceful restart keeps
 * it, and its counts, while the routes stay the same (the children of the
 * old generation go on counting into it); a full stop and start begins
 * again from zero. */
#include <apr_shm.h>
#include <apr_optional.h>

#include "cn_request.h"
#include "cn_metrics.h"

#include <http_core.h>
#include <mod_status.h>

#define CN_METRICS_SHM_KEY "connect-metrics-block"

/* The route tables counted, one per API surface: an API added is a row
 * here (and a cn_metrics_request_done in its handler). */
static const struct {
    const char *api;
    const cn_route_t *routes;
} apis[] = {
    {CN_HANDLER, cn_api_routes},
    {CN_V3_HANDLER, cn_v3_routes},
    {CN_HANDLER_CIO, cn_cio_routes},
};
#define N_APIS ((int)(sizeof(apis) / sizeof(apis[0])))

/* Requests no route matched, by method: a bounded set, whatever the
 * client sent. */
static const char *const unmatched[] = {"GET", "HEAD", "POST", "PUT", "PATCH",
                                        "DELETE", "OPTIONS", "OTHER"};
#define N_UNMATCHED ((int)(sizeof(unmatched) / sizeof(unmatched[0])))

/* Set in post_config; the children inherit them with the mapping. */
static cn_metrics_t *metrics;
static int api_first[N_APIS]; /* index of each API's first route */
static int api_rows[N_APIS];  /* its table's rows; its unmatched methods follow */

cn_metrics_t *cn_metrics_shared(void)
{
    return metrics;
}

static const char *route_method(int m)
{
    switch (m) {
    case M_GET: return "GET";
    case M_POST: return "POST";
    case M_PATCH: return "PATCH";
    case M_DELETE: return "DELETE";
    case M_PUT: return "PUT";
    default: return "OTHER";
    }
}

/* Every counted route: each API's table rows, then its unmatched methods. */
static apr_array_header_t *counted_routes(apr_pool_t *p)
{
    apr_array_header_t *all = apr_array_make(p, 64, sizeof(cn_metrics_route_t));
    int a, i;
    for (a = 0; a < N_APIS; ++a) {
        const cn_route_t *rt;
        api_first[a] = all->nelts;
        for (rt = apis[a].routes; rt->pattern; ++rt) {
            cn_metrics_route_t *m = apr_array_push(all);
            m->api = apis[a].api;
            m->route = rt->pattern;
            m->method = route_method(rt->method);
        }
        api_rows[a] = all->nelts - api_first[a];
        for (i = 0; i < N_UNMATCHED; ++i) {
            cn_metrics_route_t *m = apr_array_push(all);
            m->api = apis[a].api;
            m->route = "unmatched";
            m->method = unmatched[i];
        }
    }
    return all;
}

int cn_metrics_post_config(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s)
{
    apr_pool_t *keep = s->process->pool;
    apr_array_header_t *routes;
    const cn_metrics_route_t *r;
    apr_shm_t *shm = NULL;
    apr_size_t size;
    apr_status_t rv;
    int reset = 0;

    metrics = NULL;
    /* httpd reads its configuration twice at start: the block is made once. */
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return OK;
    }
    routes = counted_routes(ptemp);
    r = (const cn_metrics_route_t *)routes->elts;
    size = cn_metrics_size(routes->nelts);
    apr_pool_userdata_get((void **)&shm, CN_METRICS_SHM_KEY, keep);
    if (shm && !cn_metrics_same_layout(apr_shm_baseaddr_get(shm), apr_shm_size_get(shm), r,
                                       routes->nelts)) {
        /* Another build's routes: a new block. The old generation's children
         * keep their own mapping of the old one until they exit. */
        apr_shm_destroy(shm);
        apr_pool_userdata_set(NULL, CN_METRICS_SHM_KEY, apr_pool_cleanup_null, keep);
        shm = NULL;
    }
    if (!shm) {
        if ((rv = apr_shm_create(&shm, size, NULL, keep)) != APR_SUCCESS) {
            /* Requests are served all the same; the metrics answer 503. */
            ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, CNLOGNO(02101) "metrics are off: no "
                         "shared memory of %" APR_SIZE_T_FMT " bytes", size);
            return OK;
        }
        /* The key is copied: this module's own memory goes at a restart. */
        apr_pool_userdata_set(shm, CN_METRICS_SHM_KEY, apr_pool_cleanup_null, keep);
    }
    rv = cn_metrics_attach(pconf, apr_shm_baseaddr_get(shm), apr_shm_size_get(shm), r,
                           routes->nelts, (apr_int64_t)apr_time_sec(apr_time_now()), &reset,
                           &metrics);
    if (rv != APR_SUCCESS) {
        metrics = NULL;
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, CNLOGNO(02102) "metrics are off: the "
                     "shared block does not take their layout");
        return OK;
    }
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, CNLOGNO(02103) "metrics: %d routes counted in "
                 "%" APR_SIZE_T_FMT " bytes of shared memory, %s", routes->nelts, size,
                 reset ? "from zero" : "kept across the restart");
    return OK;
}

void cn_metrics_request_done(cn_req_t *req, const cn_route_t *routes, int rv)
{
    request_rec *r = req->r;
    int a, slot = -1, status = r->status;
    if (!metrics) {
        return;
    }
    for (a = 0; a < N_APIS && apis[a].routes != routes; ++a) {
    }
    if (a == N_APIS) {
        return;
    }
    if (req->route) {
        slot = api_first[a] + (int)(req->route - routes);
    }
    else {
        const char *m = r->header_only ? "HEAD" : r->method;
        int i;
        for (i = 0; i < N_UNMATCHED - 1 && strcmp(unmatched[i], m); ++i) {
        }
        slot = api_first[a] + api_rows[a] + i;
    }
    /* A handler that returns an HTTP status has it sent by httpd. */
    if (rv >= 100 && rv < 600) {
        status = rv;
    }
    cn_metrics_request(metrics, slot, status, apr_time_now() - r->request_time);
}

/* ---- SetHandler connect-metrics -------------------------------------------------- */

static int metrics_handler(request_rec *r)
{
    const char *text;
    apr_size_t len = 0;
    if (!r->handler || strcmp(r->handler, CN_METRICS_HANDLER)) {
        return DECLINED;
    }
    ap_discard_request_body(r);
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    apr_table_setn(r->headers_out, "X-Content-Type-Options", "nosniff");
    if (r->method_number != M_GET) {
        text = apr_psprintf(r->pool, "%s is not allowed here: GET or HEAD\n", r->method);
        r->status = HTTP_METHOD_NOT_ALLOWED;
        apr_table_setn(r->headers_out, "Allow", "GET, HEAD");
    }
    else if (!metrics) {
        text = "the metrics are off (see the error log at start-up)\n";
        r->status = HTTP_SERVICE_UNAVAILABLE;
    }
    else {
        text = cn_metrics_text(r->pool, metrics, &len);
        ap_set_content_type(r, "text/plain; version=0.0.4; charset=utf-8");
    }
    if (r->status != HTTP_OK) {
        ap_set_content_type(r, "text/plain; charset=utf-8");
    }
    len = strlen(text);
    ap_set_content_length(r, (apr_off_t)len);
    if (!r->header_only) {
        ap_rwrite(text, (int)len, r);
    }
    return OK;
}

/* ---- mod_status ------------------------------------------------------------------ */

static int status_hook(request_rec *r, int flags)
{
    static const char *const classes[5] = {"1xx", "2xx", "3xx", "4xx", "5xx"};
    cn_metrics_summary_t s;
    char started[APR_RFC822_DATE_LEN];
    int i;
    if (!metrics) {
        return OK;
    }
    cn_metrics_summarize(metrics, &s);
    if (flags & AP_STATUS_SHORT) {
        ap_rprintf(r, "ConnectRequests: %" APR_UINT64_T_FMT "\n", s.requests);
        for (i = 0; i < 5; ++i) {
            ap_rprintf(r, "ConnectRequests%s: %" APR_UINT64_T_FMT "\n", classes[i],
                       s.requests_by_class[i]);
        }
        ap_rprintf(r, "ConnectProviderCalls: %" APR_UINT64_T_FMT "\n"
                   "ConnectProviderCallsFailed: %" APR_UINT64_T_FMT "\n"
                   "ConnectRefreshesDone: %" APR_UINT64_T_FMT "\n"
                   "ConnectRefreshesCoalesced: %" APR_UINT64_T_FMT "\n"
                   "ConnectRefreshesFailed: %" APR_UINT64_T_FMT "\n"
                   "ConnectWebhooksDelivered: %" APR_UINT64_T_FMT "\n"
                   "ConnectWebhooksRetried: %" APR_UINT64_T_FMT "\n"
                   "ConnectWebhooksFailed: %" APR_UINT64_T_FMT "\n"
                   "ConnectWebhookBacklog: %" APR_INT64_T_FMT "\n"
                   "ConnectDatabaseErrors: %" APR_UINT64_T_FMT "\n"
                   "ConnectMetricsSince: %" APR_INT64_T_FMT "\n",
                   s.provider_calls, s.provider_calls_failed,
                   s.refreshes[CN_METRIC_REFRESH_DONE], s.refreshes[CN_METRIC_REFRESH_COALESCED],
                   s.refreshes[CN_METRIC_REFRESH_FAILED], s.webhooks[CN_METRIC_WEBHOOK_DELIVERED],
                   s.webhooks[CN_METRIC_WEBHOOK_RETRY], s.webhooks[CN_METRIC_WEBHOOK_FAILED],
                   s.webhook_backlog,
                   s.db_errors[CN_METRIC_DB_CONNECTION] + s.db_errors[CN_METRIC_DB_STATEMENT],
                   s.started);
        return OK;
    }
    apr_rfc822_date(started, apr_time_from_sec(s.started));
    ap_rputs("<hr />\n<h2><a name=\"connect\">mod_connect</a></h2>\n<dl>\n", r);
    ap_rprintf(r, "<dt>API requests: %" APR_UINT64_T_FMT " (", s.requests);
    for (i = 0; i < 5; ++i) {
        ap_rprintf(r, "%s%s %" APR_UINT64_T_FMT, i ? ", " : "", classes[i],
                   s.requests_by_class[i]);
    }
    ap_rprintf(r, "), %.1f ms on average</dt>\n",
               s.requests ? (double)s.request_seconds_us / 1000.0 / (double)s.requests : 0.0);
    ap_rprintf(r, "<dt>Provider calls: %" APR_UINT64_T_FMT ", %" APR_UINT64_T_FMT
               " without an answer of 2xx</dt>\n", s.provider_calls, s.provider_calls_failed);
    ap_rprintf(r, "<dt>Token refreshes: %" APR_UINT64_T_FMT " done, %" APR_UINT64_T_FMT
               " coalesced, %" APR_UINT64_T_FMT " failed</dt>\n",
               s.refreshes[CN_METRIC_REFRESH_DONE], s.refreshes[CN_METRIC_REFRESH_COALESCED],
               s.refreshes[CN_METRIC_REFRESH_FAILED]);
    ap_rprintf(r, "<dt>Webhook attempts: %" APR_UINT64_T_FMT " delivered, %" APR_UINT64_T_FMT
               " to retry, %" APR_UINT64_T_FMT " given up; %" APR_INT64_T_FMT
               " waiting</dt>\n", s.webhooks[CN_METRIC_WEBHOOK_DELIVERED],
               s.webhooks[CN_METRIC_WEBHOOK_RETRY], s.webhooks[CN_METRIC_WEBHOOK_FAILED],
               s.webhook_backlog);
    ap_rprintf(r, "<dt>Database errors: %" APR_UINT64_T_FMT " without a connection, %"
               APR_UINT64_T_FMT " in statements</dt>\n", s.db_errors[CN_METRIC_DB_CONNECTION],
               s.db_errors[CN_METRIC_DB_STATEMENT]);
    ap_rprintf(r, "<dt>Counted since %s</dt>\n</dl>\n", started);
    return OK;
}

void cn_metrics_register_hooks(apr_pool_t *p)
{
    (void)p;
    ap_hook_handler(metrics_handler, NULL, NULL, APR_HOOK_MIDDLE);
    /* Called only when mod_status is loaded and shows its page. */
    APR_OPTIONAL_HOOK(ap, status_hook, status_hook, NULL, NULL, APR_HOOK_MIDDLE);
}
