/* Metrics counted in a block of memory the server's processes share: its
 * fixed layout, and the atomic adds into it. The text the block is shown
 * in is metrics_text.c's. */
#include <string.h>
#include <apr_strings.h>

#include "cn_core.h"
#include "metrics.h"

/* Children write at once, from several processes: the adds must be single
 * instructions, not a library's lock (a process-local mutex would count
 * wrong across processes). */
_Static_assert(__atomic_always_lock_free(sizeof(apr_uint64_t), 0),
               "the metrics need lock-free 64-bit atomics");

const apr_int64_t cn_metric_bucket_us[CN_METRIC_BUCKETS - 1] = {
    5000, 10000, 25000, 50000, 100000, 250000, 500000,
    1000000, 2500000, 5000000, 10000000, 30000000, 60000000
};
const char *const cn_metric_bucket_le[CN_METRIC_BUCKETS] = {
    "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5",
    "1", "2.5", "5", "10", "30", "60", "+Inf"
};
const char *const cn_metric_providers[CN_METRIC_PROVIDERS] = {"google", "microsoft", "other"};
const char *const cn_metric_endpoints[CN_METRIC_ENDPOINTS] = {"token", "userinfo", "graph",
                                                               "revoke", "other"};

static const char *const call_names[CN_METRIC_CALL_OUTCOMES] = {
    "ok", "client_error", "server_error", "timeout", "transport_error"
};
static const char *const refresh_names[CN_METRIC_REFRESH_RESULTS] = {"done", "coalesced",
                                                                      "failed"};
static const char *const webhook_names[CN_METRIC_WEBHOOK_OUTCOMES] = {"delivered", "retry",
                                                                      "failed"};
static const char *const db_names[CN_METRIC_DB_KINDS] = {"connection", "statement"};

const char *cn_metrics_call_name(cn_metric_call_t o)
{
    return (unsigned)o < CN_METRIC_CALL_OUTCOMES ? call_names[o] : "?";
}

const char *cn_metrics_refresh_name(cn_metric_refresh_t r)
{
    return (unsigned)r < CN_METRIC_REFRESH_RESULTS ? refresh_names[r] : "?";
}

const char *cn_metrics_webhook_name(cn_metric_webhook_t o)
{
    return (unsigned)o < CN_METRIC_WEBHOOK_OUTCOMES ? webhook_names[o] : "?";
}

const char *cn_metrics_db_name(cn_metric_db_t k)
{
    return (unsigned)k < CN_METRIC_DB_KINDS ? db_names[k] : "?";
}

#define CN_METRICS_MAGIC 0x434e4d4554524943ULL /* "CNMETRIC" */
#define CN_METRICS_VERSION 1                    /* of the block's layout */

apr_size_t cn_metrics_size(int nroutes)
{
    return sizeof(cn_metric_block_t) + (apr_size_t)(nroutes > 0 ? nroutes : 0)
                                           * sizeof(cn_metric_route_cell_t);
}

/* FNV-1a over the layout: the version, the sizes and every route's labels. */
static apr_uint64_t fnv(apr_uint64_t h, const void *data, apr_size_t len)
{
    const unsigned char *p = data;
    while (len--) {
        h ^= *p++;
        h *= 0x100000001b3ULL;
    }
    return h;
}

static apr_uint64_t layout_of(const cn_metrics_route_t *routes, int nroutes)
{
    apr_uint64_t h = 0xcbf29ce484222325ULL;
    apr_uint64_t sizes[3] = {CN_METRICS_VERSION, sizeof(cn_metric_block_t),
                             sizeof(cn_metric_route_cell_t)};
    int i;
    h = fnv(h, sizes, sizeof(sizes));
    for (i = 0; i < nroutes; ++i) {
        /* each with its terminating NUL, so "ab"+"c" is not "a"+"bc" */
        h = fnv(h, routes[i].api, strlen(routes[i].api) + 1);
        h = fnv(h, routes[i].route, strlen(routes[i].route) + 1);
        h = fnv(h, routes[i].method, strlen(routes[i].method) + 1);
    }
    return h;
}

static int routes_valid(const cn_metrics_route_t *routes, int nroutes)
{
    int i;
    for (i = 0; i < nroutes; ++i) {
        if (!routes[i].api || !routes[i].route || !routes[i].method) {
            return 0;
        }
    }
    return nroutes >= 0;
}

int cn_metrics_same_layout(const void *mem, apr_size_t size, const cn_metrics_route_t *routes,
                           int nroutes)
{
    const cn_metric_block_t *b = mem;
    return mem && routes_valid(routes, nroutes) && size >= cn_metrics_size(nroutes)
           && !((apr_uintptr_t)mem % sizeof(apr_uint64_t)) && b->magic == CN_METRICS_MAGIC
           && b->nroutes == (apr_uint64_t)nroutes && b->layout == layout_of(routes, nroutes);
}

apr_status_t cn_metrics_attach(apr_pool_t *pool, void *mem, apr_size_t size,
                               const cn_metrics_route_t *routes, int nroutes, apr_int64_t now,
                               int *reset, cn_metrics_t **out)
{
    cn_metrics_t *m;
    cn_metric_block_t *b = mem;
    apr_uint64_t layout;
    int i;
    if (!mem || !routes_valid(routes, nroutes) || size < cn_metrics_size(nroutes)
        || ((apr_uintptr_t)mem % sizeof(apr_uint64_t))) {
        return APR_EINVAL;
    }
    layout = layout_of(routes, nroutes);
    *reset = !cn_metrics_same_layout(mem, size, routes, nroutes);
    if (*reset) {
        memset(b, 0, cn_metrics_size(nroutes));
        b->layout = layout;
        b->nroutes = (apr_uint64_t)nroutes;
        b->started = now;
        b->magic = CN_METRICS_MAGIC;
    }
    m = apr_pcalloc(pool, sizeof(*m));
    m->block = b;
    m->nroutes = nroutes;
    m->routes = apr_pcalloc(pool, sizeof(*m->routes) * (apr_size_t)(nroutes ? nroutes : 1));
    for (i = 0; i < nroutes; ++i) {
        m->routes[i].api = apr_pstrdup(pool, routes[i].api);
        m->routes[i].route = apr_pstrdup(pool, routes[i].route);
        m->routes[i].method = apr_pstrdup(pool, routes[i].method);
    }
    *out = m;
    return APR_SUCCESS;
}

static void add(apr_uint64_t *cell, apr_uint64_t n)
{
    __atomic_fetch_add(cell, n, __ATOMIC_RELAXED);
}

static void observe(cn_metric_histogram_t *h, apr_interval_time_t elapsed)
{
    int i;
    if (elapsed < 0) {
        elapsed = 0; /* a clock set back */
    }
    for (i = 0; i < CN_METRIC_BUCKETS - 1 && elapsed > cn_metric_bucket_us[i]; ++i) {
    }
    add(&h->bucket[i], 1);
    add(&h->sum_us, (apr_uint64_t)elapsed);
}

void cn_metrics_request(cn_metrics_t *m, int route, int status, apr_interval_time_t elapsed)
{
    cn_metric_route_cell_t *c;
    int cls = status / 100 - 1;
    if (!m || route < 0 || route >= m->nroutes) {
        return;
    }
    c = &m->block->routes[route];
    add(&c->status[cls < 0 ? 0 : cls > 4 ? 4 : cls], 1);
    observe(&c->latency, elapsed);
}

cn_metric_call_t cn_metrics_call_outcome(apr_status_t rv, int status)
{
    if (rv == APR_TIMEUP) {
        return CN_METRIC_CALL_TIMEOUT;
    }
    if (rv != APR_SUCCESS) {
        return CN_METRIC_CALL_TRANSPORT_ERROR;
    }
    if (status >= 200 && status < 300) {
        return CN_METRIC_CALL_OK;
    }
    return status >= 400 && status < 500 ? CN_METRIC_CALL_CLIENT_ERROR
                                         : CN_METRIC_CALL_SERVER_ERROR;
}

/* The index of NAME in TABLE (N names, the last "other"): "other" for an
 * unknown or missing name. */
static int index_of(const char *const *table, int n, const char *name)
{
    int i;
    for (i = 0; name && i < n - 1; ++i) {
        if (!strcmp(table[i], name)) {
            return i;
        }
    }
    return n - 1;
}

void cn_metrics_provider_call(cn_metrics_t *m, const char *provider, const char *endpoint,
                              cn_metric_call_t outcome, apr_interval_time_t elapsed)
{
    cn_metric_call_cell_t *c;
    if (!m || (unsigned)outcome >= CN_METRIC_CALL_OUTCOMES) {
        return;
    }
    c = &m->block->calls[index_of(cn_metric_providers, CN_METRIC_PROVIDERS, provider)]
                        [index_of(cn_metric_endpoints, CN_METRIC_ENDPOINTS, endpoint)];
    add(&c->outcome[outcome], 1);
    observe(&c->latency, elapsed);
}

void cn_metrics_refresh(cn_metrics_t *m, cn_metric_refresh_t result)
{
    if (m && (unsigned)result < CN_METRIC_REFRESH_RESULTS) {
        add(&m->block->refreshes[result], 1);
    }
}

void cn_metrics_webhook_delivery(cn_metrics_t *m, cn_metric_webhook_t outcome,
                                 apr_interval_time_t elapsed)
{
    if (m && (unsigned)outcome < CN_METRIC_WEBHOOK_OUTCOMES) {
        add(&m->block->webhooks[outcome], 1);
        observe(&m->block->webhook_latency, elapsed);
    }
}

void cn_metrics_webhook_backlog(cn_metrics_t *m, apr_int64_t pending)
{
    if (m) {
        __atomic_store_n(&m->block->webhook_backlog, pending < 0 ? 0 : pending,
                         __ATOMIC_RELAXED);
    }
}

void cn_metrics_db_transaction(cn_metrics_t *m, int works)
{
    if (m && works > 0) {
        add(&m->block->db_transactions, 1);
        add(&m->block->db_transaction_works, (apr_uint64_t)works);
    }
}

void cn_metrics_db_error(cn_metrics_t *m, cn_metric_db_t kind)
{
    if (m && (unsigned)kind < CN_METRIC_DB_KINDS) {
        add(&m->block->db_errors[kind], 1);
    }
}
