/* The metrics as Prometheus text (exposition format 0.0.4): HELP and TYPE
 * lines, counters, one gauge, histograms with cumulative _bucket{le=...},
 * _sum and _count. Values are read with atomic loads while children go on
 * counting; a histogram's count is the sum of its buckets, so the +Inf
 * bucket and _count always agree. */
#include <stdarg.h>
#include <string.h>
#include <apr_strings.h>
#include <apr_tables.h>

#include "cn_core.h"
#include "metrics.h"

static apr_uint64_t load(const apr_uint64_t *cell)
{
    return __atomic_load_n(cell, __ATOMIC_RELAXED);
}

typedef struct out_t {
    apr_pool_t *pool;
    apr_array_header_t *parts; /* const char * */
} out_t;

static void put(out_t *o, const char *s)
{
    APR_ARRAY_PUSH(o->parts, const char *) = s;
}

static void putf(out_t *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(out_t *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    put(o, apr_pvsprintf(o->pool, fmt, ap));
    va_end(ap);
}

static void family(out_t *o, const char *name, const char *type, const char *help)
{
    putf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value as the format wants it: backslash, double quote and line
 * feed escaped. */
static const char *escape(apr_pool_t *p, const char *v)
{
    apr_size_t n = 0;
    const char *s;
    char *out, *d;
    for (s = v; *s; ++s) {
        n += (*s == '\\' || *s == '"' || *s == '\n') ? 2 : 1;
    }
    d = out = apr_palloc(p, n + 1);
    for (s = v; *s; ++s) {
        if (*s == '\\' || *s == '"' || *s == '\n') {
            *d++ = '\\';
            *d++ = *s == '\n' ? 'n' : *s;
        }
        else {
            *d++ = *s;
        }
    }
    *d = '\0';
    return out;
}

/* Microseconds as seconds, exactly: "12.000345". */
static const char *seconds(apr_pool_t *p, apr_uint64_t us)
{
    return apr_psprintf(p, "%" APR_UINT64_T_FMT ".%06u", us / 1000000, (unsigned)(us % 1000000));
}

static apr_uint64_t histogram_count(const cn_metric_histogram_t *h)
{
    apr_uint64_t n = 0;
    int i;
    for (i = 0; i < CN_METRIC_BUCKETS; ++i) {
        n += load(&h->bucket[i]);
    }
    return n;
}

/* The series of histogram NAME with LABELS ("a=\"x\"," each followed by a
 * comma, or ""). */
static void histogram(out_t *o, const char *name, const char *labels,
                      const cn_metric_histogram_t *h)
{
    apr_uint64_t bucket[CN_METRIC_BUCKETS], cum = 0, sum_us = load(&h->sum_us);
    apr_size_t n = strlen(labels);
    /* the labels without their last comma, for _sum and _count */
    const char *plain = n ? apr_psprintf(o->pool, "{%.*s}", (int)(n - 1), labels) : "";
    int i;
    for (i = 0; i < CN_METRIC_BUCKETS; ++i) {
        bucket[i] = load(&h->bucket[i]);
    }
    for (i = 0; i < CN_METRIC_BUCKETS; ++i) {
        cum += bucket[i];
        putf(o, "%s_bucket{%sle=\"%s\"} %" APR_UINT64_T_FMT "\n", name, labels,
             cn_metric_bucket_le[i], cum);
    }
    putf(o, "%s_sum%s %s\n%s_count%s %" APR_UINT64_T_FMT "\n", name, plain,
         seconds(o->pool, sum_us), name, plain, cum);
}

static void http_requests(out_t *o, const cn_metrics_t *m)
{
    static const char *const classes[5] = {"1xx", "2xx", "3xx", "4xx", "5xx"};
    const char **labels = apr_pcalloc(o->pool, sizeof(*labels) * (apr_size_t)(m->nroutes + 1));
    int i, c;
    for (i = 0; i < m->nroutes; ++i) {
        labels[i] = apr_psprintf(o->pool, "api=\"%s\",route=\"%s\",method=\"%s\",",
                                 escape(o->pool, m->routes[i].api),
                                 escape(o->pool, m->routes[i].route),
                                 escape(o->pool, m->routes[i].method));
    }
    family(o, "connect_http_requests_total", "counter",
           "Requests answered by the module's API, by route (its pattern in the route table, "
           "or unmatched), method and status class.");
    for (i = 0; i < m->nroutes; ++i) {
        for (c = 0; c < 5; ++c) {
            apr_uint64_t v = load(&m->block->routes[i].status[c]);
            if (v) {
                putf(o, "connect_http_requests_total{%sstatus=\"%s\"} %" APR_UINT64_T_FMT "\n",
                     labels[i], classes[c], v);
            }
        }
    }
    family(o, "connect_http_request_duration_seconds", "histogram",
           "Time from a request's arrival to its answer, by route and method.");
    for (i = 0; i < m->nroutes; ++i) {
        if (histogram_count(&m->block->routes[i].latency)) {
            histogram(o, "connect_http_request_duration_seconds", labels[i],
                      &m->block->routes[i].latency);
        }
    }
}

static void provider_calls(out_t *o, const cn_metrics_t *m)
{
    int p, e, k;
    family(o, "connect_provider_requests_total", "counter",
           "Calls to the providers' endpoints, by provider, endpoint and outcome.");
    for (p = 0; p < CN_METRIC_PROVIDERS; ++p) {
        for (e = 0; e < CN_METRIC_ENDPOINTS; ++e) {
            for (k = 0; k < CN_METRIC_CALL_OUTCOMES; ++k) {
                apr_uint64_t v = load(&m->block->calls[p][e].outcome[k]);
                if (v) {
                    putf(o, "connect_provider_requests_total{provider=\"%s\",endpoint=\"%s\","
                         "outcome=\"%s\"} %" APR_UINT64_T_FMT "\n", cn_metric_providers[p],
                         cn_metric_endpoints[e], cn_metrics_call_name((cn_metric_call_t)k), v);
                }
            }
        }
    }
    family(o, "connect_provider_request_duration_seconds", "histogram",
           "Time the providers' endpoints took to answer, by provider and endpoint.");
    for (p = 0; p < CN_METRIC_PROVIDERS; ++p) {
        for (e = 0; e < CN_METRIC_ENDPOINTS; ++e) {
            if (histogram_count(&m->block->calls[p][e].latency)) {
                histogram(o, "connect_provider_request_duration_seconds",
                          apr_psprintf(o->pool, "provider=\"%s\",endpoint=\"%s\",",
                                       cn_metric_providers[p], cn_metric_endpoints[e]),
                          &m->block->calls[p][e].latency);
            }
        }
    }
}

static void the_rest(out_t *o, const cn_metrics_t *m)
{
    const cn_metric_block_t *b = m->block;
    int i;
    family(o, "connect_token_refreshes_total", "counter",
           "Provider access tokens due for a refresh: refreshed by the caller (done), served "
           "by another caller's refresh (coalesced), or not refreshed (failed).");
    for (i = 0; i < CN_METRIC_REFRESH_RESULTS; ++i) {
        putf(o, "connect_token_refreshes_total{result=\"%s\"} %" APR_UINT64_T_FMT "\n",
             cn_metrics_refresh_name((cn_metric_refresh_t)i), load(&b->refreshes[i]));
    }
    family(o, "connect_webhook_deliveries_total", "counter",
           "Attempts to deliver a webhook: delivered, to be retried, or given up (failed).");
    for (i = 0; i < CN_METRIC_WEBHOOK_OUTCOMES; ++i) {
        putf(o, "connect_webhook_deliveries_total{outcome=\"%s\"} %" APR_UINT64_T_FMT "\n",
             cn_metrics_webhook_name((cn_metric_webhook_t)i), load(&b->webhooks[i]));
    }
    family(o, "connect_webhook_delivery_duration_seconds", "histogram",
           "Time a webhook receiver took to answer an attempt.");
    histogram(o, "connect_webhook_delivery_duration_seconds", "", &b->webhook_latency);
    family(o, "connect_webhook_backlog", "gauge", "Webhook deliveries waiting to be made.");
    putf(o, "connect_webhook_backlog %" APR_INT64_T_FMT "\n",
         (apr_int64_t)load((const apr_uint64_t *)&b->webhook_backlog));
    family(o, "connect_database_errors_total", "counter",
           "Database failures that failed a request or a job: no connection, or a failed "
           "statement.");
    for (i = 0; i < CN_METRIC_DB_KINDS; ++i) {
        putf(o, "connect_database_errors_total{kind=\"%s\"} %" APR_UINT64_T_FMT "\n",
             cn_metrics_db_name((cn_metric_db_t)i), load(&b->db_errors[i]));
    }
    family(o, "connect_database_transactions_total", "counter",
           "Write transactions of the group commit (SQLite): the exchanges of POST /token "
           "that queued at once share one.");
    putf(o, "connect_database_transactions_total %" APR_UINT64_T_FMT "\n",
         load(&b->db_transactions));
    family(o, "connect_database_transaction_works_total", "counter",
           "Requests' writes those transactions held.");
    putf(o, "connect_database_transaction_works_total %" APR_UINT64_T_FMT "\n",
         load(&b->db_transaction_works));
    family(o, "connect_metrics_start_time_seconds", "gauge",
           "When these counters started: the server's start (a graceful restart keeps them).");
    putf(o, "connect_metrics_start_time_seconds %" APR_INT64_T_FMT "\n", b->started);
}

const char *cn_metrics_text(apr_pool_t *pool, const cn_metrics_t *m, apr_size_t *len)
{
    out_t o;
    const char *text;
    o.pool = pool;
    o.parts = apr_array_make(pool, 256, sizeof(const char *));
    http_requests(&o, m);
    provider_calls(&o, m);
    the_rest(&o, m);
    text = apr_array_pstrcat(pool, o.parts, 0);
    *len = strlen(text);
    return text;
}

void cn_metrics_summarize(const cn_metrics_t *m, cn_metrics_summary_t *out)
{
    const cn_metric_block_t *b = m->block;
    int i, j, k;
    memset(out, 0, sizeof(*out));
    out->started = b->started;
    for (i = 0; i < m->nroutes; ++i) {
        for (j = 0; j < 5; ++j) {
            apr_uint64_t v = load(&b->routes[i].status[j]);
            out->requests_by_class[j] += v;
            out->requests += v;
        }
        out->request_seconds_us += load(&b->routes[i].latency.sum_us);
    }
    for (i = 0; i < CN_METRIC_PROVIDERS; ++i) {
        for (j = 0; j < CN_METRIC_ENDPOINTS; ++j) {
            for (k = 0; k < CN_METRIC_CALL_OUTCOMES; ++k) {
                apr_uint64_t v = load(&b->calls[i][j].outcome[k]);
                out->provider_calls += v;
                if (k != CN_METRIC_CALL_OK) {
                    out->provider_calls_failed += v;
                }
            }
        }
    }
    for (i = 0; i < CN_METRIC_REFRESH_RESULTS; ++i) {
        out->refreshes[i] = load(&b->refreshes[i]);
    }
    for (i = 0; i < CN_METRIC_WEBHOOK_OUTCOMES; ++i) {
        out->webhooks[i] = load(&b->webhooks[i]);
    }
    out->webhook_backlog = (apr_int64_t)load((const apr_uint64_t *)&b->webhook_backlog);
    for (i = 0; i < CN_METRIC_DB_KINDS; ++i) {
        out->db_errors[i] = load(&b->db_errors[i]);
    }
}
