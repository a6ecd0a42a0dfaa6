/* Metrics: counters and latency histograms in one block of memory that every
 * process of the server shares (the glue maps it: APR shared memory made in
 * post_config), and their Prometheus text exposition (format 0.0.4). The
 * layout is fixed when the block is attached: the API's routes are given
 * then, every other label comes from the small tables here, so no label
 * value ever comes from a request. Adds are atomic 64-bit adds, lock free,
 * so children of any MPM count into it at once. Every counting call takes
 * the metrics the context has (ctx->metrics); NULL counts nothing. */
#ifndef CN_METRICS_H
#define CN_METRICS_H

#include <apr_pools.h>
#include <apr_time.h>

#include "cn_core.h" /* cn_metrics_t */

/* One counted route: the API it belongs to (its handler's name), the route
 * table's pattern ("/grants/{id}") or "unmatched", and its method. */
typedef struct cn_metrics_route_t {
    const char *api;
    const char *route;
    const char *method;
} cn_metrics_route_t;

/* Bytes of memory the metrics of NROUTES routes take. */
apr_size_t cn_metrics_size(int nroutes);

/* The metrics over MEM (SIZE bytes, at least cn_metrics_size(NROUTES),
 * aligned for 64-bit words), their labels copied into POOL. A block that
 * holds the same layout already (the same routes: a graceful restart) is
 * kept as it is, *RESET 0; any other is zeroed and stamped with NOW, its
 * start (seconds since the epoch), *RESET 1. */
apr_status_t cn_metrics_attach(apr_pool_t *pool, void *mem, apr_size_t size,
                               const cn_metrics_route_t *routes, int nroutes, apr_int64_t now,
                               int *reset, cn_metrics_t **out);

/* Whether MEM (SIZE bytes) holds the metrics of exactly these routes: a
 * block a graceful restart may keep, with its counts. */
int cn_metrics_same_layout(const void *mem, apr_size_t size, const cn_metrics_route_t *routes,
                           int nroutes);

/* ---- what is counted ------------------------------------------------------ */

/* A request answered by route ROUTE (an index into the routes given to
 * cn_metrics_attach; anything else counts nothing) with STATUS, ELAPSED
 * after it arrived. */
void cn_metrics_request(cn_metrics_t *m, int route, int status, apr_interval_time_t elapsed);

/* How a call to a provider ended. */
typedef enum {
    CN_METRIC_CALL_OK,              /* an answer of 2xx */
    CN_METRIC_CALL_CLIENT_ERROR,    /* 4xx (invalid_grant, invalid_client, ...) */
    CN_METRIC_CALL_SERVER_ERROR,    /* 5xx, or another status the client does not follow */
    CN_METRIC_CALL_TIMEOUT,         /* no answer in time */
    CN_METRIC_CALL_TRANSPORT_ERROR, /* no usable answer: refused, TLS, too large, ... */
    CN_METRIC_CALL_OUTCOMES
} cn_metric_call_t;

/* The outcome of a call that returned RV (cn_http_t.perform's) with HTTP
 * STATUS. */
cn_metric_call_t cn_metrics_call_outcome(apr_status_t rv, int status);

/* A call to ENDPOINT (token, userinfo, graph, revoke) of PROVIDER (google,
 * microsoft) that ended with OUTCOME after ELAPSED. A name outside those
 * tables counts as "other". */
void cn_metrics_provider_call(cn_metrics_t *m, const char *provider, const char *endpoint,
                              cn_metric_call_t outcome, apr_interval_time_t elapsed);

/* A provider access token that was due for a refresh. */
typedef enum {
    CN_METRIC_REFRESH_DONE,      /* this caller refreshed it at the provider */
    CN_METRIC_REFRESH_COALESCED, /* another caller's refresh, waited for, served it */
    CN_METRIC_REFRESH_FAILED,    /* the refresh failed (invalid_grant included) */
    CN_METRIC_REFRESH_RESULTS
} cn_metric_refresh_t;

void cn_metrics_refresh(cn_metrics_t *m, cn_metric_refresh_t result);

/* One attempt to deliver a webhook. */
typedef enum {
    CN_METRIC_WEBHOOK_DELIVERED, /* the receiver took it (2xx) */
    CN_METRIC_WEBHOOK_RETRY,     /* it did not; another attempt is scheduled */
    CN_METRIC_WEBHOOK_FAILED,    /* it did not, and the delivery is given up */
    CN_METRIC_WEBHOOK_OUTCOMES
} cn_metric_webhook_t;

void cn_metrics_webhook_delivery(cn_metrics_t *m, cn_metric_webhook_t outcome,
                                 apr_interval_time_t elapsed);

/* The deliveries waiting now (set by whoever counted them last). */
void cn_metrics_webhook_backlog(cn_metrics_t *m, apr_int64_t pending);

/* A database failure that failed a request or a job. */
typedef enum {
    CN_METRIC_DB_CONNECTION, /* no handle could be had */
    CN_METRIC_DB_STATEMENT,  /* a statement or transaction failed */
    CN_METRIC_DB_KINDS
} cn_metric_db_t;

void cn_metrics_db_error(cn_metrics_t *m, cn_metric_db_t kind);
/* A transaction of the group commit (cn_db_transact) that held WORKS works. */
void cn_metrics_db_transaction(cn_metrics_t *m, int works);

/* ---- what is shown -------------------------------------------------------- */

/* The Prometheus text exposition (version 0.0.4) of M, in POOL; *LEN its
 * length. Series of routes and providers appear once they count something;
 * the others always. */
const char *cn_metrics_text(apr_pool_t *pool, const cn_metrics_t *m, apr_size_t *len);

/* Totals, for a summary (mod_status). */
typedef struct cn_metrics_summary_t {
    apr_int64_t started;                 /* seconds since the epoch */
    apr_uint64_t requests;               /* of every route */
    apr_uint64_t requests_by_class[5];   /* 1xx .. 5xx */
    apr_uint64_t request_seconds_us;     /* their time, summed, in microseconds */
    apr_uint64_t provider_calls;
    apr_uint64_t provider_calls_failed;  /* every outcome but ok */
    apr_uint64_t refreshes[CN_METRIC_REFRESH_RESULTS];
    apr_uint64_t webhooks[CN_METRIC_WEBHOOK_OUTCOMES];
    apr_int64_t webhook_backlog;
    apr_uint64_t db_errors[CN_METRIC_DB_KINDS];
} cn_metrics_summary_t;

void cn_metrics_summarize(const cn_metrics_t *m, cn_metrics_summary_t *out);

/* The label value of each enum above ("ok", "coalesced", ...). */
const char *cn_metrics_call_name(cn_metric_call_t outcome);
const char *cn_metrics_refresh_name(cn_metric_refresh_t result);
const char *cn_metrics_webhook_name(cn_metric_webhook_t outcome);
const char *cn_metrics_db_name(cn_metric_db_t kind);

#endif
