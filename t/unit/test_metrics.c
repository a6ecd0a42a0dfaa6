/* Unit tests of the metrics (include/cn_metrics.h): the shared block's
 * layout kept or reset, histogram buckets at their bounds, the Prometheus
 * text (cumulative buckets, exact sums, escaping, which series show), the
 * summary, adds from several processes at once, and the core's calls that
 * count: provider calls (over a fake HTTP seam), database errors (a real
 * SQLite store that fails). */
#include <sys/wait.h>
#include <apr_shm.h>
#include <apr_strings.h>

#include "cn_core.h"
#include "cn_jobs.h"
#include "cn_metrics.h"
#include "cn_proto.h"
#include "cn_fakes.h"

static const cn_metrics_route_t routes[] = {
    {"connect", "/grants/{id}", "GET"},
    {"connect", "/grants", "POST"},
    {"connect", "unmatched", "GET"},
};
#define NROUTES 3

/* Metrics over a fresh block of the pool. */
static cn_metrics_t *fresh_metrics(void **mem)
{
    apr_size_t size = cn_metrics_size(NROUTES);
    cn_metrics_t *m = NULL;
    int reset = -1;
    *mem = apr_pcalloc(pool, size);
    ck_assert_int_eq(cn_metrics_attach(pool, *mem, size, routes, NROUTES, 1700000000, &reset, &m),
                     APR_SUCCESS);
    ck_assert_int_eq(reset, 1);
    return m;
}

static const char *text_of(const cn_metrics_t *m)
{
    apr_size_t len = 0;
    const char *t = cn_metrics_text(pool, m, &len);
    ck_assert_uint_eq(len, strlen(t));
    return t;
}

/* TEXT has LINE as one whole line. */
static int has_line(const char *text, const char *line)
{
    const char *p = text;
    apr_size_t n = strlen(line);
    while ((p = strstr(p, line))) {
        if ((p == text || p[-1] == '\n') && p[n] == '\n') {
            return 1;
        }
        p += 1;
    }
    return 0;
}

#define ck_line(text, line) ck_assert_msg(has_line(text, line), "no line '%s' in:\n%s", line, text)
#define ck_no_line(text, line) ck_assert_msg(!has_line(text, line), "a line '%s'", line)

/* ---- the block ------------------------------------------------------------------- */

START_TEST(test_attach_keeps_or_resets)
{
    void *mem;
    cn_metrics_t *m = fresh_metrics(&mem), *again = NULL;
    cn_metrics_route_t other[NROUTES];
    int reset = -1;
    apr_size_t size = cn_metrics_size(NROUTES);
    cn_metrics_request(m, 0, 200, 1000);
    ck_line(text_of(m), "connect_metrics_start_time_seconds 1700000000");

    ck_assert(cn_metrics_same_layout(mem, size, routes, NROUTES));
    ck_assert(!cn_metrics_same_layout(mem, size - 1, routes, NROUTES));
    ck_assert(!cn_metrics_same_layout(mem, size, routes, NROUTES - 1));
    /* the same routes (a graceful restart): the counts stay, and the start */
    ck_assert_int_eq(cn_metrics_attach(pool, mem, size, routes, NROUTES, 1800000000, &reset,
                                       &again),
                     APR_SUCCESS);
    ck_assert_int_eq(reset, 0);
    ck_line(text_of(again), "connect_http_requests_total{api=\"connect\",route=\"/grants/{id}\","
                            "method=\"GET\",status=\"2xx\"} 1");
    ck_line(text_of(again), "connect_metrics_start_time_seconds 1700000000");

    /* other routes: a new layout, counted from zero */
    memcpy(other, routes, sizeof(other));
    other[1].route = "/grants/{id}/access_token";
    ck_assert(!cn_metrics_same_layout(mem, size, other, NROUTES));
    ck_assert_int_eq(cn_metrics_attach(pool, mem, size, other, NROUTES, 1800000000, &reset, &again),
                     APR_SUCCESS);
    ck_assert_int_eq(reset, 1);
    ck_assert_ptr_null(strstr(text_of(again), "connect_http_requests_total{"));
    ck_line(text_of(again), "connect_metrics_start_time_seconds 1800000000");

    /* fewer routes than before: also another layout */
    ck_assert_int_eq(cn_metrics_attach(pool, mem, size, other, 2, 1900000000, &reset, &again),
                     APR_SUCCESS);
    ck_assert_int_eq(reset, 1);
}
END_TEST

START_TEST(test_attach_refuses)
{
    apr_size_t size = cn_metrics_size(NROUTES);
    char *mem = apr_pcalloc(pool, size + 8);
    cn_metrics_route_t bad[1] = {{"connect", NULL, "GET"}};
    cn_metrics_t *m = NULL;
    int reset;
    ck_assert_uint_gt(cn_metrics_size(NROUTES), cn_metrics_size(0));
    ck_assert_int_eq(cn_metrics_attach(pool, mem, size - 1, routes, NROUTES, 1, &reset, &m),
                     APR_EINVAL); /* too small */
    ck_assert_int_eq(cn_metrics_attach(pool, mem + 4, size, routes, NROUTES, 1, &reset, &m),
                     APR_EINVAL); /* not aligned */
    ck_assert_int_eq(cn_metrics_attach(pool, NULL, size, routes, NROUTES, 1, &reset, &m),
                     APR_EINVAL);
    ck_assert_int_eq(cn_metrics_attach(pool, mem, size, bad, 1, 1, &reset, &m), APR_EINVAL);
    ck_assert_ptr_null(m);
}
END_TEST

/* No metrics: every call counts nothing, and returns. */
START_TEST(test_null_metrics)
{
    cn_metrics_request(NULL, 0, 200, 1);
    cn_metrics_provider_call(NULL, "google", "token", CN_METRIC_CALL_OK, 1);
    cn_metrics_refresh(NULL, CN_METRIC_REFRESH_DONE);
    cn_metrics_webhook_delivery(NULL, CN_METRIC_WEBHOOK_DELIVERED, 1);
    cn_metrics_webhook_backlog(NULL, 3);
    cn_metrics_db_error(NULL, CN_METRIC_DB_STATEMENT);
}
END_TEST

/* ---- histograms ---------------------------------------------------------------- */

/* An observation of ELAPSED microseconds lands in bucket LE. */
static const struct bucket_case {
    apr_interval_time_t elapsed;
    const char *le;
} bucket_cases[] = {
    {0, "0.005"},
    {5000, "0.005"},        /* le: the bound is inside */
    {5001, "0.01"},
    {100000, "0.1"},
    {999999, "1"},
    {1000000, "1"},
    {59999999, "60"},
    {60000000, "60"},
    {60000001, "+Inf"},
    {-5, "0.005"},          /* a clock set back counts as nothing */
};

START_TEST(test_bucket_bounds)
{
    const struct bucket_case *c = &bucket_cases[_i];
    static const char *const les[] = {"0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5",
                                      "1", "2.5", "5", "10", "30", "60", "+Inf", NULL};
    void *mem;
    cn_metrics_t *m = fresh_metrics(&mem);
    const char *text, *const *le;
    int in = 0;
    cn_metrics_webhook_delivery(m, CN_METRIC_WEBHOOK_DELIVERED, c->elapsed);
    text = text_of(m);
    for (le = les; *le; ++le) {
        in = in || !strcmp(*le, c->le);
        ck_line(text, apr_psprintf(pool, "connect_webhook_delivery_duration_seconds_bucket"
                                         "{le=\"%s\"} %d", *le, in));
    }
    ck_line(text, "connect_webhook_delivery_duration_seconds_count 1");
    ck_line(text, apr_psprintf(pool, "connect_webhook_delivery_duration_seconds_sum %"
                                     APR_INT64_T_FMT ".%06" APR_INT64_T_FMT,
                               (c->elapsed > 0 ? c->elapsed : 0) / 1000000,
                               (c->elapsed > 0 ? c->elapsed : 0) % 1000000));
}
END_TEST

/* Requests of two routes: counts by status class, cumulative buckets, an
 * exact sum, and only the series that count something. */
START_TEST(test_request_series)
{
    void *mem;
    cn_metrics_t *m = fresh_metrics(&mem);
    const char *t;
    static const char *const l0 = "api=\"connect\",route=\"/grants/{id}\",method=\"GET\"";
    static const char *const hist = "connect_http_request_duration_seconds";
    cn_metrics_request(m, 0, 200, 3000);
    cn_metrics_request(m, 0, 204, 20000);
    cn_metrics_request(m, 0, 404, 2500000);
    cn_metrics_request(m, 0, 503, 7);
    cn_metrics_request(m, 2, 405, 100);
    cn_metrics_request(m, 2, 0, 100);    /* no status yet: 1xx */
    cn_metrics_request(m, 2, 700, 100);  /* beyond: 5xx */
    cn_metrics_request(m, 3, 200, 100);  /* no such route: nothing */
    cn_metrics_request(m, -1, 200, 100);
    t = text_of(m);
    ck_assert_ptr_eq(strstr(t, "# HELP connect_http_requests_total "), t);
    ck_line(t, "# TYPE connect_http_requests_total counter");
    ck_line(t, "# TYPE connect_http_request_duration_seconds histogram");
    ck_line(t, apr_psprintf(pool, "connect_http_requests_total{%s,status=\"2xx\"} 2", l0));
    ck_line(t, apr_psprintf(pool, "connect_http_requests_total{%s,status=\"4xx\"} 1", l0));
    ck_line(t, apr_psprintf(pool, "connect_http_requests_total{%s,status=\"5xx\"} 1", l0));
    ck_no_line(t, apr_psprintf(pool, "connect_http_requests_total{%s,status=\"3xx\"} 0", l0));
    ck_line(t, "connect_http_requests_total{api=\"connect\",route=\"unmatched\",method=\"GET\","
               "status=\"4xx\"} 1");
    ck_line(t, "connect_http_requests_total{api=\"connect\",route=\"unmatched\",method=\"GET\","
               "status=\"1xx\"} 1");
    ck_line(t, "connect_http_requests_total{api=\"connect\",route=\"unmatched\",method=\"GET\","
               "status=\"5xx\"} 1");
    ck_line(t, apr_psprintf(pool, "%s_bucket{%s,le=\"0.005\"} 2", hist, l0));
    ck_line(t, apr_psprintf(pool, "%s_bucket{%s,le=\"0.025\"} 3", hist, l0));
    ck_line(t, apr_psprintf(pool, "%s_bucket{%s,le=\"2.5\"} 4", hist, l0));
    ck_line(t, apr_psprintf(pool, "%s_bucket{%s,le=\"+Inf\"} 4", hist, l0));
    ck_line(t, apr_psprintf(pool, "connect_http_request_duration_seconds_sum{%s} 2.523007", l0));
    ck_line(t, apr_psprintf(pool, "connect_http_request_duration_seconds_count{%s} 4", l0));
    /* POST /grants counted nothing: no series of it */
    ck_assert_ptr_null(strstr(t, "route=\"/grants\""));
    /* the families that always show */
    ck_line(t, "connect_token_refreshes_total{result=\"done\"} 0");
    ck_line(t, "connect_webhook_backlog 0");
    ck_line(t, "connect_database_errors_total{kind=\"statement\"} 0");
    ck_assert_int_eq(t[strlen(t) - 1], '\n');
}
END_TEST

/* Label values with what the format escapes: backslash, quote, line feed. */
START_TEST(test_label_escaping)
{
    cn_metrics_route_t odd[1] = {{"connect", "/a\"b\\c\nd", "GET"}};
    apr_size_t size = cn_metrics_size(1);
    void *mem = apr_pcalloc(pool, size);
    cn_metrics_t *m = NULL;
    int reset;
    ck_assert_int_eq(cn_metrics_attach(pool, mem, size, odd, 1, 1, &reset, &m), APR_SUCCESS);
    cn_metrics_request(m, 0, 200, 1);
    ck_line(text_of(m), "connect_http_requests_total{api=\"connect\",route=\"/a\\\"b\\\\c\\nd\","
                        "method=\"GET\",status=\"2xx\"} 1");
}
END_TEST

/* ---- provider calls, refreshes, webhooks, database errors ------------------------- */

static const struct outcome_case {
    apr_status_t rv;
    int status;
    cn_metric_call_t outcome;
    const char *name;
} outcome_cases[] = {
    {APR_SUCCESS, 200, CN_METRIC_CALL_OK, "ok"},
    {APR_SUCCESS, 204, CN_METRIC_CALL_OK, "ok"},
    {APR_SUCCESS, 302, CN_METRIC_CALL_SERVER_ERROR, "server_error"},
    {APR_SUCCESS, 400, CN_METRIC_CALL_CLIENT_ERROR, "client_error"},
    {APR_SUCCESS, 401, CN_METRIC_CALL_CLIENT_ERROR, "client_error"},
    {APR_SUCCESS, 500, CN_METRIC_CALL_SERVER_ERROR, "server_error"},
    {APR_SUCCESS, 503, CN_METRIC_CALL_SERVER_ERROR, "server_error"},
    {APR_TIMEUP, 0, CN_METRIC_CALL_TIMEOUT, "timeout"},
    {APR_ENOSPC, 200, CN_METRIC_CALL_TRANSPORT_ERROR, "transport_error"},
    {APR_EGENERAL, 0, CN_METRIC_CALL_TRANSPORT_ERROR, "transport_error"},
    {APR_EACCES, 0, CN_METRIC_CALL_TRANSPORT_ERROR, "transport_error"},
};

START_TEST(test_call_outcomes)
{
    const struct outcome_case *c = &outcome_cases[_i];
    ck_assert_int_eq(cn_metrics_call_outcome(c->rv, c->status), c->outcome);
    ck_assert_str_eq(cn_metrics_call_name(c->outcome), c->name);
}
END_TEST

/* Labels come from fixed tables: a name outside them is "other". */
START_TEST(test_provider_labels_bounded)
{
    void *mem;
    cn_metrics_t *m = fresh_metrics(&mem);
    const char *t;
    cn_metrics_provider_call(m, "google", "token", CN_METRIC_CALL_OK, 120000);
    cn_metrics_provider_call(m, "microsoft", "graph", CN_METRIC_CALL_TIMEOUT, 2000000);
    cn_metrics_provider_call(m, "evil\"provider", "https://x/", CN_METRIC_CALL_OK, 1);
    cn_metrics_provider_call(m, NULL, NULL, CN_METRIC_CALL_SERVER_ERROR, 1);
    cn_metrics_provider_call(m, "google", "token", CN_METRIC_CALL_OUTCOMES, 1); /* nothing */
    t = text_of(m);
    ck_line(t, "connect_provider_requests_total{provider=\"google\",endpoint=\"token\","
               "outcome=\"ok\"} 1");
    ck_line(t, "connect_provider_requests_total{provider=\"microsoft\",endpoint=\"graph\","
               "outcome=\"timeout\"} 1");
    ck_line(t, "connect_provider_requests_total{provider=\"other\",endpoint=\"other\","
               "outcome=\"ok\"} 1");
    ck_line(t, "connect_provider_requests_total{provider=\"other\",endpoint=\"other\","
               "outcome=\"server_error\"} 1");
    ck_assert_ptr_null(strstr(t, "evil"));
    ck_line(t, "connect_provider_request_duration_seconds_bucket{provider=\"google\","
               "endpoint=\"token\",le=\"0.1\"} 0");
    ck_line(t, "connect_provider_request_duration_seconds_bucket{provider=\"google\","
               "endpoint=\"token\",le=\"0.25\"} 1");
    ck_line(t, "connect_provider_request_duration_seconds_count{provider=\"google\","
               "endpoint=\"token\"} 1");
    ck_line(t, "connect_provider_request_duration_seconds_sum{provider=\"microsoft\","
               "endpoint=\"graph\"} 2.000000");
}
END_TEST

START_TEST(test_counters_and_summary)
{
    void *mem;
    cn_metrics_t *m = fresh_metrics(&mem);
    cn_metrics_summary_t s;
    const char *t;
    cn_metrics_refresh(m, CN_METRIC_REFRESH_DONE);
    cn_metrics_refresh(m, CN_METRIC_REFRESH_COALESCED);
    cn_metrics_refresh(m, CN_METRIC_REFRESH_COALESCED);
    cn_metrics_refresh(m, CN_METRIC_REFRESH_FAILED);
    cn_metrics_refresh(m, CN_METRIC_REFRESH_RESULTS); /* nothing */
    cn_metrics_webhook_delivery(m, CN_METRIC_WEBHOOK_DELIVERED, 30000);
    cn_metrics_webhook_delivery(m, CN_METRIC_WEBHOOK_RETRY, 2000000);
    cn_metrics_webhook_delivery(m, CN_METRIC_WEBHOOK_FAILED, 10);
    cn_metrics_webhook_backlog(m, 42);
    cn_metrics_db_error(m, CN_METRIC_DB_CONNECTION);
    cn_metrics_db_error(m, CN_METRIC_DB_STATEMENT);
    cn_metrics_db_error(m, CN_METRIC_DB_STATEMENT);
    cn_metrics_db_error(m, CN_METRIC_DB_KINDS); /* nothing */
    cn_metrics_request(m, 0, 200, 1500);
    cn_metrics_request(m, 1, 201, 500);
    cn_metrics_request(m, 2, 404, 1);
    cn_metrics_provider_call(m, "google", "token", CN_METRIC_CALL_OK, 1);
    cn_metrics_provider_call(m, "google", "token", CN_METRIC_CALL_CLIENT_ERROR, 1);
    cn_metrics_provider_call(m, "microsoft", "revoke", CN_METRIC_CALL_TIMEOUT, 1);
    t = text_of(m);
    ck_line(t, "# TYPE connect_token_refreshes_total counter");
    ck_line(t, "connect_token_refreshes_total{result=\"done\"} 1");
    ck_line(t, "connect_token_refreshes_total{result=\"coalesced\"} 2");
    ck_line(t, "connect_token_refreshes_total{result=\"failed\"} 1");
    ck_line(t, "connect_webhook_deliveries_total{outcome=\"delivered\"} 1");
    ck_line(t, "connect_webhook_deliveries_total{outcome=\"retry\"} 1");
    ck_line(t, "connect_webhook_deliveries_total{outcome=\"failed\"} 1");
    ck_line(t, "connect_webhook_delivery_duration_seconds_count 3");
    ck_line(t, "connect_webhook_delivery_duration_seconds_sum 2.030010");
    ck_line(t, "# TYPE connect_webhook_backlog gauge");
    ck_line(t, "connect_webhook_backlog 42");
    ck_line(t, "connect_database_errors_total{kind=\"connection\"} 1");
    ck_line(t, "connect_database_errors_total{kind=\"statement\"} 2");
    cn_metrics_webhook_backlog(m, -3);
    ck_line(text_of(m), "connect_webhook_backlog 0");
    cn_metrics_webhook_backlog(m, 7);

    cn_metrics_summarize(m, &s);
    ck_assert_int_eq(s.started, 1700000000);
    ck_assert_uint_eq(s.requests, 3);
    ck_assert_uint_eq(s.requests_by_class[1], 2);
    ck_assert_uint_eq(s.requests_by_class[3], 1);
    ck_assert_uint_eq(s.request_seconds_us, 2001);
    ck_assert_uint_eq(s.provider_calls, 3);
    ck_assert_uint_eq(s.provider_calls_failed, 2);
    ck_assert_uint_eq(s.refreshes[CN_METRIC_REFRESH_DONE], 1);
    ck_assert_uint_eq(s.refreshes[CN_METRIC_REFRESH_COALESCED], 2);
    ck_assert_uint_eq(s.refreshes[CN_METRIC_REFRESH_FAILED], 1);
    ck_assert_uint_eq(s.webhooks[CN_METRIC_WEBHOOK_RETRY], 1);
    ck_assert_int_eq(s.webhook_backlog, 7);
    ck_assert_uint_eq(s.db_errors[CN_METRIC_DB_CONNECTION], 1);
    ck_assert_uint_eq(s.db_errors[CN_METRIC_DB_STATEMENT], 2);
}
END_TEST

/* Several processes add into one shared block at once: nothing is lost. */
START_TEST(test_processes_share)
{
    enum { PROCS = 4, EACH = 20000 };
    apr_shm_t *shm = NULL;
    cn_metrics_t *m = NULL;
    cn_metrics_summary_t s;
    int reset, i, status;
    ck_assert_int_eq(apr_shm_create(&shm, cn_metrics_size(NROUTES), NULL, pool), APR_SUCCESS);
    ck_assert_int_eq(cn_metrics_attach(pool, apr_shm_baseaddr_get(shm), apr_shm_size_get(shm),
                                       routes, NROUTES, 1, &reset, &m),
                     APR_SUCCESS);
    for (i = 0; i < PROCS; ++i) {
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (!pid) {
            int j;
            for (j = 0; j < EACH; ++j) {
                cn_metrics_request(m, j % NROUTES, 200, 1);
                cn_metrics_refresh(m, CN_METRIC_REFRESH_DONE);
            }
            _exit(0);
        }
    }
    for (i = 0; i < PROCS; ++i) {
        ck_assert_int_gt(wait(&status), 0);
        ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    cn_metrics_summarize(m, &s);
    ck_assert_uint_eq(s.requests, PROCS * EACH);
    ck_assert_uint_eq(s.request_seconds_us, PROCS * EACH);
    ck_assert_uint_eq(s.refreshes[CN_METRIC_REFRESH_DONE], PROCS * EACH);
    ck_assert_int_eq(apr_shm_destroy(shm), APR_SUCCESS);
}
END_TEST

/* ---- the core counts ------------------------------------------------------------- */

typedef struct fake_t {
    apr_status_t rv;
    int status;
    const char *body;
    int calls;
} fake_t;

static apr_status_t fake_perform(cn_http_t *http, apr_pool_t *p, const cn_http_request_t *req,
                                 cn_http_response_t *resp)
{
    fake_t *f = http->baton;
    (void)p;
    (void)req;
    memset(resp, 0, sizeof(*resp));
    f->calls++;
    if (f->rv != APR_SUCCESS) {
        resp->error = "timed out";
        return f->rv;
    }
    resp->status = f->status;
    resp->content_type = "application/json";
    resp->body = f->body;
    resp->body_len = strlen(f->body);
    return APR_SUCCESS;
}

/* cn_oauth_token counts each call by provider, endpoint and outcome. */
START_TEST(test_provider_calls_counted)
{
    void *mem;
    cn_metrics_t *m = fresh_metrics(&mem);
    fake_t fake = {APR_SUCCESS, 200, "{\"access_token\":\"at\",\"expires_in\":3600}", 0};
    cn_http_t http = {fake_perform, &fake};
    cn_ctx_t ctx = {0};
    cn_integration_t it = {0};
    cn_tokens_t *t = NULL;
    const char *text;
    ctx.pool = pool;
    ctx.http = &http;
    ctx.metrics = m;
    it.provider = "google";
    it.settings = json_pack("{s:s}", "client_id", "cid");
    ck_assert_int_eq(cn_oauth_token(&ctx, &it, "secret", NULL, NULL, "rt", &t), APR_SUCCESS);
    fake.status = 400;
    fake.body = "{\"error\":\"invalid_grant\"}";
    ck_assert_int_ne(cn_oauth_token(&ctx, &it, "secret", NULL, NULL, "rt", &t), APR_SUCCESS);
    fake.status = 500;
    fake.body = "oops";
    ck_assert_int_ne(cn_oauth_token(&ctx, &it, "secret", NULL, NULL, "rt", &t), APR_SUCCESS);
    fake.rv = APR_TIMEUP;
    it.provider = "microsoft";
    ck_assert_int_ne(cn_oauth_token(&ctx, &it, "secret", NULL, NULL, "rt", &t), APR_SUCCESS);
    fake.rv = APR_SUCCESS;
    fake.status = 200;
    fake.body = "{}";
    it.provider = "google"; /* Microsoft has no revoke endpoint */
    cn_oauth_revoke(&ctx, &it, "rt");
    ck_assert_int_eq(fake.calls, 5);
    text = text_of(m);
    ck_line(text, "connect_provider_requests_total{provider=\"google\",endpoint=\"token\","
                  "outcome=\"ok\"} 1");
    ck_line(text, "connect_provider_requests_total{provider=\"google\",endpoint=\"token\","
                  "outcome=\"client_error\"} 1");
    ck_line(text, "connect_provider_requests_total{provider=\"google\",endpoint=\"token\","
                  "outcome=\"server_error\"} 1");
    ck_line(text, "connect_provider_requests_total{provider=\"microsoft\",endpoint=\"token\","
                  "outcome=\"timeout\"} 1");
    ck_line(text, "connect_provider_requests_total{provider=\"google\",endpoint=\"revoke\","
                  "outcome=\"ok\"} 1");
    ck_line(text, "connect_provider_request_duration_seconds_count{provider=\"google\","
                  "endpoint=\"token\"} 3");
    /* a call that never left (no HTTP client) is not a provider call */
    ctx.http = NULL;
    it.provider = "microsoft";
    ck_assert_int_ne(cn_oauth_token(&ctx, &it, "secret", NULL, NULL, "rt", &t), APR_SUCCESS);
    ck_line(text_of(m), "connect_provider_request_duration_seconds_count{provider=\"microsoft\","
                        "endpoint=\"token\"} 1");
    json_decref(it.settings);
}
END_TEST

static apr_status_t no_handle(void *baton, apr_pool_t *p, cn_db_t **db)
{
    (void)baton;
    (void)p;
    *db = NULL;
    return APR_EGENERAL;
}

/* A statement that fails and a handle that cannot be had are counted. */
START_TEST(test_db_errors_counted)
{
    void *mem;
    cn_metrics_t *m = fresh_metrics(&mem);
    cn_db_t db;
    cn_ctx_t ctx = {0};
    int taken = 0, rv;
    const char *text;
    ck_assert(cn_test_tmpdir_make("metrics"));
    cn_test_store_open("m", &db);
    ctx.pool = pool;
    ctx.db = &db;
    ctx.now = 1700000000;
    ctx.metrics = m;
    ck_assert_int_eq(cn_job_lease_take(&ctx, "purge", "node-a:1", 60, &taken), APR_SUCCESS);
    ck_line(text_of(m), "connect_database_errors_total{kind=\"statement\"} 0");
    rv = apr_dbd_query(db.driver, db.handle, &taken, "DROP TABLE job_leases");
    ck_assert_int_eq(rv, 0);
    ck_assert_int_ne(cn_job_lease_take(&ctx, "purge", "node-a:1", 60, &taken), APR_SUCCESS);
    text = text_of(m);
    ck_assert_msg(!has_line(text, "connect_database_errors_total{kind=\"statement\"} 0"),
                  "the failed statement was not counted:\n%s", text);
    ck_line(text, "connect_database_errors_total{kind=\"connection\"} 0");

    ctx.db = NULL;
    ctx.dbs.open = no_handle;
    ck_assert_int_ne(cn_job_lease_take(&ctx, "purge", "node-a:1", 60, &taken), APR_SUCCESS);
    ck_line(text_of(m), "connect_database_errors_total{kind=\"connection\"} 1");
    apr_dbd_close(db.driver, db.handle);
    cn_test_tmpdir_remove();
}
END_TEST

static Suite *metrics_suite(void)
{
    Suite *s = suite_create("metrics");
    TCase *tc = cn_tcase("block");
    tcase_add_test(tc, test_attach_keeps_or_resets);
    tcase_add_test(tc, test_attach_refuses);
    tcase_add_test(tc, test_null_metrics);
    tcase_add_test(tc, test_processes_share);
    suite_add_tcase(s, tc);
    tc = cn_tcase("text");
    tcase_add_loop_test(tc, test_bucket_bounds, 0,
                        (int)(sizeof(bucket_cases) / sizeof(bucket_cases[0])));
    tcase_add_test(tc, test_request_series);
    tcase_add_test(tc, test_label_escaping);
    tcase_add_loop_test(tc, test_call_outcomes, 0,
                        (int)(sizeof(outcome_cases) / sizeof(outcome_cases[0])));
    tcase_add_test(tc, test_provider_labels_bounded);
    tcase_add_test(tc, test_counters_and_summary);
    suite_add_tcase(s, tc);
    tc = cn_tcase("core");
    tcase_add_test(tc, test_provider_calls_counted);
    tcase_add_test(tc, test_db_errors_counted);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return cn_test_main(metrics_suite());
}
